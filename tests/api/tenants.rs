//! No tenant can take the service down: every document is bounded while it is read, a failed
//! document keeps nothing half-indexed — on every backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_configured};
use crate::knowledge::{HookedEmbedder, fixture, ingested, search};

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

on_every_backend!(
    a_job_past_its_time_limit_fails_and_frees_the_worker,
    a_page_per_form_feed_fails_at_once_naming_the_limit,
    every_extraction_limit_fails_the_document_with_its_reason,
    a_document_that_fails_part_way_keeps_nothing_half_indexed,
);
