//! The knowledge base through HTTP: uploads, ingestion, search, deletion — on every backend
//! (memory: in-memory index and blobs; SQLite and Postgres: the embedded Qdrant engine and
//! blobs in a local folder).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{
    Backend, TestApp, array_of, body_of, id_of, items_of, problem, spawn_app, spawn_app_configured,
    text_of,
};

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/fixtures/pdf/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

/// Notes in two "pages" (form-feed separated), with words found on one page only.
pub const NOTES: &str = "# Cell biology\n\nThe mitochondria produce adenosine triphosphate through oxidative phosphorylation. Ribosomes translate messenger RNA into proteins.\n\u{c}# Genetics\n\nGregor Mendel crossed pea plants and discovered dominant and recessive alleles. Meiosis shuffles chromosomes into gametes.\n";

pub async fn upload(
    app: &TestApp,
    token: &str,
    chat: &str,
    name: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    upload_with(
        app,
        token,
        &format!("/api/v1/chats/{chat}/documents"),
        name,
        bytes,
        None,
    )
    .await
}

pub async fn upload_with(
    app: &TestApp,
    token: &str,
    path: &str,
    name: &str,
    bytes: Vec<u8>,
    idempotency_key: Option<&str>,
) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_string())
        // Deliberately wrong: the type is decided from the bytes.
        .mime_str("application/octet-stream")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let mut request = app.authed(Method::POST, path, token).multipart(form);
    if let Some(key) = idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.expect("request sent")
}

/// Polls the document until it is `completed` or `failed`.
pub async fn settled(app: &TestApp, token: &str, chat: &str, id: &str) -> Value {
    let path = format!("/chats/{chat}/documents/{id}");
    let every = Duration::from_millis(50);
    app.api()
        .settled(token, &path, every, Duration::from_secs(60))
        .await
}

/// Uploads and waits; returns the settled document.
pub async fn ingested(app: &TestApp, token: &str, chat: &str, name: &str, bytes: Vec<u8>) -> Value {
    let response = upload(app, token, chat, name, bytes).await;
    assert_eq!(response.status(), 202, "upload {name}");
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["status"], "pending");
    settled(app, token, chat, id_of(&doc)).await
}

/// A request with the bearer token and no body.
pub async fn send(app: &TestApp, method: Method, path: &str, token: &str) -> reqwest::Response {
    app.authed(method, path, token)
        .send()
        .await
        .expect("request sent")
}

pub async fn search(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.authed(Method::GET, path, token).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

async fn a_text_upload_is_ingested_and_found_on_its_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("reader").await.access;
    let chat = app.create_chat(&token, "Biology").await;
    let doc = ingested(&app, &token, &chat, "notes.txt", NOTES.as_bytes().to_vec()).await;
    assert_eq!(doc["status"], "completed", "{doc}");
    assert_eq!(doc["media_type"], "markdown", "decided from the headings");
    assert_eq!(doc["progress"]["pages_total"], 2);
    assert_eq!(doc["progress"]["pages_done"], 2);
    assert_eq!(doc["size_bytes"], NOTES.len());
    assert!(doc["chunk_count"].as_u64().unwrap() >= 2);
    let id = id_of(&doc);

    for mode in ["keyword", "semantic", "hybrid"] {
        let found = search(
            &app,
            &token,
            &format!("/api/v1/chats/{chat}/search?q=Mendel%20pea%20alleles&mode={mode}"),
        )
        .await;
        assert_eq!(found["mode"], mode);
        let top = &found["hits"][0];
        assert_eq!(top["document_id"], id, "{mode}: {found}");
        assert_eq!(top["page"], 2, "{mode}: {found}");
        assert_eq!(top["file_name"], "notes.txt");
        assert!(text_of(top, "text").contains("Mendel"));
    }
    // Hybrid is the default.
    let found = search(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/search?q=ribosomes"),
    )
    .await;
    assert_eq!(found["mode"], "hybrid");
    assert_eq!(found["hits"][0]["page"], 1);

    // Chunks, in order, with their pages and ranges.
    let chunks = app
        .get_json(
            &format!("/api/v1/chats/{chat}/documents/{id}/chunks?limit=1"),
            &token,
        )
        .await;
    assert_eq!(items_of(&chunks).len(), 1);
    assert_eq!(chunks["items"][0]["index"], 0);
    assert_eq!(chunks["items"][0]["page"], 1);
    let next = chunks["next_cursor"].as_str().expect("a second page");
    let more = app
        .get_json(
            &format!("/api/v1/chats/{chat}/documents/{id}/chunks?cursor={next}"),
            &token,
        )
        .await;
    assert_eq!(more["items"][0]["index"], 1);

    // The original bytes come back.
    let file = send(
        &app,
        Method::GET,
        &format!("/api/v1/chats/{chat}/documents/{id}/file"),
        &token,
    )
    .await;
    assert_eq!(file.status(), 200);
    assert!(
        file.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    assert_eq!(file.bytes().await.unwrap(), NOTES.as_bytes());

    // Listed, and filterable by status.
    let list = app
        .get_json(
            &format!("/api/v1/chats/{chat}/documents?status=completed"),
            &token,
        )
        .await;
    assert_eq!(list["items"][0]["id"], id);
    let none = app
        .get_json(
            &format!("/api/v1/chats/{chat}/documents?status=failed"),
            &token,
        )
        .await;
    assert_eq!(items_of(&none).len(), 0);

    // Pages of two, followed to the end: every document once, with the filter kept.
    let mut uploaded = vec![id.to_string()];
    for i in 0..4 {
        let doc = ingested(
            &app,
            &token,
            &chat,
            &format!("more-{i}.txt"),
            format!("more notes {i}").into_bytes(),
        )
        .await;
        uploaded.push(id_of(&doc).to_string());
    }
    for path in [
        format!("/api/v1/chats/{chat}/documents"),
        format!("/api/v1/chats/{chat}/documents?status=completed"),
    ] {
        let mut listed: Vec<String> = crate::helpers::every_page(&app, &token, &path, 2)
            .await
            .iter()
            .map(|d| id_of(d).to_string())
            .collect();
        listed.sort();
        let mut expected = uploaded.clone();
        expected.sort();
        assert_eq!(listed, expected, "{path}");
    }
}

/// A download is named after the upload's last path segment: ASCII for old clients, the exact
/// name (RFC 5987) for the rest; PDFs come back as `application/pdf`.
async fn downloads_carry_the_uploaded_name_safely(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("namer.files").await.access;
    let chat = app.create_chat(&token, "Names").await;
    let doc = ingested(
        &app,
        &token,
        &chat,
        "../../etc/Заметки \"v2\";.md",
        NOTES.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(
        doc["file_name"], "Заметки \"v2\";.md",
        "the last path segment is kept"
    );
    let id = id_of(&doc);
    let file = send(
        &app,
        Method::GET,
        &format!("/api/v1/chats/{chat}/documents/{id}/file"),
        &token,
    )
    .await;
    assert_eq!(file.status(), 200);
    let disposition = file.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"_______ _v2__.md\""),
        "{disposition}"
    );
    let encoded = disposition
        .split("filename*=UTF-8''")
        .nth(1)
        .unwrap_or_else(|| panic!("no filename*: {disposition}"));
    let mut bytes = Vec::new();
    let mut rest = encoded.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            bytes.push(u8::from_str_radix(std::str::from_utf8(&tail[..2]).unwrap(), 16).unwrap());
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    assert_eq!(String::from_utf8(bytes).unwrap(), "Заметки \"v2\";.md");
    assert_eq!(file.headers()["x-content-type-options"], "nosniff");

    let pdf = ingested(&app, &token, &chat, "table.pdf", fixture("table.pdf")).await;
    let id = id_of(&pdf);
    let file = send(
        &app,
        Method::GET,
        &format!("/api/v1/chats/{chat}/documents/{id}/file"),
        &token,
    )
    .await;
    assert_eq!(file.headers()["content-type"], "application/pdf");
    assert_eq!(
        file.headers()["content-disposition"],
        "attachment; filename=\"table.pdf\""
    );
    assert_eq!(file.bytes().await.unwrap(), fixture("table.pdf"));
}

