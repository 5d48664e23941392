//! The accounts service below HTTP, where the work it does can be counted: an unknown user costs
//! the same hash verification as a wrong password, and hashes made with old parameters are
//! replaced at login.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use flashforge_auth::{
    Argon2Hasher, Argon2Settings, JwtKey, JwtSettings, JwtTokens, ZxcvbnStrength,
};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::{
    AccountPorts, AccountSettings, Accounts, ClientInfo, LoginCommand, LoginError, Password,
    PasswordHash, PasswordHasher, RegisterCommand, UserRepository, Username,
};
use flashforge_domain::clock::SystemClock;
use flashforge_domain::limits::{RateLimitPolicy, RateLimits};
use flashforge_memory::{
    InMemoryRateLimitStore, InMemorySessionRepository, InMemoryUserRepository,
};
use secrecy::SecretString;

use crate::helpers::PASSWORD;

/// Counts the work done by the real hasher it wraps.
struct Counting {
    inner: Argon2Hasher,
    hashes: AtomicUsize,
    verifications: AtomicUsize,
}

#[async_trait]
impl PasswordHasher for Counting {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, InfraError> {
        self.hashes.fetch_add(1, Ordering::SeqCst);
        self.inner.hash(password).await
    }
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, InfraError> {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        self.inner.verify(password, hash).await
    }
    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        self.inner.needs_rehash(hash)
    }
}

fn argon2(memory_kib: u32) -> Argon2Hasher {
    Argon2Hasher::new(Argon2Settings {
        memory_kib,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 2,
    })
    .unwrap()
}

fn accounts(users: Arc<InMemoryUserRepository>, hasher: Arc<Counting>) -> Accounts {
    let tokens = JwtTokens::new(
        JwtSettings {
            issuer: "flashforge".into(),
            audience: "flashforge-api".into(),
            lifetime: Duration::from_secs(900),
            leeway: Duration::from_secs(5),
        },
        JwtKey::hs256(b"service-test-secret-0123456789abcdef", None),
        vec![],
    )
    .unwrap();
    Accounts::new(
        AccountPorts {
            users,
            sessions: Arc::new(InMemorySessionRepository::new()),
            hasher,
            strength: Arc::new(ZxcvbnStrength::default()),
            tokens: Arc::new(tokens),
            limits: Arc::new(RateLimits::new(
                Arc::new(InMemoryRateLimitStore::new()),
                RateLimitPolicy {
                    enabled: false,
                    ..RateLimitPolicy::default()
                },
            )),
            clock: Arc::new(SystemClock),
        },
        AccountSettings::default(),
    )
}

fn counting(memory_kib: u32) -> Arc<Counting> {
    Arc::new(Counting {
        inner: argon2(memory_kib),
        hashes: AtomicUsize::new(0),
        verifications: AtomicUsize::new(0),
    })
}

fn login(username: &str, password: &str) -> LoginCommand {
    LoginCommand {
        username: username.into(),
        password: SecretString::from(password.to_string()),
    }
}

#[tokio::test]
async fn an_unknown_user_costs_one_verification_like_a_wrong_password() {
    let hasher = counting(256);
    let service = accounts(Arc::new(InMemoryUserRepository::new()), hasher.clone());
    let client = ClientInfo::default();
    service
        .register(
            RegisterCommand {
                username: "known".into(),
                password: SecretString::from(PASSWORD.to_string()),
                email: None,
            },
            &client,
        )
        .await
        .unwrap();

    let before = hasher.verifications.load(Ordering::SeqCst);
    let wrong = service
        .login(login("known", "a wrong password"), &client)
        .await;
    assert!(matches!(wrong, Err(LoginError::InvalidCredentials)));
    assert_eq!(hasher.verifications.load(Ordering::SeqCst), before + 1);

    for unknown in ["unknown", "not a valid name!"] {
        let before = hasher.verifications.load(Ordering::SeqCst);
        let result = service
            .login(login(unknown, "a wrong password"), &client)
            .await;
        assert!(matches!(result, Err(LoginError::InvalidCredentials)));
        assert_eq!(
            hasher.verifications.load(Ordering::SeqCst),
            before + 1,
            "{unknown}: one verification, against the dummy hash"
        );
    }
}

#[tokio::test]
async fn a_hash_with_old_parameters_is_replaced_at_login() {
    let users = Arc::new(InMemoryUserRepository::new());
    let old = counting(128);
    accounts(users.clone(), old)
        .register(
            RegisterCommand {
                username: "veteran".into(),
                password: SecretString::from(PASSWORD.to_string()),
                email: None,
            },
            &ClientInfo::default(),
        )
        .await
        .unwrap();
    let name = Username::parse("veteran").unwrap();
    let stored = users.find_by_username(&name).await.unwrap().unwrap();
    assert!(stored.password_hash.as_str().contains("m=128"));

    // The operator raised the memory cost: the next login re-hashes.
    let new = counting(256);
    let service = accounts(users.clone(), new.clone());
    service
        .login(login("veteran", PASSWORD), &ClientInfo::default())
        .await
        .unwrap();
    assert_eq!(new.hashes.load(Ordering::SeqCst), 1);
    let stored = users.find_by_username(&name).await.unwrap().unwrap();
    assert!(stored.password_hash.as_str().contains("m=256"), "re-hashed");
    // Still the same password, and no second re-hash.
    service
        .login(login("veteran", PASSWORD), &ClientInfo::default())
        .await
        .unwrap();
    assert_eq!(new.hashes.load(Ordering::SeqCst), 1);
}
