//! Bytes → the PDF text extraction the ingestion worker runs (`flashforge_files::extract_pages`,
//! the unguarded lopdf code that runs inside the thread/child-process guard). Invariant: it
//! returns (text or an error) without panicking, hanging (-timeout) or exhausting memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pages) = flashforge_files::extract_pages(data, &Default::default()) {
        assert!(!pages.is_empty(), "Ok with no pages");
        for (i, page) in pages.iter().enumerate() {
            assert_eq!(
                page.number as usize,
                i + 1,
                "pages are numbered from 1 in order"
            );
        }
    }
});
