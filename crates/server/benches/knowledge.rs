//! Knowledge-base benchmark (`make bench-knowledge`).
//!
//! 0. The embedder against the machine: its FLOP/s on the 100-page PDF's chunks (FLOPs counted
//!    from the model's shapes and the chunks' token counts) over the rate of a 2048² product
//!    through the same math library, measured in the same run; its vectors against the reference
//!    embedder's (candle's `BertModel`, what ran before); a 10-word query's latency, alone and
//!    beside a batch being embedded.
//! 1. Ingestion of the 100-page test PDF through the whole service — HTTP upload, the durable
//!    queue, extraction in a child process, chunking, all-MiniLM-L6-v2 on candle, the embedded
//!    Qdrant engine, SQLite — against its stages timed alone: extraction, chunk + embed, and
//!    indexing. The pipeline's overhead is wall time over (extraction + embedding).
//! 2. Search latency (p50/p99) of the embedded index with 10k and 100k synthetic chunks, dense
//!    and BM25, and recall@10 of its HNSW search against exact search.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod synthetic;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ms, percentile, start_server};
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::knowledge::{
    ChunkId, ChunkSettings, Document, DocumentId, DocumentStatus, Embedder, FileName, MediaType,
    Scope, SparseVector, VectorIndex, VectorPoint, VectorQuery, chunk_pages, sparse,
};
use flashforge_embed::{MiniLmEmbedder, ReferenceEmbedder, matmul_rate};
use flashforge_memory::ExactVectorIndex;
use flashforge_tests::client::Api;
use flashforge_tests::database::{local_files, sqlite_url};
use flashforge_tests::settings::model_dir;
use flashforge_vector::EdgeVectorIndex;
use serde_json::Value;
use synthetic::{Rng, normalized};

const PDF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/pdf/long-100.pdf"
);

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

async fn ingestion() {
    let bytes = std::fs::read(PDF).unwrap();
    let embedder = Arc::new(MiniLmEmbedder::load(&model_dir()).expect("run `make models` first"));
    // The service's database, index and blobs; its server runs until the benchmark ends.
    let data = tempfile::tempdir().unwrap();
    let wall = through_the_service(&bytes, data.path()).await;
    // Stages alone, after the service run (both warm).
    let (stages, texts) = stages_alone(&bytes, &embedder).await;
    report_ingestion(wall, &stages);
    embedding(&texts, &embedder);
}

/// Seconds of the fastest of `rounds` runs of `run`, and its last answer.
fn fastest<T>(rounds: usize, mut run: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut answer = None;
    for _ in 0..rounds {
        let started = Instant::now();
        answer = Some(run());
        best = best.min(started.elapsed().as_secs_f64());
    }
    (best, answer.expect("at least one round"))
}

/// p50 and p99 of `runs` embeddings of `query` by `embed`.
fn query_latency(runs: usize, mut embed: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            embed();
            started.elapsed()
        })
        .collect();
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

