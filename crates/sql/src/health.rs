use async_trait::async_trait;
use flashforge_domain::health::HealthCheck;
use sea_orm::DatabaseConnection;

/// Readiness of the database: a round trip on a pooled connection.
pub struct SqlHealthCheck {
    db: DatabaseConnection,
}

impl SqlHealthCheck {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl HealthCheck for SqlHealthCheck {
    fn name(&self) -> &str {
        "database"
    }

    async fn check(&self) -> Result<(), String> {
        self.db.ping().await.map_err(|e| e.to_string())
    }
}
