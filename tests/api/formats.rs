//! Course material of every kind through HTTP, on every backend: each committed fixture of
//! `tests/fixtures/formats/` (made by `tools/corpus/generate.py`, with the text the generator put
//! on each page in `<file>.expected.json`) is uploaded, ends `completed`, gives back its text
//! page by page (word recall against the generator's text), is found by a known sentence on the
//! right page with the right label, and the assistant's citation of that passage names the
//! label. Scans and photos go through OCR when Tesseract is installed (CI installs it and sets
//! `FLASHFORGE_REQUIRE_OCR=1`); without it they fail with the documented reason.

use std::collections::HashMap;
use std::sync::Arc;

use flashforge_memory::{Reply, ScriptedModel};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, array_of, id_of, items_of, spawn_app_configured, text_of};
use crate::knowledge::{ingested, search};
use flashforge_files::formats::recall::word_recall as recall;

#[derive(Debug, Deserialize)]
struct ExpectedPage {
    label: String,
    text: String,
}

#[derive(Debug, Deserialize)]
struct Probe {
    sentence: String,
    page: u32,
    page_label: String,
}

#[derive(Debug, Deserialize)]
struct Expected {
    format: String,
    title: Option<String>,
    pages: Vec<ExpectedPage>,
    probe: Probe,
    min_recall: f64,
}

struct Fixture {
    name: String,
    bytes: Vec<u8>,
    expected: Expected,
}

fn folder() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats")
}

