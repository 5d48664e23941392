//! Validated account values: once one of these exists, it is valid.

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

use crate::error::FieldError;

crate::ids::uuid_id!(
    /// A user's id.
    UserId
);

/// A username: 3–50 letters, digits, `_`, `.` or `-`, NFKC-normalized. Two usernames that differ
/// only in case belong to the same account ([`Username::canonical`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 50;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        // Bound the work before normalizing: NFKC can grow a string, never shrink it by 18x.
        if raw.len() > Self::MAX_CHARS * 18 {
            return Err(Self::length_error());
        }
        let normalized: String = raw.nfkc().collect();
        let chars = normalized.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(Self::length_error());
        }
        if let Some(bad) = normalized
            .chars()
            .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(FieldError::new(
                "username",
                format!(
                    "may hold only letters, digits, '_', '.' and '-' (found {:?})",
                    bad
                ),
            ));
        }
        Ok(Self(normalized))
    }

    fn length_error() -> FieldError {
        FieldError::new(
            "username",
            format!(
                "must be {} to {} characters long",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            ),
        )
    }

    /// The username as the user chose it (normalized).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness is decided on: lower case.
    pub fn canonical(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address, checked for shape only (delivery is what proves an address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let invalid = |why: &str| FieldError::new("email", why.to_string());
        let raw = raw.trim();
        if raw.len() > Self::MAX_LEN {
            return Err(invalid("must be at most 254 characters long"));
        }
        let Some((local, domain)) = raw.rsplit_once('@') else {
            return Err(invalid("must look like name@example.com"));
        };
        let well_formed = !local.is_empty()
            && local.len() <= 64
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
        if !well_formed {
            return Err(invalid("must look like name@example.com"));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A plain-text password on its way to the hasher. Never printed, never logged.
#[derive(Clone)]
pub struct Password(SecretString);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

impl Password {
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// The rules a new password must meet. Length only, as NIST SP 800-63B advises: no composition
/// rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_chars: usize,
    pub max_chars: usize,
}

impl PasswordPolicy {
    /// No policy may ask for fewer characters than this.
    pub const FLOOR: usize = 8;

    pub fn parse(&self, raw: SecretString) -> Result<Password, FieldError> {
        let chars = raw.expose_secret().chars().count();
        if chars < self.min_chars || chars > self.max_chars {
            return Err(FieldError::new(
                "password",
                format!(
                    "must be {} to {} characters long; a passphrase of several words is easy to remember",
                    self.min_chars, self.max_chars
                ),
            ));
        }
        Ok(Password(raw))
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 12,
            max_chars: 128,
        }
    }
}

/// A password hash in PHC string format. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([REDACTED])")
    }
}

/// A user account as the rest of the system sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub email: Option<Email>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// A user together with the hash of their password, for the code that checks credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    pub user: User,
    pub password_hash: PasswordHash,
}

/// Everything a repository needs to store a new account.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub username: Username,
    pub email: Option<Email>,
    pub password_hash: PasswordHash,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_nfkc_normalized_and_compared_without_case() {
        // Fullwidth letters normalize to ASCII under NFKC.
        let wide = Username::parse("ＡｌｉｃＥ").unwrap();
        assert_eq!(wide.as_str(), "AlicE");
        assert_eq!(
            wide.canonical(),
            Username::parse("alice").unwrap().canonical()
        );
        assert!(Username::parse("élodie.b-2_x").is_ok());
    }

    #[test]
    fn usernames_outside_the_rules_name_the_field() {
        for bad in ["ab", "has space", "semi;colon", &"x".repeat(51), "tab\t1"] {
            let err = Username::parse(bad).unwrap_err();
            assert_eq!(err.field, "username", "{bad:?}");
        }
    }

    #[test]
    fn emails_are_checked_for_shape() {
        assert!(Email::parse("a@b.co").is_ok());
        for bad in ["", "no-at", "@b.co", "a@nodot", "a b@c.de", "a@.com"] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn password_policy_counts_characters_not_bytes() {
        let policy = PasswordPolicy::default();
        assert!(policy.parse(SecretString::from("short")).is_err());
        assert!(policy.parse(SecretString::from("ü".repeat(12))).is_ok());
        assert!(policy.parse(SecretString::from("x".repeat(129))).is_err());
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let password = PasswordPolicy::default()
            .parse(SecretString::from("correct horse battery"))
            .unwrap();
        assert!(!format!("{password:?}").contains("horse"));
        let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$abc$def".into());
        assert!(!format!("{hash:?}").contains("argon2id"));
    }
}
