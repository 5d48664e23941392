//! No tenant can take the service down: every document is bounded while it is read, a failed
//! document keeps nothing half-indexed — on every backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::flashcards::post;
use crate::helpers::{Backend, TestApp, problem, spawn_app, spawn_app_configured};
use crate::knowledge::{HookedEmbedder, fixture, ingested, search, upload};

/// Every chunk of a document, through the API.
async fn chunk_count(app: &TestApp, token: &str, chat: &str, id: &str) -> usize {
    crate::helpers::every_page(
        app,
        token,
        &format!("/api/v1/chats/{chat}/documents/{id}/chunks"),
        200,
    )
    .await
    .len()
}

/// The failure seen on `make run`: a 2 MiB text file of one letter per form feed made a
/// document of 1,048,577 pages and held the worker for hours. It now fails at once, naming the
/// limit and the value.
async fn a_page_per_form_feed_fails_at_once_naming_the_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("formfeeds").await.access;
    let chat = app.create_chat(&token, "Feeds").await;
    let started = Instant::now();
    let doc = ingested(
        &app,
        &token,
        &chat,
        "feeds.txt",
        "a\u{c}".repeat(1_048_576).into_bytes(),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(doc["status"], "failed", "{doc}");
    assert_eq!(
        doc["error"], "the file has 1,048,577 pages; the limit is 5,000",
        "{doc}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let id = doc["id"].as_str().unwrap();
    assert_eq!(chunk_count(&app, &token, &chat, id).await, 0);

    // The worker is free: the next upload completes.
    let next = ingested(
        &app,
        &token,
        &chat,
        "next.txt",
        b"Photosynthesis fixes carbon.".to_vec(),
    )
    .await;
    assert_eq!(next["status"], "completed", "{next}");
}

/// Each limit, lowered, fails a document that passes it and names it: pages of a PDF,
/// characters in all, on one page, and chunks.
async fn every_extraction_limit_fails_the_document_with_its_reason(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        Default::default(),
        &[
            ("FLASHFORGE__KNOWLEDGE__MAX_PAGES", "50"),
            ("FLASHFORGE__KNOWLEDGE__MAX_CHARS", "3000"),
            ("FLASHFORGE__KNOWLEDGE__MAX_PAGE_CHARS", "2000"),
            ("FLASHFORGE__KNOWLEDGE__MAX_CHUNKS", "4"),
            ("FLASHFORGE__KNOWLEDGE__CHUNK_TOKENS", "32"),
            ("FLASHFORGE__KNOWLEDGE__CHUNK_OVERLAP_TOKENS", "0"),
        ],
    )
    .await;
    let token = app.signed_up("limited").await.access;
    let chat = app.create_chat(&token, "Limits").await;
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "long.pdf",
            fixture("long-100.pdf"),
            "the file has 100 pages; the limit is 50",
        ),
        (
            "total.txt",
            format!("{}\u{c}{}", "x".repeat(1600), "y".repeat(1600)).into_bytes(),
            "the file has 3,200 characters of text; the limit is 3,000",
        ),
        (
            "page.txt",
            format!("short\u{c}{}", "z".repeat(2001)).into_bytes(),
            "page 2 has 2,001 characters of text; the limit per page is 2,000",
        ),
        (
            "chunks.txt",
            "Mitochondria make energy. ".repeat(70).into_bytes(),
            "the file makes more than 4 passages to index; the limit is 4",
        ),
    ];
    for (name, bytes, reason) in cases {
        let doc = ingested(&app, &token, &chat, name, bytes).await;
        assert_eq!(doc["status"], "failed", "{name}: {doc}");
        assert_eq!(doc["error"], reason, "{name}");
        let id = doc["id"].as_str().unwrap();
        assert_eq!(chunk_count(&app, &token, &chat, id).await, 0, "{name}");
    }
    // Under every limit: completed.
    let fine = ingested(
        &app,
        &token,
        &chat,
        "fine.txt",
        b"Ribosomes build proteins.".to_vec(),
    )
    .await;
    assert_eq!(fine["status"], "completed", "{fine}");
}

