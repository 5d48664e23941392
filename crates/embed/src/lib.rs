//! Embedding adapters for the knowledge base's [`Embedder`](flashforge_domain::knowledge::Embedder)
//! port.
//!
//! - [`MiniLmEmbedder`] runs sentence-transformers' all-MiniLM-L6-v2 in process, on the CPU, with
//!   its own BERT encoder on candle's tensors (packed texts, fused passes): no service to run,
//!   nothing leaves the machine. Its files come from `scripts/fetch-model.sh` (`make models`).
//!   [`ReferenceEmbedder`] is candle's stock `BertModel` on the same files, kept to check it.
//! - [`OpenAiEmbedder`] calls an OpenAI-compatible `POST /embeddings` endpoint (OpenAI, Ollama,
//!   vLLM, Text Embeddings Inference).

mod encoder;
mod minilm;
mod openai;
mod rate;

pub use minilm::{MiniLmEmbedder, ReferenceEmbedder};
pub use openai::{OpenAiEmbedder, OpenAiEmbedderSettings};
pub use rate::matmul_rate;
