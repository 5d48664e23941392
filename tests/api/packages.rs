//! Anki packages through HTTP on every backend: a deck made by genanki (Anki's format, with
//! cloze and reversed notes, another note type, media and a review log) imports with every
//! card, tag and review, its FSRS states as the `fsrs` crate computes them from the same
//! history; our own export imports back losslessly; damaged and hostile packages answer 422
//! and store nothing.

use std::io::{Cursor, Read, Write};

use chrono::DateTime;
use reqwest::Method;
use serde_json::{Value, json};

use flashforge_domain::flashcards::INLINE_IMPORT_NOTES;

use crate::flashcards::post;
use crate::helpers::{Backend, TestApp, body_of, every_page, id_of, problem, spawn_app};

const MIXED: &[u8] = include_bytes!("../fixtures/anki/mixed.apkg");
const MIXED_EXPECTED: &str = include_str!("../fixtures/anki/mixed.expected.json");
/// mixed.apkg imported into Anki and exported again in its current format.
const MODERN: &[u8] = include_bytes!("../fixtures/anki/modern.apkg");

async fn import(app: &TestApp, token: &str, chat: &str, file: Vec<u8>) -> reqwest::Response {
    app.authed(
        Method::POST,
        &format!("/api/v1/chats/{chat}/flashcards/import"),
        token,
    )
    .header("Content-Type", "application/vnd.anki")
    .body(file)
    .send()
    .await
    .unwrap()
}

async fn cards_of(app: &TestApp, token: &str, chat: &str) -> Vec<Value> {
    every_page(app, token, &format!("/api/v1/chats/{chat}/flashcards"), 100).await
}

