use std::collections::HashSet;

use flashforge_domain::chats::ChatId;
use flashforge_domain::knowledge::DocumentId;

use super::*;
use crate::scenario::{self, axis, fixture, model};

fn other_model() -> EmbeddingModel {
    EmbeddingModel {
        name: "another-model".into(),
        dimension: scenario::DIMENSION,
    }
}

fn index_file(dir: &Path) -> IndexFile {
    serde_json::from_slice(&fs::read(dir.join(INDEX_FILE)).unwrap()).unwrap()
}

fn generations(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaves_like_the_exact_index() {
    let dir = tempfile::tempdir().unwrap();
    let index = EdgeVectorIndex::open(&dir.path().join("vectors"), &model()).unwrap();
    scenario::exercise(&index).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_the_layout_and_reopens_with_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("vectors");
    let f = fixture();
    let index = EdgeVectorIndex::open(&path, &model()).unwrap();
    let file = index_file(&path);
    assert_eq!(file.model, model().name);
    assert_eq!(file.dimension, model().dimension);
    assert_eq!(file.generation, index.generation());
    assert!(path.join(&file.generation).is_dir());
    index.upsert(f.points.clone()).await.unwrap();
    drop(index);

    let index = EdgeVectorIndex::open(&path, &model()).unwrap();
    assert_eq!(index.generation(), file.generation);
    assert_eq!(index.count(Scope::user(f.alice)).await.unwrap(), 5);
    assert_eq!(index.count(Scope::user(f.bob)).await.unwrap(), 3);
    let found = index
        .search(Scope::user(f.alice), VectorQuery::Dense(axis(1)), 1)
        .await
        .unwrap();
    assert_eq!(found[0].chunk_id, f.points[1].chunk_id);

    // Writes after a reload are applied (the operation numbers continue) and kept.
    let mut extra = f.points[0].clone();
    extra.chunk_id = ChunkId::derive(f.d1, 99);
    index.upsert(vec![extra.clone()]).await.unwrap();
    index
        .delete_chunks(f.bob, &[f.points[5].chunk_id])
        .await
        .unwrap();
    index.flush().await.unwrap();
    drop(index);

    let index = EdgeVectorIndex::open(&path, &model()).unwrap();
    assert_eq!(index.count(Scope::user(f.alice)).await.unwrap(), 6);
    assert_eq!(index.count(Scope::user(f.bob)).await.unwrap(), 2);
    assert_eq!(
        index.retrieve(f.alice, &[extra.chunk_id]).await.unwrap(),
        [extra.chunk_id]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_model_is_refused_with_the_reindex_advice() {
    let dir = tempfile::tempdir().unwrap();
    drop(EdgeVectorIndex::open(dir.path(), &model()).unwrap());

    let Err(message) = EdgeVectorIndex::open(dir.path(), &other_model()) else {
        panic!("opened an index of another model");
    };
    assert!(message.contains(&model().name), "{message}");
    assert!(message.contains(&other_model().name), "{message}");
    assert!(
        message
            .contains("run `flashforge kb reindex` to rebuild the index for the configured model"),
        "{message}"
    );

    let wider = EmbeddingModel {
        name: model().name,
        dimension: scenario::DIMENSION * 2,
    };
    let Err(message) = EdgeVectorIndex::open(dir.path(), &wider) else {
        panic!("opened an index of another dimension");
    };
    assert!(message.contains("flashforge kb reindex"), "{message}");

    // Nothing was changed by the refusals.
    assert!(EdgeVectorIndex::open(dir.path(), &model()).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_generation_replaces_the_active_one_when_activated() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture();
    let old = EdgeVectorIndex::open(dir.path(), &model()).unwrap();
    old.upsert(f.points.clone()).await.unwrap();
    let old_generation = old.generation().to_string();

    let new = EdgeVectorIndex::create_generation(dir.path(), &other_model()).unwrap();
    assert_ne!(new.generation(), old_generation);
    assert_eq!(new.count(Scope::user(f.alice)).await.unwrap(), 0);
    new.upsert(f.points[..2].to_vec()).await.unwrap();
    // Not active yet: the old generation is still what `open` finds.
    assert_eq!(index_file(dir.path()).generation, old_generation);
    assert_eq!(old.count(Scope::user(f.alice)).await.unwrap(), 5);
    assert_eq!(generations(dir.path()).len(), 2);

    drop(old);
    new.activate().unwrap();
    let file = index_file(dir.path());
    assert_eq!(file.generation, new.generation());
    assert_eq!(file.model, other_model().name);
    assert_eq!(generations(dir.path()), [new.generation().to_string()]);
    assert!(!dir.path().join(format!("{INDEX_FILE}.tmp")).exists());
    // The activated index keeps working.
    assert_eq!(new.count(Scope::user(f.alice)).await.unwrap(), 2);
    drop(new);

    let reopened = EdgeVectorIndex::open(dir.path(), &other_model()).unwrap();
    assert_eq!(reopened.count(Scope::user(f.alice)).await.unwrap(), 2);
    assert_eq!(reopened.count(Scope::user(f.bob)).await.unwrap(), 0);
    assert!(EdgeVectorIndex::open(dir.path(), &model()).is_err());
}

/// xorshift64*: reproducible pseudo-random numbers without a dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (bits >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn vector(&mut self, dimension: usize) -> Vec<f32> {
        (0..dimension).map(|_| self.next()).collect()
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_hnsw_search_agrees_with_brute_force() {
    const POINTS: usize = 2000;
    const DIMENSION: usize = 384;
    const USERS: usize = 4;
    let model = EmbeddingModel {
        name: "random-384".into(),
        dimension: DIMENSION,
    };
    let dir = tempfile::tempdir().unwrap();
    // Tiny thresholds, so that the segments get an HNSW index and filtered searches use it.
    let tuning = Tuning {
        optimizers: EdgeOptimizersConfig {
            indexing_threshold: Some(100),
            ..EdgeOptimizersConfig::default()
        },
        hnsw: Some(HnswIndexConfig {
            full_scan_threshold: 10,
            ..HnswIndexConfig::default()
        }),
    };
    let index = EdgeVectorIndex::open_tuned(dir.path(), &model, tuning).unwrap();

    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let users: Vec<UserId> = (0..USERS).map(|_| UserId::new()).collect();
    let chats: Vec<ChatId> = (0..USERS * 2).map(|_| ChatId::new()).collect();
    let document = DocumentId::new();
    let points: Vec<VectorPoint> = (0..POINTS)
        .map(|n| VectorPoint {
            chunk_id: ChunkId::derive(document, n as u32),
            user_id: users[n % USERS],
            chat_id: chats[n % (USERS * 2)],
            document_id: document,
            dense: random.vector(DIMENSION),
            sparse: SparseVector::default(),
        })
        .collect();
    for batch in points.chunks(500) {
        index.upsert(batch.to_vec()).await.unwrap();
    }
    index.optimize().await.unwrap();
    let info = index.inner.shard.info();
    assert!(
        info.indexed_vectors_count >= POINTS,
        "no HNSW index was built: {info:?}"
    );
    assert_eq!(index.count(Scope::user(users[0])).await.unwrap(), 500);

    let mut hits = 0;
    let mut asked = 0;
    for round in 0..30 {
        let query = random.vector(DIMENSION);
        // Alternate between a user's scope and one of their chats.
        let scope = if round % 2 == 0 {
            Scope::user(users[round % USERS])
        } else {
            Scope::chat(users[1], chats[1])
        };
        let found = index
            .search(scope, VectorQuery::Dense(query.clone()), 10)
            .await
            .unwrap();
        let mut exact: Vec<(f32, ChunkId)> = points
            .iter()
            .filter(|p| p.user_id == scope.user && scope.chat.is_none_or(|c| c == p.chat_id))
            .map(|p| (cosine(&query, &p.dense), p.chunk_id))
            .collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let want: HashSet<ChunkId> = exact.iter().take(10).map(|e| e.1).collect();
        assert_eq!(found.len(), 10);
        for hit in &found {
            let point = points.iter().find(|p| p.chunk_id == hit.chunk_id).unwrap();
            assert_eq!(point.user_id, scope.user, "a point outside the scope");
            assert!((hit.score - cosine(&query, &point.dense)).abs() < 1e-3);
        }
        hits += found.iter().filter(|h| want.contains(&h.chunk_id)).count();
        asked += 10;
    }
    let recall = hits as f64 / asked as f64;
    println!("filtered HNSW recall@10: {recall}");
    assert!(recall >= 0.95, "recall {recall}");
}
