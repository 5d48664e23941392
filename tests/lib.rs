//! The test kit: what the end-to-end tests (`api/`), the `flashforge` binary's tests
//! (crates/server/tests) and the benchmarks (crates/server/benches) share — throwaway databases
//! with skip-or-require for Postgres and Redis, test settings, HTTP clients, a server in this
//! process, the binary as a child process and a provider that streams at the protocol level. The end-to-end tests themselves live in `api/`.

#[path = "kit/client.rs"]
pub mod client;
#[path = "kit/database.rs"]
pub mod database;
#[path = "kit/process.rs"]
pub mod process;
#[path = "kit/provider.rs"]
pub mod provider;
#[path = "kit/s3.rs"]
pub mod s3;
#[path = "kit/server.rs"]
pub mod server;
#[path = "kit/settings.rs"]
pub mod settings;
#[path = "kit/skip.rs"]
pub mod skip;
