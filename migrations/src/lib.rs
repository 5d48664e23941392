//! FlashForge's database schema, one migration a file, applied in order. The same migrations run
//! on Postgres (production) and SQLite (the embedded default).

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_users;
mod m20261125_000002_create_sessions;
mod m20261125_000003_create_chats;
mod m20261125_000004_create_messages;
mod m20261126_000005_create_documents;
mod m20261126_000006_create_flashcards;
mod m20261126_000007_create_study_settings;
mod m20261126_000008_create_flashcard_generations;
mod m20261126_000009_add_job_request_id;
mod m20261202_000010_add_job_owner;
mod m20261202_000011_add_usage_counts;
mod m20261202_000012_create_model_usage;
mod m20261203_000013_add_material_labels;
mod m20261204_000014_add_study_session;
mod m20261204_000015_create_deck_imports;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_users::Migration),
            Box::new(m20261125_000002_create_sessions::Migration),
            Box::new(m20261125_000003_create_chats::Migration),
            Box::new(m20261125_000004_create_messages::Migration),
            Box::new(m20261126_000005_create_documents::Migration),
            Box::new(m20261126_000006_create_flashcards::Migration),
            Box::new(m20261126_000007_create_study_settings::Migration),
            Box::new(m20261126_000008_create_flashcard_generations::Migration),
            Box::new(m20261126_000009_add_job_request_id::Migration),
            Box::new(m20261202_000010_add_job_owner::Migration),
            Box::new(m20261202_000011_add_usage_counts::Migration),
            Box::new(m20261202_000012_create_model_usage::Migration),
            Box::new(m20261203_000013_add_material_labels::Migration),
            Box::new(m20261204_000014_add_study_session::Migration),
            Box::new(m20261204_000015_create_deck_imports::Migration),
        ]
    }
}

/// What `status` reports: each migration's name and whether it is applied.
pub async fn migration_status(
    db: &sea_orm_migration::sea_orm::DatabaseConnection,
) -> Result<Vec<(String, bool)>, DbErr> {
    let applied: Vec<String> = Migrator::get_applied_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    Ok(Migrator::migrations()
        .iter()
        .map(|m| {
            let name = m.name().to_string();
            let is_applied = applied.contains(&name);
            (name, is_applied)
        })
        .collect())
}
