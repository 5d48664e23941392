//! Why a package could not be written.

/// Why a package could not be written.
#[derive(Debug, thiserror::Error)]
pub enum AnkiError {
    /// The deck name is empty or only whitespace.
    #[error("the deck name is empty")]
    EmptyDeckName,
    /// A part of a `::`-separated deck name is empty, as in `A::::B` or `A::`.
    #[error("the deck name {0:?} has an empty part between `::`")]
    EmptyDeckNamePart(String),
    /// `now` is so far in the future that the cards' millisecond ids overflow.
    #[error("the time is out of range for Anki ids")]
    TimeOutOfRange,
    /// The SQLite collection could not be written.
    #[error("collection database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// The temporary collection file could not be created or read.
    #[error("temporary file: {0}")]
    Io(#[from] std::io::Error),
    /// The zip could not be written.
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// A JSON document of the collection could not be serialized.
    #[error("collection JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The blocking packaging task panicked or was cancelled.
    #[error("packaging task: {0}")]
    Task(String),
}
