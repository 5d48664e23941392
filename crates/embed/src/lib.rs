//! Embedding adapters for the knowledge base's [`Embedder`](flashforge_domain::knowledge::Embedder)
//! port.
//!
//! - [`MiniLmEmbedder`] runs sentence-transformers' all-MiniLM-L6-v2 in process, on the CPU, with
//!   candle: no service to run, nothing leaves the machine. Its files come from
//!   `scripts/fetch-model.sh` (`make models`).
//! - [`OpenAiEmbedder`] calls an OpenAI-compatible `POST /embeddings` endpoint (OpenAI, Ollama,
//!   vLLM, Text Embeddings Inference).

mod minilm;
mod openai;

pub use minilm::MiniLmEmbedder;
pub use openai::{OpenAiEmbedder, OpenAiEmbedderSettings};
