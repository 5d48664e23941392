//! What the services are configured with, and the background tasks they run.

use std::sync::Arc;
use std::time::Duration;

use flashforge_domain::accounts::{AccountSettings, PasswordPolicy};
use flashforge_domain::assistant::AssistantSettings;
use flashforge_domain::knowledge::VectorIndex;
use flashforge_domain::spend::SpendSettings;
use flashforge_domain::{ServiceSettings, Services};

use crate::knowledge::knowledge_settings;
use crate::settings::Settings;
use crate::worker::{Jobs, SessionSweep, Worker};

/// The service settings from the configuration.
pub fn service_settings(settings: &Settings) -> ServiceSettings {
    ServiceSettings {
        accounts: AccountSettings {
            password_policy: PasswordPolicy {
                min_chars: settings.auth.password_min_length,
                max_chars: settings.auth.password_max_length,
            },
            refresh_token_ttl: Duration::from_secs(settings.auth.refresh_token_ttl_secs),
            session_max_age: Duration::from_secs(settings.auth.session_max_age_secs),
            refresh_grace: Duration::from_secs(settings.auth.refresh_grace_secs),
            rotation_key: rotation_key(settings),
        },
        assistant: AssistantSettings {
            passages: settings.assistant.passages,
            history_messages: settings.assistant.history_messages,
            history_chars: settings.assistant.history_chars,
            max_message_chars: settings.assistant.max_message_chars,
            abandoned_after: Duration::from_secs(settings.assistant.abandoned_stream_secs),
        },
        knowledge: knowledge_settings(settings),
        jobs: settings.worker.policy(),
        quotas: settings.quotas.policy(),
        rate_limits: settings.rate_limit.policy(),
        spend: SpendSettings {
            daily_tokens: settings.assistant.daily_token_budget,
            max_completion_tokens: settings.llm.max_tokens,
            max_concurrent_calls: settings.llm.max_concurrent_calls_per_user,
        },
        readiness_timeout: Duration::from_millis(settings.health.readiness_timeout_ms),
    }
}

/// The key refresh-token successors are derived with: from the signing key (the HS256 secret
/// or the private key file), so that every instance derives the same successor.
fn rotation_key(settings: &Settings) -> flashforge_domain::accounts::RotationKey {
    use sha2::{Digest, Sha256};
    let material = match (
        &settings.auth.jwt_secret,
        &settings.auth.jwt_private_key_file,
    ) {
        (Some(secret), _) if !secret.expose().is_empty() => secret.expose().as_bytes().to_vec(),
        (_, Some(path)) => match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(_) => return flashforge_domain::accounts::RotationKey::random(),
        },
        _ => return flashforge_domain::accounts::RotationKey::random(),
    };
    let mut hasher = Sha256::new();
    hasher.update(b"flashforge refresh-token rotation v1\0");
    hasher.update(&material);
    flashforge_domain::accounts::RotationKey::new(hasher.finalize().into())
}

/// The background tasks of this process: the sweep of ended sessions, `worker.concurrency` job
/// loops and, when scheduled, backups (which copy `index`, this process's vector index, at rest).
pub fn background_worker(
    services: &Arc<Services>,
    index: Arc<dyn VectorIndex>,
    settings: &Settings,
) -> Worker {
    let mut worker = Worker::new().with_task(Arc::new(SessionSweep::new(services.clone())));
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    for n in 0..settings.worker.concurrency {
        worker = worker.with_task(Arc::new(Jobs::new(
            services.jobs.clone(),
            format!("{host}:{}:{n}", std::process::id()),
            Duration::from_millis(settings.worker.poll_interval_ms),
        )));
    }
    if settings.backup.interval_hours > 0 {
        worker = worker.with_task(Arc::new(crate::backup::ScheduledBackup::new(
            settings.clone(),
            Some(index),
        )));
    }
    worker
}
