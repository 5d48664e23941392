//! The behaviour every `VectorIndex` adapter must share with the exact in-memory reference:
//! scoping by owner, chat and document; cosine and BM25 ranking; deletes; retrieve; count; scan.

use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::knowledge::{
    ChunkId, DocumentId, EmbeddingModel, Scope, ScoredChunk, SparseVector, VectorIndex,
    VectorPoint, VectorQuery, sparse,
};

pub(crate) const DIMENSION: usize = 8;

pub(crate) fn model() -> EmbeddingModel {
    EmbeddingModel {
        name: "test-model-8".into(),
        dimension: DIMENSION,
    }
}

/// Two users' material: Alice has two chats (three chunks in d1, two in d2), Bob one chat
/// (three chunks in d3) whose vectors equal Alice's first three.
pub(crate) struct Fixture {
    pub alice: UserId,
    pub bob: UserId,
    pub a1: ChatId,
    pub a2: ChatId,
    pub b1: ChatId,
    pub d1: DocumentId,
    pub d2: DocumentId,
    pub d3: DocumentId,
    pub points: Vec<VectorPoint>,
    pub texts: Vec<&'static str>,
}

/// A unit-ish vector pointing mostly along axis `k`.
pub(crate) fn axis(k: usize) -> Vec<f32> {
    let mut v = vec![0.0; DIMENSION];
    v[k % DIMENSION] = 1.0;
    v[(k + 1) % DIMENSION] = 0.1;
    v
}

pub(crate) fn fixture() -> Fixture {
    let (alice, bob) = (UserId::new(), UserId::new());
    let (a1, a2, b1) = (ChatId::new(), ChatId::new(), ChatId::new());
    let (d1, d2, d3) = (DocumentId::new(), DocumentId::new(), DocumentId::new());
    let layout = [
        (alice, a1, d1, 0, "photosynthesis converts light energy"),
        (
            alice,
            a1,
            d1,
            1,
            "mitochondria are the powerhouse of the cell",
        ),
        (
            alice,
            a1,
            d1,
            2,
            "photosynthesis photosynthesis chlorophyll light",
        ),
        (alice, a2, d2, 0, "cell membrane transport"),
        (alice, a2, d2, 1, "light waves and optics"),
        (bob, b1, d3, 0, "photosynthesis in algae"),
        (bob, b1, d3, 1, "mitochondria dna"),
        (bob, b1, d3, 2, "enzymes and catalysis"),
    ];
    let points = layout
        .iter()
        .enumerate()
        .map(|(n, (user, chat, document, index, text))| VectorPoint {
            chunk_id: ChunkId::derive(*document, *index),
            user_id: *user,
            chat_id: *chat,
            document_id: *document,
            // Bob's vectors repeat Alice's first three.
            dense: axis(if n >= 5 { n - 5 } else { n }),
            sparse: sparse::encode_document(text),
        })
        .collect();
    Fixture {
        alice,
        bob,
        a1,
        a2,
        b1,
        d1,
        d2,
        d3,
        points,
        texts: layout.iter().map(|l| l.4).collect(),
    }
}

fn ids(scored: &[ScoredChunk]) -> Vec<ChunkId> {
    scored.iter().map(|s| s.chunk_id).collect()
}

/// BM25 as the exact index computes it, with IDF over every stored point.
pub(crate) fn expected_bm25(
    stored: &[VectorPoint],
    scope: impl Fn(&VectorPoint) -> bool,
    query: &SparseVector,
) -> Vec<ScoredChunk> {
    let total = stored.len() as u64;
    let mut scored: Vec<ScoredChunk> = stored
        .iter()
        .filter(|p| scope(p))
        .filter_map(|p| {
            let mut score = 0f32;
            for (term, weight) in query.indices.iter().zip(&query.values) {
                if let Some(at) = p.sparse.indices.iter().position(|t| t == term) {
                    let df = stored
                        .iter()
                        .filter(|q| q.sparse.indices.contains(term))
                        .count() as u64;
                    score += weight * p.sparse.values[at] * sparse::idf(total, df);
                }
            }
            (score > 0.0).then_some(ScoredChunk {
                chunk_id: p.chunk_id,
                score,
            })
        })
        .collect();
    crate::rank(&mut scored);
    scored
}

fn assert_close(got: &[ScoredChunk], want: &[ScoredChunk]) {
    assert_eq!(ids(got), ids(want), "got {got:?}, want {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g.score - w.score).abs() <= 1e-3 * w.score.abs().max(1.0),
            "score {} for {}, want {}",
            g.score,
            g.chunk_id,
            w.score
        );
    }
}

