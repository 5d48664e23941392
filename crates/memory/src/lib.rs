//! In-memory adapters of every FlashForge port. They keep the same contracts as the real
//! adapters (the shared contract suites in `tests/api/contracts` prove it) and lose everything
//! when the process ends.

mod users;

pub use users::InMemoryUserRepository;
