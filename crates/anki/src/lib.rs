//! Decks as files: flashcards as an Anki deck package (`.apkg`) that Anki imports and that is
//! read back (Anki's own packages too), and as CSV, written and read ([`DeckFileFormats`], the
//! domain's `DeckFiles`).
//!
//! The package written is the legacy format every Anki version imports: a zip holding
//! `collection.anki2`, an SQLite collection of schema version 11, and `media`, the JSON map of
//! media files (always `{}`: no media is exported). The collection has the note types its notes
//! need ([`MODEL_NAME`] with fields Front and Back and one card, [`REVERSED_MODEL_NAME`] with two,
//! [`CLOZE_MODEL_NAME`] with fields Text and Back Extra), Anki's Default deck, the exported deck,
//! its notes, cards and review log. Written from the documented file format; no Anki code is
//! used.
//!
//! Questions and answers are Markdown, rendered to the HTML Anki fields hold (raw HTML in them is
//! escaped); the Markdown itself rides along in each note's `data` column, so reading our own
//! package back gives the texts exactly (unless the note was edited in Anki since). Note GUIDs
//! come from the id of the note's first card, so exporting the same cards again lets Anki update
//! the notes it already has instead of duplicating them.
//!
//! Reading ([`read_apkg`]) takes the package as untrusted input: see the `read` module.

mod card;
mod collection;
mod content;
mod csv_deck;
mod deck_files;
mod error;
mod fields;
mod import;
mod markdown;
mod models;
mod modern;
mod package;
mod read;

