//! Readiness: whether every dependency this process needs answers, and how fast.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::future::join_all;

/// A dependency that readiness checks: the database, the vector index, a model server.
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// A short stable name, such as `database`.
    fn name(&self) -> &str;

    /// Whether the process is unready while this dependency is down.
    fn required(&self) -> bool {
        true
    }

    /// `Ok(())` when the dependency answers. The error text goes to the log, not to clients.
    async fn check(&self) -> Result<(), String>;
}

/// The state of one dependency at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct DependencyStatus {
    pub name: String,
    pub required: bool,
    pub up: bool,
    pub latency_ms: f64,
}

/// The state of every dependency.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadinessReport {
    /// True when every required dependency is up and the process is not stopping.
    pub ready: bool,
    /// The process has begun to stop: it takes no new work, whatever its dependencies say.
    pub stopping: bool,
    pub dependencies: Vec<DependencyStatus>,
}

/// Checks every dependency concurrently, each within a time limit.
pub struct Readiness {
    checks: Vec<Arc<dyn HealthCheck>>,
    timeout: Duration,
    stopping: AtomicBool,
}

impl Readiness {
    pub fn new(checks: Vec<Arc<dyn HealthCheck>>, timeout: Duration) -> Self {
        Self {
            checks,
            timeout,
            stopping: AtomicBool::new(false),
        }
    }

    /// From now on the process reports itself unready (a load balancer stops sending it work).
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub async fn check(&self) -> ReadinessReport {
        let dependencies = join_all(self.checks.iter().map(|check| async move {
            let started = Instant::now();
            let outcome = tokio::time::timeout(self.timeout, check.check()).await;
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            let up = match outcome {
                Ok(Ok(())) => true,
                Ok(Err(reason)) => {
                    tracing::warn!(dependency = check.name(), %reason, "dependency check failed");
                    false
                }
                Err(_) => {
                    tracing::warn!(
                        dependency = check.name(),
                        timeout_ms = self.timeout.as_millis() as u64,
                        "dependency check timed out"
                    );
                    false
                }
            };
            DependencyStatus {
                name: check.name().to_string(),
                required: check.required(),
                up,
                latency_ms: (latency_ms * 1000.0).round() / 1000.0,
            }
        }))
        .await;
        let stopping = self.stopping.load(Ordering::SeqCst);
        let ready = !stopping && dependencies.iter().all(|d| d.up || !d.required);
        ReadinessReport {
            ready,
            stopping,
            dependencies,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed {
        name: &'static str,
        required: bool,
        result: Result<(), String>,
        delay: Duration,
    }

    #[async_trait]
    impl HealthCheck for Fixed {
        fn name(&self) -> &str {
            self.name
        }
        fn required(&self) -> bool {
            self.required
        }
        async fn check(&self) -> Result<(), String> {
            tokio::time::sleep(self.delay).await;
            self.result.clone()
        }
    }

    fn check(name: &'static str, required: bool, up: bool, delay_ms: u64) -> Arc<dyn HealthCheck> {
        Arc::new(Fixed {
            name,
            required,
            result: if up { Ok(()) } else { Err("down".into()) },
            delay: Duration::from_millis(delay_ms),
        })
    }

    #[tokio::test]
    async fn ready_only_when_every_required_dependency_is_up() {
        let readiness = Readiness::new(
            vec![check("db", true, true, 0), check("cache", false, false, 0)],
            Duration::from_secs(1),
        );
        let report = readiness.check().await;
        assert!(report.ready);
        assert_eq!(report.dependencies.len(), 2);
        assert!(!report.dependencies[1].up);

        let readiness = Readiness::new(vec![check("db", true, false, 0)], Duration::from_secs(1));
        assert!(!readiness.check().await.ready);
    }

    #[tokio::test]
    async fn a_stopping_process_is_unready_with_every_dependency_up() {
        let readiness = Readiness::new(vec![check("db", true, true, 0)], Duration::from_secs(1));
        assert!(!readiness.check().await.stopping);
        readiness.set_stopping();
        let report = readiness.check().await;
        assert!(report.stopping);
        assert!(!report.ready);
        assert!(report.dependencies[0].up);
    }

    #[tokio::test]
    async fn a_hanging_dependency_counts_as_down_after_the_timeout() {
        let readiness = Readiness::new(
            vec![check("slow", true, true, 5_000)],
            Duration::from_millis(20),
        );
        let report = readiness.check().await;
        assert!(!report.ready);
        assert!(report.dependencies[0].latency_ms < 1_000.0);
    }
}
