//! FlashForge's end-to-end tests: one binary, every HTTP behaviour written once and run against
//! the in-memory adapters, SQLite and Postgres (see `helpers::on_every_backend!`).
//!
//! Postgres cases need a server at `FLASHFORGE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test gets a fresh database. Without one
//! they are skipped with a notice, unless `FLASHFORGE_REQUIRE_POSTGRES=1`, which makes them fail.
//! `TEST_LOG=1` echoes the captured logs.

#[macro_use]
mod helpers;

mod abuse;
mod accounts;
mod accounts_service;
mod chats;
mod contracts;
mod deploy;
mod docs;
mod errors;
mod faults;
mod flashcards;
mod formats;
mod fuzz_regressions;
mod health;
mod isolation;
mod knowledge;
mod legacy;
mod limits;
mod logging;
mod messages;
mod operations;
mod packages;
mod pagination;
mod provider_wire;
mod spend;
mod study;
mod tenants;
mod tokens;
mod transport;
mod web;
