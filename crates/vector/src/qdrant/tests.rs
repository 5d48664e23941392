use super::*;
use crate::scenario::{self, fixture, model};

/// The server to test against, from `QDRANT_URL` (its gRPC port, e.g. `http://localhost:6334`)
/// and `QDRANT_API_KEY`.
fn server() -> Option<(String, Option<String>)> {
    let url = std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty())?;
    let key = std::env::var("QDRANT_API_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    Some((url, key))
}

/// Drops the alias and every collection behind it.
async fn clean_up(client: &Qdrant, alias: &str) {
    let _ = client.delete_alias(alias).await;
    if let Ok(collections) = client.list_collections().await {
        for collection in collections.collections {
            if collection.name.starts_with(&format!("{alias}{SEPARATOR}")) {
                let _ = client.delete_collection(collection.name.as_str()).await;
            }
        }
    }
}

#[test]
fn collection_names_carry_the_alias_model_and_dimension() {
    let name = collection_name(
        "flashforge_chunks",
        &EmbeddingModel {
            name: "BAAI/bge-small-en-v1.5".into(),
            dimension: 384,
        },
    );
    let parts: Vec<&str> = name.split(SEPARATOR).collect();
    assert_eq!(
        parts[..3],
        ["flashforge_chunks", "baai-bge-small-en-v1-5", "384"]
    );
    assert!(parts[3].parse::<u128>().is_ok(), "{name}");
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Nothing listens on port 1.
    let url = "http://127.0.0.1:1";
    let Err(message) = QdrantVectorIndex::connect(url, None, "chunks", &model()).await else {
        panic!("connected to nothing");
    };
    assert!(message.contains(url), "{message}");

    let index = QdrantVectorIndex {
        client: client(url, None).unwrap(),
        model: model(),
        alias: "chunks".into(),
        target: "chunks".into(),
        collection: "chunks".into(),
    };
    let error = index.count(Scope::user(UserId::new())).await.unwrap_err();
    assert!(matches!(error, InfraError::Unavailable(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaves_like_the_exact_index_on_a_server() {
    let Some((url, key)) = server() else {
        println!("skipping: QDRANT_URL is not set");
        return;
    };
    let alias = format!("flashforge_test_{}", Uuid::new_v4().simple());
    let client = client(&url, key.clone()).unwrap();

    let result = tokio::spawn({
        let (url, key, alias) = (url.clone(), key.clone(), alias.clone());
        async move {
            // Created on first connect: a real collection behind the alias.
            let index = QdrantVectorIndex::connect(&url, key.clone(), &alias, &model())
                .await
                .unwrap();
            assert!(
                index
                    .collection()
                    .starts_with(&format!("{alias}{SEPARATOR}"))
            );
            scenario::exercise(&index).await;

            // Connecting again finds the same collection.
            let again = QdrantVectorIndex::connect(&url, key.clone(), &alias, &model())
                .await
                .unwrap();
            assert_eq!(again.collection(), index.collection());

            // Another model is refused with the reindex advice.
            let other = EmbeddingModel {
                name: "another-model".into(),
                dimension: scenario::DIMENSION,
            };
            let Err(message) = QdrantVectorIndex::connect(&url, key.clone(), &alias, &other).await
            else {
                panic!("connected to an index of another model");
            };
            assert!(message.contains(&model().name), "{message}");
            assert!(message.contains(&other.name), "{message}");
            assert!(
                message.contains(
                    "run `flashforge kb reindex` to rebuild the index for the configured model"
                ),
                "{message}"
            );

            // A new generation stays invisible until activated, then replaces the old one.
            let f = fixture();
            index.upsert(f.points.clone()).await.unwrap();
            let new = QdrantVectorIndex::create_generation(&url, key.clone(), &alias, &other)
                .await
                .unwrap();
            assert_ne!(new.collection(), index.collection());
            new.upsert(f.points[..2].to_vec()).await.unwrap();
            assert_eq!(index.count(Scope::user(f.alice)).await.unwrap(), 5);
            new.activate().await.unwrap();
            // The alias now leads to the new collection, for every holder of the alias.
            assert_eq!(index.count(Scope::user(f.alice)).await.unwrap(), 2);
            let old_exists = new
                .client
                .collection_exists(index.collection())
                .await
                .unwrap();
            assert!(!old_exists, "the old collection was not dropped");
            let reconnected = QdrantVectorIndex::connect(&url, key.clone(), &alias, &other)
                .await
                .unwrap();
            assert_eq!(reconnected.collection(), new.collection());
            assert!(
                QdrantVectorIndex::connect(&url, key, &alias, &model())
                    .await
                    .is_err()
            );
        }
    })
    .await;
    clean_up(&client, &alias).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic.into_panic());
    }
}
