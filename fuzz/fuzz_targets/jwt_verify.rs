//! Bytes → string → `JwtTokens::verify` (HS256 active, EdDSA previous key): never a panic, and
//! only the tokens we signed are accepted. See `flashforge_fuzz::jwt`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| flashforge_fuzz::jwt::check(data));