/// An ingestion that gets part-way (some batches embedded, indexed and stored) and then fails
/// for good leaves none of its passages behind: not listed, not found.
async fn a_document_that_fails_part_way_keeps_nothing_half_indexed(backend: Backend) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let hooks = HookedEmbedder::hooks(move || {
        // The first batch goes through; every later one fails.
        let call = counted.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if call == 0 {
                Ok(())
            } else {
                Err(flashforge_domain::InfraError::unavailable(
                    "embedding server went away",
                ))
            }
        })
    });
    let app = spawn_app_configured(
        backend,
        hooks,
        &[
            ("FLASHFORGE__KNOWLEDGE__MAX_ATTEMPTS", "1"),
            ("FLASHFORGE__KNOWLEDGE__EMBED_BATCH", "2"),
            ("FLASHFORGE__KNOWLEDGE__CHUNK_TOKENS", "16"),
            ("FLASHFORGE__KNOWLEDGE__CHUNK_OVERLAP_TOKENS", "0"),
        ],
    )
    .await;
    let token = app.signed_up("partway").await.access;
    let chat = app.create_chat(&token, "Part way").await;
    let text = "Chloroplasts capture sunlight for photosynthesis in leaves. ".repeat(12);
    let doc = ingested(&app, &token, &chat, "part.txt", text.into_bytes()).await;
    assert_eq!(doc["status"], "failed", "{doc}");
    assert!(calls.load(Ordering::SeqCst) >= 2, "it got part-way");
    let id = doc["id"].as_str().unwrap();
    assert_eq!(chunk_count(&app, &token, &chat, id).await, 0);
    let hits = search(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/search?q=chloroplasts%20sunlight&mode=keyword"),
    )
    .await;
    assert_eq!(hits["hits"].as_array().unwrap().len(), 0, "{hits}");
    // A failed document is still there to retry or delete.
    let response = app
        .authed(
            Method::GET,
            &format!("/api/v1/chats/{chat}/documents/{id}"),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let _: Value = response.json().await.unwrap();
}

/// A job that runs past its kind's wall-clock limit fails with that reason and frees its
/// worker: the next upload is processed.
async fn a_job_past_its_time_limit_fails_and_frees_the_worker(backend: Backend) {
    let stuck = Arc::new(AtomicUsize::new(1));
    let left = stuck.clone();
    let hooks = HookedEmbedder::hooks(move || {
        // The first embedding call never ends; later ones do.
        let hang = left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        Box::pin(async move {
            if hang {
                std::future::pending::<()>().await;
            }
            Ok(())
        })
    });
    let app = spawn_app_configured(
        backend,
        hooks,
        &[
            ("FLASHFORGE__WORKER__INGEST_TIMEOUT_SECS", "1"),
            ("FLASHFORGE__WORKER__CONCURRENCY", "1"),
        ],
    )
    .await;
    let token = app.signed_up("slowpoke").await.access;
    let chat = app.create_chat(&token, "Slow").await;
    let started = Instant::now();
    let doc = ingested(
        &app,
        &token,
        &chat,
        "stuck.txt",
        b"Enzymes lower activation energy.".to_vec(),
    )
    .await;
    assert_eq!(doc["status"], "failed", "{doc}");
    assert_eq!(
        doc["error"], "processing took longer than the limit of 1 second",
        "{doc}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let next = ingested(
        &app,
        &token,
        &chat,
        "next.txt",
        b"Catalysts are not consumed.".to_vec(),
    )
    .await;
    assert_eq!(next["status"], "completed", "{next}");
}

/// `quota` of the caller's usage report.
async fn quota_use(app: &TestApp, token: &str, name: &str) -> Value {
    let usage = app.get_json("/api/v1/me/usage", token).await;
    usage["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {usage}"))
        .clone()
}