/// Runs the whole scenario against an empty index of [`model`].
pub(crate) async fn exercise(index: &dyn VectorIndex) {
    let f = fixture();
    assert_eq!(index.model(), &model());

    index.upsert(f.points.clone()).await.unwrap();

    counts(index, &f).await;
    dense_search(index, &f).await;
    sparse_search(index, &f).await;
    wrong_dimension(index, &f).await;
    retrieve(index, &f).await;
    scan(index, &f).await;
    upsert_replaces(index, &f).await;
    delete_chunks(index, &f).await;
    delete_by_scope(index, &f).await;
    let _ = (f.d3, f.a1);
}

/// Count, by user, chat and document; another user's chat under Alice counts nothing.
async fn counts(index: &dyn VectorIndex, f: &Fixture) {
    let alice = Scope::user(f.alice);
    let bob = Scope::user(f.bob);
    assert_eq!(index.count(alice).await.unwrap(), 5);
    assert_eq!(index.count(bob).await.unwrap(), 3);
    assert_eq!(index.count(Scope::chat(f.alice, f.a1)).await.unwrap(), 3);
    assert_eq!(index.count(Scope::chat(f.alice, f.a2)).await.unwrap(), 2);
    assert_eq!(index.count(Scope::chat(f.alice, f.b1)).await.unwrap(), 0);
    assert_eq!(
        index
            .count(Scope::document(f.alice, f.a1, f.d1))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        index
            .count(Scope::document(f.alice, f.a1, f.d2))
            .await
            .unwrap(),
        0
    );
}

/// Dense: best first, cosine, only the owner's points although Bob's vectors are equal.
async fn dense_search(index: &dyn VectorIndex, f: &Fixture) {
    let p = &f.points;
    let alice = Scope::user(f.alice);
    let bob = Scope::user(f.bob);
    let found = index
        .search(alice, VectorQuery::Dense(axis(0)), 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 5);
    assert_eq!(found[0].chunk_id, p[0].chunk_id);
    assert!((found[0].score - 1.0).abs() < 1e-4, "{found:?}");
    assert!(found.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(
        found
            .iter()
            .all(|s| p[..5].iter().any(|q| q.chunk_id == s.chunk_id))
    );
    let found = index
        .search(bob, VectorQuery::Dense(axis(0)), 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!(found[0].chunk_id, p[5].chunk_id);
    assert!(
        found
            .iter()
            .all(|s| p[5..].iter().any(|q| q.chunk_id == s.chunk_id))
    );
    let found = index
        .search(Scope::chat(f.alice, f.a2), VectorQuery::Dense(axis(0)), 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&found)
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>(),
        [p[3].chunk_id, p[4].chunk_id].into()
    );
    let found = index
        .search(
            Scope::document(f.alice, f.a1, f.d1),
            VectorQuery::Dense(axis(2)),
            2,
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].chunk_id, p[2].chunk_id);
    assert!(
        found
            .iter()
            .all(|s| p[..3].iter().any(|q| q.chunk_id == s.chunk_id))
    );
    // Bob's chat under Alice's user finds nothing.
    let found = index
        .search(Scope::chat(f.alice, f.b1), VectorQuery::Dense(axis(0)), 10)
        .await
        .unwrap();
    assert!(found.is_empty(), "{found:?}");
}

/// Sparse: BM25 with IDF over the whole index, as the exact index computes it.
async fn sparse_search(index: &dyn VectorIndex, f: &Fixture) {
    let p = &f.points;
    let alice = Scope::user(f.alice);
    let bob = Scope::user(f.bob);
    let query = sparse::encode_query("photosynthesis light");
    let found = index
        .search(alice, VectorQuery::Sparse(query.clone()), 10)
        .await
        .unwrap();
    let want = expected_bm25(p, |q| q.user_id == f.alice, &query);
    assert_eq!(want.len(), 3);
    assert_eq!(want[0].chunk_id, p[2].chunk_id, "{:?}", f.texts);
    assert_close(&found, &want);
    let found = index
        .search(bob, VectorQuery::Sparse(query.clone()), 10)
        .await
        .unwrap();
    assert_close(&found, &expected_bm25(p, |q| q.user_id == f.bob, &query));
    assert_eq!(ids(&found), [p[5].chunk_id]);
    let found = index
        .search(alice, VectorQuery::Sparse(query.clone()), 1)
        .await
        .unwrap();
    assert_eq!(ids(&found), [p[2].chunk_id]);
    let unknown = sparse::encode_query("xylophone");
    let found = index
        .search(alice, VectorQuery::Sparse(unknown), 10)
        .await
        .unwrap();
    assert!(found.is_empty(), "{found:?}");
    let found = index
        .search(alice, VectorQuery::Sparse(SparseVector::default()), 10)
        .await
        .unwrap();
    assert!(found.is_empty());
    let found = index
        .search(alice, VectorQuery::Dense(axis(0)), 0)
        .await
        .unwrap();
    assert!(found.is_empty());
}

