//! No tenant can take the service down: every document is bounded while it is read, a failed
//! document keeps nothing half-indexed — on every backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::flashcards::post;
use crate::helpers::{
    Backend, TestApp, array_of, id_of, problem, spawn_app, spawn_app_configured, text_of,
};
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
    let id = id_of(&doc);
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
        let id = id_of(&doc);
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
    let id = id_of(&doc);
    assert_eq!(chunk_count(&app, &token, &chat, id).await, 0);
    let hits = search(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/search?q=chloroplasts%20sunlight&mode=keyword"),
    )
    .await;
    assert_eq!(array_of(&hits, "hits").len(), 0, "{hits}");
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
    array_of(&usage, "quotas")
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
    let b_id = id_of(&b);
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
    let id = id_of(&third);
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

/// Simultaneous creates of one user, singles and bulks, share the card quota exactly: each is
/// stored whole (201) or refused whole (403 `quota_exceeded`), the quota is filled and never
/// passed, and what was stored is what is listed and counted.
async fn simultaneous_creates_share_the_card_quota_exactly(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        Default::default(),
        &[("FLASHFORGE__QUOTAS__CARDS", "10")],
    )
    .await;
    let token = app.signed_up("quota.racer").await.access;
    let chat = app.create_chat(&token, "Race").await;
    let cards = format!("/api/v1/chats/{chat}/flashcards");
    let bulk = format!("{cards}/bulk");
    let card = |i: usize| json!({"question": format!("Card {i}?"), "answer": "yes"});
    let writes = (0..16).map(|i| {
        let (app, token) = (&app, &token);
        let (path, body, size) = if i % 4 == 0 {
            (
                &bulk,
                json!({"cards": [card(i), card(i + 100), card(i + 200)]}),
                3,
            )
        } else {
            (&cards, card(i), 1)
        };
        async move { (post(app, token, path, body).await, size) }
    });
    let mut stored = 0;
    for (response, size) in futures_util::future::join_all(writes).await {
        match response.status().as_u16() {
            201 => stored += size,
            403 => {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["code"], "quota_exceeded", "{body}");
            }
            other => panic!("a create answered {other}"),
        }
    }
    // Twelve singles ask for more than the room: one of them refused means the quota was full.
    assert_eq!(stored, 10, "the quota is filled exactly");
    let listed = crate::helpers::every_page(&app, &token, &cards, 50).await;
    assert_eq!(listed.len(), stored);
    assert_eq!(
        quota_use(&app, &token, "cards").await,
        json!({"name": "cards", "used": stored, "limit": 10})
    );
}

/// Jobs waiting or running, and the passages of a user's documents, have quotas too: an upload
/// while the quota of jobs is used is refused; a document whose passages would pass the quota
/// fails with the quota as its reason and keeps none.
async fn queued_jobs_and_passages_have_quotas_too(backend: Backend) {
    let (hooks, gate) = HookedEmbedder::gated();
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
    let done = crate::knowledge::settled(&app, &token, &chat, id_of(&first)).await;
    assert_eq!(done["status"], "completed", "{done}");
    let long = "Ribosomes translate messenger RNA into proteins. ".repeat(10);
    let failed = ingested(&app, &token, &chat, "long.txt", long.into_bytes()).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let reason = text_of(&failed, "error");
    assert!(
        reason.starts_with("this would pass your quota of 3 passages: you have 1 and this adds"),
        "{reason}"
    );
    let id = id_of(&failed);
    assert_eq!(chunk_count(&app, &token, &chat, id).await, 0);
    assert_eq!(
        quota_use(&app, &token, "chunks").await,
        json!({"name": "chunks", "used": 1, "limit": 3})
    );
}