pub use card::{AnkiCard, AnkiReview, AnkiSchedule, NoteKind};
pub use collection::{CLOZE_MODEL_NAME, MODEL_NAME, REVERSED_MODEL_NAME};
pub use deck_files::DeckFileFormats;
pub use error::AnkiError;
pub use package::{read_apkg, write_apkg};

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::{Cursor, Read};

    use chrono::{Duration, TimeZone};
    use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Statement};
    use sha1::{Digest, Sha1};

    use chrono::{DateTime, Utc};
    use sea_orm::Database;

    use super::*;
    use crate::content::SECS_PER_DAY;
    use crate::fields::tag_string;
    use crate::package::sqlite_url;
    use flashforge_domain::flashcards::CardKind;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 10, 15, 30, 0).unwrap()
    }

    fn card(n: u128, question: &str, answer: &str) -> AnkiCard {
        AnkiCard {
            id: uuid::Uuid::from_u128(0x0195_0000_0000_7000_8000_0000_0000_0000 + n),
            question: question.to_owned(),
            answer: answer.to_owned(),
            ..AnkiCard::default()
        }
    }

    /// A new card, a review card, a learning card and an untagged new card.
    fn sample() -> Vec<AnkiCard> {
        let mut first = card(
            1,
            "What is **bold**?",
            "Not <script>alert(1)</script> but *it*",
        );
        first.tags = vec![
            "biology".into(),
            "cell division".into(),
            "  ".into(),
            "Biology".into(),
        ];
        let mut review = card(2, "Mitosis?", "Cell division.");
        review.tags = vec!["biology".into()];
        review.schedule = Some(AnkiSchedule {
            due: now() + Duration::days(10),
            interval_days: 12,
            reps: 5,
            lapses: 1,
            review: true,
            relearning: false,
        });
        let mut learning = card(3, "Meiosis?", "Makes gametes.");
        learning.schedule = Some(AnkiSchedule {
            due: now() + Duration::minutes(10),
            interval_days: 0,
            reps: 1,
            lapses: 0,
            review: false,
            relearning: false,
        });
        let plain = card(4, "# Heading\n\n- one\n- two", "`x < y`");
        vec![first, review, learning, plain]
    }

    /// An unpacked package: its entry names, its media file, and its collection opened with
    /// SQLite (kept in a temporary directory while open).
    struct Unpacked {
        names: Vec<String>,
        media: String,
        db: DatabaseConnection,
        _dir: tempfile::TempDir,
    }

    async fn unpack(apkg: &[u8]) -> Unpacked {
        let mut archive = zip::ZipArchive::new(Cursor::new(apkg)).unwrap();
        let names: Vec<String> = archive
            .file_names()
            .map(|n| n.unwrap().into_owned())
            .collect();
        let mut media = String::new();
        archive
            .by_name("media")
            .unwrap()
            .read_to_string(&mut media)
            .unwrap();
        let mut collection = Vec::new();
        archive
            .by_name("collection.anki2")
            .unwrap()
            .read_to_end(&mut collection)
            .unwrap();
        assert!(collection.starts_with(b"SQLite format 3\0"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("collection.anki2");
        std::fs::write(&path, &collection).unwrap();
        let db = Database::connect(sqlite_url(&path)).await.unwrap();
        Unpacked {
            names,
            media,
            db,
            _dir: dir,
        }
    }

    async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<QueryResult> {
        db.query_all_raw(Statement::from_string(DbBackend::Sqlite, sql))
            .await
            .unwrap()
    }

    fn int(row: &QueryResult, column: &str) -> i64 {
        row.try_get_by::<i64, _>(column).unwrap()
    }

    fn text(row: &QueryResult, column: &str) -> String {
        row.try_get_by::<String, _>(column).unwrap()
    }

    fn json(row: &QueryResult, column: &str) -> serde_json::Value {
        serde_json::from_str(&text(row, column)).unwrap()
    }

    /// The checksum rule done the long way: hex of the SHA-1, first 8 digits, as an integer.
    fn expected_checksum(text: &str) -> i64 {
        let hex: String = Sha1::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        i64::from_str_radix(&hex[..8], 16).unwrap()
    }

    #[tokio::test]
    async fn package_holds_the_collection_and_empty_media() {
        let apkg = write_apkg("Biology", sample(), now()).await.unwrap();
        let unpacked = unpack(&apkg).await;
        assert_eq!(unpacked.names, ["collection.anki2", "media"]);
        assert_eq!(unpacked.media, "{}");
        let tables: Vec<String> = rows(
            &unpacked.db,
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name",
        )
        .await
        .iter()
        .map(|r| text(r, "name"))
        .collect();
        for expected in [
            "cards",
            "col",
            "graves",
            "ix_cards_nid",
            "ix_cards_sched",
            "ix_cards_usn",
            "ix_notes_csum",
            "ix_notes_usn",
            "ix_revlog_cid",
            "ix_revlog_usn",
            "notes",
            "revlog",
        ] {
            assert!(
                tables.iter().any(|t| t == expected),
                "{expected} missing: {tables:?}"
            );
        }
        let check = rows(&unpacked.db, "PRAGMA integrity_check").await;
        assert_eq!(text(&check[0], "integrity_check"), "ok");
    }

    #[tokio::test]
    async fn col_row_has_schema_11_one_model_and_the_deck() {
        let cards = sample();
        let apkg = write_apkg("Biology::Cells", cards.clone(), now())
            .await
            .unwrap();
        let db = unpack(&apkg).await.db;

        let col = rows(&db, "SELECT * FROM col").await;
        assert_eq!(col.len(), 1);
        let col = &col[0];
        assert_eq!(int(col, "ver"), 11);
        let start_of_day = Utc.with_ymd_and_hms(2025, 3, 10, 0, 0, 0).unwrap();
        assert_eq!(int(col, "crt"), start_of_day.timestamp());

        let models = json(col, "models");
        let models = models.as_object().unwrap();
        assert_eq!(models.len(), 1);
        let (model_key, model) = models.iter().next().unwrap();
        let model_id = model["id"].as_i64().unwrap();
        assert_eq!(model_key, &model_id.to_string());
        assert_eq!(model["type"], 0);
        assert_eq!(model["sortf"], 0);
        let fields: Vec<(&str, i64)> = model["flds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["name"].as_str().unwrap(), f["ord"].as_i64().unwrap()))
            .collect();
        assert_eq!(fields, [("Front", 0), ("Back", 1)]);
        assert_eq!(model["tmpls"][0]["qfmt"], "{{Front}}");
        assert_eq!(
            model["tmpls"][0]["afmt"]
                .as_str()
                .unwrap()
                .replace('\n', ""),
            "{{FrontSide}}<hr id=answer>{{Back}}"
        );

        let decks = json(col, "decks");
        let (deck_key, deck) = decks
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, d)| d["name"] == "Biology::Cells")
            .unwrap();
        let deck_id = deck["id"].as_i64().unwrap();
        assert_eq!(deck_key, &deck_id.to_string());
        assert_eq!(deck["dyn"], 0);
        assert_eq!(deck["conf"], 1);
        assert_eq!(decks["1"]["name"], "Default");
        assert!(json(col, "dconf")["1"]["new"]["perDay"].is_number());
        let conf = json(col, "conf");
        assert_eq!(conf["curDeck"], deck_id);
        assert_eq!(conf["nextPos"], 3, "two new cards take positions 1-2");
        assert_eq!(conf["rollover"], 0, "days roll over at midnight");
        assert_eq!(
            json(col, "tags").as_object().unwrap().len(),
            2,
            "biology, cell_division"
        );

        let notes = rows(&db, "SELECT id, mid FROM notes").await;
        let card_rows = rows(&db, "SELECT nid, did FROM cards").await;
        assert_eq!(notes.len(), cards.len());
        assert_eq!(card_rows.len(), cards.len());
        assert!(notes.iter().all(|n| int(n, "mid") == model_id));
        assert!(card_rows.iter().all(|c| int(c, "did") == deck_id));
        let note_ids: Vec<i64> = notes.iter().map(|n| int(n, "id")).collect();
        assert!(card_rows.iter().all(|c| note_ids.contains(&int(c, "nid"))));
    }

    /// Tens of thousands of distinct tags (each card its own, plus one shared): every tag
    /// listed once in the collection, each note's own kept — and built in linear time.
    #[tokio::test]
    async fn many_distinct_tags_are_each_listed_once() {
        let cards: Vec<AnkiCard> = (0..20_000u128)
            .map(|n| AnkiCard {
                tags: vec![format!("topic-{n}"), "shared".into(), format!("TOPIC-{n}")],
                ..card(n, "Q", "A")
            })
            .collect();
        let apkg = write_apkg("Tags", cards, now()).await.unwrap();
        let db = unpack(&apkg).await.db;
        let col = &rows(&db, "SELECT tags FROM col").await[0];
        let tags = json(col, "tags");
        let tags = tags.as_object().unwrap();
        assert_eq!(tags.len(), 20_001);
        assert!(tags.contains_key("shared") && tags.contains_key("topic-19999"));
        let note = &rows(&db, "SELECT tags FROM notes ORDER BY id LIMIT 1").await[0];
        assert_eq!(
            text(note, "tags"),
            " topic-0 shared ",
            "case-folded repeats dropped"
        );
    }

    #[tokio::test]
    async fn notes_hold_rendered_fields_sort_field_checksum_and_tags() {
        let apkg = write_apkg("Biology", sample(), now()).await.unwrap();
        let db = unpack(&apkg).await.db;
        let notes = rows(&db, "SELECT * FROM notes ORDER BY id").await;

        let flds = text(&notes[0], "flds");
        let fields: Vec<&str> = flds.split('\x1f').collect();
        assert_eq!(fields.len(), 2);
        assert!(fields[0].contains("<strong>bold</strong>"), "{}", fields[0]);
        assert!(!fields[1].contains("<script>"), "{}", fields[1]);
        assert!(fields[1].contains("&lt;script&gt;"), "{}", fields[1]);
        assert!(fields[1].contains("<em>it</em>"), "{}", fields[1]);
        assert_eq!(text(&notes[0], "sfld"), "What is bold?");
        assert_eq!(int(&notes[0], "csum"), expected_checksum("What is bold?"));
        assert_eq!(text(&notes[0], "tags"), " biology cell_division ");
        assert_eq!(int(&notes[0], "usn"), -1);

        assert_eq!(text(&notes[1], "tags"), " biology ");
        assert_eq!(text(&notes[3], "tags"), "");
        let flds = text(&notes[3], "flds");
        let (front, back) = flds.split_once('\x1f').unwrap();
        assert!(front.contains("<h1>Heading</h1>") && front.contains("<li>two</li>"));
        assert_eq!(back, "<code>x &lt; y</code>");
        // As Anki strips it (checked against Anki 26.09's own import): whitespace kept.
        assert_eq!(text(&notes[3], "sfld"), "Heading\n\none\ntwo\n");
        assert_eq!(
            int(&notes[3], "csum"),
            expected_checksum("Heading\n\none\ntwo\n")
        );
    }

    #[tokio::test]
    async fn review_cards_keep_their_schedule_and_others_are_new_in_order() {
        let apkg = write_apkg("Biology", sample(), now()).await.unwrap();
        let db = unpack(&apkg).await.db;
        let cards = rows(&db, "SELECT * FROM cards ORDER BY id").await;
        let get = |i: usize, column: &str| int(&cards[i], column);

        // The review card: due 10 days after the collection's creation day.
        assert_eq!((get(1, "type"), get(1, "queue")), (2, 2));
        assert_eq!(get(1, "due"), 10);
        assert_eq!(get(1, "ivl"), 12);
        assert_eq!(get(1, "factor"), 2500);
        assert_eq!((get(1, "reps"), get(1, "lapses")), (5, 1));

        // New cards: positions 1 and 2.
        for (i, position) in [(0, 1), (3, 2)] {
            assert_eq!((get(i, "type"), get(i, "queue")), (0, 0), "card {i}");
            assert_eq!(get(i, "due"), position, "card {i}");
            assert_eq!(get(i, "ivl"), 0, "card {i}");
        }
        // The learning card is due at its step's second, one step left.
        assert_eq!((get(2, "type"), get(2, "queue")), (1, 1));
        assert_eq!(get(2, "due"), (now() + Duration::minutes(10)).timestamp());
        assert_eq!((get(2, "reps"), get(2, "left")), (1, 1));
        assert!(
            cards
                .iter()
                .all(|c| int(c, "ord") == 0 && int(c, "odid") == 0)
        );
    }

    #[tokio::test]
    async fn overdue_review_cards_get_a_day_number_that_is_not_negative() {
        let mut overdue = card(9, "Q", "A");
        overdue.schedule = Some(AnkiSchedule {
            due: now() - Duration::days(3),
            interval_days: 0,
            reps: 2,
            lapses: 0,
            review: true,
            relearning: false,
        });
        let apkg = write_apkg("Deck", vec![overdue], now()).await.unwrap();
        let db = unpack(&apkg).await.db;
        let crt = int(&rows(&db, "SELECT crt FROM col").await[0], "crt");
        let card = &rows(&db, "SELECT due, ivl FROM cards").await[0];
        // Created the day it was due: due day 0, and "today" three days later.
        assert_eq!(
            crt,
            Utc.with_ymd_and_hms(2025, 3, 7, 0, 0, 0)
                .unwrap()
                .timestamp()
        );
        assert_eq!(int(card, "due"), 0);
        assert_eq!((now().timestamp() - crt) / SECS_PER_DAY, 3);
        assert_eq!(
            int(card, "ivl"),
            1,
            "a review card's interval is at least a day"
        );
    }

    #[tokio::test]
    async fn guids_are_unique_and_stable_across_writes() {
        let cards = sample();
        let guids = |apkg: Vec<u8>| async move {
            let db = unpack(&apkg).await.db;
            rows(&db, "SELECT guid FROM notes ORDER BY id")
                .await
                .iter()
                .map(|r| text(r, "guid"))
                .collect::<Vec<_>>()
        };
        let first = guids(write_apkg("Biology", cards.clone(), now()).await.unwrap()).await;
        let later = now() + Duration::days(30);
        let second = guids(write_apkg("Other", cards.clone(), later).await.unwrap()).await;
        assert_eq!(first, second);
        let mut unique = first.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), cards.len());
        assert!(first.iter().all(|g| g.len() <= 22));
        let other = guids(
            write_apkg("Biology", vec![card(99, "Q", "A")], now())
                .await
                .unwrap(),
        )
        .await;
        assert!(!first.contains(&other[0]));
    }

    #[tokio::test]
    async fn deck_names_are_checked_and_trimmed() {
        for name in ["", "   ", "\u{1f}"] {
            assert!(
                matches!(
                    write_apkg(name, sample(), now()).await,
                    Err(AnkiError::EmptyDeckName)
                ),
                "{name:?}"
            );
        }
        for name in ["A::::B", "A::", "::A", "A:: ::B"] {
            assert!(
                matches!(
                    write_apkg(name, sample(), now()).await,
                    Err(AnkiError::EmptyDeckNamePart(_))
                ),
                "{name:?}"
            );
        }
        let apkg = write_apkg(" Biology :: Cells ", Vec::new(), now())
            .await
            .unwrap();
        let db = unpack(&apkg).await.db;
        let decks = json(&rows(&db, "SELECT decks FROM col").await[0], "decks");
        let names: Vec<&str> = decks
            .as_object()
            .unwrap()
            .values()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"Biology::Cells"), "{names:?}");
    }

    #[tokio::test]
    async fn field_separators_in_the_input_cannot_add_fields() {
        let apkg = write_apkg("Deck", vec![card(1, "a\x1fb", "\x1fc")], now())
            .await
            .unwrap();
        let db = unpack(&apkg).await.db;
        let flds = text(&rows(&db, "SELECT flds FROM notes").await[0], "flds");
        assert_eq!(flds.split('\x1f').count(), 2, "{flds:?}");
    }

    #[tokio::test]
    async fn an_empty_card_list_and_blank_cards_still_write_a_package() {
        let apkg = write_apkg("Empty", Vec::new(), now()).await.unwrap();
        let db = unpack(&apkg).await.db;
        assert!(rows(&db, "SELECT id FROM notes").await.is_empty());

        let apkg = write_apkg("Blank", vec![card(1, "", "  ")], now())
            .await
            .unwrap();
        let db = unpack(&apkg).await.db;
        let note = &rows(&db, "SELECT flds, csum FROM notes").await[0];
        assert_eq!(text(note, "flds"), "\x1f");
        assert_eq!(int(note, "csum"), expected_checksum(""));
    }

    /// Notes of every kind with a review log, written and read back: the same notes, kinds,
    /// ordinals, texts (from the Markdown kept in `data`), tags, suspension and reviews.
    #[tokio::test]
    async fn a_written_package_reads_back_as_the_same_notes() {
        use flashforge_domain::flashcards::{CardState, PACKAGE_LIMITS, Rating};
        let note = uuid::Uuid::from_u128(77);
        let mut cards = sample();
        cards[0].suspended = true;
        cards[1].reviews = vec![
            AnkiReview {
                at: now() - Duration::days(12),
                ease: 3,
                kind: 0,
                interval_days: 2,
                duration_ms: 5000,
            },
            AnkiReview {
                at: now() - Duration::days(2),
                ease: 1,
                kind: 1,
                interval_days: 12,
                duration_ms: 7000,
            },
        ];
        for ordinal in [0, 1] {
            cards.push(AnkiCard {
                note_id: note,
                kind: NoteKind::Reversed,
                ordinal,
                ..card(10 + u128::from(ordinal), "Mitosis", "Nuclear division")
            });
        }
        for ordinal in [1, 2] {
            cards.push(AnkiCard {
                note_id: uuid::Uuid::from_u128(78),
                kind: NoteKind::Cloze,
                ordinal,
                ..card(20 + u128::from(ordinal), "{{c1::A}} and {{c2::B}}", "extra")
            });
        }
        let apkg = write_apkg("Deck", cards, now()).await.unwrap();
        let deck = read_apkg(apkg.into(), PACKAGE_LIMITS).await.unwrap();
        assert_eq!(deck.notes.len(), 6);
        assert!(deck.media.is_empty());
        let first = &deck.notes[0];
        assert_eq!(first.question, "What is **bold**?");
        assert_eq!(first.answer, "Not <script>alert(1)</script> but *it*");
        assert_eq!(first.tags, ["biology", "cell_division"]);
        assert!(first.cards[0].suspended);
        let review = &deck.notes[1].cards[0];
        assert_eq!(review.state, CardState::Review);
        assert_eq!((review.reps, review.lapses), (5, 1));
        let ratings: Vec<(Rating, CardState, u32)> = review
            .reviews
            .iter()
            .map(|r| (r.rating, r.state_before, r.duration_ms))
            .collect();
        assert_eq!(
            ratings,
            [
                (Rating::Good, CardState::New, 5000),
                (Rating::Again, CardState::Review, 7000)
            ]
        );
        assert_eq!(review.reviews[0].at, now() - Duration::days(12));
        assert_eq!(deck.notes[2].cards[0].state, CardState::Learning);
        let reversed = &deck.notes[4];
        assert_eq!(reversed.kind, CardKind::Reversed);
        assert_eq!(
            reversed.cards.iter().map(|c| c.ordinal).collect::<Vec<_>>(),
            [0, 1]
        );
        let cloze = &deck.notes[5];
        assert_eq!(cloze.kind, CardKind::Cloze);
        assert_eq!(cloze.question, "{{c1::A}} and {{c2::B}}");
        assert_eq!(
            cloze.cards.iter().map(|c| c.ordinal).collect::<Vec<_>>(),
            [1, 2]
        );
        assert!(deck.notes.iter().all(|n| n.converted_from.is_none()));
    }

    #[tokio::test]
    async fn unreadable_packages_say_why() {
        use flashforge_domain::flashcards::{DeckFileError, PACKAGE_LIMITS};
        let why = |bytes: Vec<u8>| async move {
            match read_apkg(bytes.into(), PACKAGE_LIMITS).await {
                Err(DeckFileError::Unreadable(why)) => why,
                other => panic!("{other:?}"),
            }
        };
        assert!(why(b"plain text".to_vec()).await.contains("zip"));
        let apkg = write_apkg("Deck", sample(), now()).await.unwrap();
        // Cut off inside the collection.
        let cut = apkg[..apkg.len() / 2].to_vec();
        assert!(!why(cut).await.is_empty());
    }

    #[test]
    fn tag_strings_use_anki_spacing() {
        assert_eq!(tag_string(&[]), "");
        assert_eq!(
            tag_string(&["a b".into(), "c\td".into(), "A B".into(), String::new()]),
            " a_b c_d "
        );
    }
}
