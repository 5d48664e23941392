//! Credential adapters: argon2id password hashing, zxcvbn password strength, and JWT access
//! tokens (HS256 by default; EdDSA or RS256 from key files, with key ids for rotation).

mod jwt;
mod password;
mod strength;

pub use jwt::{JwtAlgorithm, JwtKey, JwtSettings, JwtTokens};
pub use password::{Argon2Hasher, Argon2Settings};
pub use strength::ZxcvbnStrength;
