//! JWT access tokens (RFC 8725 practice): the algorithm is pinned per key, `exp`, `nbf`, `iat`,
//! `iss`, `aud`, `sub` are required and checked with a small leeway, and every token names its
//! key (`kid`) so that tokens signed with a previous key keep verifying during a rotation.

use std::time::Duration;

use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::{AccessClaims, AccessTokens, SessionId, TokenRejection, UserId};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The signing algorithms FlashForge accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JwtAlgorithm {
    HS256,
    EdDSA,
    RS256,
}

impl JwtAlgorithm {
    fn to_jwt(self) -> Algorithm {
        match self {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::EdDSA => Algorithm::EdDSA,
            JwtAlgorithm::RS256 => Algorithm::RS256,
        }
    }
}

/// One key: it verifies, and it signs when it is the active one.
#[derive(Clone)]
pub struct JwtKey {
    pub kid: String,
    pub algorithm: JwtAlgorithm,
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
}

fn short_id(prefix: &str, material: &[u8]) -> String {
    let digest = Sha256::digest(material);
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{hex}")
}

impl JwtKey {
    /// An HMAC key. Without an explicit id, the id is derived from the secret (not revealing it).
    pub fn hs256(secret: &[u8], kid: Option<String>) -> Self {
        Self {
            kid: kid.unwrap_or_else(|| short_id("hs256", secret)),
            algorithm: JwtAlgorithm::HS256,
            encoding: Some(EncodingKey::from_secret(secret)),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// An EdDSA or RS256 key from PEM files' contents: the private key (PKCS#8) to sign, the
    /// public key to verify. A previous key needs only its public half.
    pub fn from_pem(
        algorithm: JwtAlgorithm,
        private_pem: Option<&[u8]>,
        public_pem: &[u8],
        kid: Option<String>,
    ) -> Result<Self, String> {
        let (encoding, decoding) = match algorithm {
            JwtAlgorithm::HS256 => return Err("HS256 keys are secrets, not PEM files".into()),
            JwtAlgorithm::EdDSA => (
                private_pem
                    .map(EncodingKey::from_ed_pem)
                    .transpose()
                    .map_err(|e| format!("EdDSA private key: {e}"))?,
                DecodingKey::from_ed_pem(public_pem)
                    .map_err(|e| format!("EdDSA public key: {e}"))?,
            ),
            JwtAlgorithm::RS256 => (
                private_pem
                    .map(EncodingKey::from_rsa_pem)
                    .transpose()
                    .map_err(|e| format!("RS256 private key: {e}"))?,
                DecodingKey::from_rsa_pem(public_pem)
                    .map_err(|e| format!("RS256 public key: {e}"))?,
            ),
        };
        let prefix = match algorithm {
            JwtAlgorithm::EdDSA => "ed",
            _ => "rs",
        };
        Ok(Self {
            kid: kid.unwrap_or_else(|| short_id(prefix, public_pem)),
            algorithm,
            encoding,
            decoding,
        })
    }
}

/// Who issues tokens, for whom, for how long.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    pub lifetime: Duration,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
}

/// The [`AccessTokens`] adapter.
pub struct JwtTokens {
    settings: JwtSettings,
    active: JwtKey,
    encoding: EncodingKey,
    previous: Vec<JwtKey>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    sid: Uuid,
    jti: Uuid,
    iat: i64,
    nbf: i64,
    exp: i64,
    iss: String,
    aud: String,
}

impl JwtTokens {
    /// `active` signs new tokens; `previous` keys still verify the tokens they signed.
    pub fn new(
        settings: JwtSettings,
        active: JwtKey,
        previous: Vec<JwtKey>,
    ) -> Result<Self, String> {
        let encoding = active
            .encoding
            .clone()
            .ok_or("the active JWT key needs its private half to sign")?;
        if previous.iter().any(|k| k.kid == active.kid) {
            return Err(format!("key id `{}` is used twice", active.kid));
        }
        Ok(Self {
            settings,
            active,
            encoding,
            previous,
        })
    }

    fn key_for(&self, kid: Option<&str>) -> Result<&JwtKey, TokenRejection> {
        match kid {
            None => Ok(&self.active),
            Some(kid) if kid == self.active.kid => Ok(&self.active),
            Some(kid) => self
                .previous
                .iter()
                .find(|k| k.kid == kid)
                .ok_or(TokenRejection::UnknownKey),
        }
    }
}

fn timestamp(seconds: i64) -> Result<DateTime<Utc>, TokenRejection> {
    DateTime::from_timestamp(seconds, 0).ok_or(TokenRejection::BadClaims)
}

impl AccessTokens for JwtTokens {
    fn issue(&self, claims: &AccessClaims) -> Result<String, InfraError> {
        let mut header = Header::new(self.active.algorithm.to_jwt());
        header.kid = Some(self.active.kid.clone());
        let body = Claims {
            sub: claims.user_id.as_uuid(),
            sid: claims.session_id.as_uuid(),
            jti: claims.token_id,
            iat: claims.issued_at.timestamp(),
            nbf: claims.issued_at.timestamp(),
            exp: claims.expires_at.timestamp(),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
        };
        jsonwebtoken::encode(&header, &body, &self.encoding)
            .map_err(|e| InfraError::internal(e.to_string()))
    }

