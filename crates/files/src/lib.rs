//! File adapters of the knowledge base: blob storage (`object_store`) and PDF text extraction.

mod blobs;
mod pdf;

pub use blobs::{BlobSettings, ObjectStoreBlobs};
pub use pdf::{
    ChildLimits, ChildOutput, Isolation, LopdfExtractor, extract_pages, run_extractor_child,
};
