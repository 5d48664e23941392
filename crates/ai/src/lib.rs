//! Language-model adapters. [`OfflineModel`] is the default when no provider is configured: it
//! answers with the chat's own best passages, quoted and cited, and says plainly that no
//! language model is configured.

mod offline;
mod openai;

pub use offline::OfflineModel;
pub use openai::{OpenAiModel, OpenAiSettings};