/// Part 0: the embedder against the machine and against the reference embedder.
fn embedding(texts: &[String], embedder: &MiniLmEmbedder) {
    const QUERY: &str = "what do enzymes do to the reactions in a living cell";
    let batches = |run: &dyn Fn(&[String]) -> Vec<Vec<f32>>| -> Vec<Vec<f32>> {
        texts.chunks(32).flat_map(run).collect()
    };
    let gemm = matmul_rate(2048, 5).unwrap();
    let flops = embedder.flops(texts).unwrap();
    embedder.embed_blocking(&texts[..1]).unwrap();
    let (ours_secs, ours) = fastest(2, || batches(&|b| embedder.embed_blocking(b).unwrap()));
    let reference = ReferenceEmbedder::load(&model_dir()).unwrap();
    reference.embed(&texts[..1]).unwrap();
    let (theirs_secs, theirs) = fastest(1, || batches(&|b| reference.embed(b).unwrap()));
    let cosines: Vec<f64> = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum())
        .collect();
    let worst = cosines.iter().copied().fold(f64::MAX, f64::min);
    let mean = cosines.iter().sum::<f64>() / cosines.len() as f64;

    let query = vec![QUERY.to_string()];
    let (alone_50, alone_99) = query_latency(100, || {
        embedder.embed_blocking(&query).unwrap();
    });
    let (reference_50, _) = query_latency(50, || {
        reference.embed(&query).unwrap();
    });
    // The same queries while another thread embeds the chunks, batch after batch.
    let busy = std::sync::atomic::AtomicBool::new(true);
    let (beside_50, beside_99) = std::thread::scope(|scope| {
        scope.spawn(|| {
            while busy.load(std::sync::atomic::Ordering::Relaxed) {
                for batch in texts.chunks(32) {
                    embedder.embed_blocking(batch).unwrap();
                    if !busy.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                }
            }
        });
        std::thread::sleep(Duration::from_millis(500));
        let latency = query_latency(100, || {
            embedder.embed_blocking(&query).unwrap();
        });
        busy.store(false, std::sync::atomic::Ordering::Relaxed);
        latency
    });

    let giga = |x: f64| x / 1e9;
    let n = texts.len() as f64;
    println!(
        "Embedding: all-MiniLM-L6-v2 over the PDF's {} chunks ({:.1} GFLOP: shapes x token counts)",
        texts.len(),
        giga(flops)
    );
    println!(
        "  machine: {:.1} GFLOP/s, a 2048x2048 f32 product through candle/gemm (same library, same run, best of 5)",
        giga(gemm)
    );
    println!(
        "  encoder: {:.2} s = {:.1} chunks/s = {:.1} GFLOP/s; efficiency {:.2} of the machine's product rate (goal >= 0.6)",
        ours_secs,
        n / ours_secs,
        giga(flops / ours_secs),
        flops / ours_secs / gemm
    );
    println!(
        "  before (candle BertModel, padded batches): {:.2} s = {:.1} chunks/s = {:.1} GFLOP/s (efficiency {:.2}); speed-up x{:.2}",
        theirs_secs,
        n / theirs_secs,
        giga(flops / theirs_secs),
        flops / theirs_secs / gemm,
        theirs_secs / ours_secs
    );
    println!(
        "  quality: cosine(encoder, before) over every chunk: min {worst:.6}, mean {mean:.6} (goal >= 0.999)"
    );
    println!(
        "  10-word query: p50 {} p99 {} (before: p50 {}); beside a batch being embedded: p50 {} p99 {}",
        ms(alone_50),
        ms(alone_99),
        ms(reference_50),
        ms(beside_50),
        ms(beside_99)
    );
}

/// The whole service, with its data in `data`: from the upload to `completed`.
async fn through_the_service(bytes: &[u8], data: &std::path::Path) -> Duration {
    let db = sqlite_url(&data.join("bench.db"));
    let files = local_files(data);
    let model = model_dir().display().to_string();
    let mut vars: Vec<(&str, &str)> = vec![("FLASHFORGE__DATABASE__URL", &db)];
    vars.extend(files.iter().map(|(k, v)| (*k, v.as_str())));
    vars.extend([
        ("FLASHFORGE__EMBEDDING__PROVIDER", "local"),
        ("FLASHFORGE__EMBEDDING__MODEL_DIR", &model),
        ("FLASHFORGE__KNOWLEDGE__PDF_ISOLATION", "process"),
        // This process is the benchmark: the guarded child is the real binary.
        (
            "FLASHFORGE__KNOWLEDGE__PDF_EXTRACTOR_PROGRAM",
            env!("CARGO_BIN_EXE_flashforge"),
        ),
        ("FLASHFORGE__WORKER__CONCURRENCY", "1"),
    ]);
    let address = start_server(&vars).await;
    let api = Api::at(reqwest::Client::new(), &address);
    let token = api.sign_up("ingester").await;
    let chat = api.chat(&token, "bench").await;
    let started = Instant::now();
    let doc: Value = api
        .upload(&token, &chat, "long.pdf", bytes.to_vec())
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/chats/{chat}/documents/{}", doc["id"].as_str().unwrap());
    let every = Duration::from_millis(5);
    let doc = api.settled(&token, &path, every, Duration::MAX).await;
    let wall = started.elapsed();
    assert_eq!(doc["status"], "completed", "{doc}");
    wall
}

/// The ingestion's stages, each timed alone.
#[derive(Clone, Copy)]
struct Stages {
    chunks: usize,
    extract: Duration,
    chunking: Duration,
    embed: Duration,
    indexing: Duration,
}

