//! The `RateLimitStore` contract, on the in-memory store and on the real Redis.

use std::sync::Arc;
use std::time::Duration;

use flashforge_domain::limits::RateLimitStore;
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
