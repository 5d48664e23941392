//! An S3-compatible server for the S3 blob adapter's runs (`moto_server` in CI), named by
//! `FLASHFORGE_TEST_S3_ENDPOINT`. Without it those runs are skipped with a notice, unless
//! `FLASHFORGE_REQUIRE_S3=1`, which makes that a failure.

use crate::skip::skip;

/// What makes a missing S3 server a failure.
pub const REQUIRE_S3: &str = "FLASHFORGE_REQUIRE_S3";
/// The S3 server's credentials (moto takes any).
const KEY_ID: &str = "flashforge-test";
const SECRET: &str = "flashforge-test-secret";

/// A bucket on the tests' S3 server.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    pub endpoint: String,
    pub name: String,
}

impl S3Bucket {
    /// The settings that keep blobs in this bucket.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FLASHFORGE__STORAGE__BLOBS", "s3".into()),
            ("FLASHFORGE__STORAGE__S3_BUCKET", self.name.clone()),
            ("FLASHFORGE__STORAGE__S3_ENDPOINT", self.endpoint.clone()),
            ("FLASHFORGE__STORAGE__S3_REGION", "us-east-1".into()),
            ("FLASHFORGE__STORAGE__S3_ACCESS_KEY_ID", KEY_ID.into()),
            ("FLASHFORGE__STORAGE__S3_SECRET_ACCESS_KEY", SECRET.into()),
            ("FLASHFORGE__STORAGE__S3_ALLOW_HTTP", "true".into()),
        ]
    }

    /// The keys of the objects in the bucket (the first thousand).
    pub async fn keys(&self) -> Vec<String> {
        let body = reqwest::Client::new()
            .get(format!("{}/{}?list-type=2", self.endpoint, self.name))
            .send()
            .await
            .expect("the S3 server answers")
            .text()
            .await
            .expect("a listing");
        body.split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split("</Key>").next())
            .map(str::to_string)
            .collect()
    }
}

/// The tests' S3 server, if `FLASHFORGE_TEST_S3_ENDPOINT` names one that answers.
pub async fn s3_endpoint_or_skip() -> Option<String> {
    let Ok(endpoint) = std::env::var("FLASHFORGE_TEST_S3_ENDPOINT") else {
        skip(
            REQUIRE_S3,
            "FLASHFORGE_TEST_S3_ENDPOINT is not set (an S3-compatible server, e.g. `moto_server -H 127.0.0.1 -p 5000`)",
        );
        return None;
    };
    let endpoint = endpoint.trim_end_matches('/').to_string();
    match reqwest::Client::new().get(&endpoint).send().await {
        Ok(_) => Some(endpoint),
        Err(e) => {
            skip(
                REQUIRE_S3,
                &format!("the S3 server at {endpoint} does not answer: {e}"),
            );
            None
        }
    }
}

/// A new, empty bucket on the tests' S3 server (created with a PUT, as moto takes it).
pub async fn new_bucket_or_skip() -> Option<S3Bucket> {
    let endpoint = s3_endpoint_or_skip().await?;
    let name = format!("ff-test-{}", uuid::Uuid::new_v4().simple());
    let response = reqwest::Client::new()
        .put(format!("{endpoint}/{name}"))
        .send()
        .await
        .expect("the S3 server answers");
    assert!(
        response.status().is_success(),
        "cannot create the bucket {name}: {}",
        response.status()
    );
    Some(S3Bucket { endpoint, name })
}

/// A bucket name on the tests' S3 server that nobody created.
pub async fn missing_bucket_or_skip() -> Option<S3Bucket> {
    let endpoint = s3_endpoint_or_skip().await?;
    let name = format!("ff-missing-{}", uuid::Uuid::new_v4().simple());
    Some(S3Bucket { endpoint, name })
}
