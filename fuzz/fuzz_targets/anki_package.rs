//! Bytes → `flashforge_anki::read_apkg`, the reader of an uploaded Anki package: the zip, the
//! collection's SQLite database written to a temporary file and opened read-only, the note
//! types' JSON, the rows and their conversion to notes. Invariant: Ok or a 422 reason
//! (`Unreadable`), never a panic, no hang (`-timeout`), no memory blow-up (`-rss_limit_mb`,
//! with an 8 MiB collection limit so a zip bomb must stop at it); Ok keeps within the note and
//! card limits, and every card's ordinal fits its note's kind.
#![no_main]

use flashforge_domain::flashcards::{CardKind, DeckFileError, PACKAGE_LIMITS, PackageLimits};
use libfuzzer_sys::fuzz_target;

const LIMITS: PackageLimits = PackageLimits {
    max_collection_bytes: 8 * 1024 * 1024,
    max_entries: 1_000,
    max_notes: 1_000,
    max_cards: 2_000,
    max_reviews: 10_000,
    ..PACKAGE_LIMITS
};

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let file = bytes::Bytes::copy_from_slice(data);
    match runtime.block_on(flashforge_anki::read_apkg(file, LIMITS)) {
        Ok(deck) => {
            assert!(deck.notes.len() <= LIMITS.max_notes);
            let cards: usize = deck.notes.iter().map(|n| n.cards.len()).sum();
            assert!(cards <= LIMITS.max_cards);
            for note in &deck.notes {
                for card in &note.cards {
                    match note.kind {
                        CardKind::Basic => assert_eq!(card.ordinal, 0),
                        CardKind::Reversed => assert!(card.ordinal <= 1),
                        CardKind::Cloze => assert!(card.ordinal >= 1),
                    }
                    assert!(card.reviews.windows(2).all(|w| w[0].at <= w[1].at));
                }
            }
        }
        Err(DeckFileError::Unreadable(why)) => assert!(!why.is_empty()),
        // Our own failure (the temporary file) is not the input's fault, but must not happen.
        Err(DeckFileError::Infra(e)) => panic!("infrastructure error: {e}"),
    }
});
