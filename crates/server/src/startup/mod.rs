//! The composition root: picks an adapter for every port from the configuration, builds the
//! services, and runs the HTTP server and the background worker until a shutdown signal.

mod application;
mod commands;
mod compose;
mod error;
mod services;

pub use application::{Application, Hooks, wait_for_signal};
pub use commands::{reconcile, reindex, run_worker};
pub use compose::{
    Backend, cache_layer, compose, compose_with, instrument_model, jwt_tokens, language_model,
};
pub use error::StartupError;
pub use services::{background_worker, service_settings};
