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

/// How long a dependency check's result answers readiness probes: whatever the probe rate,
/// the dependencies are checked at most once in this time.
pub const READINESS_FRESH_FOR: Duration = Duration::from_secs(1);

/// Checks every dependency concurrently, each within a time limit; one check at a time, its
/// result reused for [`READINESS_FRESH_FOR`].
pub struct Readiness {
    checks: Vec<Arc<dyn HealthCheck>>,
    timeout: Duration,
    stopping: AtomicBool,
    last: tokio::sync::Mutex<Option<(Instant, Vec<DependencyStatus>)>>,
}

impl Readiness {
    pub fn new(checks: Vec<Arc<dyn HealthCheck>>, timeout: Duration) -> Self {
        Self {
            checks,
            timeout,
            stopping: AtomicBool::new(false),
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// From now on the process reports itself unready (a load balancer stops sending it work).
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub async fn check(&self) -> ReadinessReport {
        let dependencies = {
            // Probes that arrive while a check runs wait for it and share its result.
            let mut last = self.last.lock().await;
            match &*last {
                Some((at, dependencies)) if at.elapsed() < READINESS_FRESH_FOR => {
                    dependencies.clone()
                }
                _ => {
                    let dependencies = self.check_now().await;
                    *last = Some((Instant::now(), dependencies.clone()));
                    dependencies
                }
            }
        };
        let stopping = self.stopping.load(Ordering::SeqCst);
        let ready = !stopping && dependencies.iter().all(|d| d.up || !d.required);
        ReadinessReport {
            ready,
            stopping,
            dependencies,
        }
    }

    async fn check_now(&self) -> Vec<DependencyStatus> {
        join_all(self.checks.iter().map(|check| async move {
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
        .await
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

    struct Counting(std::sync::atomic::AtomicUsize);

    #[async_trait]
    impl HealthCheck for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        fn required(&self) -> bool {
            true
        }
        async fn check(&self) -> Result<(), String> {
            self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_probe_storm_checks_the_dependencies_once_a_second() {
        let counting = Arc::new(Counting(std::sync::atomic::AtomicUsize::new(0)));
        let readiness = Readiness::new(vec![counting.clone()], Duration::from_secs(1));
        let storm = join_all((0..200).map(|_| readiness.check())).await;
        assert!(storm.iter().all(|r| r.ready));
        for _ in 0..50 {
            assert!(readiness.check().await.ready);
        }
        assert_eq!(counting.0.load(Ordering::SeqCst), 1);
        tokio::time::sleep(READINESS_FRESH_FOR).await;
        readiness.check().await;
        assert_eq!(
            counting.0.load(Ordering::SeqCst),
            2,
            "a stale result is checked again"
        );
        // Stopping is never cached.
        readiness.set_stopping();
        assert!(!readiness.check().await.ready);
    }
}