/// While a large document is ingested (thousands of passages written batch by batch), another
/// user's writes all succeed, with a p99 well under a second.
async fn a_neighbours_writes_stay_fast_during_a_large_ingestion(backend: Backend) {
    // The embedder waits at a gate the test opens once it has seen the document `processing`
    // for three rounds: the neighbour's writes overlap the ingestion however fast the machine.
    let (hooks, gate) = HookedEmbedder::gated();
    let app = spawn_app_configured(
        backend,
        hooks,
        &[
            ("FLASHFORGE__KNOWLEDGE__CHUNK_TOKENS", "16"),
            ("FLASHFORGE__KNOWLEDGE__CHUNK_OVERLAP_TOKENS", "0"),
        ],
    )
    .await;
    let owner = app.signed_up("big.reader").await.access;
    let chat = app.create_chat(&owner, "Big").await;
    // About 6,000 passages of 16 tokens.
    let text: String = (0..6000)
        .map(|i| format!("Sentence {i} tells of cells and their parts. "))
        .collect();
    let response = upload(&app, &owner, &chat, "big.txt", text.into_bytes()).await;
    assert_eq!(response.status(), 202);
    let doc: Value = response.json().await.unwrap();
    let path = format!("/api/v1/chats/{chat}/documents/{}", id_of(&doc));

    let neighbour = app.signed_up("neighbour").await.access;
    let their_chat = app.create_chat(&neighbour, "Mine").await;
    let cards = format!("/api/v1/chats/{their_chat}/flashcards");
    let mut latencies = Vec::new();
    let mut during = 0;
    let started = Instant::now();
    let settled = loop {
        let status = text_of(&app.get_json(&path, &owner).await, "status").to_string();
        if status == "completed" || status == "failed" {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "still {status}"
        );
        if status == "processing" {
            during += 1;
            if during == 3 {
                gate.add_permits(1);
            }
        }
        for (i, write) in [
            post(
                &app,
                &neighbour,
                &cards,
                json!({"question": "Q?", "answer": "A"}),
            ),
            post(
                &app,
                &neighbour,
                "/api/v1/chats",
                json!({"name": "Another"}),
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let sent = Instant::now();
            let response = write.await;
            latencies.push(sent.elapsed());
            assert!(
                response.status().is_success(),
                "write {i} answered {}",
                response.status()
            );
        }
    };
    assert_eq!(settled, "completed");
    assert!(
        during >= 3,
        "the writes ran while it was processed ({during} rounds)"
    );
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    println!(
        "{backend:?}: {} neighbour writes during the ingestion, p99 {p99:?}",
        latencies.len()
    );
    assert!(p99 < Duration::from_secs(1), "p99 {p99:?}");
}

/// SQLite: a write that finds another connection holding the write lock past the busy timeout
/// answers 503 with `Retry-After` — never 500 — and works once the lock is gone.
#[tokio::test]
async fn a_busy_sqlite_database_is_503_with_retry_after_not_500() {
    let app = spawn_app_configured(
        Backend::Sqlite,
        Default::default(),
        &[("FLASHFORGE__DATABASE__BUSY_TIMEOUT_MS", "200")],
    )
    .await;
    let token = app.signed_up("busy.bee").await.access;
    let url = app.storage().database_url().unwrap();
    let holder = flashforge_sql::connect(&url, &Default::default())
        .await
        .unwrap();
    let lock = holder.get_sqlite_connection_pool().acquire().await;
    let mut lock = lock.unwrap();
    use flashforge_sql::sea_orm::sqlx::Executor;
    lock.execute("BEGIN EXCLUSIVE").await.unwrap();
    let response = post(&app, &token, "/api/v1/chats", json!({"name": "Blocked"})).await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body = problem(response, 503).await;
    assert_eq!(body["code"], "dependency_unavailable");
    // Reading goes on meanwhile (WAL).
    let chats = app
        .authed(Method::GET, "/api/v1/chats", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(chats.status(), 200);
    lock.execute("COMMIT").await.unwrap();
    let response = post(&app, &token, "/api/v1/chats", json!({"name": "Free"})).await;
    assert_eq!(response.status(), 201);
}

/// A review cannot be dated before its card existed (nor, past the clock skew allowed, after
/// now): a backdated log would teach the optimizer a history that never happened.
async fn reviews_dated_before_their_card_existed_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("time.traveller").await.access;
    let chat = app.create_chat(&token, "Then").await;
    let card: Value = post(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/flashcards"),
        json!({"question": "When?", "answer": "Now"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = id_of(&card);
    let review = |at: chrono::DateTime<chrono::Utc>| {
        app.authed(
            Method::POST,
            &format!("/api/v1/flashcards/{id}/reviews"),
            &token,
        )
        .json(&json!({"rating": "good", "reviewed_at": at}))
        .send()
    };
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    let body = problem(review(yesterday).await.unwrap(), 422).await;
    assert_eq!(body["errors"][0]["field"], "reviewed_at");
    assert_eq!(
        body["errors"][0]["message"],
        "must not be before the card was created"
    );
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    problem(review(later).await.unwrap(), 422).await;
    let card_now = app
        .get_json(&format!("/api/v1/flashcards/{id}"), &token)
        .await;
    assert_eq!(card_now["reps"], 0, "nothing refused was applied");
    // A moment ahead (clock skew) is taken as now.
    let skewed = chrono::Utc::now() + chrono::Duration::seconds(30);
    let applied = review(skewed).await.unwrap();
    assert_eq!(applied.status(), 200);
    let applied: Value = applied.json().await.unwrap();
    let last: chrono::DateTime<chrono::Utc> =
        text_of(&applied, "last_reviewed_at").parse().unwrap();
    assert!(last <= chrono::Utc::now(), "{last} is in the future");
}

/// One optimization per user at a time, across instances: while another holds the user's slot
/// (here: another instance, through the shared Redis store) the request answers 409.
#[tokio::test]
async fn a_second_optimization_of_one_user_waits_for_the_first() {
    let Some(url) = crate::helpers::redis_or_skip().await else {
        return;
    };
    let prefix = format!("ff:test:{}:", uuid::Uuid::now_v7().simple());
    let app = spawn_app_configured(
        Backend::Memory,
        Default::default(),
        &[
            ("FLASHFORGE__RATE_LIMIT__REDIS_URL", url.as_str()),
            ("FLASHFORGE__RATE_LIMIT__KEY_PREFIX", prefix.as_str()),
        ],
    )
    .await;
    let tokens = app.signed_up("optimizer").await;
    let me = app.get_json("/api/v1/me", &tokens.access).await;
    let key = format!("{prefix}count:exclusive:optimize:user:{}", id_of(&me));
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let optimize = || {
        app.authed(Method::POST, "/api/v1/study/optimize", &tokens.access)
            .send()
    };
    // Another instance is optimizing this user.
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(1)
        .arg("EX")
        .arg(60)
        .query_async(&mut redis)
        .await
        .unwrap();
    let body = problem(optimize().await.unwrap(), 409).await;
    assert_eq!(body["code"], "optimization_running");
    // Done there: this one runs (and finds too few reviews), then frees the slot again.
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    let body = problem(optimize().await.unwrap(), 422).await;
    assert_eq!(body["errors"][0]["field"], "reviews", "{body}");
    let body = problem(optimize().await.unwrap(), 422).await;
    assert_eq!(
        body["errors"][0]["field"], "reviews",
        "the slot was given back: {body}"
    );
}

on_every_backend!(
    reviews_dated_before_their_card_existed_are_refused,
    a_neighbours_writes_stay_fast_during_a_large_ingestion,
    quotas_refuse_whole_writes_and_name_the_quota,
    simultaneous_creates_share_the_card_quota_exactly,
    queued_jobs_and_passages_have_quotas_too,
    a_job_past_its_time_limit_fails_and_frees_the_worker,
    a_page_per_form_feed_fails_at_once_naming_the_limit,
    every_extraction_limit_fails_the_document_with_its_reason,
    a_document_that_fails_part_way_keeps_nothing_half_indexed,
);
