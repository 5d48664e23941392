//! The FlashForge server as a library: configuration, logging, the composition root and the
//! background worker. `main.rs` is the command line over it; the test harness uses it directly.

pub mod backup;
pub mod database;
pub mod healthcheck;
pub mod knowledge;
pub mod metrics;
pub mod readiness;
pub mod settings;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
pub mod tls;
pub mod worker;

pub use settings::{Environment, Settings};
pub use startup::{Application, Hooks};
