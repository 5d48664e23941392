//! Flashcards through HTTP on every backend: CRUD, bulk create, filters, FSRS reviews with
//! idempotency, the due queue, and deletion with the chat.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, array_of, body_of, fields_of, id_of, items_of, problem, spawn_app, text_of,
};

pub async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.authed(Method::POST, path, token)
        .json(&body)
        .send()
        .await
        .expect("request sent")
}

/// Reviews `card` with `rating` (4.2 s spent), under an idempotency key if one is given.
async fn review_card(
    app: &TestApp,
    token: &str,
    card: &str,
    rating: &str,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .authed(
            Method::POST,
            &format!("/api/v1/flashcards/{card}/reviews"),
            token,
        )
        .json(&json!({"rating": rating, "duration_ms": 4200}));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

async fn cards_are_created_listed_edited_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("carder").await.access;
    let chat = app.create_chat(&token, "Biology").await;
    let doc = crate::knowledge::ingested(
        &app,
        &token,
        &chat,
        "notes.md",
        crate::knowledge::NOTES.as_bytes().to_vec(),
    )
    .await;
    let document = id_of(&doc);
    let card = app
        .create_card(
            &token,
            &chat,
            json!({
                "question": "  What do **mitochondria** produce?  ",
                "answer": "ATP",
                "tags": ["Cells", "energy", "cells"],
                "source": {"document_id": document, "page": 3, "quote": "Mitochondria produce ATP."}
            }),
        )
        .await;
    assert_eq!(card["question"], "What do **mitochondria** produce?");
    assert_eq!(card["tags"], json!(["cells", "energy"]));
    assert_eq!(card["state"], "new");
    assert_eq!(card["reps"], 0);
    assert_eq!(card["stability"], Value::Null);
    assert_eq!(card["source"]["document_id"], document);
    assert_eq!(card["source"]["page"], 3);
    assert_eq!(card["source_status"], "available");
    assert_eq!(card["next_intervals"]["again"], 60);
    assert_eq!(card["next_intervals"]["good"], 600);
    assert!(card["next_intervals"]["easy"].as_i64().unwrap() >= 86_400);
    let id = id_of(&card);

    let got = app
        .get_json(&format!("/api/v1/flashcards/{id}"), &token)
        .await;
    assert_eq!(got["id"], id);

    let edited = app
        .authed(Method::PATCH, &format!("/api/v1/flashcards/{id}"), &token)
        .json(&json!({"answer": "ATP (adenosine triphosphate)", "suspended": true, "source": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), 200);
    let edited: Value = body_of(edited).await;
    assert_eq!(edited["answer"], "ATP (adenosine triphosphate)");
    assert_eq!(edited["question"], card["question"]);
    assert_eq!(edited["suspended"], true);
    assert_eq!(edited["source"], Value::Null);
    assert_eq!(edited["source_status"], Value::Null);

    let bad = app
        .authed(Method::PATCH, &format!("/api/v1/flashcards/{id}"), &token)
        .json(&json!({"question": "   ", "tags": ["no spaces allowed"]}))
        .send()
        .await
        .unwrap();
    let body = problem(bad, 422).await;
    let fields = fields_of(&body);
    assert_eq!(fields, ["question", "tags"]);

    let deleted = app
        .authed(Method::DELETE, &format!("/api/v1/flashcards/{id}"), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = app
        .authed(Method::GET, &format!("/api/v1/flashcards/{id}"), &token)
        .send()
        .await
        .unwrap();
    problem(gone, 404).await;
}

async fn a_listed_cards_source_reads_missing_once_its_document_is_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("sourcer").await.access;
    let chat = app.create_chat(&token, "Sources").await;
    let mut documents = Vec::new();
    for name in ["kept.md", "deleted.md"] {
        let text = format!("{}\n{name}", crate::knowledge::NOTES);
        let doc = crate::knowledge::ingested(&app, &token, &chat, name, text.into_bytes()).await;
        documents.push(id_of(&doc).to_string());
    }
    let mut questions = Vec::new();
    for (i, source) in [
        Some(&documents[0]),
        Some(&documents[1]),
        None,
        Some(&documents[1]),
    ]
    .into_iter()
    .enumerate()
    {
        let question = format!("Question {i}?");
        let mut body = json!({"question": question, "answer": "An answer"});
        if let Some(document) = source {
            body["source"] = json!({"document_id": document, "page": 1});
        }
        app.create_card(&token, &chat, body).await;
        questions.push(question);
    }
    let deleted = app
        .authed(
            Method::DELETE,
            &format!("/api/v1/chats/{chat}/documents/{}", documents[1]),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);

    let page = app
        .get_json(&format!("/api/v1/chats/{chat}/flashcards?limit=10"), &token)
        .await;
    let status: std::collections::HashMap<&str, &Value> = items_of(&page)
        .iter()
        .map(|c| (text_of(c, "question"), &c["source_status"]))
        .collect();
    assert_eq!(status.len(), 4);
    assert_eq!(status[questions[0].as_str()], "available");
    assert_eq!(status[questions[1].as_str()], "missing");
    assert_eq!(status[questions[2].as_str()], &Value::Null);
    assert_eq!(status[questions[3].as_str()], "missing");
}

/// Each limit on a card's fields answers 422 naming the field, and nothing is stored.
async fn card_fields_over_their_limits_are_422_by_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("limits.cards").await.access;
    let chat = app.create_chat(&token, "Limits").await;
    let doc = crate::knowledge::ingested(
        &app,
        &token,
        &chat,
        "notes.md",
        crate::knowledge::NOTES.as_bytes().to_vec(),
    )
    .await;
    let document = id_of(&doc);
    let card = app
        .create_card(&token, &chat, json!({"question": "kept?", "answer": "yes"}))
        .await;
    let tags: Vec<String> = (0..21).map(|i| format!("tag-{i}")).collect();
    let fine = json!({"question": "q?", "answer": "a", "source": {"document_id": document}});
    for (body, field) in [
        (
            json!({"question": "q?", "answer": "a", "tags": tags}),
            "tags",
        ),
        (
            json!({"question": "q?", "answer": "a", "source": {"document_id": document, "quote": "w".repeat(1001)}}),
            "source.quote",
        ),
        (
            json!({"question": "q?", "answer": "a", "source": {"document_id": document, "page": 0}}),
            "source.page",
        ),
        (
            json!({"question": "q?", "answer": "a".repeat(5001)}),
            "answer",
        ),
        (
            json!({"question": "q".repeat(2001), "answer": "a"}),
            "question",
        ),
    ] {
        let response = post(
            &app,
            &token,
            &format!("/api/v1/chats/{chat}/flashcards"),
            body,
        )
        .await;
        assert_eq!(fields_of(&problem(response, 422).await), [field]);
    }
    let bulk = post(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/flashcards/bulk"),
        json!({"cards": [fine, {"question": "q?", "answer": "a", "source": {"document_id": document, "page": 0}}]}),
    )
    .await;
    assert_eq!(
        fields_of(&problem(bulk, 422).await),
        ["cards[1].source.page"]
    );
    let review = post(
        &app,
        &token,
        &format!("/api/v1/flashcards/{}/reviews", id_of(&card)),
        json!({"rating": "good", "duration_ms": 24 * 3600 * 1000 + 1}),
    )
    .await;
    assert_eq!(fields_of(&problem(review, 422).await), ["duration_ms"]);

    let list = app
        .get_json(&format!("/api/v1/chats/{chat}/flashcards"), &token)
        .await;
    assert_eq!(items_of(&list).len(), 1, "nothing refused was stored");
    assert_eq!(
        list["items"][0]["reps"], 0,
        "the refused review was not applied"
    );
}