async fn a_hundred_page_pdf_is_found_on_the_right_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("pdf.reader").await.access;
    let chat = app.create_chat(&token, "Long reading").await;
    let doc = ingested(&app, &token, &chat, "long.pdf", fixture("long-100.pdf")).await;
    assert_eq!(doc["status"], "completed", "{doc}");
    assert_eq!(doc["media_type"], "pdf");
    assert_eq!(doc["progress"]["pages_total"], 100);
    // By words: the marker is a made-up word, which the harness's hash embedder (no meaning)
    // ranks by chance, so a hybrid ranking of it is a coin toss between its two lists.
    for page in [1, 17, 64, 100] {
        let found = search(
            &app,
            &token,
            &format!("/api/v1/chats/{chat}/search?q=pagetaglg{page:03}&mode=keyword"),
        )
        .await;
        assert_eq!(found["hits"][0]["page"], page, "{found}");
        assert_eq!(
            found["hits"][0]["page_label"],
            format!("p. {page}"),
            "{found}"
        );
    }
}

async fn duplicates_return_the_existing_document_unless_replaced(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("dup").await.access;
    let chat = app.create_chat(&token, "Dups").await;
    let first = ingested(&app, &token, &chat, "a.md", NOTES.as_bytes().to_vec()).await;
    let again = upload(&app, &token, &chat, "renamed.md", NOTES.as_bytes().to_vec()).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);

    // Another chat takes the same bytes as a new document.
    let other = app.create_chat(&token, "Other").await;
    assert_eq!(
        upload(&app, &token, &other, "a.md", NOTES.as_bytes().to_vec())
            .await
            .status(),
        202
    );

    let replaced = upload_with(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/documents?on_duplicate=replace"),
        "v2.md",
        NOTES.as_bytes().to_vec(),
        None,
    )
    .await;
    assert_eq!(replaced.status(), 202);
    let replaced: Value = replaced.json().await.unwrap();
    assert_ne!(replaced["id"], first["id"]);
    let old = app
        .authed(
            Method::GET,
            &format!("/api/v1/chats/{chat}/documents/{}", id_of(&first)),
            &token,
        )
        .send()
        .await
        .unwrap();
    problem(old, 404).await;
    let done = settled(&app, &token, &chat, id_of(&replaced)).await;
    assert_eq!(done["status"], "completed");
    let found = search(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/search?q=Mendel"),
    )
    .await;
    for hit in array_of(&found, "hits") {
        assert_eq!(
            hit["document_id"], replaced["id"],
            "the replaced document is gone from search"
        );
    }

    let bad = upload_with(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/documents?on_duplicate=keep"),
        "x.md",
        b"x".to_vec(),
        None,
    )
    .await;
    let body = problem(bad, 422).await;
    assert_eq!(body["errors"][0]["field"], "on_duplicate");
}

