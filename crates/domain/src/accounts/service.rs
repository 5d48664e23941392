//! The accounts service: registration, login, token refresh with rotation, sessions, and the
//! account itself.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::error::{AccountError, AuthError, LoginError, RefreshError, RegisterError};
use super::models::{
    Email, NewUser, Password, PasswordHash, PasswordPolicy, StoredUser, User, UserId, Username,
};
use super::ports::{
    AccessClaims, AccessTokens, CreateUserError, PasswordHasher, PasswordStrength,
    SessionRepository, UserChanges, UserData, UserRepository,
};
use super::sessions::{
    ClientInfo, NewRefreshToken, NewSession, RefreshToken, Rotation, Session, SessionCursor,
    SessionId,
};
use crate::clock::Clock;
use crate::error::{FieldError, InfraError, ValidationErrors};
use crate::limits::RateLimits;
use crate::pagination::{Page, PageRequest};

/// Lifetimes and rules of accounts, from configuration.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    pub password_policy: PasswordPolicy,
    /// A refresh token unused for this long expires.
    pub refresh_token_ttl: Duration,
    /// A session ends this long after login, however often it is refreshed.
    pub session_max_age: Duration,
    /// A refresh token presented again this soon after its rotation (a client retrying a
    /// refresh whose answer it lost) gets the same new pair instead of revoking the session.
    pub refresh_grace: Duration,
    /// The key successors of refresh tokens are derived with (so that a retry gets the same
    /// one): secret, from the server's signing key.
    pub rotation_key: RotationKey,
}

/// The secret that derives a refresh token's successor from it.
#[derive(Clone)]
pub struct RotationKey([u8; 32]);

impl RotationKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key of this process only (tests, experiments).
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        let _ = getrandom::fill(&mut bytes);
        Self(bytes)
    }

    /// The successor of `token`: HMAC-SHA256 under the key, URL-safe base64 (256 bits).
    fn successor(&self, token: &str) -> RefreshToken {
        use base64::Engine as _;
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(token.as_bytes());
        let bytes = mac.finalize().into_bytes();
        RefreshToken::from_client(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }
}

impl std::fmt::Debug for RotationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RotationKey([REDACTED])")
    }
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            password_policy: PasswordPolicy::default(),
            refresh_token_ttl: Duration::from_secs(14 * 24 * 3600),
            session_max_age: Duration::from_secs(90 * 24 * 3600),
            refresh_grace: Duration::from_secs(10),
            rotation_key: RotationKey::random(),
        }
    }
}

/// A request to open an account, as it arrives from a client (unvalidated).
#[derive(Debug)]
pub struct RegisterCommand {
    pub username: String,
    pub password: SecretString,
    pub email: Option<String>,
}

/// A login attempt, as it arrives.
#[derive(Debug)]
pub struct LoginCommand {
    pub username: String,
    pub password: SecretString,
}

/// Profile changes, as they arrive; `None` leaves a field alone, `Some(None)` clears the e-mail.
#[derive(Debug, Default)]
pub struct ProfileChanges {
    pub username: Option<String>,
    pub email: Option<Option<String>>,
}

/// A password change, as it arrives.
#[derive(Debug)]
pub struct PasswordChange {
    pub current_password: SecretString,
    pub new_password: SecretString,
}

/// What a client holds after logging in: a short-lived access token and an opaque refresh token.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: RefreshToken,
    pub expires_in: Duration,
    pub session_id: SessionId,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub session_id: SessionId,
}

/// What the accounts service is built from.
#[derive(Clone)]
pub struct AccountPorts {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub strength: Arc<dyn PasswordStrength>,
    pub tokens: Arc<dyn AccessTokens>,
    /// Budgets of logins, registrations and password changes.
    pub limits: Arc<RateLimits>,
    pub clock: Arc<dyn Clock>,
}

