//! sea-orm entities: the tables as the adapters see them. They never leave this crate.

pub mod chats;
pub mod chunks;
pub mod deck_imports;
pub mod documents;
pub mod flashcard_generations;
pub mod flashcards;
pub mod jobs;
pub mod messages;
pub mod refresh_tokens;
pub mod reviews;
pub mod sessions;
pub mod study_options;
pub mod study_settings;
pub mod users;