async fn bulk_create_is_all_or_nothing_and_lists_filter(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("bulker").await.access;
    let chat = app.create_chat(&token, "Bulk").await;
    let path = format!("/api/v1/chats/{chat}/flashcards/bulk");
    let bad = post(
        &app,
        &token,
        &path,
        json!({"cards": [
            {"question": "ok?", "answer": "yes"},
            {"question": "", "answer": "no question"},
            {"question": "long", "answer": "x".repeat(5001)}
        ]}),
    )
    .await;
    let body = problem(bad, 422).await;
    let fields = fields_of(&body);
    assert_eq!(fields, ["cards[1].question", "cards[2].answer"]);
    let list = app
        .get_json(&format!("/api/v1/chats/{chat}/flashcards"), &token)
        .await;
    assert_eq!(items_of(&list).len(), 0, "nothing was created");

    let too_many: Vec<Value> = (0..501)
        .map(|i| json!({"question": format!("q{i}"), "answer": "a"}))
        .collect();
    problem(
        post(&app, &token, &path, json!({"cards": too_many})).await,
        422,
    )
    .await;
    problem(post(&app, &token, &path, json!({"cards": []})).await, 422).await;

    let cards: Vec<Value> = (0..30)
        .map(|i| {
            let tag = if i % 3 == 0 { "krebs" } else { "other" };
            json!({"question": format!("Question {i} about the cycle"), "answer": format!("Answer {i}"), "tags": [tag]})
        })
        .collect();
    let created = post(&app, &token, &path, json!({"cards": cards})).await;
    assert_eq!(created.status(), 201);
    let created: Value = body_of(created).await;
    assert_eq!(items_of(&created).len(), 30);

    // Keyset pages, newest first, no overlap.
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/api/v1/chats/{chat}/flashcards?limit=7&cursor={c}"),
            None => format!("/api/v1/chats/{chat}/flashcards?limit=7"),
        };
        let page = app.get_json(&url, &token).await;
        for item in items_of(&page) {
            assert!(seen.insert(id_of(item).to_string()));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 30);

    let tagged = app
        .get_json(
            &format!("/api/v1/chats/{chat}/flashcards?tag=krebs&limit=200"),
            &token,
        )
        .await;
    assert_eq!(items_of(&tagged).len(), 10);
    let text = app
        .get_json(
            &format!("/api/v1/chats/{chat}/flashcards?text=ANSWER%2012"),
            &token,
        )
        .await;
    assert_eq!(items_of(&text).len(), 1);
    let percent = app
        .get_json(&format!("/api/v1/chats/{chat}/flashcards?text=%25"), &token)
        .await;
    assert_eq!(items_of(&percent).len(), 0, "% is a literal character");
    let new = app
        .get_json(
            &format!("/api/v1/chats/{chat}/flashcards?state=new&due=true&limit=200"),
            &token,
        )
        .await;
    assert_eq!(items_of(&new).len(), 30);
    for bad in ["state=old", "tag=a%20b", "limit=0", "text="] {
        let response = app
            .authed(
                Method::GET,
                &format!("/api/v1/chats/{chat}/flashcards?{bad}"),
                &token,
            )
            .send()
            .await
            .unwrap();
        problem(response, 422).await;
    }
}