async fn an_idempotency_key_makes_a_retried_upload_safe(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("idem").await.access;
    let chat = app.create_chat(&token, "Idem").await;
    let path = format!("/api/v1/chats/{chat}/documents");
    let first = upload_with(
        &app,
        &token,
        &path,
        "a.txt",
        b"first body".to_vec(),
        Some("key-1"),
    )
    .await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let retried = upload_with(
        &app,
        &token,
        &path,
        "a.txt",
        b"first body".to_vec(),
        Some("key-1"),
    )
    .await;
    assert_eq!(retried.status(), 200);
    let retried: Value = retried.json().await.unwrap();
    assert_eq!(retried["id"], first["id"]);
    let reused = upload_with(
        &app,
        &token,
        &path,
        "b.txt",
        b"other body".to_vec(),
        Some("key-1"),
    )
    .await;
    let body = problem(reused, 409).await;
    assert_eq!(body["code"], "idempotency_key_reused");
    let bad = upload_with(
        &app,
        &token,
        &path,
        "b.txt",
        b"other".to_vec(),
        Some(&"k".repeat(300)),
    )
    .await;
    problem(bad, 422).await;
    // The same key and bytes sent to another chat name a different request: 409.
    let other_chat = app.create_chat(&token, "Elsewhere").await;
    let elsewhere = upload_with(
        &app,
        &token,
        &format!("/api/v1/chats/{other_chat}/documents"),
        "a.txt",
        b"first body".to_vec(),
        Some("key-1"),
    )
    .await;
    assert_eq!(
        problem(elsewhere, 409).await["code"],
        "idempotency_key_reused"
    );
    let list = app.get_json(&path, &token).await;
    assert_eq!(
        items_of(&list).len(),
        1,
        "one document, whatever the retries"
    );
    // Keys are the caller's own: another user's identical request is a new upload.
    let other = app.signed_up("idem.other").await.access;
    let their_chat = app.create_chat(&other, "Theirs").await;
    let theirs = upload_with(
        &app,
        &other,
        &format!("/api/v1/chats/{their_chat}/documents"),
        "a.txt",
        b"first body".to_vec(),
        Some("key-1"),
    )
    .await;
    assert_eq!(theirs.status(), 202);
    let theirs: Value = theirs.json().await.unwrap();
    assert_ne!(theirs["id"], first["id"]);
}

async fn bad_uploads_get_clear_answers_and_store_nothing(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        Default::default(),
        &[("FLASHFORGE__KNOWLEDGE__MAX_UPLOAD_MB", "1")],
    )
    .await;
    let token = app.signed_up("bad.uploads").await.access;
    let chat = app.create_chat(&token, "Bad").await;
    let path = format!("/api/v1/chats/{chat}/documents");

    let gif = b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff!\xf9\x04\x01\0\0\0\0,".to_vec();
    let body = problem(upload(&app, &token, &chat, "notes.pdf", gif).await, 415).await;
    assert_eq!(body["code"], "unsupported_file_type");
    assert!(text_of(&body, "detail").contains("DOCX"), "{body}");
    let garbage: Vec<u8> = (0..2048u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let body = problem(upload(&app, &token, &chat, "bad.txt", garbage).await, 415).await;
    assert_eq!(body["code"], "unsupported_file_type");
    // Known formats that are not read say what to do instead.
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    let body = problem(upload(&app, &token, &chat, "photo.heic", heic).await, 415).await;
    assert!(text_of(&body, "detail").contains("JPEG"), "{body}");
    let doc = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0\0\0\0".to_vec();
    let body = problem(upload(&app, &token, &chat, "old.doc", doc).await, 415).await;
    assert!(text_of(&body, "detail").contains("DOCX"), "{body}");
    // An empty part: 422 whether the multipart parser yields it empty or drops it.
    let body = problem(
        upload(&app, &token, &chat, "empty.txt", Vec::new()).await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "file", "{body}");
    let big = "words ".repeat(200_000).into_bytes(); // 1.2 MB
    let body = problem(upload(&app, &token, &chat, "big.txt", big).await, 413).await;
    assert_eq!(body["code"], "file_too_large");

    // The wrong field, or not multipart at all.
    let form = reqwest::multipart::Form::new().text("document", "hello");
    let response = app
        .authed(Method::POST, &path, &token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    problem(response, 422).await;
    let response = app
        .authed(Method::POST, &path, &token)
        .json(&serde_json::json!({"file": "hello"}))
        .send()
        .await
        .unwrap();
    problem(response, 415).await;
    // Two files in one request: 422 naming the second.
    let two = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"one".to_vec()).file_name("a.txt"),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"two".to_vec()).file_name("b.txt"),
        );
    let response = app
        .authed(Method::POST, &path, &token)
        .multipart(two)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response, 422).await["errors"][0]["field"], "file");
    // Too large without a Content-Length (chunked): caught while it streams.
    let boundary = "ffboundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\nContent-Type: text/plain\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> = std::iter::once(Ok(head.into_bytes()))
        .chain((0..24).map(|_| Ok("words ".repeat(10_000).into_bytes())))
        .chain(std::iter::once(Ok(tail.into_bytes())))
        .collect();
    let response = app
        .authed(Method::POST, &path, &token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response, 413).await["code"], "file_too_large");
    // A chat that does not exist.
    let missing = format!("/api/v1/chats/{}/documents", uuid::Uuid::now_v7());
    let response = upload_with(&app, &token, &missing, "a.txt", b"hello".to_vec(), None).await;
    problem(response, 404).await;

    let list = app.get_json(&path, &token).await;
    assert_eq!(items_of(&list).len(), 0, "nothing was stored: {list}");
    let response = send(&app, Method::GET, &format!("{path}?status=done"), &token).await;
    problem(response, 422).await;
}

