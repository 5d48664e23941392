//! `JwtTokens::verify` under a key set like a rotation's: an HS256 active key and an EdDSA
//! previous one (tokens pick theirs by `kid`).
//!
//! Both algorithms sign deterministically, so the tokens "we minted" are a fixed set: claims
//! with fixed ids, issued 2025-01-01 and expiring 2100-01-01. The seeds are these tokens
//! (`FF_FUZZ_WRITE_SEEDS=dir` writes them), and the invariant is that `verify` accepts exactly
//! them, with their claims, and refuses everything else.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flashforge_auth::{JwtAlgorithm, JwtKey, JwtSettings, JwtTokens};
use flashforge_domain::accounts::{AccessClaims, AccessTokens, SessionId, UserId};

/// A throwaway secret for fuzzing only.
const HS_SECRET: &[u8] = b"fuzz-only-hs256-secret-0123456789abcdefghij";
/// A throwaway Ed25519 key pair for fuzzing only (PKCS#8 / SPKI PEM).
const ED_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\n\
MC4CAQAwBQYDK2VwBCIEIAqVwqTn7ECWXgpWRjTKjSNyswtzoAmkXcC/bMJpdXs6\n\
-----END PRIVATE KEY-----\n";
const ED_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\n\
MCowBQYDK2VwAyEAbs/GPhe64LU9fsx+qpvAaYNi9xegaIr0wNlhuWO4aw4=\n\
-----END PUBLIC KEY-----\n";
/// Another HS256 secret, for tokens that carry our key id but not our signature.
const FOREIGN_SECRET: &[u8] = b"someone-else-entirely-0123456789abcdefghij";

fn settings() -> JwtSettings {
    JwtSettings {
        issuer: "flashforge".into(),
        audience: "flashforge-api".into(),
        lifetime: Duration::from_secs(900),
        leeway: Duration::from_secs(5),
    }
}

fn hs_key(secret: &[u8]) -> JwtKey {
    JwtKey::hs256(secret, Some("hs-fuzz".into()))
}

fn ed_key(private: bool) -> JwtKey {
    JwtKey::from_pem(
        JwtAlgorithm::EdDSA,
        private.then_some(ED_PRIVATE.as_bytes()),
        ED_PUBLIC.as_bytes(),
        Some("ed-fuzz".into()),
    )
    .expect("the fuzz Ed25519 key parses")
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).expect("a valid timestamp")
}

fn claims(n: u128, issued: i64, expires: i64) -> AccessClaims {
    AccessClaims {
        user_id: UserId::from_uuid(uuid::Uuid::from_u128(
            0x0190_0000_0000_7000_8000_0000_0000_0000 + n,
        )),
        session_id: SessionId::from_uuid(uuid::Uuid::from_u128(
            0x0191_0000_0000_7000_8000_0000_0000_0000 + n,
        )),
        token_id: uuid::Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 + n),
        issued_at: at(issued),
        expires_at: at(expires),
    }
}

const ISSUED: i64 = 1_735_689_600; // 2025-01-01
const EXPIRES: i64 = 4_102_444_800; // 2100-01-01

pub struct Harness {
    /// What the server runs: HS256 active, EdDSA still verifying.
    pub verifier: JwtTokens,
    /// Tokens we signed and that verify, with their claims.
    pub valid: Vec<(String, AccessClaims)>,
    /// Interesting refusals for the seed corpus: expired, foreign signature.
    pub refused: Vec<String>,
}

pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let verifier = JwtTokens::new(settings(), hs_key(HS_SECRET), vec![ed_key(false)])
            .expect("the HS256 verifier");
        let ed_signer = JwtTokens::new(settings(), ed_key(true), vec![]).expect("the EdDSA signer");
        let foreign =
            JwtTokens::new(settings(), hs_key(FOREIGN_SECRET), vec![]).expect("the foreign signer");
        let mut valid = Vec::new();
        for n in 0..2 {
            let c = claims(n, ISSUED, EXPIRES);
            valid.push((verifier.issue(&c).expect("HS256 signs"), c.clone()));
            let c = claims(n + 10, ISSUED, EXPIRES);
            valid.push((ed_signer.issue(&c).expect("EdDSA signs"), c));
        }
        let expired = claims(20, ISSUED, ISSUED + 900);
        let refused = vec![
            verifier.issue(&expired).expect("HS256 signs"),
            ed_signer.issue(&expired).expect("EdDSA signs"),
            foreign
                .issue(&claims(21, ISSUED, EXPIRES))
                .expect("HS256 signs"),
        ];
        if let Some(dir) = std::env::var_os("FF_FUZZ_WRITE_SEEDS") {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir).expect("seed dir");
            let all = valid.iter().map(|(t, _)| t).chain(refused.iter());
            for (i, token) in all.enumerate() {
                std::fs::write(dir.join(format!("token-{i}")), token).expect("write a seed");
            }
        }
        Harness {
            verifier,
            valid,
            refused,
        }
    })
}

/// Verifies `data` (as lossy UTF-8) and asserts it is accepted exactly when it is one of ours.
pub fn check(data: &[u8]) {
    let harness = harness();
    let token = String::from_utf8_lossy(data);
    let ours = harness.valid.iter().find(|(t, _)| *t == token);
    match (harness.verifier.verify(&token), ours) {
        (Ok(got), Some((_, want))) => assert_eq!(&got, want, "our token, other claims"),
        (Ok(got), None) => panic!("a token we never signed was accepted: {token:?} → {got:?}"),
        (Err(e), Some(_)) => panic!("our own token was refused: {e:?}"),
        (Err(_), None) => {}
    }
}