    fn verify(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        if token.len() > 4096 {
            return Err(TokenRejection::Malformed);
        }
        // `alg: none` and unknown algorithms fail here: they are not in jsonwebtoken's enum.
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        let key = self.key_for(header.kid.as_deref())?;
        let algorithm = key.algorithm.to_jwt();
        if header.alg != algorithm {
            return Err(TokenRejection::WrongAlgorithm);
        }
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = self.settings.leeway.as_secs();
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation).map_err(
            |e| match e.kind() {
                ErrorKind::InvalidSignature => TokenRejection::BadSignature,
                ErrorKind::ExpiredSignature => TokenRejection::Expired,
                ErrorKind::ImmatureSignature => TokenRejection::NotYetValid,
                ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => {
                    TokenRejection::WrongAudience
                }
                ErrorKind::InvalidAlgorithm => TokenRejection::WrongAlgorithm,
                ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidSubject => {
                    TokenRejection::BadClaims
                }
                _ => TokenRejection::Malformed,
            },
        )?;
        let claims = data.claims;
        Ok(AccessClaims {
            user_id: UserId::from_uuid(claims.sub),
            session_id: SessionId::from_uuid(claims.sid),
            token_id: claims.jti,
            issued_at: timestamp(claims.iat)?,
            expires_at: timestamp(claims.exp)?,
        })
    }