/// Only the letters and digits of a text: what a note's text is recognized by on both sides.
fn letters(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// The letters and digits of an Anki field: HTML tags gone, the entities it holds decoded.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in text.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(ch),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// The reviews an importer keeps from a card's log (answers; not manual reschedules), each
/// with its rating and the whole days since the one before. The fixture is a collection of
/// Anki's first scheduler (genanki writes no `schedVer`), whose learning and relearning steps
/// had three buttons: their ease 2 is good and 3 easy (what Anki itself makes of them when it
/// upgrades, as the modern fixture, exported by Anki, shows).
fn answered(card: &Value) -> Vec<(u32, u32)> {
    let mut previous: Option<i64> = None;
    card["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| (1..=4).contains(&r["ease"].as_i64().unwrap()) && r["type"] != 4)
        .map(|r| {
            let at = r["id"].as_i64().unwrap();
            let days = previous.map_or(0, |p| ((at - p) / 86_400_000) as u32);
            previous = Some(at);
            let ease = r["ease"].as_u64().unwrap() as u32;
            let learning = r["type"] == 0 || r["type"] == 2;
            let ease = if learning && (2..=3).contains(&ease) {
                ease + 1
            } else {
                ease
            };
            (ease, days)
        })
        .collect()
}

/// The memory state the fsrs crate computes from a history with its default parameters.
fn fsrs_state(history: &[(u32, u32)]) -> fsrs::MemoryState {
    let model = fsrs::FSRS::new(&[]).unwrap();
    let item = fsrs::FSRSItem {
        reviews: history
            .iter()
            .map(|(rating, delta_t)| fsrs::FSRSReview {
                rating: *rating,
                delta_t: *delta_t,
            })
            .collect(),
    };
    model.memory_state(item, None).unwrap()
}

fn close(ours: &Value, theirs: f32, what: &str) {
    let ours = ours.as_f64().unwrap_or_else(|| panic!("{what} is {ours}")) as f32;
    assert!(
        (ours - theirs).abs() <= 1e-3 * theirs.abs().max(1.0),
        "{what}: ours {ours}, fsrs {theirs}"
    );
}

async fn an_anki_package_imports_with_every_card_tag_and_review(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("anki.user").await.access;
    let chat = app.create_chat(&token, "From Anki").await;
    imports_as_expected(&app, &token, &chat, MIXED, true).await;

    // Another user's chat is not found, whatever the file.
    let stranger = app.signed_up("stranger").await.access;
    let response = import(&app, &stranger, &chat, MIXED.to_vec()).await;
    assert_eq!(response.status(), 404);
}

/// The same deck exported by Anki itself in its current format (`collection.anki21b`: zstd,
/// schema 18, note types in tables with protobuf configs, protobuf media map) imports the same,
/// its due dates moved by Anki's own import (not compared).
async fn a_package_of_anki_2_1_50_and_later_imports_the_same(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("modern.anki").await.access;
    let chat = app.create_chat(&token, "From modern Anki").await;
    imports_as_expected(&app, &token, &chat, MODERN, false).await;
}

/// Imports `file` (a package of the notes `mixed.expected.json` describes) into `chat` and
/// checks every note, card, tag, suspension, review count and FSRS state; due dates too with
/// `due_kept`.
async fn imports_as_expected(app: &TestApp, token: &str, chat: &str, file: &[u8], due_kept: bool) {
    let (app, token, chat) = (app, token, chat);
    let expected: Value = serde_json::from_str(MIXED_EXPECTED).unwrap();
    let notes = expected["notes"].as_array().unwrap();

    let response = import(app, token, chat, file.to_vec()).await;
    assert_eq!(response.status(), 200);
    let report: Value = body_of(response).await;
    assert_eq!(report["notes"], notes.len(), "{report}");
    assert_eq!(report["errors"], json!([]), "{report}");
    assert_eq!(report["media_skipped"], expected["media"], "{report}");
    let others: Vec<&Value> = notes.iter().filter(|n| n["model"] == "other").collect();
    assert_eq!(
        report["converted"],
        json!([{"note_type": others[0]["model_name"], "notes": others.len()}]),
        "{report}"
    );
    let reviews: usize = notes
        .iter()
        .flat_map(|n| n["cards"].as_array().unwrap())
        .map(|c| answered(c).len())
        .sum();
    assert!(reviews >= 8, "the fixture has a review log");
    assert_eq!(report["reviews"], reviews, "{report}");

    let cards = cards_of(app, token, chat).await;
    assert_eq!(report["imported"], cards.len());
    let crt = expected["crt"].as_i64().unwrap();
    for note in notes {
        let fields: Vec<&str> = note["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        let ours: Vec<&Value> = cards
            .iter()
            .filter(|c| letters(c["question"].as_str().unwrap()).starts_with(&plain(fields[0])))
            .collect();
        let kind = match note["model"].as_str().unwrap() {
            "other" => "basic",
            kind => kind,
        };
        assert!(!ours.is_empty(), "no card for {note}");
        assert!(ours.iter().all(|c| c["kind"] == kind), "{note} → {ours:?}");
        assert!(
            letters(ours[0]["answer"].as_str().unwrap()).starts_with(&plain(fields[1])),
            "{note} → {}",
            ours[0]["answer"]
        );
        let mut tags: Vec<String> = note["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_lowercase())
            .collect();
        tags.sort();
        assert_eq!(ours[0]["tags"], json!(tags), "{note}");
        for card in note["cards"].as_array().unwrap() {
            let ord = card["ord"].as_u64().unwrap();
            let ordinal = if kind == "cloze" { ord + 1 } else { ord };
            if note["model"] == "other" && ord > 0 {
                continue;
            }
            let mine = ours
                .iter()
                .find(|c| c["ordinal"] == ordinal)
                .unwrap_or_else(|| panic!("no card {ordinal} of {note}"));
            let what = format!("card {ord} of {}", fields[0]);
            assert_eq!(mine["suspended"], card["suspended"], "{what}");
            assert_eq!(mine["reps"], card["reps"], "{what}");
            assert_eq!(mine["lapses"], card["lapses"], "{what}");
            let history = answered(card);
            if card["type"] == 2 {
                assert_eq!(mine["state"], "review", "{what}");
            }
            if card["type"] == 2 && due_kept {
                let due = DateTime::from_timestamp(crt + card["due"].as_i64().unwrap() * 86_400, 0)
                    .unwrap();
                assert_eq!(mine["due"], json!(due), "{what}");
            }
            if history.is_empty() {
                continue;
            }
            let state = fsrs_state(&history);
            close(&mine["stability"], state.stability, &what);
            close(&mine["difficulty"], state.difficulty, &what);
        }
    }
    // A cloze note's text keeps its markers; its card shows the gap.
    let cloze = cards
        .iter()
        .find(|c| c["kind"] == "cloze" && c["ordinal"] == 2)
        .unwrap();
    assert!(
        cloze["question"].as_str().unwrap().contains("{{c2::"),
        "{cloze}"
    );
    assert!(
        cloze["front"].as_str().unwrap().contains("[...]"),
        "{cloze}"
    );
}

/// Cards of every kind, some reviewed, one suspended, exported and imported into another chat:
/// every card, text, tag and suspension comes back, review cards due the same day; exported
/// again, the review log is the same review for review.
async fn exported_packages_import_back_losslessly(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("round.trip").await.access;
    let chat = app.create_chat(&token, "Cells").await;
    for body in [
        json!({"question": "What is **ATP**?\n\n- energy\n- a molecule", "answer": "`adenosine` triphosphate", "tags": ["cells", "energy"]}),
        json!({"kind": "reversed", "question": "Mitosis", "answer": "Division of a cell's nucleus", "tags": ["division"]}),
        json!({"kind": "cloze", "question": "{{c1::Ribosomes}} make {{c2::proteins::what?}}", "answer": "Extra *text*"}),
        json!({"question": "Suspended one", "answer": "A", "suspended": true}),
    ] {
        let response = post(
            &app,
            &token,
            &format!("/api/v1/chats/{chat}/flashcards"),
            body,
        )
        .await;
        assert_eq!(response.status(), 201);
    }
    let cards = cards_of(&app, &token, &chat).await;
    assert_eq!(cards.len(), 6);
    for (i, card) in cards.iter().take(4).enumerate() {
        for rating in ["good", "again", "good", "easy"].iter().take(i + 1) {
            let response = post(
                &app,
                &token,
                &format!("/api/v1/flashcards/{}/reviews", id_of(card)),
                json!({"rating": rating, "duration_ms": 4200 + i}),
            )
            .await;
            assert_eq!(response.status(), 200);
        }
    }
    let export = |chat: String| {
        let app = &app;
        let token = &token;
        async move {
            let response = app
                .authed(
                    Method::GET,
                    &format!("/api/v1/chats/{chat}/flashcards/export?format=apkg"),
                    token,
                )
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.bytes().await.unwrap().to_vec()
        }
    };
    let first = export(chat.clone()).await;
    let other = app.create_chat(&token, "Cells again").await;
    let response = import(&app, &token, &other, first.clone()).await;
    assert_eq!(response.status(), 200);
    let report: Value = body_of(response).await;
    assert_eq!(report["imported"], 6, "{report}");
    assert_eq!(report["notes"], 4, "{report}");
    assert_eq!(report["reviews"], 10, "{report}");
    assert_eq!(report["converted"], json!([]), "{report}");

    let key = |c: &Value| {
        (
            c["kind"].as_str().unwrap().to_string(),
            c["ordinal"].as_u64().unwrap(),
            c["question"].as_str().unwrap().to_string(),
        )
    };
    let mut before = cards_of(&app, &token, &chat).await;
    let mut after = cards_of(&app, &token, &other).await;
    before.sort_by_key(key);
    after.sort_by_key(key);
    for (was, now) in before.iter().zip(&after) {
        for field in [
            "kind",
            "ordinal",
            "question",
            "answer",
            "front",
            "back",
            "tags",
            "suspended",
            "state",
            "reps",
            "lapses",
        ] {
            assert_eq!(was[field], now[field], "{field} of {was}");
        }
        assert_ne!(was["note_id"], now["note_id"]);
        if was["state"] == "review" {
            assert_eq!(
                was["due"].as_str().unwrap()[..10],
                now["due"].as_str().unwrap()[..10],
                "due day of {was}"
            );
            close(
                &now["stability"],
                was["stability"].as_f64().unwrap() as f32,
                "stability",
            );
        }
    }
    // Siblings stay siblings.
    let reversed: Vec<&Value> = after.iter().filter(|c| c["kind"] == "reversed").collect();
    assert_eq!(reversed.len(), 2);
    assert_eq!(reversed[0]["note_id"], reversed[1]["note_id"]);

    let second = export(other).await;
    assert_eq!(revlog(&first).await, revlog(&second).await);
}

/// A package's collection database opened read-only (kept in the returned folder while open).
pub async fn open_collection(
    apkg: &[u8],
) -> (
    tempfile::TempDir,
    flashforge_sql::sea_orm::DatabaseConnection,
) {
    let mut archive = zip::ZipArchive::new(Cursor::new(apkg)).unwrap();
    let mut collection = Vec::new();
    archive
        .by_name("collection.anki2")
        .unwrap()
        .read_to_end(&mut collection)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("collection.anki2");
    std::fs::write(&path, collection).unwrap();
    let db =
        flashforge_sql::sea_orm::Database::connect(format!("sqlite://{}?mode=ro", path.display()))
            .await
            .unwrap();
    (dir, db)
}

/// The review log of a package: each review's time, rating, kind and time taken, with the
/// question of its card's note.
async fn revlog(apkg: &[u8]) -> Vec<(i64, i64, i64, i64, String)> {
    use flashforge_sql::sea_orm::{ConnectionTrait, Statement};
    let (_dir, db) = open_collection(apkg).await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT r.id, r.ease, r.type, r.time, n.sfld FROM revlog r \
             JOIN cards c ON c.id = r.cid JOIN notes n ON n.id = c.nid ORDER BY r.id",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get_by::<i64, _>("id").unwrap(),
                r.try_get_by::<i64, _>("ease").unwrap(),
                r.try_get_by::<i64, _>("type").unwrap(),
                r.try_get_by::<i64, _>("time").unwrap(),
                r.try_get_by::<String, _>("sfld").unwrap(),
            )
        })
        .collect()
}

/// A zip of the given entries.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// The package's collection database, changed by `sql`.
async fn collection_changed(sql: &str) -> Vec<u8> {
    use flashforge_sql::sea_orm::{ConnectionTrait, Database};
    let mut archive = zip::ZipArchive::new(Cursor::new(MIXED)).unwrap();
    let mut collection = Vec::new();
    archive
        .by_name("collection.anki2")
        .unwrap()
        .read_to_end(&mut collection)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.anki2");
    std::fs::write(&path, collection).unwrap();
    let db = Database::connect(format!("sqlite://{}?mode=rw", path.display()))
        .await
        .unwrap();
    db.execute_unprepared(sql).await.unwrap();
    db.close().await.unwrap();
    let changed = std::fs::read(&path).unwrap();
    zip_of(&[("collection.anki2", &changed), ("media", b"{}")])
}

async fn damaged_and_hostile_packages_answer_422_and_store_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("hostile").await.access;
    let chat = app.create_chat(&token, "Target").await;
    let refused = |file: Vec<u8>, why: &'static str| {
        let app = &app;
        let token = &token;
        let chat = &chat;
        async move {
            eprintln!("hostile: {why}");
            let response = import(app, token, chat, file).await;
            assert_eq!(response.status(), 422, "{why}");
            let problem = problem(response, 422).await;
            assert_eq!(problem["errors"][0]["field"], "file", "{why}: {problem}");
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    refused(b"not a zip at all".to_vec(), "not a zip").await;
    let message = refused(zip_of(&[("media", b"{}")]), "no collection").await;
    assert!(message.contains("collection"), "{message}");
    let message = refused(
        zip_of(&[("collection.anki21b", b"\x28\xb5\x2f\xfd"), ("media", b"")]),
        "a broken zstd frame",
    )
    .await;
    assert!(message.contains("decompressed"), "{message}");
    // A zstd bomb: 80 MiB of zeros in a few KiB, refused at the 64 MiB limit.
    let zeros = vec![0u8; 80 * 1024 * 1024];
    let bomb = zstd::encode_all(zeros.as_slice(), 19).unwrap();
    drop(zeros);
    let message = refused(
        zip_of(&[("collection.anki21b", &bomb), ("collection.anki2", b"")]),
        "zstd bomb",
    )
    .await;
    assert!(message.contains("MiB"), "{message}");
    refused(
        zip_of(&[("collection.anki2", b"SQLite format 3\0 but not really")]),
        "not a database",
    )
    .await;
    // A zip bomb: 80 MiB of zeros inflated from a few hundred KiB, refused at the 64 MiB limit.
    let zeros = vec![0u8; 80 * 1024 * 1024];
    let bomb = zip_of(&[("collection.anki2", &zeros)]);
    drop(zeros);
    assert!(bomb.len() < 2 * 1024 * 1024);
    let message = refused(bomb, "zip bomb").await;
    assert!(message.contains("MiB"), "{message}");
    // A table swapped for a view (which could run a query of any cost).
    refused(
        collection_changed(
            "ALTER TABLE notes RENAME TO n2; CREATE VIEW notes AS SELECT * FROM n2;",
        )
        .await,
        "a view",
    )
    .await;
    refused(
        collection_changed("UPDATE col SET models = 'not json';").await,
        "bad models",
    )
    .await;

    // A review without a rating, in a table without constraints.
    refused(
        collection_changed(
            "ALTER TABLE revlog RENAME TO r0; \
             CREATE TABLE revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type); \
             INSERT INTO revlog SELECT id, cid, usn, NULL, ivl, lastIvl, factor, time, type FROM r0;",
        )
        .await,
        "a null where a number belongs",
    )
    .await;
    assert!(cards_of(&app, &token, &chat).await.is_empty());
    // Values of the wrong type read as SQLite converts them (text where a number belongs is 0,
    // bytes where text belongs are text): stored or refused, never a failure of ours.
    for sql in [
        "UPDATE cards SET due = 'soon', ivl = 'x' WHERE rowid = 1;",
        "UPDATE notes SET flds = x'fffe00', tags = 7 WHERE rowid = 1;",
        "UPDATE revlog SET time = 'slow', ease = 2.5;",
    ] {
        let status = import(&app, &token, &chat, collection_changed(sql).await)
            .await
            .status();
        assert!(status == 200 || status == 422, "{sql}: {status}");
    }

    // Mutated copies of a real package: some bytes flipped or the file cut short. Each answers
    // 200 or 422, never a failure of ours; the answers come and go but the service stays up.
    let mut seed: u64 = 0x5eed_f00d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..40 {
        let mut file = MIXED.to_vec();
        if round % 5 == 4 {
            file.truncate((next() as usize) % file.len());
        } else {
            for _ in 0..(1 + next() % 8) {
                let at = (next() as usize) % file.len();
                file[at] ^= 1 << (next() % 8);
            }
        }
        eprintln!("mutation round {round}");
        let status = import(&app, &token, &chat, file).await.status();
        assert!(status == 200 || status == 422, "round {round}: {status}");
    }
    let health = app
        .authed(Method::GET, "/api/v1/chats", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

/// A package of more notes than import at once answers 202 with an import to poll; the worker
/// stores it batch by batch and the poll shows the progress and, at the end, every card.
async fn a_large_package_imports_in_the_background(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("large.deck").await.access;
    let chat = app.create_chat(&token, "Large").await;
    let notes = INLINE_IMPORT_NOTES + 20;
    for start in (0..notes).step_by(500) {
        let cards: Vec<Value> = (start..notes.min(start + 500))
            .map(|i| json!({"question": format!("Question {i}"), "answer": format!("Answer {i}"), "tags": ["bulk"]}))
            .collect();
        let response = post(
            &app,
            &token,
            &format!("/api/v1/chats/{chat}/flashcards/bulk"),
            json!({ "cards": cards }),
        )
        .await;
        assert_eq!(response.status(), 201);
    }
    let studied = cards_of(&app, &token, &chat).await;
    let response = post(
        &app,
        &token,
        &format!("/api/v1/flashcards/{}/reviews", id_of(&studied[0])),
        json!({"rating": "good"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let package = app
        .authed(
            Method::GET,
            &format!("/api/v1/chats/{chat}/flashcards/export?format=apkg"),
            &token,
        )
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();

    let other = app.create_chat(&token, "Large again").await;
    let response = import(&app, &token, &other, package).await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let queued: Value = body_of(response).await;
    assert_eq!(
        location,
        format!("/api/v1/flashcards/imports/{}", id_of(&queued))
    );
    assert_eq!(queued["chat_id"], other.as_str());
    assert_eq!(queued["progress"]["total"], notes);
    assert!(
        queued["status"] == "queued" || queued["status"] == "running",
        "{queued}"
    );

    let stranger = app.signed_up("not.the.owner").await.access;
    let response = app
        .authed(Method::GET, &location, &stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let done = crate::flashcards::finished(&app, &token, &location).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"]["done"], notes, "{done}");
    assert_eq!(done["report"]["imported"], notes, "{done}");
    assert_eq!(done["report"]["notes"], notes, "{done}");
    assert_eq!(done["report"]["reviews"], 1, "{done}");
    assert_eq!(done["report"]["errors"], json!([]), "{done}");
    assert_eq!(done["error"], Value::Null);
    let imported = cards_of(&app, &token, &other).await;
    assert_eq!(imported.len(), notes);
    let mut questions: Vec<&str> = imported
        .iter()
        .map(|c| c["question"].as_str().unwrap())
        .collect();
    questions.sort();
    questions.dedup();
    assert_eq!(questions.len(), notes, "each note once");
    assert!(
        imported.iter().any(|c| c["state"] != "new"),
        "the reviewed card kept its state"
    );

    let missing = app
        .authed(
            Method::GET,
            &format!("/api/v1/flashcards/imports/{}", uuid::Uuid::now_v7()),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(problem(missing, 404).await["code"], "import_not_found");
}

async fn csv_still_imports_when_the_body_is_text(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("csv.still").await.access;
    let chat = app.create_chat(&token, "CSV").await;
    let response = app
        .authed(
            Method::POST,
            &format!("/api/v1/chats/{chat}/flashcards/import"),
            &token,
        )
        .header("Content-Type", "text/csv")
        .body("question,answer\nQ,A\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let report: Value = body_of(response).await;
    assert_eq!(report, json!({"imported": 1, "errors": []}));
}

on_every_backend!(
    a_package_of_anki_2_1_50_and_later_imports_the_same,
    a_large_package_imports_in_the_background,
    an_anki_package_imports_with_every_card_tag_and_review,
    exported_packages_import_back_losslessly,
    damaged_and_hostile_packages_answer_422_and_store_nothing,
    csv_still_imports_when_the_body_is_text,
);
