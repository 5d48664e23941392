//! FlashForge's domain: the entities and validated values of the study app, the services that hold
//! its rules, and the ports (traits) those services need from the outside world.
//!
//! Nothing in this crate knows about HTTP, SQL, vector engines or any wire protocol; adapter crates
//! implement the ports and the composition root (the `flashforge` binary) wires them together.

pub mod accounts;
pub mod assistant;
pub mod cache;
pub mod chats;
pub mod clock;
pub mod context;
pub mod error;
pub mod flashcards;
pub mod health;
pub mod idempotency;
mod ids;
pub mod jobs;
pub mod knowledge;
pub mod limits;
pub mod pagination;
pub mod quotas;
pub mod services;
pub mod spend;
mod text;

pub use error::{Code, DomainError, ErrorKind, FieldError, InfraError, ValidationErrors};
pub use services::{Ports, ServiceSettings, Services};
