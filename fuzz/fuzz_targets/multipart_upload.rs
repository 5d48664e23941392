//! Bytes → a whole multipart upload through the real actix app on in-memory adapters; never a
//! 5xx. See `flashforge_fuzz::upload`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = flashforge_fuzz::upload::check(data);
});
