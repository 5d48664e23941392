//! sea-orm adapters of FlashForge's repositories. The same code serves Postgres (production) and
//! SQLite (the embedded default); the URL's scheme picks the driver.

mod card_writes;
mod chats;
mod connection;
mod documents;
mod entities;
mod errors;
mod flashcards;
mod generations;
mod health;
mod imports;
mod jobs;
mod ledger;
mod messages;
mod sessions;
mod study;
mod users;

pub use chats::SqlChatRepository;
pub use connection::{
    DatabaseOptions, Migration, connect, migrate, pool_stats, status as migration_status,
};
pub use documents::SqlDocumentRepository;
pub use flashcards::SqlFlashcardRepository;
pub use generations::SqlGenerationRepository;
pub use health::SqlHealthCheck;
pub use imports::SqlImportRepository;
pub use jobs::SqlJobQueue;
pub use ledger::SqlUsageLedger;
pub use messages::SqlMessageRepository;
pub use sea_orm;
pub use sea_orm::DatabaseConnection;
pub use sessions::SqlSessionRepository;
pub use users::SqlUserRepository;
