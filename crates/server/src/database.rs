//! Opening the configured database: shared by start-up, the CLI commands and backups, so that
//! none of them imports another for it.

use flashforge_sql::{DatabaseConnection, connect};

use crate::settings::Settings;

/// The database could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect: {0}")]
pub struct OpenError(#[source] flashforge_sql::sea_orm::DbErr);

/// Opens the configured database without touching its schema.
pub async fn open_database(settings: &Settings) -> Result<DatabaseConnection, OpenError> {
    connect(settings.database.url.expose(), &settings.database.pool())
        .await
        .map_err(OpenError)
}