/// Checks a 403 `quota_exceeded` answer and what it says of the quota.
async fn over_quota(response: reqwest::Response, name: &str, limit: u64, used: u64, adding: u64) {
    let body = problem(response, 403).await;
    assert_eq!(body["code"], "quota_exceeded", "{body}");
    assert_eq!(body["type"], "urn:flashforge:problem:quota_exceeded");
    assert_eq!(
        body["quota"],
        json!({"name": name, "limit": limit, "used": used, "adding": adding}),
        "{body}"
    );
}

/// Documents, stored bytes and cards each have a quota: a write past one is refused whole with
/// 403 `quota_exceeded` naming it, nothing of it is stored, and room given back by a delete can
/// be used again. A duplicate upload is not a new document and does not count.
async fn quotas_refuse_whole_writes_and_name_the_quota(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        Default::default(),
        &[
            ("FLASHFORGE__QUOTAS__DOCUMENTS", "2"),
            ("FLASHFORGE__QUOTAS__STORAGE_MB", "1"),
            ("FLASHFORGE__QUOTAS__CARDS", "3"),
        ],
    )
    .await;
    let token = app.signed_up("quota.keeper").await.access;
    let chat = app.create_chat(&token, "Quotas").await;
    assert_eq!(
        quota_use(&app, &token, "documents").await,
        json!({"name": "documents", "used": 0, "limit": 2})
    );
    assert_eq!(
        quota_use(&app, &token, "queued_jobs").await["limit"],
        100,
        "the default"
    );

    let a = ingested(&app, &token, &chat, "a.txt", b"Alpha particles.".to_vec()).await;
    let b = ingested(&app, &token, &chat, "b.txt", b"Beta decay.".to_vec()).await;
    over_quota(
        upload(&app, &token, &chat, "c.txt", b"Gamma rays.".to_vec()).await,
        "documents",
        2,
        2,
        1,
    )
    .await;
    // The same bytes again are the existing document, not a new one.
    let again = upload(
        &app,
        &token,
        &chat,
        "a-again.txt",
        b"Alpha particles.".to_vec(),
    )
    .await;
    assert_eq!(again.status(), 200);
    let listed =
        crate::helpers::every_page(&app, &token, &format!("/api/v1/chats/{chat}/documents"), 50)
            .await;
    assert_eq!(listed.len(), 2, "nothing stored past the quota");

    // Room given back, then the bytes quota: 1 MiB.
    let b_id = b["id"].as_str().unwrap();
    let gone = app
        .authed(
            Method::DELETE,
            &format!("/api/v1/chats/{chat}/documents/{b_id}"),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let a_bytes = a["size_bytes"].as_u64().unwrap();
    let big = "Delta ".repeat(1024 * 1024 / 6 + 100).into_bytes();
    let big_len = big.len() as u64;
    over_quota(
        upload(&app, &token, &chat, "big.txt", big).await,
        "storage_bytes",
        1024 * 1024,
        a_bytes,
        big_len,
    )
    .await;
    assert_eq!(
        quota_use(&app, &token, "storage_bytes").await,
        json!({"name": "storage_bytes", "used": a_bytes, "limit": 1024 * 1024})
    );
    let small = upload(&app, &token, &chat, "c.txt", b"Gamma rays.".to_vec()).await;
    assert_eq!(small.status(), 202);

    // Cards: two, then a bulk of two is refused whole, so is an import; one more fits.
    let cards = format!("/api/v1/chats/{chat}/flashcards");
    let card = |q: &str| json!({"question": q, "answer": "yes"});
    for q in ["One?", "Two?"] {
        assert_eq!(post(&app, &token, &cards, card(q)).await.status(), 201);
    }
    over_quota(
        post(
            &app,
            &token,
            &format!("{cards}/bulk"),
            json!({"cards": [card("Three?"), card("Four?")]}),
        )
        .await,
        "cards",
        3,
        2,
        2,
    )
    .await;
    let import = app
        .authed(Method::POST, &format!("{cards}/import"), &token)
        .header("content-type", "text/csv")
        .body("question,answer\nThree?,yes\nFour?,yes\n")
        .send()
        .await
        .unwrap();
    over_quota(import, "cards", 3, 2, 2).await;
    let third = post(&app, &token, &cards, card("Three?")).await;
    assert_eq!(third.status(), 201);
    let third: Value = third.json().await.unwrap();
    over_quota(
        post(&app, &token, &cards, card("Four?")).await,
        "cards",
        3,
        3,
        1,
    )
    .await;
    let listed = crate::helpers::every_page(&app, &token, &cards, 50).await;
    assert_eq!(listed.len(), 3);
    let id = third["id"].as_str().unwrap();
    let deleted = app
        .authed(Method::DELETE, &format!("/api/v1/flashcards/{id}"), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        post(&app, &token, &cards, card("Four?")).await.status(),
        201
    );
    assert_eq!(
        quota_use(&app, &token, "cards").await,
        json!({"name": "cards", "used": 3, "limit": 3})
    );
    // Another user has quotas of their own.
    let other = app.signed_up("quota.other").await.access;
    let theirs = app.create_chat(&other, "Theirs").await;
    let response = post(
        &app,
        &other,
        &format!("/api/v1/chats/{theirs}/flashcards"),
        card("Mine?"),
    )
    .await;
    assert_eq!(response.status(), 201);
}

