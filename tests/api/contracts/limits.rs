//! The `RateLimitStore` contract, on the in-memory store and on the real Redis.

use std::sync::Arc;
use std::time::Duration;

use flashforge_domain::limits::{Backoff, RateLimitStore, Reserved};
use flashforge_memory::InMemoryRateLimitStore;
use flashforge_redis::RedisRateLimitStore;

async fn stores() -> Vec<(&'static str, Arc<dyn RateLimitStore>)> {
    let mut stores: Vec<(&'static str, Arc<dyn RateLimitStore>)> =
        vec![("memory", Arc::new(InMemoryRateLimitStore::new()))];
    if let Some(url) = crate::helpers::redis_or_skip().await {
        let prefix = format!("ff:test:{}:", uuid::Uuid::now_v7().simple());
        let redis = RedisRateLimitStore::connect(&url, &prefix, Duration::from_secs(1))
            .await
            .unwrap();
        stores.push(("redis", Arc::new(redis)));
    }
    stores
}

#[tokio::test]
async fn increments_count_within_a_window_and_reset_after_it() {
    for (name, store) in stores().await {
        let window = Duration::from_millis(300);
        assert_eq!(store.increment("k", window).await.unwrap().0, 1, "{name}");
        let (count, left) = store.increment("k", window).await.unwrap();
        assert_eq!(count, 2, "{name}");
        assert!(left <= window && left > Duration::ZERO, "{name}: {left:?}");
        assert_eq!(
            store.increment("other", window).await.unwrap().0,
            1,
            "{name}"
        );
        tokio::time::sleep(window + Duration::from_millis(100)).await;
        assert_eq!(
            store.increment("k", window).await.unwrap().0,
            1,
            "{name}: window over"
        );
    }
}

#[tokio::test]
async fn concurrent_increments_lose_no_count() {
    for (name, store) in stores().await {
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.increment("race", Duration::from_secs(10)).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(
            store
                .increment("race", Duration::from_secs(10))
                .await
                .unwrap()
                .0,
            51,
            "{name}"
        );
    }
}

#[tokio::test]
async fn blocks_keep_the_longer_duration_and_reset_clears_everything() {
    for (name, store) in stores().await {
        assert_eq!(store.blocked_for("b").await.unwrap(), None, "{name}");
        store.block("b", Duration::from_secs(60)).await.unwrap();
        store.block("b", Duration::from_secs(1)).await.unwrap();
        let left = store.blocked_for("b").await.unwrap().unwrap();
        assert!(
            left > Duration::from_secs(50),
            "{name}: a shorter block replaced a longer one"
        );
        store.increment("b", Duration::from_secs(60)).await.unwrap();
        store.reset("b").await.unwrap();
        assert_eq!(store.blocked_for("b").await.unwrap(), None, "{name}");
        assert_eq!(
            store
                .increment("b", Duration::from_secs(60))
                .await
                .unwrap()
                .0,
            1,
            "{name}"
        );

        store
            .block("short", Duration::from_millis(150))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(
            store.blocked_for("short").await.unwrap(),
            None,
            "{name}: block expired"
        );
    }
}

/// An exclusive slot (one optimization per user at a time): one holder among many racing, the
/// slot free again once released or once a holder that never released it has been gone for
/// its lease.
#[tokio::test]
async fn an_exclusive_slot_has_one_holder_until_released_or_its_lease_ends() {
    use flashforge_domain::limits::{Exclusive, RateLimitPolicy, RateLimits};
    for (name, store) in stores().await {
        let limits = Arc::new(RateLimits::new(store, RateLimitPolicy::default()));
        let racers: Vec<_> = (0..10)
            .map(|_| {
                let limits = limits.clone();
                tokio::spawn(async move {
                    limits
                        .acquire_exclusive("job:a", Duration::from_secs(30))
                        .await
                })
            })
            .collect();
        let mut holders = 0;
        for racer in racers {
            holders += usize::from(racer.await.unwrap());
        }
        assert_eq!(holders, 1, "{name}");
        // Another key is its own slot.
        assert!(
            limits
                .acquire_exclusive("job:b", Duration::from_secs(30))
                .await,
            "{name}"
        );
        // Released by dropping the guard (the work ended, however).
        drop(Exclusive::new(limits.clone(), "job:a".into()));
        let mut free = false;
        for _ in 0..50 {
            if limits
                .acquire_exclusive("job:a", Duration::from_millis(300))
                .await
            {
                free = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(free, "{name}: released");
        // Held by one that never gives it back: free after its lease.
        assert!(
            !limits
                .acquire_exclusive("job:a", Duration::from_millis(300))
                .await,
            "{name}"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            limits
                .acquire_exclusive("job:a", Duration::from_millis(300))
                .await,
            "{name}: the lease ended"
        );
    }
}

const BACKOFF: Backoff = Backoff {
    free: 3,
    base: Duration::from_secs(60),
    max: Duration::from_secs(600),
};

#[tokio::test]
async fn concurrent_reservations_pass_as_a_sequential_order_would() {
    for (name, store) in stores().await {
        // Twenty at once: the first three are counted, the third sets the hold, and every other
        // is refused with what it has left — nothing more is counted.
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .reserve("guess", BACKOFF, Duration::from_secs(600), false)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut granted = Vec::new();
        let mut held = 0;
        for task in tasks {
            match task.await.unwrap() {
                Reserved::Granted { attempts } => granted.push(attempts),
                Reserved::Held { retry_after } => {
                    assert!(
                        retry_after > Duration::from_secs(50),
                        "{name}: {retry_after:?}"
                    );
                    held += 1;
                }
            }
        }
        granted.sort();
        assert_eq!(granted, [1, 2, 3], "{name}");
        assert_eq!(held, 17, "{name}");
        // One that waited its turn is counted anyway.
        assert_eq!(
            store
                .reserve("guess", BACKOFF, Duration::from_secs(600), true)
                .await
                .unwrap(),
            Reserved::Granted { attempts: 4 },
            "{name}"
        );
    }
}

#[tokio::test]
async fn giving_back_lifts_the_hold_and_forgetting_clears_the_count() {
    for (name, store) in stores().await {
        let window = Duration::from_secs(600);
        for _ in 0..3 {
            store
                .reserve("owner", BACKOFF, window, false)
                .await
                .unwrap();
        }
        assert!(matches!(
            store
                .reserve("owner", BACKOFF, window, false)
                .await
                .unwrap(),
            Reserved::Held { .. }
        ));
        // The third attempt succeeded after all: one count back, the hold lifted.
        store.give_back("owner", false).await.unwrap();
        assert_eq!(
            store
                .reserve("owner", BACKOFF, window, false)
                .await
                .unwrap(),
            Reserved::Granted { attempts: 3 },
            "{name}"
        );
        store.give_back("owner", true).await.unwrap();
        assert_eq!(
            store
                .reserve("owner", BACKOFF, window, false)
                .await
                .unwrap(),
            Reserved::Granted { attempts: 1 },
            "{name}: forgotten"
        );
        // Keys are independent.
        assert_eq!(
            store
                .reserve("other", BACKOFF, window, false)
                .await
                .unwrap(),
            Reserved::Granted { attempts: 1 },
            "{name}"
        );
    }
}
