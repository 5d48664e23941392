//! Bytes → UTF-8 text → `text_pages` and `chunk_pages` (plain text or Markdown), asserting
//! what they promise; see `flashforge_fuzz::chunking`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| flashforge_fuzz::chunking::check(data));
