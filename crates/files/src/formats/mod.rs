//! The parsers of every accepted format, each `bytes → pages` within the extraction limits,
//! unguarded: [`crate::IsolatedExtractor`] runs them in a thread or a child process.
//!
//! | family | formats | module |
//! |---|---|---|
//! | PDF | PDF with a text layer | [`pdf`] (lopdf) |
//! | plain text | text and Markdown in any common encoding | [`text`] (chardetng, encoding_rs) |
//! | word processing | DOCX | [`docx`] (zip, quick-xml) |
//! | OpenDocument | ODT, ODP | [`odf`] (zip, quick-xml) |
//! | slides | PPTX | [`pptx`] (zip, quick-xml) |
//! | web | HTML | [`html`] |
//! | e-books | EPUB | [`epub`] (zip, quick-xml, [`html`]) |
//! | RTF | RTF | [`rtf`] |
//!
//! Pictures and scanned pages are read by OCR ([`crate::ocr`]), outside these parsers.

pub mod docx;
pub mod epub;
pub mod html;
pub mod odf;
pub mod pdf;
pub mod pptx;
pub mod recall;
pub mod render;
pub mod rtf;
pub mod text;
pub mod xml;
pub mod zipfs;

use flashforge_domain::knowledge::{ExtractError, Extracted, ExtractionLimits, MediaType};

/// The text of a file of `media_type`, unguarded: callers isolate it.
pub fn extract_document(
    media_type: MediaType,
    bytes: &[u8],
    limits: &ExtractionLimits,
) -> Result<Extracted, ExtractError> {
    match media_type {
        MediaType::Pdf => pdf::extract(bytes, limits),
        MediaType::Text | MediaType::Markdown => text::extract(bytes, limits),
        MediaType::Html => html::extract(bytes, limits),
        MediaType::Docx => docx::extract(bytes, limits),
        MediaType::Odt => odf::extract(bytes, limits),
        MediaType::Odp => odf::extract_presentation(bytes, limits),
        MediaType::Pptx => pptx::extract(bytes, limits),
        MediaType::Epub => epub::extract(bytes, limits),
        MediaType::Rtf => rtf::extract(bytes, limits),
        MediaType::Image => Err(ExtractError::Malformed(
            "pictures are read by OCR, not by a parser".into(),
        )),
    }
}