/// A vector of the wrong dimension is refused.
async fn wrong_dimension(index: &dyn VectorIndex, f: &Fixture) {
    let p = &f.points;
    let alice = Scope::user(f.alice);
    assert!(
        index
            .search(alice, VectorQuery::Dense(vec![1.0; DIMENSION + 1]), 10)
            .await
            .is_err()
    );
    let mut wrong = p[0].clone();
    wrong.dense.push(0.0);
    assert!(index.upsert(vec![wrong]).await.is_err());
}

/// Retrieve: the owner's ids that exist, in the order asked.
async fn retrieve(index: &dyn VectorIndex, f: &Fixture) {
    let p = &f.points;
    let missing = ChunkId::derive(DocumentId::new(), 0);
    let got = index
        .retrieve(
            f.alice,
            &[p[3].chunk_id, p[5].chunk_id, missing, p[0].chunk_id],
        )
        .await
        .unwrap();
    assert_eq!(got, [p[3].chunk_id, p[0].chunk_id]);
    assert!(index.retrieve(f.alice, &[]).await.unwrap().is_empty());
}

/// Scan: every point by id, in pages.
async fn scan(index: &dyn VectorIndex, f: &Fixture) {
    let p = &f.points;
    let mut all: Vec<_> = p.iter().map(|q| (q.chunk_id, q.user_id)).collect();
    all.sort();
    let mut scanned = Vec::new();
    let mut after = None;
    loop {
        let page = index.scan(after, 3).await.unwrap();
        assert!(page.len() <= 3);
        if page.is_empty() {
            break;
        }
        after = page.last().map(|c| c.chunk_id);
        scanned.extend(page.into_iter().map(|c| (c.chunk_id, c.user_id)));
    }
    assert_eq!(scanned, all);
    assert!(index.scan(None, 0).await.unwrap().is_empty());
    let tail = index.scan(Some(all[5].0), 10).await.unwrap();
    assert_eq!(
        tail.iter().map(|c| c.chunk_id).collect::<Vec<_>>(),
        [all[6].0, all[7].0]
    );
}

/// Upserting the same ids replaces the points: no duplicates, new vectors.
async fn upsert_replaces(index: &dyn VectorIndex, f: &Fixture) {
    let p = &f.points;
    let alice = Scope::user(f.alice);
    let bob = Scope::user(f.bob);
    let mut moved: Vec<VectorPoint> = p[..5].to_vec();
    for (n, point) in moved.iter_mut().enumerate() {
        point.dense = axis(n + 3);
    }
    index.upsert(moved).await.unwrap();
    assert_eq!(index.count(alice).await.unwrap(), 5);
    assert_eq!(index.count(bob).await.unwrap(), 3);
    let found = index
        .search(alice, VectorQuery::Dense(axis(3)), 1)
        .await
        .unwrap();
    assert_eq!(ids(&found), [p[0].chunk_id]);
    assert_eq!(index.scan(None, 100).await.unwrap().len(), 8);
}

/// `delete_chunks`: only the owner's.
async fn delete_chunks(index: &dyn VectorIndex, f: &Fixture) {
    let p = &f.points;
    let alice = Scope::user(f.alice);
    let bob = Scope::user(f.bob);
    index.delete_chunks(f.bob, &[p[0].chunk_id]).await.unwrap();
    assert_eq!(index.count(alice).await.unwrap(), 5);
    index
        .delete_chunks(f.alice, &[p[0].chunk_id, p[5].chunk_id])
        .await
        .unwrap();
    assert_eq!(index.count(alice).await.unwrap(), 4);
    assert_eq!(index.count(bob).await.unwrap(), 3);
    assert!(
        index
            .retrieve(f.alice, &[p[0].chunk_id])
            .await
            .unwrap()
            .is_empty()
    );
    index.delete_chunks(f.alice, &[]).await.unwrap();
}

/// Delete by scope.
async fn delete_by_scope(index: &dyn VectorIndex, f: &Fixture) {
    let p = &f.points;
    let alice = Scope::user(f.alice);
    let bob = Scope::user(f.bob);
    index
        .delete(Scope::document(f.alice, f.a2, f.d2))
        .await
        .unwrap();
    assert_eq!(index.count(alice).await.unwrap(), 2);
    index.delete(Scope::chat(f.bob, f.a1)).await.unwrap();
    assert_eq!(index.count(alice).await.unwrap(), 2);
    assert_eq!(index.count(bob).await.unwrap(), 3);
    index.delete(Scope::chat(f.alice, f.b1)).await.unwrap();
    assert_eq!(index.count(bob).await.unwrap(), 3);
    index.delete(bob).await.unwrap();
    assert_eq!(index.count(bob).await.unwrap(), 0);
    assert_eq!(index.count(alice).await.unwrap(), 2);
    let left: Vec<_> = index
        .scan(None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.chunk_id)
        .collect();
    let mut want = vec![p[1].chunk_id, p[2].chunk_id];
    want.sort();
    assert_eq!(left, want);
    index.delete(alice).await.unwrap();
    assert!(index.scan(None, 100).await.unwrap().is_empty());
}
