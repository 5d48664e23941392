//! The `Cache` contract, on the in-process cache and on the real Redis.

use std::sync::Arc;
use std::time::Duration;

use flashforge_domain::cache::Cache;
use flashforge_memory::InProcessCache;
use flashforge_redis::RedisCache;

async fn caches() -> Vec<(&'static str, Arc<dyn Cache>)> {
    let mut caches: Vec<(&'static str, Arc<dyn Cache>)> =
        vec![("memory", Arc::new(InProcessCache::new(1000)))];
    if let Some(url) = crate::helpers::redis_or_skip().await {
        let prefix = format!("ff:test:{}:", uuid::Uuid::now_v7().simple());
        caches.push((
            "redis",
            Arc::new(RedisCache::new(&url, &prefix, Duration::from_secs(1)).unwrap()),
        ));
    }
    caches
}

#[tokio::test]
async fn values_are_read_back_one_or_many_in_order_until_deleted() {
    for (name, cache) in caches().await {
        let ttl = Duration::from_secs(60);
        assert_eq!(cache.get("a").await.unwrap(), None, "{name}");
        cache.set("a", b"one".to_vec(), ttl).await.unwrap();
        cache.set("c", b"three".to_vec(), ttl).await.unwrap();
        assert_eq!(
            cache.get("a").await.unwrap(),
            Some(b"one".to_vec()),
            "{name}"
        );
        let keys = ["c", "b", "a"].map(String::from);
        assert_eq!(
            cache.get_many(&keys).await.unwrap(),
            [Some(b"three".to_vec()), None, Some(b"one".to_vec())],
            "{name}"
        );
        assert_eq!(
            cache.get_many(&["a".to_string()]).await.unwrap(),
            [Some(b"one".to_vec())],
            "{name}"
        );
        assert!(cache.get_many(&[]).await.unwrap().is_empty(), "{name}");
        cache.delete("a").await.unwrap();
        assert_eq!(
            cache.get_many(&keys).await.unwrap(),
            [Some(b"three".to_vec()), None, None],
            "{name}"
        );
    }
}