async fn unreadable_pdfs_fail_with_a_reason_and_can_be_retried(backend: Backend) {
    // With OCR off, a scan has nothing to read (tests/api/formats.rs reads scans with OCR).
    let app = spawn_app_configured(
        backend,
        Default::default(),
        &[("FLASHFORGE__KNOWLEDGE__OCR_ENABLED", "false")],
    )
    .await;
    let token = app.signed_up("pdf.fail").await.access;
    let chat = app.create_chat(&token, "Broken").await;
    let encrypted = ingested(&app, &token, &chat, "locked.pdf", fixture("encrypted.pdf")).await;
    assert_eq!(encrypted["status"], "failed");
    assert!(
        text_of(&encrypted, "error").contains("encrypted"),
        "{encrypted}"
    );
    let scanned = ingested(&app, &token, &chat, "scan.pdf", fixture("image-only.pdf")).await;
    assert_eq!(scanned["status"], "failed");
    assert!(
        text_of(&scanned, "error").contains("no text layer")
            && text_of(&scanned, "error").contains("OCR is switched off"),
        "{scanned}"
    );
    let mut truncated = fixture("table.pdf");
    truncated.truncate(300);
    let broken = ingested(&app, &token, &chat, "cut.pdf", truncated).await;
    assert_eq!(broken["status"], "failed", "{broken}");

    let id = id_of(&encrypted);
    let retry = send(
        &app,
        Method::POST,
        &format!("/api/v1/chats/{chat}/documents/{id}/retry"),
        &token,
    )
    .await;
    assert_eq!(retry.status(), 202);
    let retried: Value = retry.json().await.unwrap();
    assert_eq!(retried["status"], "pending");
    assert_eq!(retried["error"], Value::Null);
    let again = settled(&app, &token, &chat, id).await;
    assert_eq!(
        again["status"], "failed",
        "the same file fails the same way"
    );

    let good = ingested(&app, &token, &chat, "ok.txt", b"plain words".to_vec()).await;
    let good_id = id_of(&good);
    let response = send(
        &app,
        Method::POST,
        &format!("/api/v1/chats/{chat}/documents/{good_id}/retry"),
        &token,
    )
    .await;
    let body = problem(response, 409).await;
    assert_eq!(body["code"], "document_not_retryable");
}

