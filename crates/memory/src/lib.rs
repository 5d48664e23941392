//! In-memory adapters of every FlashForge port. They keep the same contracts as the real
//! adapters (the shared contract suites in `tests/api/contracts` prove it) and lose everything
//! when the process ends.

mod chats;
mod limits;
mod messages;
mod scripted;
mod sessions;
mod users;

pub use chats::InMemoryChatRepository;
pub use limits::InMemoryRateLimitStore;
pub use messages::InMemoryMessageRepository;
pub use scripted::{Reply, ScriptedModel};
pub use sessions::InMemorySessionRepository;
pub use users::InMemoryUserRepository;