/// Extraction, chunking, embedding (warm) and indexing of the PDF, one after the other; and the
/// chunks' texts.
async fn stages_alone(bytes: &[u8], embedder: &MiniLmEmbedder) -> (Stages, Vec<String>) {
    let started = Instant::now();
    let pages = flashforge_files::extract_pages(bytes, &Default::default()).unwrap();
    let extract = started.elapsed();
    let document = Document {
        id: DocumentId::new(),
        user_id: UserId::new(),
        chat_id: ChatId::new(),
        file_name: FileName::sanitize(Some("long.pdf")),
        media_type: MediaType::Pdf,
        size_bytes: bytes.len() as u64,
        sha256: String::new(),
        status: DocumentStatus::Processing,
        error: None,
        pages_total: None,
        pages_done: 0,
        chunk_count: 0,
        title: None,
        language: None,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    let started = Instant::now();
    let chunks = chunk_pages(
        &document,
        &pages,
        embedder.token_counter(),
        ChunkSettings::default(),
        u32::MAX,
    )
    .unwrap();
    let chunking = started.elapsed();
    // Warm the model up (first-call allocations), as the service's worker is warm.
    embedder.embed(&[chunks[0].text.clone()]).await.unwrap();
    let started = Instant::now();
    let mut vectors = Vec::new();
    for batch in chunks.chunks(32) {
        let texts: Vec<String> = batch.iter().map(|c| c.text.clone()).collect();
        vectors.extend(embedder.embed(&texts).await.unwrap());
    }
    let embed = started.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let index = EdgeVectorIndex::open(&dir.path().join("index"), embedder.model()).unwrap();
    let started = Instant::now();
    for (batch, vectors) in chunks.chunks(32).zip(vectors.chunks(32)) {
        let points = batch
            .iter()
            .zip(vectors)
            .map(|(c, v)| VectorPoint {
                chunk_id: c.id,
                user_id: document.user_id,
                chat_id: document.chat_id,
                document_id: document.id,
                dense: v.clone(),
                sparse: sparse::encode_document(&c.text),
            })
            .collect();
        index.upsert(points).await.unwrap();
    }
    let indexing = started.elapsed();
    drop(index);
    let stages = Stages {
        chunks: chunks.len(),
        extract,
        chunking,
        embed,
        indexing,
    };
    (stages, chunks.into_iter().map(|c| c.text).collect())
}

/// The service's time against the stages'.
fn report_ingestion(wall: Duration, stages: &Stages) {
    let Stages {
        chunks,
        extract,
        chunking,
        embed,
        indexing,
    } = *stages;
    let share = |d: Duration| 100.0 * d.as_secs_f64() / wall.as_secs_f64();
    println!(
        "Ingestion of a 100-page PDF ({} chunks of <= 200 tokens, all-MiniLM-L6-v2 on FlashForge's encoder, {} cores)",
        chunks,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "  through the service (upload -> completed): {}  = {:.1} pages/s",
        secs(wall),
        100.0 / wall.as_secs_f64()
    );
    println!(
        "  stages alone: extraction {} ({:.1}%), chunking {} ({:.1}%), embedding {} ({:.1}%), indexing {} ({:.1}%)",
        ms(extract),
        share(extract),
        ms(chunking),
        share(chunking),
        secs(embed),
        share(embed),
        ms(indexing),
        share(indexing)
    );
    println!(
        "  pipeline overhead over extraction + embedding: {:+.1}% (goal <= 20%)",
        100.0 * (wall.as_secs_f64() / (extract + embed).as_secs_f64() - 1.0)
    );
}

/// Clustered unit vectors (texts on a few hundred topics) and Zipf-ish BM25 vectors.
fn synthetic(rng: &mut Rng, centers: &[Vec<f32>]) -> (Vec<f32>, SparseVector) {
    let center = &centers[(rng.next() % centers.len() as u64) as usize];
    // Noise about half the length of the centre: neighbours share a topic but differ, as the
    // embeddings of different passages on one subject do.
    let dense = normalized(center.iter().map(|c| c + 0.04 * rng.gauss()).collect());
    let mut terms = std::collections::BTreeMap::new();
    for _ in 0..60 {
        let rank = (1.0 / (rng.unit() + 1e-4)) as u32 % 50_000;
        *terms.entry(rank).or_insert(0f32) += 1.0;
    }
    let (indices, values) = terms
        .into_iter()
        .map(|(t, tf)| (t, tf * 2.2 / (tf + 1.2)))
        .unzip();
    (dense, SparseVector { indices, values })
}

async fn search(size: usize) {
    const DIM: usize = 384;
    let model = flashforge_domain::knowledge::EmbeddingModel {
        name: "synthetic-384".into(),
        dimension: DIM,
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ size as u64);
    let centers: Vec<Vec<f32>> = (0..300)
        .map(|_| normalized((0..DIM).map(|_| rng.gauss()).collect()))
        .collect();
    let user = UserId::new();
    let chats: Vec<ChatId> = (0..10).map(|_| ChatId::new()).collect();
    let document = DocumentId::new();
    let dir = tempfile::tempdir().unwrap();
    let edge = EdgeVectorIndex::open(&dir.path().join("index"), &model).unwrap();
    let exact = ExactVectorIndex::new(model.clone());
    let started = Instant::now();
    let mut batch = Vec::new();
    for i in 0..size {
        let (dense, sparse) = synthetic(&mut rng, &centers);
        batch.push(VectorPoint {
            chunk_id: ChunkId::derive(document, i as u32),
            user_id: user,
            chat_id: chats[i % chats.len()],
            document_id: document,
            dense,
            sparse,
        });
        if batch.len() == 1000 || i + 1 == size {
            let points = std::mem::take(&mut batch);
            exact.upsert(points.clone()).await.unwrap();
            edge.upsert(points).await.unwrap();
        }
    }
    let upserted = started.elapsed();
    let started = Instant::now();
    edge.optimize().await.unwrap();
    let optimized = started.elapsed();

    let queries: Vec<(Vec<f32>, SparseVector)> =
        (0..200).map(|_| synthetic(&mut rng, &centers)).collect();
    // Warm up.
    for (dense, _) in queries.iter().take(20) {
        edge.search(Scope::user(user), VectorQuery::Dense(dense.clone()), 10)
            .await
            .unwrap();
    }
    let mut dense_times = Vec::new();
    let mut chat_times = Vec::new();
    let mut sparse_times = Vec::new();
    let mut recall = 0.0;
    for (i, (dense, sparse)) in queries.iter().enumerate() {
        let started = Instant::now();
        let found = edge
            .search(Scope::user(user), VectorQuery::Dense(dense.clone()), 10)
            .await
            .unwrap();
        dense_times.push(started.elapsed());
        let started = Instant::now();
        edge.search(
            Scope::chat(user, chats[i % chats.len()]),
            VectorQuery::Dense(dense.clone()),
            10,
        )
        .await
        .unwrap();
        chat_times.push(started.elapsed());
        let started = Instant::now();
        edge.search(Scope::user(user), VectorQuery::Sparse(sparse.clone()), 10)
            .await
            .unwrap();
        sparse_times.push(started.elapsed());
        let truth: std::collections::HashSet<ChunkId> = exact
            .search(Scope::user(user), VectorQuery::Dense(dense.clone()), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.chunk_id)
            .collect();
        let hit = found.iter().filter(|s| truth.contains(&s.chunk_id)).count();
        recall += hit as f64 / truth.len().max(1) as f64;
    }
    for times in [&mut dense_times, &mut chat_times, &mut sparse_times] {
        times.sort();
    }
    println!(
        "Embedded index (qdrant-edge 0.7.2), {size} chunks x 384 dims: upsert {}, HNSW build {}",
        secs(upserted),
        secs(optimized)
    );
    println!(
        "  dense, all the user's chats:  p50 {}  p99 {}",
        ms(percentile(&dense_times, 0.5)),
        ms(percentile(&dense_times, 0.99))
    );
    println!(
        "  dense, one chat (filtered):   p50 {}  p99 {}",
        ms(percentile(&chat_times, 0.5)),
        ms(percentile(&chat_times, 0.99))
    );
    println!(
        "  BM25 (sparse, IDF):           p50 {}  p99 {}",
        ms(percentile(&sparse_times, 0.5)),
        ms(percentile(&sparse_times, 0.99))
    );
    println!(
        "  recall@10 against exact search: {:.3} (goal >= 0.95)",
        recall / queries.len() as f64
    );
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    ingestion().await;
    search(10_000).await;
    search(100_000).await;
}
