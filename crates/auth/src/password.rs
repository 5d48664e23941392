//! argon2id password hashing in PHC format.
//!
//! Hashing is deliberately slow and memory-hungry, so it runs on Tokio's blocking pool and a
//! semaphore bounds how many hashes run at once: a burst of registrations or logins queues here
//! instead of starving every other request of CPU and memory.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::accounts::{Password, PasswordHash, PasswordHasher};
use tokio::sync::Semaphore;

/// argon2id cost parameters. The defaults are OWASP's: 19 MiB, 2 passes, 1 lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// How many hashes may run at once.
    pub max_concurrent: usize,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 2,
        }
    }
}

/// The argon2id [`PasswordHasher`].
#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    permits: Arc<Semaphore>,
}

impl Argon2Hasher {
    pub fn new(settings: Argon2Settings) -> Result<Self, String> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
        })
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, InfraError> {
        let _permit = self.permits.acquire().await.map_err(InfraError::internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(InfraError::internal)
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, InfraError> {
        let password = password.clone();
        let params = self.params.clone();
        self.run_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            Self::argon2(params)
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|hash| PasswordHash::new(hash.to_string()))
                .map_err(|e| InfraError::internal(e.to_string()))
        })
        .await?
    }

    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        let Ok(parsed) = argon2::PasswordHash::new(hash.as_str()) else {
            return true;
        };
        let current = &self.params;
        let same = parsed.algorithm == Algorithm::Argon2id.ident()
            && parsed.version == Some(Version::V0x13.into())
            && Params::try_from(&parsed).is_ok_and(|p| {
                p.m_cost() == current.m_cost()
                    && p.t_cost() == current.t_cost()
                    && p.p_cost() == current.p_cost()
            });
        !same
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, InfraError> {
        let password = password.clone();
        let hash = hash.clone();
        let params = self.params.clone();
        self.run_blocking(move || {
            let Ok(parsed) = argon2::PasswordHash::new(hash.as_str()) else {
                return false;
            };
            Self::argon2(params)
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashforge_domain::accounts::PasswordPolicy;
    use secrecy::SecretString;

    fn cheap() -> Argon2Hasher {
        Argon2Hasher::new(Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 2,
        })
        .unwrap()
    }

    fn password(raw: &str) -> Password {
        PasswordPolicy::default()
            .parse(SecretString::from(raw))
            .unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let hasher = cheap();
        let hash = hasher
            .hash(&password("correct horse battery"))
            .await
            .unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(
            hasher
                .verify(&password("correct horse battery"), &hash)
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(&password("wrong horse battery"), &hash)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn the_same_password_gets_a_new_salt_every_time() {
        let hasher = cheap();
        let a = hasher
            .hash(&password("correct horse battery"))
            .await
            .unwrap();
        let b = hasher
            .hash(&password("correct horse battery"))
            .await
            .unwrap();
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn a_malformed_hash_is_a_mismatch_not_an_error() {
        let hasher = cheap();
        let verdict = hasher
            .verify(
                &password("correct horse battery"),
                &PasswordHash::new("nope".into()),
            )
            .await
            .unwrap();
        assert!(!verdict);
    }

    #[tokio::test]
    async fn a_hash_made_with_other_parameters_needs_a_rehash() {
        let old = cheap()
            .hash(&password("correct horse battery"))
            .await
            .unwrap();
        assert!(!cheap().needs_rehash(&old));
        let stronger = Argon2Hasher::new(Argon2Settings {
            memory_kib: 128,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 1,
        })
        .unwrap();
        assert!(stronger.needs_rehash(&old));
        assert!(stronger.needs_rehash(&PasswordHash::new("garbage".into())));
    }

    #[test]
    fn owasp_parameters_are_the_default() {
        let s = Argon2Settings::default();
        assert_eq!((s.memory_kib, s.iterations, s.parallelism), (19456, 2, 1));
        assert!(Argon2Hasher::new(Argon2Settings { memory_kib: 1, ..s }).is_err());
    }
}
