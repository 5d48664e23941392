//! Bytes → the parser of one format (`flashforge_files::extract_document`): the first byte picks
//! DOCX, ODT, ODP, PPTX, EPUB, HTML, RTF, text or PDF, the rest is the file — the code the
//! ingestion worker runs inside its guard, called directly, unguarded. Invariant: Ok or Err, no
//! panic, no hang (`-timeout`), no memory blow-up (`-rss_limit_mb`, with a small unpacking
//! limit so a zip bomb must stop at it); Ok has ≥ 1 page, numbered 1… in order, within the
//! character limits.
#![no_main]

use flashforge_domain::knowledge::{ExtractionLimits, MediaType};
use libfuzzer_sys::fuzz_target;

const FORMATS: [MediaType; 9] = [
    MediaType::Docx,
    MediaType::Odt,
    MediaType::Odp,
    MediaType::Pptx,
    MediaType::Epub,
    MediaType::Html,
    MediaType::Rtf,
    MediaType::Text,
    MediaType::Pdf,
];

fuzz_target!(|data: &[u8]| {
    let Some((selector, bytes)) = data.split_first() else {
        return;
    };
    let media_type = FORMATS[usize::from(*selector) % FORMATS.len()];
    let limits = ExtractionLimits {
        max_unpacked_bytes: 16 * 1024 * 1024,
        max_chars: 2_000_000,
        max_page_chars: 500_000,
        ..ExtractionLimits::default()
    };
    if let Ok(extracted) = flashforge_files::extract_document(media_type, bytes, &limits) {
        assert!(!extracted.pages.is_empty(), "Ok with no pages");
        let mut total = 0u64;
        for (i, page) in extracted.pages.iter().enumerate() {
            assert_eq!(page.number as usize, i + 1, "pages are numbered from 1 in order");
            let chars = page.text.chars().count() as u64;
            assert!(chars <= limits.max_page_chars, "a page past the page limit");
            total += chars;
        }
        assert!(total <= limits.max_chars, "text past the character limit");
        assert!(extracted.pages.len() <= limits.max_pages as usize);
    }
});