async fn reviews_schedule_with_fsrs_and_apply_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("reviewer").await.access;
    let chat = app.create_chat(&token, "Study").await;
    let card = app
        .create_card(&token, &chat, json!({"question": "2+2?", "answer": "4"}))
        .await;
    let id = id_of(&card);
    let review = |rating: &'static str, key: Option<&'static str>| {
        let (app, token, id) = (&app, &token, id.to_string());
        async move { review_card(app, token, &id, rating, key).await }
    };

    let first = review("good", Some("r-1")).await;
    assert_eq!(first.status(), 200);
    let first: Value = body_of(first).await;
    assert_eq!(first["state"], "learning");
    assert_eq!(first["reps"], 1);
    assert!(first["stability"].as_f64().unwrap() > 0.0);
    let retried: Value = review("good", Some("r-1")).await.json().await.unwrap();
    assert_eq!(retried["reps"], 1, "a retried review applies once");
    assert_eq!(retried["due"], first["due"]);

    let graduated: Value = review("good", None).await.json().await.unwrap();
    assert_eq!(graduated["state"], "review");
    assert_eq!(graduated["reps"], 2);
    let lapse: Value = review("again", None).await.json().await.unwrap();
    assert_eq!(lapse["state"], "relearning");
    assert_eq!(lapse["lapses"], 1);

    // The same key on another card: a conflict, nothing applied.
    let other = app
        .create_card(&token, &chat, json!({"question": "3+3?", "answer": "6"}))
        .await;
    let reused = review_card(&app, &token, id_of(&other), "easy", Some("r-1")).await;
    problem(reused, 409).await;

    // Keys are the caller's own: another user's review with the same key is applied.
    let stranger = app.signed_up("reviewer.two").await.access;
    let their_chat = app.create_chat(&stranger, "Theirs").await;
    let theirs = app
        .create_card(
            &stranger,
            &their_chat,
            json!({"question": "4+4?", "answer": "8"}),
        )
        .await;
    let applied = review_card(&app, &stranger, id_of(&theirs), "good", Some("r-1")).await;
    assert_eq!(applied.status(), 200);
    assert_eq!(body_of::<Value>(applied).await["reps"], 1);

    problem(review("perfect", None).await, 422).await;
    let future = app
        .authed(
            Method::POST,
            &format!("/api/v1/flashcards/{id}/reviews"),
            &token,
        )
        .json(&json!({"rating": "good", "reviewed_at": "2100-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    problem(future, 422).await;
    let past = app
        .authed(
            Method::POST,
            &format!("/api/v1/flashcards/{id}/reviews"),
            &token,
        )
        .json(&json!({"rating": "good", "reviewed_at": "2000-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    problem(past, 422).await;
}

/// Reviews of one card sent at the same moment: each is applied whole or refused with 409
/// `review_conflict`; none is lost or applied on a stale schedule.
async fn simultaneous_reviews_apply_whole_or_answer_409(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("racer").await.access;
    let chat = app.create_chat(&token, "Race").await;
    let card = app
        .create_card(&token, &chat, json!({"question": "1+1?", "answer": "2"}))
        .await;
    let id = id_of(&card);
    let responses =
        futures_util::future::join_all((0..8).map(|_| review_card(&app, &token, id, "good", None)))
            .await;
    let mut applied = 0;
    for response in responses {
        match response.status().as_u16() {
            200 => applied += 1,
            409 => assert_eq!(problem(response, 409).await["code"], "review_conflict"),
            other => panic!("{other}: {}", response.text().await.unwrap()),
        }
    }
    assert!(applied >= 1);
    let after = app
        .get_json(&format!("/api/v1/flashcards/{}", id_of(&card)), &token)
        .await;
    assert_eq!(after["reps"], applied, "every applied review counted once");
    let stats = app.get_json("/api/v1/study/stats", &token).await;
    assert_eq!(
        stats["reviews_today"], applied,
        "one log entry per applied review"
    );
}

/// The card list filters by learning state and by being due now.
async fn the_card_list_filters_by_state_and_due(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("filterer").await.access;
    let chat = app.create_chat(&token, "States").await;
    let mut ids = Vec::new();
    for question in ["untouched?", "learning?", "known?", "forgotten?"] {
        let card = app
            .create_card(&token, &chat, json!({"question": question, "answer": "a"}))
            .await;
        ids.push(id_of(&card).to_string());
    }
    assert_eq!(
        review_card(&app, &token, &ids[1], "good", None)
            .await
            .status(),
        200
    );
    let known: Value = review_card(&app, &token, &ids[2], "easy", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(known["state"], "review");
    assert_eq!(
        review_card(&app, &token, &ids[3], "easy", None)
            .await
            .status(),
        200
    );
    let forgotten: Value = review_card(&app, &token, &ids[3], "again", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(forgotten["state"], "relearning");

    let questions = |query: &'static str| {
        let app = &app;
        let path = format!("/api/v1/chats/{chat}/flashcards?{query}");
        let token = token.clone();
        async move {
            let page = app.get_json(&path, &token).await;
            let mut got: Vec<String> = items_of(&page)
                .iter()
                .map(|c| text_of(c, "question").to_string())
                .collect();
            got.sort();
            got
        }
    };
    assert_eq!(questions("state=new").await, ["untouched?"]);
    assert_eq!(questions("state=learning").await, ["learning?"]);
    assert_eq!(questions("state=review").await, ["known?"]);
    assert_eq!(questions("state=relearning").await, ["forgotten?"]);
    // Learning and relearning steps are minutes away, a known card days: only the new one is due.
    assert_eq!(questions("due=true").await, ["untouched?"]);
    assert_eq!(
        questions("due=true&state=review").await,
        Vec::<String>::new()
    );
}

async fn the_due_queue_spans_chats_and_skips_suspended_and_future_cards(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("due").await.access;
    let a = app.create_chat(&token, "A").await;
    let b = app.create_chat(&token, "B").await;
    let in_a = app
        .create_card(&token, &a, json!({"question": "a?", "answer": "a"}))
        .await;
    app.create_card(&token, &b, json!({"question": "b?", "answer": "b"}))
        .await;
    app.create_card(
        &token,
        &b,
        json!({"question": "s?", "answer": "s", "suspended": true}),
    )
    .await;
    let later = app
        .create_card(&token, &b, json!({"question": "l?", "answer": "l"}))
        .await;
    // Easy sends it days ahead: not due now.
    let reviewed = app
        .authed(
            Method::POST,
            &format!("/api/v1/flashcards/{}/reviews", id_of(&later)),
            &token,
        )
        .json(&json!({"rating": "easy"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reviewed.status(), 200);

    let due = app.get_json("/api/v1/study/due", &token).await;
    let questions: Vec<&str> = items_of(&due)
        .iter()
        .map(|c| text_of(c, "question"))
        .collect();
    assert_eq!(questions, ["a?", "b?"]);
    let only_a = app
        .get_json(&format!("/api/v1/study/due?chat_id={a}"), &token)
        .await;
    assert_eq!(only_a["items"][0]["id"], in_a["id"]);
    assert_eq!(items_of(&only_a).len(), 1);
    let one = app.get_json("/api/v1/study/due?limit=1", &token).await;
    assert_eq!(items_of(&one).len(), 1);
    for bad in ["limit=0", "limit=501", "limit=x"] {
        let response = app
            .authed(Method::GET, &format!("/api/v1/study/due?{bad}"), &token)
            .send()
            .await
            .unwrap();
        problem(response, 422).await;
    }
    let other_user = app.signed_up("other.due").await.access;
    let response = app
        .authed(
            Method::GET,
            &format!("/api/v1/study/due?chat_id={a}"),
            &other_user,
        )
        .send()
        .await
        .unwrap();
    problem(response, 404).await;

    // Deleting the chat deletes its cards.
    let response = app
        .authed(Method::DELETE, &format!("/api/v1/chats/{a}"), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let response = app
        .authed(
            Method::GET,
            &format!("/api/v1/flashcards/{}", id_of(&in_a)),
            &token,
        )
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
}

async fn retention_settings_shape_intervals_and_stats_count_reviews(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("stats").await.access;
    let chat = app.create_chat(&token, "Stats").await;
    let settings = app.get_json("/api/v1/study/settings", &token).await;
    assert_eq!(settings["desired_retention"], 0.9);
    assert_eq!(settings["personalized"], false);

    // Two cards in review; the same history, then a higher desired retention for one user's
    // next intervals: shorter.
    let card = app
        .create_card(&token, &chat, json!({"question": "q", "answer": "a"}))
        .await;
    let id = id_of(&card);
    let review = |rating: &'static str| {
        let app = &app;
        let token = &token;
        async move {
            let response = app
                .authed(
                    Method::POST,
                    &format!("/api/v1/flashcards/{id}/reviews"),
                    token,
                )
                .json(&json!({"rating": rating}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            body_of::<Value>(response).await
        }
    };
    let easy = review("easy").await;
    let at_90 = easy["next_intervals"]["good"].as_i64().unwrap();
    for bad in [
        json!({"desired_retention": 0.5}),
        json!({"desired_retention": 1.0}),
    ] {
        let response = app
            .authed(Method::PATCH, "/api/v1/study/settings", &token)
            .json(&bad)
            .send()
            .await
            .unwrap();
        problem(response, 422).await;
    }
    let updated = app
        .authed(Method::PATCH, "/api/v1/study/settings", &token)
        .json(&json!({"desired_retention": 0.97}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let at_97 = app
        .get_json(&format!("/api/v1/flashcards/{id}"), &token)
        .await["next_intervals"]["good"]
        .as_i64()
        .unwrap();
    assert!(
        at_97 < at_90,
        "higher retention, shorter intervals: {at_97} vs {at_90}"
    );

    // A review of a card in review that is forgotten counts against true retention.
    let next = app
        .authed(
            Method::POST,
            &format!("/api/v1/flashcards/{id}/reviews"),
            &token,
        )
        .json(&json!({"rating": "again", "reviewed_at": easy["due"]}))
        .send()
        .await
        .unwrap();
    // The due time is in the future: a review "then" is refused; review now instead.
    assert_eq!(next.status(), 422);
    review("again").await;
    app.create_card(&token, &chat, json!({"question": "q2", "answer": "a2"}))
        .await;
    let stats = app.get_json("/api/v1/study/stats", &token).await;
    assert_eq!(stats["total_cards"], 2);
    assert_eq!(stats["new_cards"], 1);
    assert_eq!(stats["reviews_today"], 2);
    assert_eq!(array_of(&stats, "reviews_per_day").len(), 30);
    assert_eq!(stats["reviews_per_day"][29]["reviews"], 2);
    assert_eq!(stats["retention_reviews"], 1);
    assert_eq!(stats["true_retention"], 0.0);
    assert!((stats["desired_retention"].as_f64().unwrap() - 0.97).abs() < 1e-6);
    assert_eq!(
        stats["due_now"], 1,
        "the new card; the forgotten one is minutes away"
    );
    // The forgotten card counts as due today unless its step crosses UTC midnight.
    let forgotten = app
        .get_json(&format!("/api/v1/flashcards/{id}"), &token)
        .await;
    let due = chrono::DateTime::parse_from_rfc3339(text_of(&forgotten, "due")).unwrap();
    let today = due.date_naive() == chrono::Utc::now().date_naive();
    assert_eq!(stats["due_today"], if today { 2 } else { 1 });
    let other = app.signed_up("stats.other").await.access;
    let empty = app.get_json("/api/v1/study/stats", &other).await;
    assert_eq!(empty["total_cards"], 0);
    assert_eq!(empty["true_retention"], Value::Null);
}

async fn optimizing_needs_enough_reviews_and_says_how_many(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("optimizer").await.access;
    let response = app
        .authed(Method::POST, "/api/v1/study/optimize", &token)
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    assert_eq!(body["errors"][0]["field"], "reviews");
    assert!(
        text_of(&body["errors"][0], "message").contains("400 more"),
        "{body}"
    );
}

/// A clock a test moves by hand.
pub struct TestClock(parking_lot::Mutex<chrono::DateTime<chrono::Utc>>);

impl TestClock {
    pub fn at(at: chrono::DateTime<chrono::Utc>) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self(parking_lot::Mutex::new(at)))
    }
    pub fn set(&self, at: chrono::DateTime<chrono::Utc>) {
        *self.0.lock() = at;
    }
}

impl flashforge_domain::clock::Clock for TestClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        use chrono::SubsecRound;
        self.0.lock().trunc_subsecs(6)
    }
}

/// Four hundred reviews spread over months (the cards made five months ago, each review sent
/// with its `reviewed_at`), then the optimizer fits parameters that schedule the cards from
/// then on.
#[tokio::test]
async fn optimizing_a_long_review_log_personalizes_scheduling() {
    let start = chrono::Utc::now() - chrono::Duration::days(150);
    let clock = TestClock::at(chrono::Utc::now());
    let app = crate::helpers::spawn_app_with(
        Backend::Memory,
        flashforge::Hooks {
            clock: Some(clock.clone()),
            ..Default::default()
        },
    )
    .await;
    let token = app.signed_up("diligent").await.access;
    // The chat and its cards were made five months ago.
    clock.set(start);
    let chat = app.create_chat(&token, "Long haul").await;
    let cards: Vec<Value> = (0..100)
        .map(|i| json!({"question": format!("q{i}"), "answer": "a"}))
        .collect();
    let created: Value = post(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/flashcards/bulk"),
        json!({"cards": cards}),
    )
    .await
    .json()
    .await
    .unwrap();
    // The reviews reach the server now, made offline over the months before.
    clock.set(chrono::Utc::now());
    for (i, card) in items_of(&created).iter().enumerate() {
        let id = id_of(card);
        for (step, days) in [0i64, 1, 4, 13, 40].into_iter().enumerate() {
            let rating = if (i + step) % 7 == 0 { "again" } else { "good" };
            let at = start + chrono::Duration::days(days) + chrono::Duration::minutes(i as i64 + 1);
            let response = app
                .authed(
                    Method::POST,
                    &format!("/api/v1/flashcards/{id}/reviews"),
                    &token,
                )
                .json(&json!({"rating": rating, "reviewed_at": at}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    }
    let response = app
        .authed(Method::POST, "/api/v1/study/optimize", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let optimized: Value = body_of(response).await;
    assert_eq!(optimized["reviews_used"], 400);
    assert_eq!(optimized["settings"]["personalized"], true);
    let settings = app.get_json("/api/v1/study/settings", &token).await;
    assert_eq!(settings["personalized"], true);
    let card = app
        .get_json(
            &format!("/api/v1/flashcards/{}", id_of(&created["items"][1])),
            &token,
        )
        .await;
    assert!(card["next_intervals"]["good"].as_i64().unwrap() > 0);
}

/// The `.apkg` export opened as Anki opens it: a zip holding `collection.anki2` (SQLite) and
/// `media`; one note and one card per flashcard, in a deck named after the chat, the fields
/// rendered as HTML and separated by 0x1f, a reviewed card in review state.
async fn anki_package_holds_the_chats_cards(app: &TestApp, token: &str, chat: &str) {
    use flashforge_sql::sea_orm::{ConnectionTrait, Statement};
    use std::io::Read;

    // One card studied into the review state (good, good, easy).
    let cards = app
        .get_json(&format!("/api/v1/chats/{chat}/flashcards"), token)
        .await;
    let studied = items_of(&cards)
        .iter()
        .find(|c| c["question"] == "Second")
        .map(id_of)
        .unwrap()
        .to_string();
    for rating in ["good", "good", "easy"] {
        let response = post(
            app,
            token,
            &format!("/api/v1/flashcards/{studied}/reviews"),
            json!({"rating": rating}),
        )
        .await;
        assert_eq!(response.status(), 200);
    }
    let card = app
        .get_json(&format!("/api/v1/flashcards/{studied}"), token)
        .await;
    assert_eq!(card["state"], "review", "{card}");

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
    assert_eq!(response.headers()["content-type"], "application/vnd.anki");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .ends_with(".apkg\""),
    );
    let bytes = response.bytes().await.unwrap().to_vec();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
    let mut names: Vec<String> = archive
        .file_names()
        .map(|name| name.unwrap().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["collection.anki2", "media"]);
    let mut media = String::new();
    archive
        .by_name("media")
        .unwrap()
        .read_to_string(&mut media)
        .unwrap();
    assert_eq!(media, "{}");
    let (_dir, db) = crate::packages::open_collection(&bytes).await;
    let rows = |sql: &'static str| {
        let db = &db;
        async move {
            db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
        }
    };
    let col = rows("SELECT ver, decks, models FROM col").await;
    assert_eq!(col.len(), 1);
    assert_eq!(col[0].try_get::<i64>("", "ver").unwrap(), 11);
    let decks: Value =
        serde_json::from_str(&col[0].try_get::<String>("", "decks").unwrap()).unwrap();
    let deck = decks
        .as_object()
        .unwrap()
        .values()
        .find(|d| d["name"] == "CSV")
        .expect("a deck named after the chat");
    let models: Value =
        serde_json::from_str(&col[0].try_get::<String>("", "models").unwrap()).unwrap();
    let model_id: i64 = models
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .parse()
        .unwrap();

    let notes = rows("SELECT id, mid, flds, tags FROM notes ORDER BY id").await;
    assert_eq!(notes.len(), 2);
    let fields: Vec<String> = notes
        .iter()
        .map(|n| n.try_get::<String>("", "flds").unwrap())
        .collect();
    assert!(
        fields
            .iter()
            .any(|f| f.starts_with("What is &quot;ATP&quot;, briefly?\u{1f}")
                || f.starts_with("What is \"ATP\", briefly?\u{1f}")),
        "{fields:?}"
    );
    assert!(fields.iter().any(|f| f == "Second\u{1f}Two"), "{fields:?}");
    for note in &notes {
        assert_eq!(note.try_get::<i64>("", "mid").unwrap(), model_id);
    }
    assert!(
        notes
            .iter()
            .any(|n| n.try_get::<String>("", "tags").unwrap() == " cells energy "),
    );
    let cards = rows("SELECT nid, did, type, queue, ivl, reps FROM cards").await;
    assert_eq!(cards.len(), 2);
    let deck_id = deck["id"].as_i64().unwrap();
    for card in &cards {
        assert_eq!(card.try_get::<i64>("", "did").unwrap(), deck_id);
    }
    let reviewed: Vec<_> = cards
        .iter()
        .filter(|c| c.try_get::<i64>("", "type").unwrap() == 2)
        .collect();
    assert_eq!(reviewed.len(), 1, "the studied card is a review card");
    assert_eq!(reviewed[0].try_get::<i64>("", "queue").unwrap(), 2);
    assert!(reviewed[0].try_get::<i64>("", "ivl").unwrap() >= 1);
    assert_eq!(reviewed[0].try_get::<i64>("", "reps").unwrap(), 3);
}

/// Cells that a spreadsheet would run as a formula are exported with a leading `'` (OWASP CSV
/// injection) and come back as they were when imported.
async fn csv_cells_never_start_a_formula(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("csv.formula").await.access;
    let chat = app.create_chat(&token, "Formulas").await;
    let hostile = [
        ("=HYPERLINK(\"http://evil.example\",\"x\")", "+1"),
        ("@SUM(A1:A2)", "-5 degrees"),
        ("-1 + 2 = ?", "plain answer"),
    ];
    for (question, answer) in hostile {
        app.create_card(
            &token,
            &chat,
            json!({"question": question, "answer": answer}),
        )
        .await;
    }
    let exported = app
        .authed(
            Method::GET,
            &format!("/api/v1/chats/{chat}/flashcards/export?format=csv"),
            &token,
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(exported.as_bytes());
    for record in reader.records() {
        let record = record.unwrap();
        for cell in record.iter().filter(|c| !c.is_empty()) {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?} in {exported}"
            );
        }
    }
    assert!(exported.contains("'=HYPERLINK"), "{exported}");
    assert!(exported.contains("'-5 degrees"), "{exported}");

    let other = app.create_chat(&token, "Back").await;
    let report: Value = app
        .authed(
            Method::POST,
            &format!("/api/v1/chats/{other}/flashcards/import"),
            &token,
        )
        .header("Content-Type", "text/csv")
        .body(exported)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["imported"], 3, "{report}");
    let imported = app
        .get_json(&format!("/api/v1/chats/{other}/flashcards"), &token)
        .await;
    let mut pairs: Vec<(String, String)> = items_of(&imported)
        .iter()
        .map(|c| {
            (
                text_of(c, "question").to_string(),
                text_of(c, "answer").to_string(),
            )
        })
        .collect();
    pairs.sort();
    let mut expected: Vec<(String, String)> = hostile
        .iter()
        .map(|(q, a)| (q.to_string(), a.to_string()))
        .collect();
    expected.sort();
    assert_eq!(pairs, expected);
}

async fn csv_export_and_import_round_trip_with_row_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("csv.user").await.access;
    let chat = app.create_chat(&token, "CSV").await;
    app.create_card(&token, &chat, json!({"question": "What is \"ATP\", briefly?", "answer": "Energy,\nin a molecule", "tags": ["cells", "energy"]})).await;
    app.create_card(
        &token,
        &chat,
        json!({"question": "Second", "answer": "Two"}),
    )
    .await;
    let response = app
        .authed(
            Method::GET,
            &format!("/api/v1/chats/{chat}/flashcards/export?format=csv"),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let exported = response.text().await.unwrap();
    assert!(
        exported.starts_with("question,answer,tags,type\n"),
        "{exported}"
    );
    assert!(
        exported.contains(
            "\"What is \"\"ATP\"\", briefly?\",\"Energy,\nin a molecule\",cells energy,basic"
        ),
        "{exported}"
    );
    anki_package_holds_the_chats_cards(&app, &token, &chat).await;
    let bad_format = app
        .authed(
            Method::GET,
            &format!("/api/v1/chats/{chat}/flashcards/export?format=xlsx"),
            &token,
        )
        .send()
        .await
        .unwrap();
    problem(bad_format, 422).await;

    // Into another chat: the two exported rows plus two bad ones.
    let other = app.create_chat(&token, "Imported").await;
    let file = format!("{exported},missing question,\nok question,,\nlast,one,bad tag!\n");
    let response = app
        .authed(
            Method::POST,
            &format!("/api/v1/chats/{other}/flashcards/import"),
            &token,
        )
        .header("Content-Type", "text/csv")
        .body(file)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let report: Value = body_of(response).await;
    assert_eq!(report["imported"], 2, "{report}");
    let rows: Vec<(u64, &str)> = array_of(&report, "errors")
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), text_of(e, "field")))
        .collect();
    assert_eq!(rows, [(3, "question"), (4, "answer"), (5, "tags")]);
    let imported = app
        .get_json(&format!("/api/v1/chats/{other}/flashcards"), &token)
        .await;
    let mut questions: Vec<&str> = items_of(&imported)
        .iter()
        .map(|c| text_of(c, "question"))
        .collect();
    questions.sort();
    assert_eq!(questions, ["Second", "What is \"ATP\", briefly?"]);

    let import = |body: Vec<u8>| {
        app.authed(
            Method::POST,
            &format!("/api/v1/chats/{other}/flashcards/import"),
            &token,
        )
        .header("Content-Type", "text/csv")
        .body(body)
        .send()
    };
    for body in ["", "front,back\nq,a\n"] {
        problem(import(body.into()).await.unwrap(), 422).await;
    }
    // A broken record part-way, too many rows, a file over the body limit: refused whole.
    let mut broken = b"question,answer\nfine,row\n".to_vec();
    broken.extend_from_slice(b"bad \xff bytes,here\n");
    let body = problem(import(broken).await.unwrap(), 422).await;
    assert_eq!(body["errors"][0]["field"], "file");
    let mut many = String::from("question,answer\n");
    for i in 0..5001 {
        many.push_str(&format!("q{i},a\n"));
    }
    let body = problem(import(many.into_bytes()).await.unwrap(), 422).await;
    assert!(
        text_of(&body["errors"][0], "message").contains("5000"),
        "{body}"
    );
    // Over the 8 MiB CSV limit.
    let huge = format!("question,answer\n{}", "q,a\n".repeat(2_200_000)).into_bytes();
    problem(import(huge).await.unwrap(), 413).await;
    let after = app
        .get_json(
            &format!("/api/v1/chats/{other}/flashcards?limit=100"),
            &token,
        )
        .await;
    assert_eq!(items_of(&after).len(), 2, "only the first import's cards");
}

async fn offline_generation_makes_sourced_cards_from_a_document(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("generator").await.access;
    let chat = app.create_chat(&token, "Generate").await;
    let doc = crate::knowledge::ingested(
        &app,
        &token,
        &chat,
        "notes.md",
        crate::knowledge::NOTES.as_bytes().to_vec(),
    )
    .await;
    let path = format!("/api/v1/chats/{chat}/flashcards/generate");
    let response = post(
        &app,
        &token,
        &path,
        json!({"document_id": doc["id"], "count": 5}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let drafts: Value = body_of(response).await;
    assert_eq!(drafts["generator"], "offline");
    assert_eq!(drafts["cards"], Value::Null, "not saved unless asked");
    let items = array_of(&drafts, "drafts");
    assert!(!items.is_empty() && items.len() <= 5, "{drafts}");
    for draft in items {
        assert_eq!(draft["source"]["document_id"], doc["id"]);
        let quote = text_of(&draft["source"], "quote");
        assert!(
            crate::knowledge::NOTES.contains(quote),
            "quotes are the material's own: {quote}"
        );
        assert!(draft["source"]["page"].as_u64().unwrap() >= 1);
    }
    let saved: Value = post(
        &app,
        &token,
        &path,
        json!({"document_id": doc["id"], "count": 5, "save": true}),
    )
    .await
    .json()
    .await
    .unwrap();
    let cards = array_of(&saved, "cards");
    assert_eq!(cards.len(), items.len());
    assert_eq!(cards[0]["tags"], json!(["generated:offline"]));
    assert_eq!(cards[0]["source_status"], "available");
    // Again: everything would repeat the saved cards, so nothing new.
    let again: Value = post(
        &app,
        &token,
        &path,
        json!({"document_id": doc["id"], "count": 5}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(array_of(&again, "drafts").len(), 0, "{again}");

    for bad in [
        json!({"count": 5}),
        json!({"document_id": doc["id"], "text": "both"}),
        json!({"text": "words", "count": 0}),
        json!({"document_id": uuid::Uuid::now_v7()}),
    ] {
        problem(post(&app, &token, &path, bad).await, 422).await;
    }
}

/// With a language model (the scripted one), cards come from its structured answer; a chunk id
/// it invents is dropped, not trusted.
#[tokio::test]
async fn language_model_generation_uses_structured_output() {
    use std::sync::Arc;
    let model = Arc::new(flashforge_memory::ScriptedModel::new());
    let app = crate::helpers::spawn_app_with(
        Backend::Memory,
        flashforge::Hooks {
            language_model: Some(model.clone()),
            ..Default::default()
        },
    )
    .await;
    let token = app.signed_up("llm.cards").await.access;
    let chat = app.create_chat(&token, "LLM").await;
    let doc = crate::knowledge::ingested(
        &app,
        &token,
        &chat,
        "notes.md",
        crate::knowledge::NOTES.as_bytes().to_vec(),
    )
    .await;
    let chunks = app
        .get_json(
            &format!("/api/v1/chats/{chat}/documents/{}/chunks", id_of(&doc)),
            &token,
        )
        .await;
    let chunk = &chunks["items"][1];
    let answer = json!({"flashcards": [
        {"question": "Who crossed pea plants?", "answer": "Gregor Mendel", "source_chunk_id": chunk["id"]},
        {"question": "What is invented?", "answer": "Nothing", "source_chunk_id": uuid::Uuid::now_v7()},
        {"question": "", "answer": "blank question is dropped", "source_chunk_id": null}
    ]});
    model.push(flashforge_memory::Reply::Text(answer.to_string()));
    let response = post(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/flashcards/generate"),
        json!({"document_id": doc["id"], "count": 3}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = body_of(response).await;
    assert_eq!(body["generator"], "language_model");
    let drafts = array_of(&body, "drafts");
    assert_eq!(drafts.len(), 2, "{body}");
    assert_eq!(drafts[0]["source"]["chunk_id"], chunk["id"]);
    assert_eq!(drafts[0]["source"]["page"], chunk["page"]);
    assert_eq!(drafts[1]["source"], Value::Null);
    let prompt = &model.prompts()[0];
    assert!(
        prompt
            .passages
            .iter()
            .any(|p| p.passage.text.contains("Mendel"))
    );

    model.push(flashforge_memory::Reply::Fail(
        flashforge_domain::assistant::LlmError::Timeout,
    ));
    let response = post(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/flashcards/generate"),
        json!({"text": "Some text to study from.", "count": 3}),
    )
    .await;
    problem(response, 504).await;

    // A failing provider is 502 with its details kept out; one that cannot write structured
    // output leaves the cards to the offline maker.
    model.push(flashforge_memory::Reply::Fail(
        flashforge_domain::assistant::LlmError::Unavailable("HTTP 500 secret detail".into()),
    ));
    let failed = post(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/flashcards/generate"),
        json!({"text": "Some text to study from.", "count": 3}),
    )
    .await;
    let body = problem(failed, 502).await;
    assert!(!body.to_string().contains("secret detail"), "{body}");
    model.push(flashforge_memory::Reply::Fail(
        flashforge_domain::assistant::LlmError::Rejected("no structured output".into()),
    ));
    let offline = post(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/flashcards/generate"),
        json!({"document_id": doc["id"], "count": 3}),
    )
    .await;
    assert_eq!(offline.status(), 200);
    let body: Value = body_of(offline).await;
    assert_eq!(body["generator"], "offline");
    assert!(!array_of(&body, "drafts").is_empty(), "{body}");
}

/// Material long enough for several batches: each sentence defines its own term.
fn long_notes() -> String {
    let mut text = String::from("# Glossary\n\n");
    for i in 0..700 {
        text.push_str(&format!(
            "Term{i} is the name this course gives to idea number {i} of the glossary. "
        ));
        if i % 5 == 4 {
            text.push_str("\n\n");
        }
    }
    text
}

/// Polls a generation until it is completed or failed.
pub async fn finished(app: &TestApp, token: &str, location: &str) -> Value {
    for _ in 0..600 {
        let generation = app.get_json(location, token).await;
        if generation["status"] == "completed" || generation["status"] == "failed" {
            return generation;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the generation at {location} did not finish");
}

async fn a_long_document_generates_in_the_background_with_a_status_to_poll(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("batcher").await.access;
    let chat = app.create_chat(&token, "Glossary").await;
    let doc = crate::knowledge::ingested(
        &app,
        &token,
        &chat,
        "glossary.md",
        long_notes().into_bytes(),
    )
    .await;
    let chunks = doc["chunk_count"].as_u64().unwrap();
    assert!(chunks > 40, "needs more than one batch: {chunks} chunks");
    let response = post(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/flashcards/generate"),
        json!({"document_id": doc["id"], "count": 60, "save": true}),
    )
    .await;
    assert_eq!(response.status(), 202);
    let location = response
        .headers()
        .get("location")
        .expect("Location names the generation")
        .to_str()
        .unwrap()
        .to_string();
    let queued: Value = body_of(response).await;
    assert_eq!(
        location,
        format!("/api/v1/flashcards/generations/{}", id_of(&queued))
    );
    assert!(
        queued["status"] == "queued" || queued["status"] == "running",
        "{queued}"
    );
    assert_eq!(queued["progress"]["batches_total"], chunks.div_ceil(40));
    assert_eq!(queued["cards"], json!([]));

    let done = finished(&app, &token, &location).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["generator"], "offline");
    assert_eq!(
        done["progress"]["batches_done"],
        done["progress"]["batches_total"]
    );
    let cards = array_of(&done, "cards");
    assert_eq!(cards.len(), 60, "the material holds 700 definitions");
    let mut pages_seen = std::collections::HashSet::new();
    for card in cards {
        assert_eq!(card["source"]["document_id"], doc["id"]);
        let quote = text_of(&card["source"], "quote");
        assert!(long_notes().contains(quote), "{quote}");
        pages_seen.insert(text_of(&card["source"], "chunk_id").to_string());
        assert!(card["card_id"].is_string(), "saved: {card}");
    }
    assert!(pages_seen.len() > 1, "cards come from several chunks");
    // The saved cards are the chat's cards.
    let card = app
        .get_json(
            &format!("/api/v1/flashcards/{}", text_of(&cards[0], "card_id")),
            &token,
        )
        .await;
    assert_eq!(card["tags"], json!(["generated:offline"]));
    assert_eq!(card["question"], cards[0]["question"]);
    let listed = app
        .get_json(
            &format!("/api/v1/chats/{chat}/flashcards?limit=100"),
            &token,
        )
        .await;
    assert_eq!(items_of(&listed).len(), 60);

    // Many cards from short material also go to the background.
    let response = post(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/flashcards/generate"),
        json!({"text": "Osmosis is the movement of water across a membrane.", "count": 51}),
    )
    .await;
    assert_eq!(response.status(), 202);

    // Another user does not see it; deleting the chat deletes it.
    let other = app.signed_up("not.the.batcher").await.access;
    let response = app
        .authed(Method::GET, &location, &other)
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
    let response = app
        .authed(Method::DELETE, &format!("/api/v1/chats/{chat}"), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let response = app
        .authed(Method::GET, &location, &token)
        .send()
        .await
        .unwrap();
    let gone = problem(response, 404).await;
    assert_eq!(gone["code"], "generation_not_found");
}

async fn cards_are_made_from_chosen_chunks_or_a_topic(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_up("chooser").await.access;
    let chat = app.create_chat(&token, "Genetics").await;
    let doc = crate::knowledge::ingested(
        &app,
        &token,
        &chat,
        "notes.md",
        crate::knowledge::NOTES.as_bytes().to_vec(),
    )
    .await;
    let chunks = app
        .get_json(
            &format!("/api/v1/chats/{chat}/documents/{}/chunks", id_of(&doc)),
            &token,
        )
        .await;
    let chunk = chunks["items"][0].clone();
    let path = format!("/api/v1/chats/{chat}/flashcards/generate");
    let response = post(
        &app,
        &token,
        &path,
        json!({"chunk_ids": [chunk["id"]], "count": 3}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = body_of(response).await;
    let drafts = array_of(&body, "drafts");
    assert!(!drafts.is_empty(), "{body}");
    for draft in drafts {
        assert_eq!(
            draft["source"]["chunk_id"], chunk["id"],
            "only the chosen chunk"
        );
    }

    let response = post(
        &app,
        &token,
        &path,
        json!({"topic": "Mendel pea plants", "count": 5}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = body_of(response).await;
    assert!(!array_of(&body, "drafts").is_empty(), "{body}");
    for draft in array_of(&body, "drafts") {
        assert_eq!(draft["source"]["document_id"], doc["id"]);
    }

    // A chunk of another chat is not this chat's material.
    let other_chat = app.create_chat(&token, "Other").await;
    let other_path = format!("/api/v1/chats/{other_chat}/flashcards/generate");
    let invalid = problem(
        post(
            &app,
            &token,
            &other_path,
            json!({"chunk_ids": [chunk["id"]]}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(invalid["errors"][0]["field"], "chunk_ids[0]", "{invalid}");
    for bad in [
        json!({"chunk_ids": []}),
        json!({"chunk_ids": [chunk["id"], chunk["id"]]}),
        json!({"topic": "   "}),
        json!({"topic": "x".repeat(501)}),
        json!({"topic": "genes", "text": "both"}),
        json!({"text": "words", "count": 201}),
    ] {
        problem(post(&app, &token, &path, bad).await, 422).await;
    }
    // Each of these names the field at fault.
    let too_many: Vec<String> = (0..41).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let mut truncated = crate::knowledge::fixture("table.pdf");
    truncated.truncate(300);
    let failed = crate::knowledge::ingested(&app, &token, &chat, "cut.pdf", truncated).await;
    assert_eq!(failed["status"], "failed");
    for (target, bad, field) in [
        (&path, json!({"text": "   "}), "text"),
        (&path, json!({"text": "x".repeat(20_001)}), "text"),
        (&path, json!({"chunk_ids": too_many}), "chunk_ids"),
        (&path, json!({"document_id": failed["id"]}), "document_id"),
        (&other_path, json!({"topic": "Mendel pea plants"}), "topic"),
    ] {
        let body = problem(post(&app, &token, target, bad.clone()).await, 422).await;
        assert_eq!(body["errors"][0]["field"], field, "{bad}: {body}");
    }
}

/// A background generation whose language model keeps failing is retried, then fails with the
/// reason; one that succeeds on a retry completes.
#[tokio::test]
async fn a_background_generation_retries_and_fails_with_its_reason() {
    use std::sync::Arc;
    let model = Arc::new(flashforge_memory::ScriptedModel::new());
    let app = crate::helpers::spawn_app_configured(
        Backend::Memory,
        flashforge::Hooks {
            language_model: Some(model.clone()),
            ..Default::default()
        },
        &[
            ("FLASHFORGE__KNOWLEDGE__MAX_ATTEMPTS", "2"),
            ("FLASHFORGE__KNOWLEDGE__RETRY_BACKOFF_SECS", "0"),
        ],
    )
    .await;
    let token = app.signed_up("unlucky").await.access;
    let chat = app.create_chat(&token, "Retries").await;
    let path = format!("/api/v1/chats/{chat}/flashcards/generate");
    // Nothing scripted: every answer is not JSON, so each attempt fails.
    let response = post(
        &app,
        &token,
        &path,
        json!({"text": "Cells divide by mitosis.", "count": 60}),
    )
    .await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let failed = finished(&app, &token, &location).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let error = text_of(&failed, "error");
    assert!(error.contains("gave up after 2 attempts"), "{error}");
    assert_eq!(model.prompts().len(), 2, "one call per attempt");

    // The first attempt fails, the retry gets an answer.
    model.push(flashforge_memory::Reply::Fail(
        flashforge_domain::assistant::LlmError::Timeout,
    ));
    let cards: Vec<Value> = (0..55)
        .map(|i| json!({"question": format!("Question number {i} about zygote{i}?"), "answer": format!("Answer {i}"), "source_chunk_id": null}))
        .collect();
    model.push(flashforge_memory::Reply::Text(
        json!({"flashcards": cards}).to_string(),
    ));
    let response = post(
        &app,
        &token,
        &path,
        json!({"text": "Cells divide by mitosis.", "count": 55}),
    )
    .await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let done = finished(&app, &token, &location).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["generator"], "language_model");
    assert_eq!(array_of(&done, "cards").len(), 55);
    assert_eq!(
        done["cards"][0]["card_id"],
        Value::Null,
        "not saved unless asked"
    );
}

/// Through the OpenAI-compatible adapter (wiremock speaking the protocol): the request asks for
/// the flashcards JSON schema and the cards come from the structured answer, linked to chunks.
async fn a_provider_writes_cards_with_structured_output(backend: Backend) {
    use wiremock::matchers::{body_partial_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    let base = format!("{}/v1", server.uri());
    let app = crate::helpers::spawn_app_configured(
        backend,
        flashforge::Hooks::default(),
        &[
            ("FLASHFORGE__LLM__PROVIDER", "openai"),
            ("FLASHFORGE__LLM__BASE_URL", &base),
            ("FLASHFORGE__LLM__MODEL", "mock-model"),
            ("FLASHFORGE__LLM__TIMEOUT_SECS", "5"),
            ("FLASHFORGE__LLM__MAX_RETRIES", "0"),
        ],
    )
    .await;
    let token = app.signed_up("provider.cards").await.access;
    let chat = app.create_chat(&token, "Provider cards").await;
    let doc = crate::knowledge::ingested(
        &app,
        &token,
        &chat,
        "notes.md",
        crate::knowledge::NOTES.as_bytes().to_vec(),
    )
    .await;
    let chunks = app
        .get_json(
            &format!("/api/v1/chats/{chat}/documents/{}/chunks", id_of(&doc)),
            &token,
        )
        .await;
    let chunk = &chunks["items"][0];
    let content = json!({"flashcards": [
        {"question": "What do mitochondria make?", "answer": "ATP", "source_chunk_id": chunk["id"]},
        {"question": "Who studied pea plants?", "answer": "Gregor Mendel", "source_chunk_id": null}
    ]})
    .to_string();
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({
            "model": "mock-model",
            "response_format": {"type": "json_schema", "json_schema": {"name": "flashcards", "strict": true}}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model": "mock-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 300, "completion_tokens": 40}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let response = post(
        &app,
        &token,
        &format!("/api/v1/chats/{chat}/flashcards/generate"),
        json!({"document_id": doc["id"], "count": 2, "save": true}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = body_of(response).await;
    assert_eq!(body["generator"], "language_model");
    let cards = array_of(&body, "cards");
    assert_eq!(cards.len(), 2, "{body}");
    assert_eq!(cards[0]["question"], "What do mitochondria make?");
    assert_eq!(cards[0]["source"]["chunk_id"], chunk["id"]);
    assert_eq!(cards[0]["source"]["page"], chunk["page"]);
    assert_eq!(cards[0]["tags"], json!(["generated:language_model"]));
    assert_eq!(cards[1]["source"], Value::Null);
    // The prompt carried the chunk ids the model may cite.
    let requests = server.received_requests().await.unwrap();
    let sent: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert!(
        sent.to_string().contains(id_of(chunk)),
        "the chunk id is in the prompt"
    );
}

on_every_backend!(
    cards_are_created_listed_edited_and_deleted,
    a_listed_cards_source_reads_missing_once_its_document_is_deleted,
    card_fields_over_their_limits_are_422_by_field,
    bulk_create_is_all_or_nothing_and_lists_filter,
    reviews_schedule_with_fsrs_and_apply_once,
    simultaneous_reviews_apply_whole_or_answer_409,
    the_card_list_filters_by_state_and_due,
    the_due_queue_spans_chats_and_skips_suspended_and_future_cards,
    retention_settings_shape_intervals_and_stats_count_reviews,
    optimizing_needs_enough_reviews_and_says_how_many,
    csv_export_and_import_round_trip_with_row_errors,
    csv_cells_never_start_a_formula,
    offline_generation_makes_sourced_cards_from_a_document,
    a_long_document_generates_in_the_background_with_a_status_to_poll,
    cards_are_made_from_chosen_chunks_or_a_topic,
    a_provider_writes_cards_with_structured_output,
);
