//! argon2id password hashing in PHC format.
//!
//! Hashing is deliberately slow and memory-hungry, so it runs on a few dedicated threads (as many
//! as `max_concurrent`) at the lowest scheduling priority: a burst of registrations or logins
//! queues here and takes only the CPU that serving other requests leaves over, instead of
//! starving them (docs/BENCHMARKS.md measures it).

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::accounts::{Password, PasswordHash, PasswordHasher};
use tokio::sync::oneshot;

/// argon2id cost parameters. The defaults are OWASP's: 19 MiB, 2 passes, 1 lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// How many hashes may run at once (the number of hashing threads).
    pub max_concurrent: usize,
}

type Job = Box<dyn FnOnce() + Send>;

/// Threads that run hashes, started on first use.
struct HashThreads {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl HashThreads {
    fn start(count: usize) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..count.max(1) {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing_log(&format!("cannot start a hashing thread: {e}"));
            }
        }
        Self {
            jobs: Mutex::new(sender),
        }
    }
}

/// Hashing yields the CPU to request handling: the lowest priority of the normal (batch)
/// scheduling class. Failing to lower it is harmless, so the error is only noted.
fn lower_priority() {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    if let Err(e) = set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch),
    ) {
        tracing_log(&format!(
            "cannot lower the hashing threads' priority: {e:?}"
        ));
    }
}

fn tracing_log(message: &str) {
    // The auth crate does not log otherwise; stderr is where a start-up note belongs.
    eprintln!("flashforge-auth: {message}");
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
    threads: usize,
    pool: Arc<OnceLock<HashThreads>>,
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
            threads: settings.max_concurrent.max(1),
            pool: Arc::new(OnceLock::new()),
        })
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, InfraError> {
        let pool = self.pool.get_or_init(|| HashThreads::start(self.threads));
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        pool.jobs
            .lock()
            .map_err(|_| InfraError::internal("the hashing threads are gone"))?
            .send(job)
            .map_err(|_| InfraError::internal("the hashing threads are gone"))?;
        result
            .await
            .map_err(|_| InfraError::internal("a hashing thread failed"))
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
