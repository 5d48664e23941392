//! The fuzz targets' shared harness: the invariants each target asserts, and the in-process
//! actix app the multipart target posts to. The targets in `fuzz_targets/` are thin wrappers;
//! `tests/api/fuzz_regressions.rs` in the main workspace replays saved inputs with the same
//! invariants.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod chunking;
pub mod jwt;
pub mod upload;