/// Jobs waiting or running, and the passages of a user's documents, have quotas too: an upload
/// while the quota of jobs is used is refused; a document whose passages would pass the quota
/// fails with the quota as its reason and keeps none.
async fn queued_jobs_and_passages_have_quotas_too(backend: Backend) {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let waiting = gate.clone();
    let hooks = HookedEmbedder::hooks(move || {
        let gate = waiting.clone();
        Box::pin(async move {
            drop(gate.acquire().await.expect("the gate stays open"));
            Ok(())
        })
    });
    let app = spawn_app_configured(
        backend,
        hooks,
        &[
            ("FLASHFORGE__QUOTAS__QUEUED_JOBS", "1"),
            ("FLASHFORGE__QUOTAS__CHUNKS", "3"),
            ("FLASHFORGE__KNOWLEDGE__CHUNK_TOKENS", "16"),
            ("FLASHFORGE__KNOWLEDGE__CHUNK_OVERLAP_TOKENS", "0"),
        ],
    )
    .await;
    let token = app.signed_up("queue.keeper").await.access;
    let chat = app.create_chat(&token, "Queue").await;
    let first = upload(&app, &token, &chat, "one.txt", b"Mitosis.".to_vec()).await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    over_quota(
        upload(&app, &token, &chat, "two.txt", b"Meiosis.".to_vec()).await,
        "queued_jobs",
        1,
        1,
        1,
    )
    .await;
    gate.add_permits(1_000);
    let done = crate::knowledge::settled(&app, &token, &chat, first["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    let long = "Ribosomes translate messenger RNA into proteins. ".repeat(10);
    let failed = ingested(&app, &token, &chat, "long.txt", long.into_bytes()).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let reason = failed["error"].as_str().unwrap();
    assert!(
        reason.starts_with("this would pass your quota of 3 passages: you have 1 and this adds"),
        "{reason}"
    );
    let id = failed["id"].as_str().unwrap();
    assert_eq!(chunk_count(&app, &token, &chat, id).await, 0);
    assert_eq!(
        quota_use(&app, &token, "chunks").await,
        json!({"name": "chunks", "used": 1, "limit": 3})
    );
}

on_every_backend!(
    quotas_refuse_whole_writes_and_name_the_quota,
    queued_jobs_and_passages_have_quotas_too,
    a_job_past_its_time_limit_fails_and_frees_the_worker,
    a_page_per_form_feed_fails_at_once_naming_the_limit,
    every_extraction_limit_fails_the_document_with_its_reason,
    a_document_that_fails_part_way_keeps_nothing_half_indexed,
);
