//! File adapters of the knowledge base: blob storage (`object_store`), the format parsers and
//! the guard they run under, and OCR for scans and pictures.

mod blobs;
pub mod formats;
mod guard;

pub use blobs::{BlobSettings, ObjectStoreBlobs};
pub use formats::extract_document;
pub use formats::pdf::extract_pages;
pub use guard::{ChildLimits, ChildOutput, IsolatedExtractor, Isolation, run_extractor_child};