    fn lifetime(&self) -> Duration {
        self.settings.lifetime
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const SECRET: &[u8] = b"unit-test-secret-0123456789abcdefghij";

    fn settings() -> JwtSettings {
        JwtSettings {
            issuer: "flashforge".into(),
            audience: "flashforge-api".into(),
            lifetime: Duration::from_secs(900),
            leeway: Duration::from_secs(5),
        }
    }

    fn hs(secret: &[u8]) -> JwtTokens {
        JwtTokens::new(settings(), JwtKey::hs256(secret, None), vec![]).unwrap()
    }

    fn claims(issued: DateTime<Utc>, ttl_secs: i64) -> AccessClaims {
        AccessClaims {
            user_id: UserId::new(),
            session_id: SessionId::new(),
            token_id: Uuid::now_v7(),
            issued_at: issued,
            expires_at: issued + chrono::Duration::seconds(ttl_secs),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap()
    }

    #[test]
    fn a_token_round_trips_its_claims_and_names_its_key() {
        let tokens = hs(SECRET);
        let c = claims(now(), 900);
        let token = tokens.issue(&c).unwrap();
        assert_eq!(tokens.verify(&token).unwrap(), c);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        assert!(header.kid.unwrap().starts_with("hs256-"));
    }

    #[test]
    fn tampered_foreign_expired_and_early_tokens_are_refused() {
        let tokens = hs(SECRET);
        let good = tokens.issue(&claims(now(), 900)).unwrap();
        let parts: Vec<&str> = good.split('.').collect();

        // alg: none
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let none = format!("{none_header}.{}.", parts[1]);
        assert_eq!(tokens.verify(&none), Err(TokenRejection::Malformed));

        // A tampered payload keeps the old signature.
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        payload["sub"] = serde_json::json!(Uuid::now_v7());
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(payload.to_string()),
            parts[2]
        );
        assert_eq!(tokens.verify(&forged), Err(TokenRejection::BadSignature));

        // Signed with another secret but claiming the same key id.
        let other = JwtTokens::new(
            settings(),
            JwtKey::hs256(
                b"another-secret-0123456789abcdefghijk",
                Some(tokens.active.kid.clone()),
            ),
            vec![],
        )
        .unwrap();
        let wrong_sig = other.issue(&claims(now(), 900)).unwrap();
        assert_eq!(tokens.verify(&wrong_sig), Err(TokenRejection::BadSignature));

        // Expired, beyond the leeway.
        let expired = tokens
            .issue(&claims(now() - chrono::Duration::hours(1), 60))
            .unwrap();
        assert_eq!(tokens.verify(&expired), Err(TokenRejection::Expired));

        // Not valid yet.
        let early = tokens
            .issue(&claims(now() + chrono::Duration::hours(1), 900))
            .unwrap();
        assert_eq!(tokens.verify(&early), Err(TokenRejection::NotYetValid));

        // Another audience.
        let mut foreign_settings = settings();
        foreign_settings.audience = "someone-else".into();
        let foreign = JwtTokens::new(foreign_settings, JwtKey::hs256(SECRET, None), vec![])
            .unwrap()
            .issue(&claims(now(), 900))
            .unwrap();
        assert_eq!(tokens.verify(&foreign), Err(TokenRejection::WrongAudience));

        // Garbage.
        assert_eq!(tokens.verify("not.a.jwt"), Err(TokenRejection::Malformed));
    }

    #[test]
    fn another_algorithm_is_refused_even_with_the_right_secret() {
        let tokens = hs(SECRET);
        let mut header = Header::new(Algorithm::HS512);
        header.kid = Some(tokens.active.kid.clone());
        let body = serde_json::json!({
            "sub": Uuid::now_v7(), "sid": Uuid::now_v7(), "jti": Uuid::now_v7(),
            "iat": now().timestamp(), "nbf": now().timestamp(), "exp": now().timestamp() + 600,
            "iss": "flashforge", "aud": "flashforge-api"
        });
        let token =
            jsonwebtoken::encode(&header, &body, &EncodingKey::from_secret(SECRET)).unwrap();
        assert_eq!(tokens.verify(&token), Err(TokenRejection::WrongAlgorithm));
    }

    #[test]
    fn a_token_without_exp_is_refused() {
        let tokens = hs(SECRET);
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(tokens.active.kid.clone());
        let body = serde_json::json!({
            "sub": Uuid::now_v7(), "sid": Uuid::now_v7(), "jti": Uuid::now_v7(),
            "iat": now().timestamp(), "nbf": now().timestamp(),
            "iss": "flashforge", "aud": "flashforge-api"
        });
        let token =
            jsonwebtoken::encode(&header, &body, &EncodingKey::from_secret(SECRET)).unwrap();
        // Refused either by the required-claims check or by the claims' shape.
        assert!(matches!(
            tokens.verify(&token),
            Err(TokenRejection::BadClaims | TokenRejection::Malformed)
        ));
    }

    #[test]
    fn rs256_keys_from_pem_files_sign_and_verify() {
        let rs = JwtKey::from_pem(
            JwtAlgorithm::RS256,
            Some(include_bytes!("../testdata/rs256-private.pem")),
            include_bytes!("../testdata/rs256-public.pem"),
            None,
        )
        .unwrap();
        assert!(rs.kid.starts_with("rs-"));
        let tokens = JwtTokens::new(settings(), rs, vec![]).unwrap();
        let token = tokens.issue(&claims(now(), 900)).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&token).unwrap().alg,
            Algorithm::RS256
        );
        assert!(tokens.verify(&token).is_ok());
        // A public key alone verifies but cannot sign.
        let verify_only = JwtKey::from_pem(
            JwtAlgorithm::RS256,
            None,
            include_bytes!("../testdata/rs256-public.pem"),
            None,
        )
        .unwrap();
        assert!(JwtTokens::new(settings(), verify_only, vec![]).is_err());
        // An HS256 token under the RS256 key's id is refused: the algorithm is the key's.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(tokens.active.kid.clone());
        let body = serde_json::json!({
            "sub": Uuid::now_v7(), "sid": Uuid::now_v7(), "jti": Uuid::now_v7(),
            "iat": now().timestamp(), "nbf": now().timestamp(), "exp": now().timestamp() + 600,
            "iss": "flashforge", "aud": "flashforge-api"
        });
        let forged = jsonwebtoken::encode(
            &header,
            &body,
            &EncodingKey::from_secret(include_bytes!("../testdata/rs256-public.pem")),
        )
        .unwrap();
        assert_eq!(tokens.verify(&forged), Err(TokenRejection::WrongAlgorithm));
    }

    #[test]
    fn eddsa_keys_sign_and_tokens_of_a_previous_key_still_verify() {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let ed = JwtKey::from_pem(
            JwtAlgorithm::EdDSA,
            Some(pair.serialize_pem().as_bytes()),
            pair.public_key_pem().as_bytes(),
            Some("ed-2026".into()),
        )
        .unwrap();
        let old = hs(SECRET);
        let old_token = old.issue(&claims(now(), 900)).unwrap();

        let rotated = JwtTokens::new(settings(), ed, vec![JwtKey::hs256(SECRET, None)]).unwrap();
        let new_token = rotated.issue(&claims(now(), 900)).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&new_token).unwrap().alg,
            Algorithm::EdDSA
        );
        assert!(rotated.verify(&new_token).is_ok());
        assert!(
            rotated.verify(&old_token).is_ok(),
            "the previous key still verifies"
        );

        // Once the old key is dropped, its tokens fail.
        let pair2 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let only_new = JwtTokens::new(
            settings(),
            JwtKey::from_pem(
                JwtAlgorithm::EdDSA,
                Some(pair2.serialize_pem().as_bytes()),
                pair2.public_key_pem().as_bytes(),
                None,
            )
            .unwrap(),
            vec![],
        )
        .unwrap();
        assert_eq!(only_new.verify(&old_token), Err(TokenRejection::UnknownKey));
    }
}