/// Every fixture with its expectations, by name.
fn fixtures() -> Vec<Fixture> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(folder()).expect("tests/fixtures/formats") {
        let path = entry.unwrap().path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".expected.json"))
        else {
            continue;
        };
        let expected: Expected = serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| {
                panic!("{}: {e}", path.display());
            });
        found.push(Fixture {
            name: name.to_string(),
            bytes: std::fs::read(folder().join(name)).unwrap(),
            expected,
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(
        found.len() >= 12,
        "the corpus is there: {} files",
        found.len()
    );
    found
}

/// The media type the service names a corpus format (`md`, `txt`, `png` …) by.
fn media_type(format: &str) -> &str {
    match format {
        "md" => "markdown",
        "txt" => "text",
        "png" | "jpeg" | "jpg" | "tiff" => "image",
        other => other,
    }
}

/// Whether a fixture needs OCR: the corpus's pictures and scans.
fn needs_ocr(expected: &Expected) -> bool {
    media_type(&expected.format) == "image" || expected.min_recall < 0.95
}

/// Whether this machine can run OCR (what the server's readiness says of it).
async fn ocr_is_up(app: &TestApp) -> bool {
    let ready: Value = app.get("/health/ready").await.json().await.unwrap();
    let up = array_of(&ready, "checks")
        .iter()
        .any(|c| c["name"] == "ocr" && c["status"] == "up");
    assert!(
        up || std::env::var_os("FLASHFORGE_REQUIRE_OCR").is_none(),
        "FLASHFORGE_REQUIRE_OCR is set but OCR is down: {ready}"
    );
    up
}

/// Every chunk of a document, in order.
async fn chunks(app: &TestApp, token: &str, chat: &str, document: &str) -> Vec<Value> {
    crate::helpers::every_page(
        app,
        token,
        &format!("/api/v1/chats/{chat}/documents/{document}/chunks"),
        100,
    )
    .await
}

/// The text of each page as the chunks give it back (overlaps included: recall only counts
/// what is there).
fn pages_of(chunks: &[Value]) -> HashMap<u64, (String, String)> {
    let mut pages: HashMap<u64, (String, String)> = HashMap::new();
    for chunk in chunks {
        let page = chunk["page"].as_u64().unwrap();
        let entry = pages.entry(page).or_insert_with(|| {
            (
                chunk["page_label"].as_str().unwrap_or_default().to_string(),
                String::new(),
            )
        });
        entry.1.push('\n');
        entry.1.push_str(text_of(chunk, "text"));
    }
    pages
}

async fn check_fixture(app: &TestApp, model: &ScriptedModel, token: &str, fixture: &Fixture) {
    let name = &fixture.name;
    let expected = &fixture.expected;
    let chat = app.create_chat(token, name).await;
    let doc = ingested(app, token, &chat, name, fixture.bytes.clone()).await;
    assert_eq!(doc["status"], "completed", "{name}: {doc}");
    assert_eq!(
        doc["media_type"],
        media_type(&expected.format),
        "{name}: detected by its bytes"
    );
    if let Some(title) = &expected.title {
        assert_eq!(doc["title"], title.as_str(), "{name}: {doc}");
    }
    let document = id_of(&doc).to_string();

    // The text, page by page, with the labels a person sees.
    let chunks = chunks(app, token, &chat, &document).await;
    let pages = pages_of(&chunks);
    for (number, page) in expected.pages.iter().enumerate() {
        let number = number as u64 + 1;
        if page.text.trim().is_empty() {
            continue;
        }
        let (label, text) = pages
            .get(&number)
            .unwrap_or_else(|| panic!("{name}: page {number} has no passage: {pages:?}"));
        assert_eq!(label, &page.label, "{name}: the label of page {number}");
        let r = recall(&page.text, text);
        assert!(
            r >= expected.min_recall,
            "{name}: page {number} word recall {r:.3} < {}\nexpected: {}\ngot: {text}",
            expected.min_recall,
            page.text
        );
    }

    // Search finds the known sentence on its page.
    let probe = &expected.probe;
    let query: String = probe.sentence.chars().take(300).collect();
    let path = format!(
        "/api/v1/chats/{chat}/search?mode=keyword&limit=3&q={}",
        urlencoding(&query)
    );
    let found = search(app, token, &path).await;
    let top = &array_of(&found, "hits")[0];
    assert_eq!(top["page"], probe.page, "{name}: {found}");
    assert_eq!(
        top["page_label"],
        probe.page_label.as_str(),
        "{name}: {found}"
    );

    // The assistant's citation of that passage names the page as a person sees it.
    model.push(Reply::Text(format!("{} [1]", probe.sentence)));
    let response = app
        .authed(
            Method::POST,
            &format!("/api/v1/chats/{chat}/messages"),
            token,
        )
        .json(&json!({"content": query}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{name}");
    let body: Value = response.json().await.unwrap();
    let citations = array_of(&body["answer"], "citations");
    assert_eq!(citations.len(), 1, "{name}: {body}");
    assert_eq!(citations[0]["document_id"], document.as_str());
    assert_eq!(citations[0]["page"], probe.page, "{name}: {body}");
    assert_eq!(
        citations[0]["page_label"],
        probe.page_label.as_str(),
        "{name}: {body}"
    );
}

/// Percent-encodes a query parameter's value.
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn every_format_is_read_found_and_cited_by_its_page(backend: Backend) {
    let model = Arc::new(ScriptedModel::new());
    let app = spawn_app_configured(
        backend,
        flashforge::Hooks {
            language_model: Some(model.clone()),
            ..Default::default()
        },
        &[("FLASHFORGE__KNOWLEDGE__OCR_LANGUAGES", "eng")],
    )
    .await;
    let token = app.signed_up("every.format").await.access;
    let ocr = ocr_is_up(&app).await;
    for fixture in fixtures() {
        if needs_ocr(&fixture.expected) && !ocr {
            eprintln!("{}: OCR is not available here, skipped", fixture.name);
            continue;
        }
        check_fixture(&app, &model, &token, &fixture).await;
    }
}

/// Without Tesseract, a scan and a photo fail with the reason that says how to enable OCR;
/// the server stays ready (OCR is optional) and shows OCR down.
async fn without_ocr_scans_fail_saying_how_to_enable_it(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        Default::default(),
        &[(
            "FLASHFORGE__KNOWLEDGE__OCR_TESSERACT",
            "/nonexistent/tesseract",
        )],
    )
    .await;
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    let ocr = array_of(&ready, "checks")
        .iter()
        .find(|c| c["name"] == "ocr")
        .cloned()
        .expect("OCR is listed");
    assert_eq!(ocr["status"], "down");
    assert_eq!(ocr["required"], false);

    let token = app.signed_up("no.ocr").await.access;
    let chat = app.create_chat(&token, "Scans").await;
    for name in ["scan.pdf", "photo.jpg"] {
        let bytes = std::fs::read(folder().join(name)).unwrap();
        let doc = ingested(&app, &token, &chat, name, bytes).await;
        assert_eq!(doc["status"], "failed", "{name}: {doc}");
        let error = text_of(&doc, "error");
        assert!(
            error.contains("OCR is not available")
                && error.contains("apt install tesseract-ocr")
                && error.contains("knowledge.ocr_enabled"),
            "{name}: {error}"
        );
        assert_eq!(doc["chunk_count"], 0);
    }
    // Nothing of them is searchable.
    let found = search(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/search?q=the&mode=keyword"),
    )
    .await;
    assert!(array_of(&found, "hits").is_empty(), "{found}");
}

/// Files that are not what they claim, or break their container's rules, end `failed` with a
/// reason (or are refused at upload), and never take anything else down.
async fn broken_and_hostile_files_fail_with_a_reason(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        Default::default(),
        &[("FLASHFORGE__KNOWLEDGE__MAX_UNPACKED_MB", "16")],
    )
    .await;
    let token = app.signed_up("broken.files").await.access;
    let chat = app.create_chat(&token, "Broken").await;
    let mut accepted = 0;
    for (name, reason) in [
        ("zipbomb.docx", "expands to more than 16,777,216 bytes"),
        ("not-really.pptx", ""),
        ("truncated.docx", ""),
    ] {
        let bytes = std::fs::read(folder().join(name)).unwrap();
        let response = crate::knowledge::upload(&app, &token, &chat, name, bytes).await;
        if response.status() == 415 {
            // A truncated container may lose the entries that tell what it is.
            assert_ne!(name, "zipbomb.docx");
            continue;
        }
        assert_eq!(response.status(), 202, "{name}");
        accepted += 1;
        let doc: Value = response.json().await.unwrap();
        let doc = crate::knowledge::settled(&app, &token, &chat, id_of(&doc)).await;
        assert_eq!(doc["status"], "failed", "{name}: {doc}");
        assert!(text_of(&doc, "error").contains(reason), "{name}: {doc}");
    }
    // The service still reads the next file.
    let notes = std::fs::read(folder().join("notes.docx")).unwrap();
    let doc = ingested(&app, &token, &chat, "notes.docx", notes).await;
    assert_eq!(doc["status"], "completed", "{doc}");
    let listed = app
        .get_json(&format!("/api/v1/chats/{chat}/documents"), &token)
        .await;
    assert_eq!(items_of(&listed).len(), accepted + 1);
}

on_every_backend!(
    every_format_is_read_found_and_cited_by_its_page,
    without_ocr_scans_fail_saying_how_to_enable_it,
    broken_and_hostile_files_fail_with_a_reason,
);