/// Everything the accounts service needs.
pub struct Accounts {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    hasher: Arc<dyn PasswordHasher>,
    strength: Arc<dyn PasswordStrength>,
    tokens: Arc<dyn AccessTokens>,
    limits: Arc<RateLimits>,
    clock: Arc<dyn Clock>,
    settings: AccountSettings,
    /// What else is deleted with an account.
    user_data: Vec<Arc<dyn UserData>>,
    /// Verified against when the username is unknown, so that both failures take as long.
    dummy_hash: OnceCell<PasswordHash>,
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Accounts {
    pub fn new(ports: AccountPorts, settings: AccountSettings) -> Self {
        Self {
            users: ports.users,
            sessions: ports.sessions,
            hasher: ports.hasher,
            strength: ports.strength,
            tokens: ports.tokens,
            limits: ports.limits,
            clock: ports.clock,
            settings,
            user_data: Vec::new(),
            dummy_hash: OnceCell::new(),
        }
    }

    /// Registers data that must be deleted with an account.
    pub fn with_user_data(mut self, data: Arc<dyn UserData>) -> Self {
        self.user_data.push(data);
        self
    }

    /// Checks a new password: length first, then how guessable it is given `context`.
    fn new_password(
        &self,
        raw: SecretString,
        field: &str,
        context: &[&str],
    ) -> Result<Password, FieldError> {
        let password = self
            .settings
            .password_policy
            .parse(raw)
            .map_err(|e| FieldError::new(field, e.message))?;
        self.strength
            .assess(password.expose(), context)
            .map_err(|advice| FieldError::new(field, advice))?;
        Ok(password)
    }

    /// Validates every field (naming each bad one), hashes the password, stores the account and
    /// opens its first session.
    pub async fn register(
        &self,
        command: RegisterCommand,
        client: &ClientInfo,
    ) -> Result<(User, TokenPair), RegisterError> {
        if let Some(ip) = client.ip {
            self.limits.registration(&self.limits.address(ip)).await?;
        }
        let mut errors = ValidationErrors::new();
        let username = errors.check(Username::parse(&command.username));
        let email = match command.email.as_deref() {
            None | Some("") => Some(None),
            Some(raw) => errors.check(Email::parse(raw)).map(Some),
        };
        let mut context = vec![command.username.as_str()];
        if let Some(email) = command.email.as_deref() {
            context.push(email);
        }
        let password = errors.check(self.new_password(command.password, "password", &context));
        let (Some(username), Some(password), Some(email)) = (username, password, email) else {
            return Err(errors.into());
        };

        let password_hash = self.hasher.hash(&password).await?;
        let user = self
            .users
            .create(NewUser {
                id: UserId::new(),
                username,
                email,
                password_hash,
                created_at: self.clock.now(),
            })
            .await
            .map_err(|e| match e {
                CreateUserError::Duplicate => RegisterError::UsernameTaken,
                CreateUserError::Infra(e) => RegisterError::Infra(e),
            })?;
        let pair = self.open_session(user.id, client).await?;
        Ok((user, pair))
    }

    async fn dummy_hash(&self) -> Result<&PasswordHash, InfraError> {
        self.dummy_hash
            .get_or_try_init(|| async {
                let password = PasswordPolicy {
                    min_chars: 1,
                    max_chars: 64,
                }
                .parse(SecretString::from(Uuid::now_v7().to_string()))
                .map_err(|e| InfraError::internal(e.message))?;
                self.hasher.hash(&password).await
            })
            .await
    }

    /// Checks the credentials. An unknown user and a wrong password get the same error after the
    /// same work (a hash verification either way). The attempt is reserved before the check
    /// (so parallel guesses count) on the account from this address, the address and the
    /// account ([`RateLimits::login_attempt`]): failures from one address back off there
    /// without locking the owner out from another.
    pub async fn login(
        &self,
        command: LoginCommand,
        client: &ClientInfo,
    ) -> Result<(User, TokenPair), LoginError> {
        let address = client.ip.map(|ip| self.limits.address(ip));
        // Any string can be tried; only its canonical form keys the throttle.
        let canonical = Username::parse(&command.username)
            .map(|u| u.canonical())
            .unwrap_or_else(|_| {
                command
                    .username
                    .chars()
                    .take(64)
                    .collect::<String>()
                    .to_lowercase()
            });
        let attempt = self
            .limits
            .login_attempt(&canonical, address.as_deref())
            .await?;

        let raw = command.password.expose_secret();
        if raw.is_empty() || raw.chars().count() > 1024 {
            return Err(LoginError::InvalidCredentials);
        }
        let password = PasswordPolicy {
            min_chars: 1,
            max_chars: 1024,
        }
        .parse(command.password)
        .map_err(|_| LoginError::InvalidCredentials)?;

        let stored = match Username::parse(&command.username) {
            Ok(username) => self.users.find_by_username(&username).await?,
            Err(_) => None,
        };
        let verified = match &stored {
            Some(stored) => self.hasher.verify(&password, &stored.password_hash).await?,
            None => {
                let dummy = self.dummy_hash().await?;
                let _ = self.hasher.verify(&password, dummy).await?;
                false
            }
        };
        let Some(StoredUser {
            user,
            password_hash,
        }) = stored.filter(|_| verified)
        else {
            return Err(LoginError::InvalidCredentials);
        };
        attempt.succeeded().await;

        let rehashed = if self.hasher.needs_rehash(&password_hash) {
            Some(self.hasher.hash(&password).await?)
        } else {
            None
        };
        let now = self.clock.now();
        self.users.record_login(user.id, now, rehashed).await?;
        let pair = self.open_session(user.id, client).await?;
        let user = User {
            last_login_at: Some(now),
            ..user
        };
        Ok((user, pair))
    }

    async fn open_session(
        &self,
        user: UserId,
        client: &ClientInfo,
    ) -> Result<TokenPair, InfraError> {
        let now = self.clock.now();
        let session_id = SessionId::new();
        let refresh_token = RefreshToken::generate()?;
        let session = self
            .sessions
            .create(
                NewSession {
                    id: session_id,
                    user_id: user,
                    created_at: now,
                    expires_at: now + to_chrono(self.settings.session_max_age),
                    client: client.clone(),
                },
                NewRefreshToken {
                    hash: refresh_token.hash(),
                    session_id,
                    issued_at: now,
                    expires_at: now + to_chrono(self.settings.refresh_token_ttl),
                },
            )
            .await?;
        let access_token = self.access_token(&session, now)?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            expires_in: self.tokens.lifetime(),
            session_id,
        })
    }

    fn access_token(&self, session: &Session, now: DateTime<Utc>) -> Result<String, InfraError> {
        self.access_token_with_id(session, now, Uuid::now_v7())
    }

    fn access_token_with_id(
        &self,
        session: &Session,
        issued_at: DateTime<Utc>,
        token_id: Uuid,
    ) -> Result<String, InfraError> {
        self.tokens.issue(&AccessClaims {
            user_id: session.user_id,
            session_id: session.id,
            token_id,
            issued_at,
            expires_at: issued_at + to_chrono(self.tokens.lifetime()),
        })
    }

    /// Exchanges a refresh token for a new pair. A token used twice revokes its session —
    /// unless it comes back within `refresh_grace` of its rotation while its successor is still
    /// unused (the client lost the answer and retried): then the answer is the same pair.
    pub async fn refresh(&self, presented: &str) -> Result<TokenPair, RefreshError> {
        if presented.is_empty() || presented.len() > 256 {
            return Err(RefreshError::InvalidToken);
        }
        let now = self.clock.now();
        // Derived, not drawn: a retry of this refresh derives the same successor.
        let next = self.settings.rotation_key.successor(presented);
        let next_hash = next.hash();
        let rotation = self
            .sessions
            .rotate(
                &RefreshToken::from_client(presented).hash(),
                &next_hash,
                now,
                now + to_chrono(self.settings.refresh_token_ttl),
                self.settings.refresh_grace,
            )
            .await?;
        // The access token of a rotation is the same on its retry too: issued at the rotation,
        // with an id derived from the successor.
        let token_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, next_hash.as_str().as_bytes());
        match rotation {
            Rotation::Rotated(session) => Ok(TokenPair {
                access_token: self.access_token_with_id(&session, now, token_id)?,
                refresh_token: next,
                expires_in: self.tokens.lifetime(),
                session_id: session.id,
            }),
            Rotation::Retried {
                session,
                rotated_at,
            } => {
                tracing::info!(user_id = %session.user_id, session_id = %session.id, "a refresh was retried within the grace window: same pair");
                Ok(TokenPair {
                    access_token: self.access_token_with_id(&session, rotated_at, token_id)?,
                    refresh_token: next,
                    expires_in: self.tokens.lifetime(),
                    session_id: session.id,
                })
            }
            Rotation::Reused {
                session_id,
                user_id,
            } => {
                tracing::warn!(%user_id, %session_id, "a rotated refresh token was presented again: session revoked");
                Err(RefreshError::InvalidToken)
            }
            Rotation::Invalid => Err(RefreshError::InvalidToken),
        }
    }

    /// Whether `token` is an access token this service issued and that has not expired (its
    /// signature and claims only; [`Accounts::authenticate`] also checks its session).
    /// The claims of a well-signed, unexpired access token (its session is not checked).
    pub fn verify_token(&self, token: &str) -> Result<AccessClaims, AuthError> {
        self.tokens.verify(token).map_err(|rejection| {
            tracing::debug!(reason = %rejection, "access token refused");
            AuthError::InvalidToken(rejection)
        })
    }

    /// The caller behind an access token, if the token is valid and its session still active.
    pub async fn authenticate(&self, access_token: Option<&str>) -> Result<Principal, AuthError> {
        let token = access_token.ok_or(AuthError::MissingToken)?;
        self.authenticate_claims(self.verify_token(token)?).await
    }

    /// The caller behind claims [`Self::verify_token`] accepted, if their session is still
    /// active.
    pub async fn authenticate_claims(&self, claims: AccessClaims) -> Result<Principal, AuthError> {
        let now = self.clock.now();
        self.sessions
            .find_active(claims.user_id, claims.session_id, now)
            .await?
            .ok_or(AuthError::SessionEnded)?;
        Ok(Principal {
            user_id: claims.user_id,
            session_id: claims.session_id,
        })
    }

    pub async fn me(&self, who: Principal) -> Result<User, AccountError> {
        self.users
            .find_by_id(who.user_id)
            .await?
            .ok_or(AccountError::NotFound)
    }

    pub async fn update_profile(
        &self,
        who: Principal,
        changes: ProfileChanges,
    ) -> Result<User, AccountError> {
        let mut errors = ValidationErrors::new();
        let username = match changes.username.as_deref() {
            None => Some(None),
            Some(raw) => errors.check(Username::parse(raw)).map(Some),
        };
        let email = match changes.email {
            None => Some(None),
            Some(None) => Some(Some(None)),
            Some(Some(raw)) if raw.is_empty() => Some(Some(None)),
            Some(Some(raw)) => errors.check(Email::parse(&raw)).map(|e| Some(Some(e))),
        };
        let (Some(username), Some(email)) = (username, email) else {
            return Err(errors.into());
        };
        self.users
            .update(
                who.user_id,
                UserChanges {
                    username,
                    email,
                    at: self.clock.now(),
                },
            )
            .await?
            .ok_or(AccountError::NotFound)
    }

    /// Verifies `password` as the caller's current one; wrong guesses count as failed logins
    /// from the caller's address.
    async fn confirm_password(
        &self,
        who: Principal,
        password: SecretString,
        field: &str,
        client: &ClientInfo,
    ) -> Result<StoredUser, AccountError> {
        let stored = self
            .users
            .find_credentials(who.user_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        let account = stored.user.username.canonical();
        let address = client.ip.map(|ip| self.limits.address(ip));
        let attempt = self
            .limits
            .login_attempt(&account, address.as_deref())
            .await?;
        let wrong = || ValidationErrors::single(field, "is not your current password");
        let password = PasswordPolicy {
            min_chars: 1,
            max_chars: 1024,
        }
        .parse(password)
        .map_err(|_| wrong())?;
        if !self.hasher.verify(&password, &stored.password_hash).await? {
            return Err(wrong().into());
        }
        attempt.succeeded().await;
        Ok(stored)
    }

    /// Changes the password after checking the current one, and ends every other session.
    pub async fn change_password(
        &self,
        who: Principal,
        change: PasswordChange,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        let stored = self
            .confirm_password(who, change.current_password, "current_password", client)
            .await?;
        let mut context = vec![stored.user.username.as_str()];
        if let Some(email) = &stored.user.email {
            context.push(email.as_str());
        }
        let password = self
            .new_password(change.new_password, "new_password", &context)
            .map_err(|e| {
                let mut errors = ValidationErrors::new();
                errors.push(e);
                errors
            })?;
        let hash = self.hasher.hash(&password).await?;
        let now = self.clock.now();
        if !self.users.set_password_hash(who.user_id, hash, now).await? {
            return Err(AccountError::NotFound);
        }
        let ended = self
            .sessions
            .revoke_all(who.user_id, Some(who.session_id), now)
            .await?;
        tracing::info!(user_id = %who.user_id, other_sessions_ended = ended, "password changed");
        Ok(())
    }

    /// Deletes the account and everything it owns, after checking the password.
    pub async fn delete_account(
        &self,
        who: Principal,
        password: SecretString,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        self.confirm_password(who, password, "password", client)
            .await?;
        for data in &self.user_data {
            let deleted = data.delete_user_data(who.user_id).await?;
            tracing::debug!(user_id = %who.user_id, kind = data.name(), deleted, "user data deleted");
        }
        self.sessions.delete_for_user(who.user_id).await?;
        if !self.users.delete(who.user_id).await? {
            return Err(AccountError::NotFound);
        }
        tracing::info!(user_id = %who.user_id, "account deleted");
        Ok(())
    }

    pub async fn logout(&self, who: Principal) -> Result<(), AccountError> {
        self.sessions
            .revoke(who.user_id, who.session_id, self.clock.now())
            .await?;
        Ok(())
    }

    pub async fn logout_all(&self, who: Principal) -> Result<u64, AccountError> {
        Ok(self
            .sessions
            .revoke_all(who.user_id, None, self.clock.now())
            .await?)
    }

    pub async fn sessions(
        &self,
        who: Principal,
        page: PageRequest<SessionCursor>,
    ) -> Result<Page<Session>, AccountError> {
        Ok(self
            .sessions
            .list_active(who.user_id, page, self.clock.now())
            .await?)
    }

    /// Ends one of the caller's sessions; another user's session is `NotFound`.
    pub async fn end_session(&self, who: Principal, id: SessionId) -> Result<(), AccountError> {
        if self
            .sessions
            .revoke(who.user_id, id, self.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(AccountError::NotFound)
        }
    }

    /// The background sweep: removes sessions that ended more than a day ago.
    pub async fn purge_ended_sessions(&self) -> Result<u64, InfraError> {
        let before = self.clock.now() - chrono::Duration::days(1);
        self.sessions.purge_ended(before).await
    }
}
