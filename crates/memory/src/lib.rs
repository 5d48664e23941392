//! In-memory adapters of every FlashForge port. They keep the same contracts as the real
//! adapters (the shared contract suites in `tests/api/contracts` prove it) and lose everything
//! when the process ends.

mod blobs;
mod cache;
mod chats;
mod documents;
mod embedder;
mod flashcards;
mod generations;
mod imports;
mod jobs;
mod ledger;
mod limits;
mod messages;
mod scripted;
mod sessions;
mod study;
mod users;
mod vectors;

pub use blobs::InMemoryBlobStore;
pub use cache::InProcessCache;
pub use chats::InMemoryChatRepository;
pub use documents::InMemoryDocumentRepository;
pub use embedder::HashEmbedder;
pub use flashcards::InMemoryFlashcardRepository;
pub use generations::InMemoryGenerationRepository;
pub use imports::InMemoryImportRepository;
pub use jobs::InMemoryJobQueue;
pub use ledger::InMemoryUsageLedger;
pub use limits::InMemoryRateLimitStore;
pub use messages::InMemoryMessageRepository;
pub use scripted::{Reply, ScriptedModel};
pub use sessions::InMemorySessionRepository;
pub use users::InMemoryUserRepository;
pub use vectors::{ExactVectorIndex, cosine};