async fn a_deleted_document_is_never_found_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("deleter").await.access;
    let chat = app.create_chat(&token, "Deleting").await;
    let keep = ingested(
        &app,
        &token,
        &chat,
        "keep.txt",
        b"Photosynthesis turns light into sugar in chloroplasts.".to_vec(),
    )
    .await;
    let gone = ingested(&app, &token, &chat, "gone.md", NOTES.as_bytes().to_vec()).await;
    let id = id_of(&gone);
    // With blobs in S3, the originals are objects of the bucket, and deleting takes them.
    let bucket = crate::helpers::BLOBS_IN_S3.try_with(Clone::clone).ok();
    if let Some(bucket) = &bucket {
        assert_eq!(bucket.keys().await.len(), 2, "{:?}", bucket.keys().await);
    }
    let before = search(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/search?q=Mendel%20crossed%20pea%20plants"),
    )
    .await;
    assert_eq!(before["hits"][0]["document_id"], id);

    let response = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/chats/{chat}/documents/{id}"),
        &token,
    )
    .await;
    assert_eq!(response.status(), 204);
    for mode in ["keyword", "semantic", "hybrid"] {
        let after = search(
            &app,
            &token,
            &format!(
                "/api/v1/chats/{chat}/search?q=Gregor%20Mendel%20crossed%20pea%20plants&mode={mode}"
            ),
        )
        .await;
        for hit in array_of(&after, "hits") {
            assert_ne!(hit["document_id"], id, "{mode}: {after}");
            assert_eq!(hit["document_id"], keep["id"]);
        }
    }
    for suffix in ["", "/chunks", "/file"] {
        let response = send(
            &app,
            Method::GET,
            &format!("/api/v1/chats/{chat}/documents/{id}{suffix}"),
            &token,
        )
        .await;
        problem(response, 404).await;
    }
    if let Some(bucket) = &bucket {
        let keys = bucket.keys().await;
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert!(keys[0].contains(text_of(&keep, "id")), "{keys:?}");
    }
    // Deleting the chat takes the rest with it.
    let response = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/chats/{chat}"),
        &token,
    )
    .await;
    assert_eq!(response.status(), 204);
    let all = search(
        &app,
        &token,
        "/api/v1/search?q=photosynthesis%20chloroplasts",
    )
    .await;
    assert_eq!(array_of(&all, "hits").len(), 0, "{all}");
    if let Some(bucket) = &bucket {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !bucket.keys().await.is_empty() {
            assert!(
                Instant::now() < deadline,
                "the chat's objects stay: {:?}",
                bucket.keys().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn search_spans_the_callers_chats_and_nobody_elses(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signed_up("alice.kb").await.access;
    let bob = app.signed_up("bob.kb").await.access;
    let biology = app.create_chat(&alice, "Biology").await;
    let history = app.create_chat(&alice, "History").await;
    let bobs = app.create_chat(&bob, "Bob's").await;
    ingested(
        &app,
        &alice,
        &biology,
        "bio.txt",
        b"Enzymes lower the activation energy of reactions.".to_vec(),
    )
    .await;
    ingested(
        &app,
        &alice,
        &history,
        "hist.txt",
        b"The Congress of Vienna redrew Europe after Napoleon; enzymes are not involved.".to_vec(),
    )
    .await;
    ingested(
        &app,
        &bob,
        &bobs,
        "bob.txt",
        b"Bob's secret: enzymes enzymes enzymes everywhere.".to_vec(),
    )
    .await;

    let all = search(&app, &alice, "/api/v1/search?q=enzymes&mode=keyword").await;
    let chats: std::collections::BTreeSet<&str> = array_of(&all, "hits")
        .iter()
        .map(|h| text_of(h, "chat_id"))
        .collect();
    assert_eq!(
        chats,
        [biology.as_str(), history.as_str()].into_iter().collect()
    );
    let one = search(
        &app,
        &alice,
        &format!("/api/v1/chats/{biology}/search?q=enzymes"),
    )
    .await;
    assert!(
        array_of(&one, "hits")
            .iter()
            .all(|h| h["chat_id"] == biology.as_str())
    );
    let bobs_view = search(&app, &bob, "/api/v1/search?q=enzymes%20activation%20Vienna").await;
    assert!(
        array_of(&bobs_view, "hits")
            .iter()
            .all(|h| h["chat_id"] == bobs.as_str())
    );

    for bad in [
        "q=",
        "q=a&limit=0",
        "q=a&limit=51",
        "q=a&limit=x",
        "q=a&mode=fuzzy",
        "limit=5",
    ] {
        for base in [
            "/api/v1/search".to_string(),
            format!("/api/v1/chats/{bobs}/search"),
        ] {
            let token = if base.contains("chats") { &bob } else { &alice };
            let response = send(&app, Method::GET, &format!("{base}?{bad}"), token).await;
            problem(response, 422).await;
        }
    }
    let long = "a".repeat(1001);
    for (base, token) in [
        ("/api/v1/search".to_string(), &alice),
        (format!("/api/v1/chats/{bobs}/search"), &bob),
    ] {
        let response = send(&app, Method::GET, &format!("{base}?q={long}"), token).await;
        problem(response, 422).await;
    }
    let limited = search(&app, &alice, "/api/v1/search?q=enzymes&limit=1").await;
    assert_eq!(array_of(&limited, "hits").len(), 1);
}

async fn the_assistant_answers_from_uploaded_material_with_citations(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("asker").await.access;
    let chat = app.create_chat(&token, "Genetics").await;
    let doc = ingested(&app, &token, &chat, "notes.md", NOTES.as_bytes().to_vec()).await;
    let response = app
        .authed(
            Method::POST,
            &format!("/api/v1/chats/{chat}/messages"),
            &token,
        )
        .json(&serde_json::json!({"content": "What did Gregor Mendel discover with pea plants?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let exchange: Value = response.json().await.unwrap();
    let citations = array_of(&exchange["answer"], "citations");
    assert!(!citations.is_empty(), "{exchange}");
    assert_eq!(citations[0]["document_id"], doc["id"]);
    assert_eq!(citations[0]["page"], 2);
}

/// The hash embedder with a step of the test's before each call: failing it (a server that is
/// down) or waiting in it (a slow one).
pub(crate) struct HookedEmbedder {
    inner: flashforge_memory::HashEmbedder,
    before: Box<
        dyn Fn() -> futures_util::future::BoxFuture<
                'static,
                Result<(), flashforge_domain::InfraError>,
            > + Send
            + Sync,
    >,
}

impl HookedEmbedder {
    pub(crate) fn hooks(
        before: impl Fn() -> futures_util::future::BoxFuture<
            'static,
            Result<(), flashforge_domain::InfraError>,
        > + Send
        + Sync
        + 'static,
    ) -> flashforge::Hooks {
        flashforge::Hooks {
            embedder: Some(std::sync::Arc::new(Self {
                inner: flashforge_memory::HashEmbedder::new(384),
                before: Box::new(before),
            })),
            ..Default::default()
        }
    }

    /// Hooks whose embedder waits at a gate, closed until the test adds a permit (after which
    /// every call passes: each returns its permit).
    pub(crate) fn gated() -> (flashforge::Hooks, std::sync::Arc<tokio::sync::Semaphore>) {
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let waiting = gate.clone();
        let hooks = Self::hooks(move || {
            let gate = waiting.clone();
            Box::pin(async move {
                drop(gate.acquire().await.expect("the gate stays open"));
                Ok(())
            })
        });
        (hooks, gate)
    }
}

#[async_trait::async_trait]
impl flashforge_domain::knowledge::Embedder for HookedEmbedder {
    fn model(&self) -> &flashforge_domain::knowledge::EmbeddingModel {
        self.inner.model()
    }
    fn token_counter(&self) -> std::sync::Arc<dyn flashforge_domain::knowledge::TokenCounter> {
        self.inner.token_counter()
    }
    async fn embed(
        &self,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, flashforge_domain::InfraError> {
        (self.before)().await?;
        self.inner.embed(texts).await
    }
}

/// A document being ingested reads `processing`, is listed under that status only, and then
/// completes.
async fn a_document_reads_processing_while_it_is_ingested(backend: Backend) {
    let (hooks, gate) = HookedEmbedder::gated();
    let app = spawn_app_configured(backend, hooks, &[]).await;
    let token = app.signed_up("patient").await.access;
    let chat = app.create_chat(&token, "Slow").await;
    let response = upload(&app, &token, &chat, "notes.md", NOTES.as_bytes().to_vec()).await;
    assert_eq!(response.status(), 202);
    let id = id_of(&body_of(response).await).to_string();
    let path = format!("/api/v1/chats/{chat}/documents/{id}");
    let started = Instant::now();
    let doc = loop {
        let doc = app.get_json(&path, &token).await;
        if doc["status"] == "processing" {
            break doc;
        }
        assert_eq!(doc["status"], "pending", "{doc}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never processing: {doc}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(doc["chunk_count"], 0, "{doc}");
    let listed = |status: &'static str| {
        let (app, token) = (&app, token.clone());
        let path = format!("/api/v1/chats/{chat}/documents?status={status}");
        async move { items_of(&app.get_json(&path, &token).await).len() }
    };
    assert_eq!(listed("processing").await, 1);
    assert_eq!(listed("pending").await, 0);
    assert_eq!(listed("completed").await, 0);

    gate.add_permits(1_000);
    let done = settled(&app, &token, &chat, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(done["chunk_count"].as_u64().unwrap() > 0);
    assert_eq!(listed("processing").await, 0);
}

/// An app whose embedder fails its first `failures` calls as if its server were down.
async fn app_with_flaky_embedder(backend: Backend, failures: usize) -> TestApp {
    let left = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(failures));
    let hooks = HookedEmbedder::hooks(move || {
        use std::sync::atomic::Ordering;
        let failing = left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        Box::pin(async move {
            if failing {
                Err(flashforge_domain::InfraError::unavailable(
                    "embedding server refused the connection",
                ))
            } else {
                Ok(())
            }
        })
    });
    spawn_app_configured(
        backend,
        hooks,
        &[("FLASHFORGE__KNOWLEDGE__MAX_ATTEMPTS", "3")],
    )
    .await
}

async fn transient_failures_are_retried_with_back_off_then_given_up(backend: Backend) {
    // Fails once: the second attempt completes it.
    let app = app_with_flaky_embedder(backend, 1).await;
    let token = app.signed_up("flaky").await.access;
    let chat = app.create_chat(&token, "Flaky").await;
    let response = upload(
        &app,
        &token,
        &chat,
        "a.txt",
        b"Osmosis moves water across membranes.".to_vec(),
    )
    .await;
    let doc: Value = response.json().await.unwrap();
    let id = id_of(&doc);
    let started = Instant::now();
    let mut saw_retry_note = false;
    let done = loop {
        let doc = app
            .get_json(&format!("/api/v1/chats/{chat}/documents/{id}"), &token)
            .await;
        if doc["error"]
            .as_str()
            .is_some_and(|e| e.contains("attempt 1 failed"))
        {
            saw_retry_note = true;
        }
        if doc["status"] == "completed" || doc["status"] == "failed" {
            break doc;
        }
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["error"], Value::Null);
    assert!(
        saw_retry_note,
        "while waiting to retry, the document says why"
    );

    // Never recovers: failed after the last attempt, with the reason.
    let app = app_with_flaky_embedder(backend, usize::MAX).await;
    let token = app.signed_up("down").await.access;
    let chat = app.create_chat(&token, "Down").await;
    let failed = ingested(
        &app,
        &token,
        &chat,
        "b.txt",
        b"Diffusion spreads solutes.".to_vec(),
    )
    .await;
    assert_eq!(failed["status"], "failed");
    let error = text_of(&failed, "error");
    assert!(error.contains("gave up after 3 attempts"), "{error}");
    // A stable reason for the user; the cause is in the log only.
    assert!(
        error.contains(flashforge_domain::jobs::UNAVAILABLE_REASON),
        "{error}"
    );
    assert!(!error.contains("refused the connection"), "{error}");
    assert!(
        crate::helpers::captured_log()
            .contents()
            .contains("embedding server refused the connection"),
        "the cause is logged"
    );
}

on_every_backend_and_s3!(
    a_text_upload_is_ingested_and_found_on_its_page,
    a_document_reads_processing_while_it_is_ingested,
    downloads_carry_the_uploaded_name_safely,
    a_hundred_page_pdf_is_found_on_the_right_page,
    duplicates_return_the_existing_document_unless_replaced,
    an_idempotency_key_makes_a_retried_upload_safe,
    bad_uploads_get_clear_answers_and_store_nothing,
    unreadable_pdfs_fail_with_a_reason_and_can_be_retried,
    a_deleted_document_is_never_found_again,
    search_spans_the_callers_chats_and_nobody_elses,
    the_assistant_answers_from_uploaded_material_with_citations,
    transient_failures_are_retried_with_back_off_then_given_up,
);

/// The real embedding model's folder, or `None` (with a notice) when it was not fetched,
/// unless `FLASHFORGE_REQUIRE_MODEL=1`, which makes that a failure.
pub fn model_dir() -> Option<std::path::PathBuf> {
    let dir = flashforge_tests::settings::model_dir();
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    flashforge_tests::skip::skip(
        "FLASHFORGE_REQUIRE_MODEL",
        &format!("{} holds no model: run `make models`", dir.display()),
    );
    None
}

/// End to end with the real all-MiniLM-L6-v2 on SQLite and the embedded Qdrant engine: a
/// question that shares no rare word with the passage still finds it by meaning.
#[tokio::test]
async fn the_real_local_model_finds_material_by_meaning() {
    let Some(dir) = model_dir() else { return };
    let dir = dir.display().to_string();
    let app = spawn_app_configured(
        Backend::Sqlite,
        Default::default(),
        &[
            ("FLASHFORGE__EMBEDDING__PROVIDER", "local"),
            ("FLASHFORGE__EMBEDDING__MODEL_DIR", dir.as_str()),
        ],
    )
    .await;
    let token = app.signed_up("semantic").await.access;
    let chat = app.create_chat(&token, "Biology").await;
    let doc = ingested(&app, &token, &chat, "notes.md", NOTES.as_bytes().to_vec()).await;
    assert_eq!(doc["status"], "completed", "{doc}");
    let found = search(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/search?mode=semantic&q=who%20studied%20heredity%20in%20garden%20peas"),
    )
    .await;
    assert_eq!(found["hits"][0]["page"], 2, "{found}");
    let found = search(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/search?mode=semantic&q=how%20do%20cells%20make%20energy"),
    )
    .await;
    assert_eq!(found["hits"][0]["page"], 1, "{found}");
}

/// `reconcile` removes index points that lost their chunk and queues again the documents whose
/// chunks lost their points.
#[tokio::test]
async fn reconcile_removes_orphan_points_and_requeues_unindexed_documents() {
    use std::sync::Arc;

    use flashforge_domain::accounts::UserId;
    use flashforge_domain::chats::ChatId;
    use flashforge_domain::clock::SystemClock;
    use flashforge_domain::knowledge::{
        Chunk, ChunkId, DocumentId, DocumentRepository, DocumentStatus, Embedder, FileName, JobId,
        JobPayload, JobQueue, KnowledgeBase, KnowledgeBasePorts, KnowledgePorts, KnowledgeSettings,
        MediaType, NewDocument, NewJob, Scope, SparseVector, VectorIndex, VectorPoint,
    };
    use flashforge_memory::{
        ExactVectorIndex, HashEmbedder, InMemoryBlobStore, InMemoryChatRepository,
        InMemoryDocumentRepository, InMemoryJobQueue,
    };

    let jobs = Arc::new(InMemoryJobQueue::new());
    let documents = Arc::new(InMemoryDocumentRepository::new(jobs.clone()));
    let embedder = Arc::new(HashEmbedder::new(16));
    let index = Arc::new(ExactVectorIndex::new(embedder.model().clone()));
    let kb = KnowledgeBase::new(
        KnowledgeBasePorts {
            store: KnowledgePorts {
                documents: documents.clone(),
                jobs: jobs.clone(),
                blobs: Arc::new(InMemoryBlobStore::new()),
                embedder: embedder.clone(),
                index: index.clone(),
                extractor: Arc::new(flashforge_files::IsolatedExtractor::new(
                    flashforge_files::Isolation::Thread,
                    Duration::from_secs(5),
                )),
            },
            chats: Arc::new(InMemoryChatRepository::new()),
            clock: Arc::new(SystemClock),
            quotas: Arc::new(flashforge_domain::quotas::Quotas::new(
                Arc::new(flashforge_domain::quotas::StoreUsage {
                    documents: documents.clone(),
                    cards: Arc::new(flashforge_memory::InMemoryFlashcardRepository::new()),
                    jobs: jobs.clone(),
                }),
                Default::default(),
            )),
        },
        KnowledgeSettings::default(),
    );
    let (user, chat, id) = (UserId::new(), ChatId::new(), DocumentId::new());
    let now = chrono::Utc::now();
    documents
        .create(
            NewDocument {
                id,
                user_id: user,
                chat_id: chat,
                file_name: FileName::sanitize(Some("a.txt")),
                media_type: MediaType::Text,
                size_bytes: 10,
                sha256: "0".repeat(64),
                idempotency_key: None,
                created_at: now,
            },
            NewJob {
                id: JobId::new(),
                payload: JobPayload::IngestDocument {
                    user_id: user,
                    document_id: id,
                },
                max_attempts: 3,
                run_at: now,
                request_id: None,
            },
        )
        .await
        .unwrap();
    // The ingestion job ran (claimed and done) and left 3 chunks, but only 2 points, plus a
    // point of a chunk that no longer exists.
    let job = jobs
        .claim(
            "w",
            now,
            now + chrono::Duration::seconds(60),
            flashforge_domain::knowledge::Fairness::default(),
        )
        .await
        .unwrap()
        .unwrap();
    jobs.complete(job.id, "w").await.unwrap();
    let chunks: Vec<Chunk> = (0..3)
        .map(|i| Chunk {
            id: ChunkId::derive(id, i),
            document_id: id,
            user_id: user,
            chat_id: chat,
            index: i,
            page: 1,
            page_label: None,
            heading: None,
            char_start: 0,
            char_end: 5,
            text: format!("chunk {i}"),
        })
        .collect();
    documents
        .replace_chunks(user, id, chunks.clone())
        .await
        .unwrap();
    documents
        .complete(user, id, completion(1, 3), now)
        .await
        .unwrap();
    let point = |chunk_id: ChunkId| VectorPoint {
        chunk_id,
        user_id: user,
        chat_id: chat,
        document_id: id,
        dense: embedder.embed_one("chunk"),
        sparse: SparseVector::default(),
    };
    let orphan = ChunkId::derive(DocumentId::new(), 0);
    index
        .upsert(vec![
            point(chunks[0].id),
            point(chunks[1].id),
            point(orphan),
        ])
        .await
        .unwrap();

    let report = kb.reconcile().await.unwrap();
    assert_eq!(report.vectors_checked, 3);
    assert_eq!(report.orphan_vectors_removed, 1);
    assert_eq!(report.chunks_checked, 3);
    assert_eq!(report.documents_requeued, 1);
    assert_eq!(index.retrieve(user, &[orphan]).await.unwrap(), vec![]);
    assert_eq!(index.count(Scope::user(user)).await.unwrap(), 2);
    let doc = documents.find(user, id).await.unwrap().unwrap();
    assert_eq!(doc.status, DocumentStatus::Pending);
    assert!(
        jobs.claim(
            "w",
            chrono::Utc::now(),
            chrono::Utc::now(),
            flashforge_domain::knowledge::Fairness::default(),
        )
        .await
        .unwrap()
        .is_some()
    );
    // Nothing left to repair: a second pass changes nothing.
    documents
        .complete(user, id, completion(1, 3), now)
        .await
        .unwrap();
    index.upsert(vec![point(chunks[2].id)]).await.unwrap();
    let again = kb.reconcile().await.unwrap();
    assert_eq!(
        (again.orphan_vectors_removed, again.documents_requeued),
        (0, 0)
    );
}

/// A hundred and twenty mutated PDFs (truncations and byte flips of the corpus) go through the
/// whole pipeline: every one ends `completed` or `failed` with a reason — none crashes the
/// process, none stays stuck.
#[tokio::test]
async fn mutated_pdfs_each_end_completed_or_failed() {
    // The parser is under test here: mutants whose pages lost their text would go to OCR (and
    // queue up behind its seconds per page); tests/api/formats.rs covers OCR. All 120 are
    // uploaded before the worker has read most of them, so the queue may hold more than the
    // default 100 jobs a user may have waiting (that quota has its own tests).
    let app = spawn_app_configured(
        Backend::Memory,
        Default::default(),
        &[
            ("FLASHFORGE__KNOWLEDGE__OCR_ENABLED", "false"),
            ("FLASHFORGE__QUOTAS__QUEUED_JOBS", "200"),
        ],
    )
    .await;
    let token = app.signed_up("fuzzer").await.access;
    let chat = app.create_chat(&token, "Mutants").await;
    let sources = [
        "single-column.pdf",
        "two-column-gs.pdf",
        "unicode.pdf",
        "table.pdf",
        "groff.pdf",
        "headings.pdf",
    ];
    let originals: Vec<Vec<u8>> = sources.iter().map(|name| fixture(name)).collect();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut ids = Vec::new();
    for i in 0..120 {
        let mut bytes = originals[i % originals.len()].clone();
        match i % 3 {
            0 => bytes.truncate(16 + (next() as usize) % (bytes.len() - 16)),
            1 => {
                for _ in 0..(1 + next() % 16) {
                    let at = 8 + (next() as usize) % (bytes.len() - 8);
                    bytes[at] = next() as u8;
                }
            }
            _ => {
                let at = 8 + (next() as usize) % (bytes.len() - 8);
                let len = (next() as usize % 200).min(bytes.len() - at);
                for b in &mut bytes[at..at + len] {
                    *b = next() as u8;
                }
            }
        }
        let response = upload(&app, &token, &chat, &format!("mutant-{i}.pdf"), bytes).await;
        let status = response.status().as_u16();
        // Identical mutants (rare) answer 200 with the first; everything else is accepted.
        assert!(status == 202 || status == 200, "mutant {i}: {status}");
        let doc: Value = response.json().await.unwrap();
        ids.push(id_of(&doc).to_string());
    }
    let (mut completed, mut failed) = (0, 0);
    let mut slowest = (Duration::ZERO, String::new());
    for id in &ids {
        let waited = Instant::now();
        let doc = settled(&app, &token, &chat, id).await;
        if waited.elapsed() > slowest.0 {
            slowest = (waited.elapsed(), text_of(&doc, "file_name").to_string());
        }
        match text_of(&doc, "status") {
            "completed" => completed += 1,
            _ => {
                assert!(
                    !doc["error"].as_str().unwrap_or_default().is_empty(),
                    "{doc}"
                );
                failed += 1;
            }
        }
    }
    assert_eq!(completed + failed, ids.len());
    // Still serving.
    assert_eq!(app.get("/health/live").await.status(), 200);
    println!(
        "mutants: {completed} completed, {failed} failed with a reason; slowest {} ({:?})",
        slowest.1, slowest.0
    );
}

/// A completion of `pages` pages and `chunks` chunks, without a title or a language.
fn completion(pages: u32, chunks: u32) -> flashforge_domain::knowledge::Completion {
    flashforge_domain::knowledge::Completion {
        pages_total: pages,
        chunk_count: chunks,
        ..Default::default()
    }
}
