//! A study session through HTTP on every backend, on a clock the tests move: each chat's study
//! options, the study day in the user's time zone, daily limits across the day boundary,
//! learning steps and graduation, spreading new cards, undo, and leeches.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use flashforge_domain::clock::Clock;

use crate::flashcards::TestClock;
use crate::helpers::{Backend, TestApp, body_of, fields_of, id_of, problem, text_of};

/// An app on a clock the test moves, and a signed-up student.
struct Session {
    app: TestApp,
    clock: Arc<TestClock>,
    token: String,
}

/// Day `day` (10 is the day after tomorrow) at `hour`:`minute` UTC. The tests' days lie ahead
/// of the real time: the tokens are checked against it.
fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    let base = Utc::now().date_naive() + Duration::days(2);
    let date = base + Duration::days(i64::from(day) - 10);
    Utc.from_utc_datetime(&date.and_hms_opt(hour, minute, 0).unwrap())
}

impl Session {
    async fn start(backend: Backend, now: DateTime<Utc>) -> Self {
        // Signed up on the real time: the token is valid now, and for its lifetime whatever
        // the service's clock says.
        let clock = TestClock::at(Utc::now());
        let app = crate::helpers::spawn_app_with(
            backend,
            flashforge::Hooks {
                clock: Some(clock.clone()),
                ..Default::default()
            },
        )
        .await;
        let token = app.signed_up("student").await.access;
        clock.set(now);
        Self { app, clock, token }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self.app.authed(method, path, &self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let response = self.send(method, path, body).await;
        assert_eq!(response.status(), 200, "{path}");
        body_of(response).await
    }

    /// A chat with `n` cards made a minute apart (card 0 oldest) and these study options.
    async fn chat_with_cards(&self, name: &str, n: usize, options: Value) -> (String, Vec<String>) {
        let chat = self.app.create_chat(&self.token, name).await;
        let mut ids = Vec::new();
        let now = self.clock.now();
        for i in 0..n {
            self.clock.set(now + Duration::seconds(i as i64));
            let card = self
                .app
                .create_card(
                    &self.token,
                    &chat,
                    json!({"question": format!("{name} q{i}"), "answer": "a"}),
                )
                .await;
            ids.push(id_of(&card).to_string());
        }
        self.clock.set(now + Duration::seconds(n as i64));
        self.ok(
            Method::PATCH,
            &format!("/api/v1/chats/{chat}/study-options"),
            Some(options),
        )
        .await;
        (chat, ids)
    }

    async fn next(&self, chat: Option<&str>) -> Value {
        let path = match chat {
            Some(chat) => format!("/api/v1/study/next?chat_id={chat}"),
            None => "/api/v1/study/next".to_string(),
        };
        self.ok(Method::GET, &path, None).await
    }

    async fn rate(&self, card: &str, rating: &str) -> Value {
        self.ok(
            Method::POST,
            &format!("/api/v1/flashcards/{card}/reviews"),
            Some(json!({"rating": rating, "duration_ms": 3000})),
        )
        .await
    }

    async fn card(&self, card: &str) -> String {
        let response = self
            .send(Method::GET, &format!("/api/v1/flashcards/{card}"), None)
            .await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }
}

fn counts(next: &Value) -> (u64, u64, u64) {
    let c = &next["counts"];
    (
        c["new"].as_u64().unwrap(),
        c["learning"].as_u64().unwrap(),
        c["review"].as_u64().unwrap(),
    )
}

fn shown(next: &Value) -> Option<&str> {
    next["card"]
        .as_object()
        .map(|card| card["id"].as_str().unwrap())
}

/// Defaults as Anki's; a patch changes what it names, is checked whole (422 by field, nothing
/// applied), and another user's chat is 404.
async fn study_options_have_defaults_and_check_every_field(backend: Backend) {
    let s = Session::start(backend, at(10, 12, 0)).await;
    let chat = s.app.create_chat(&s.token, "Biology").await;
    let path = format!("/api/v1/chats/{chat}/study-options");
    let defaults = s.ok(Method::GET, &path, None).await;
    assert_eq!(defaults["new_per_day"], 20);
    assert_eq!(defaults["reviews_per_day"], 200);
    assert_eq!(defaults["learning_steps"], json!(["1m", "10m"]));
    assert_eq!(defaults["relearning_steps"], json!(["10m"]));
    assert_eq!(defaults["desired_retention"], Value::Null);
    assert_eq!(defaults["new_order"], "created");
    assert_eq!(defaults["leech_threshold"], 8);
    assert_eq!(defaults["leech_action"], "tag");
    assert_eq!(defaults["updated_at"], Value::Null);
    let changed = s
        .ok(
            Method::PATCH,
            &path,
            Some(
                json!({"new_per_day": 5, "learning_steps": ["30s", "90m", "1d"],
                "desired_retention": 0.85, "new_order": "random", "leech_action": "suspend"}),
            ),
        )
        .await;
    assert_eq!(changed["new_per_day"], 5);
    assert_eq!(changed["reviews_per_day"], 200, "left as it was");
    assert_eq!(changed["learning_steps"], json!(["30s", "90m", "1d"]));
    assert!((changed["desired_retention"].as_f64().unwrap() - 0.85).abs() < 1e-6);
    assert_eq!(changed["new_order"], "random");
    assert_eq!(s.ok(Method::GET, &path, None).await, changed);
    let bad = s
        .send(
            Method::PATCH,
            &path,
            Some(
                json!({"new_per_day": 1, "reviews_per_day": 10000, "learning_steps": ["1w"],
                "maximum_interval_days": 0, "desired_retention": 0.5, "new_order": "alpha",
                "leech_threshold": 100, "leech_action": "delete"}),
            ),
        )
        .await;
    let body = problem(bad, 422).await;
    assert_eq!(
        fields_of(&body),
        [
            "reviews_per_day",
            "learning_steps",
            "maximum_interval_days",
            "desired_retention",
            "new_order",
            "leech_threshold",
            "leech_action"
        ]
    );
    assert_eq!(
        s.ok(Method::GET, &path, None).await,
        changed,
        "nothing applied"
    );
    // `null` goes back to the account's retention.
    let reset = s
        .ok(
            Method::PATCH,
            &path,
            Some(json!({"desired_retention": null})),
        )
        .await;
    assert_eq!(reset["desired_retention"], Value::Null);
    s.clock.set(Utc::now());
    let other = s.app.signed_up("other").await.access;
    for method in [Method::GET, Method::PATCH] {
        let response = s
            .app
            .authed(method, &path, &other)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(problem(response, 404).await["code"], "chat_not_found");
    }
    let response = s
        .send(
            Method::GET,
            &format!("/api/v1/study/next?chat_id={}", uuid::Uuid::now_v7()),
            None,
        )
        .await;
    problem(response, 404).await;
}

/// The limits of a day hold until the day ends at the user's hour in the user's zone, not in
/// UTC, and then start again.
async fn daily_limits_hold_until_the_users_day_ends(backend: Backend) {
    // 03:00 UTC on 11 January is 22:00 on 10 January at UTC-5: the study day of 10 January.
    let s = Session::start(backend, at(11, 3, 0)).await;
    let settings = s
        .ok(
            Method::PATCH,
            "/api/v1/study/settings",
            Some(json!({"timezone": "America/Bogota", "day_starts_at_hour": 4})),
        )
        .await;
    assert_eq!(settings["timezone"], "America/Bogota");
    assert_eq!(settings["day_starts_at_hour"], 4);
    for bad in [
        json!({"timezone": "Mars/Olympus"}),
        json!({"day_starts_at_hour": 24}),
        json!({"desired_retention": 1.5}),
    ] {
        let response = s
            .send(Method::PATCH, "/api/v1/study/settings", Some(bad))
            .await;
        problem(response, 422).await;
    }
    let (chat, cards) = s
        .chat_with_cards(
            "Limits",
            5,
            json!({"new_per_day": 2, "reviews_per_day": 1, "learning_steps": []}),
        )
        .await;
    let first = s.next(Some(&chat)).await;
    assert_eq!(counts(&first), (2, 0, 0), "two of five new cards today");
    assert_eq!(first["queue"], "new");
    assert_eq!(shown(&first), Some(cards[0].as_str()), "oldest first");
    // Bogotá is UTC-5: the day ends at 04:00 there, 09:00 UTC.
    assert_eq!(
        first["day_ends_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        at(11, 9, 0)
    );
    // Without learning steps a new card rated good goes to review at once.
    assert_eq!(s.rate(&cards[0], "good").await["state"], "review");
    let second = s.next(Some(&chat)).await;
    assert_eq!(counts(&second), (1, 0, 0));
    assert_eq!(shown(&second), Some(cards[1].as_str()));
    s.rate(&cards[1], "easy").await;
    let done = s.next(Some(&chat)).await;
    assert_eq!(counts(&done), (0, 0, 0));
    assert_eq!(done["card"], Value::Null);
    assert_eq!(done["next_due_at"], Value::Null);
    // 05:00 UTC: a new day in UTC, not in Bogotá (midnight there).
    s.clock.set(at(11, 5, 0));
    assert_eq!(s.next(Some(&chat)).await["card"], Value::Null);
    s.clock.set(at(11, 8, 59));
    assert_eq!(s.next(None).await["card"], Value::Null, "across chats too");
    // 09:00 UTC is 04:00 in Bogotá: two new cards again.
    s.clock.set(at(11, 9, 0));
    let tomorrow = s.next(Some(&chat)).await;
    assert_eq!(counts(&tomorrow), (2, 0, 0));
    assert_eq!(shown(&tomorrow), Some(cards[2].as_str()));
    // A month on, both reviews are due but the day allows one, and new cards come in turn.
    s.clock.set(at(11, 9, 0) + Duration::days(40));
    let month = s.next(Some(&chat)).await;
    assert_eq!(counts(&month), (2, 0, 1));
    let mut seen = Vec::new();
    loop {
        let next = s.next(Some(&chat)).await;
        let Some(card) = shown(&next) else { break };
        seen.push(next["queue"].as_str().unwrap().to_string());
        s.rate(card, "good").await;
        assert!(seen.len() <= 3, "{seen:?}");
    }
    assert_eq!(
        seen,
        ["new", "review", "new"],
        "new cards spread among reviews"
    );
}

/// Learning cards come back when their step is due (or early, when nothing else is left),
/// move through the steps and graduate to review; counts follow.
async fn learning_steps_bring_cards_back_then_graduate(backend: Backend) {
    let s = Session::start(backend, at(10, 12, 0)).await;
    let (chat, c) = s.chat_with_cards("Steps", 3, json!({})).await;
    let now = s.clock.now();
    let a = s.next(Some(&chat)).await;
    assert_eq!((shown(&a), counts(&a)), (Some(c[0].as_str()), (3, 0, 0)));
    let again = s.rate(&c[0], "again").await;
    assert_eq!(again["state"], "learning");
    assert_eq!(
        again["next_intervals"]["good"], 600,
        "the next step is 10 minutes"
    );
    // A waits a minute: B comes first.
    let b = s.next(Some(&chat)).await;
    assert_eq!((shown(&b), counts(&b)), (Some(c[1].as_str()), (2, 1, 0)));
    let good = s.rate(&c[1], "good").await;
    assert_eq!(
        (good["state"].as_str(), good["reps"].as_u64()),
        (Some("learning"), Some(1))
    );
    let third = s.next(Some(&chat)).await;
    assert_eq!(shown(&third), Some(c[2].as_str()));
    assert_eq!(s.rate(&c[2], "easy").await["state"], "review");
    // Nothing else left: A, due in a minute, is shown early.
    let ahead = s.next(Some(&chat)).await;
    assert_eq!(
        (shown(&ahead), ahead["queue"].as_str()),
        (Some(c[0].as_str()), Some("learning"))
    );
    assert_eq!(counts(&ahead), (0, 2, 0));
    s.clock.set(now + Duration::minutes(1));
    s.rate(&c[0], "good").await;
    // B is due at 10 minutes, A at 11: B first.
    s.clock.set(now + Duration::minutes(30));
    let due = s.next(Some(&chat)).await;
    assert_eq!(shown(&due), Some(c[1].as_str()));
    let graduated = s.rate(&c[1], "good").await;
    assert_eq!(graduated["state"], "review");
    let due_at: DateTime<Utc> = graduated["due"].as_str().unwrap().parse().unwrap();
    assert!(due_at - s.clock.now() >= Duration::days(1), "{due_at}");
    assert_eq!(shown(&s.next(Some(&chat)).await), Some(c[0].as_str()));
    assert_eq!(s.rate(&c[0], "good").await["state"], "review");
    let finished = s.next(Some(&chat)).await;
    assert_eq!(
        (finished["card"].clone(), counts(&finished)),
        (Value::Null, (0, 0, 0))
    );
    // A card in a later step of today is announced.
    let (other, d) = s
        .chat_with_cards("Later", 1, json!({"learning_steps": ["1h"]}))
        .await;
    s.next(Some(&other)).await;
    s.rate(&d[0], "again").await;
    let waiting = s.next(Some(&other)).await;
    assert_eq!(waiting["card"], Value::Null);
    let next_due: DateTime<Utc> = waiting["next_due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(next_due, s.clock.now() + Duration::hours(1));
}

/// Undo puts the card back byte for byte and takes the review off the log, several levels
/// deep, but not past the start of the day.
async fn undo_restores_cards_exactly_within_the_day(backend: Backend) {
    let s = Session::start(backend, at(10, 12, 0)).await;
    let (chat, c) = s.chat_with_cards("Undo", 2, json!({})).await;
    // A review yesterday (10 January) cannot be undone on 11 January.
    s.rate(&c[1], "easy").await;
    s.clock.set(at(11, 12, 0));
    let response = s.send(Method::POST, "/api/v1/study/undo", None).await;
    assert_eq!(problem(response, 409).await["code"], "nothing_to_undo");
    let mut before = Vec::new();
    for (minute, rating) in [(0, "again"), (1, "good"), (11, "good")] {
        s.clock.set(at(11, 12, minute));
        before.push(s.card(&c[0]).await);
        s.rate(&c[0], rating).await;
    }
    let reviews_today = |stats: Value| stats["reviews_today"].as_u64().unwrap();
    let stats = s.ok(Method::GET, "/api/v1/study/stats", None).await;
    assert_eq!(reviews_today(stats), 3);
    for expected in before.iter().rev() {
        let undone = s.ok(Method::POST, "/api/v1/study/undo", None).await;
        assert_eq!(text_of(&undone, "id"), c[0]);
        assert_eq!(&s.card(&c[0]).await, expected, "byte for byte");
    }
    // The undone reviews left the log.
    let stats = s.ok(Method::GET, "/api/v1/study/stats", None).await;
    assert_eq!(reviews_today(stats), 0);
    let response = s.send(Method::POST, "/api/v1/study/undo", None).await;
    assert_eq!(problem(response, 409).await["code"], "nothing_to_undo");
    // The card is new again: the session shows it first.
    assert_eq!(shown(&s.next(Some(&chat)).await), Some(c[0].as_str()));
}

/// A card forgotten as often as the threshold is tagged `leech` (and suspended when the chat
/// says so); the review's answer says it.
async fn leeches_are_tagged_or_suspended(backend: Backend) {
    let s = Session::start(backend, at(10, 12, 0)).await;
    for (name, action) in [("Tagged", "tag"), ("Suspended", "suspend")] {
        let (chat, c) = s
            .chat_with_cards(
                name,
                1,
                json!({"leech_threshold": 2, "leech_action": action, "relearning_steps": []}),
            )
            .await;
        s.rate(&c[0], "easy").await;
        let (mut answers, mut before) = (Vec::new(), String::new());
        for _ in 0..2 {
            let card: Value = serde_json::from_str(&s.card(&c[0]).await).unwrap();
            s.clock.set(card["due"].as_str().unwrap().parse().unwrap());
            before = s.card(&c[0]).await;
            answers.push(s.rate(&c[0], "again").await);
        }
        assert_eq!(answers[0]["leech"], false, "one lapse is not a leech");
        assert_eq!(answers[0]["tags"], json!([]));
        assert_eq!(answers[1]["leech"], true);
        assert_eq!(answers[1]["lapses"], 2);
        assert_eq!(answers[1]["tags"], json!(["leech"]));
        let suspended = action == "suspend";
        assert_eq!(answers[1]["suspended"], suspended);
        // Undoing the lapse takes the tag and the suspension back off; lapsing again puts
        // them back.
        s.ok(Method::POST, "/api/v1/study/undo", None).await;
        assert_eq!(s.card(&c[0]).await, before);
        let again = s.rate(&c[0], "again").await;
        assert_eq!(
            (&again["leech"], &again["suspended"]),
            (&json!(true), &json!(suspended))
        );
        // When it is due again, a suspended leech is not shown; a tagged one is.
        s.clock.set(again["due"].as_str().unwrap().parse().unwrap());
        let next = s.next(Some(&chat)).await;
        assert_eq!(next["card"].is_null(), suspended, "{next}");
    }
}

/// Across chats each chat keeps its own limits; the counts add up.
async fn studying_across_chats_keeps_each_chats_limits(backend: Backend) {
    let s = Session::start(backend, at(10, 12, 0)).await;
    let (first, a) = s
        .chat_with_cards("First", 3, json!({"new_per_day": 1}))
        .await;
    let (_second, b) = s
        .chat_with_cards("Second", 3, json!({"new_per_day": 2}))
        .await;
    let all = s.next(None).await;
    assert_eq!(counts(&all), (3, 0, 0));
    assert_eq!(shown(&all), Some(a[0].as_str()));
    s.rate(&a[0], "easy").await;
    assert_eq!(counts(&s.next(Some(&first)).await), (0, 0, 0));
    let rest = s.next(None).await;
    assert_eq!(
        (shown(&rest), counts(&rest)),
        (Some(b[0].as_str()), (2, 0, 0))
    );
}

/// A reversed note makes two cards and a cloze note one per cloze number; siblings share the
/// note's texts, and once one is studied the others wait for tomorrow (when the chat buries
/// siblings).
async fn notes_make_sibling_cards_that_bury_each_other(backend: Backend) {
    let s = Session::start(backend, at(10, 12, 0)).await;
    let chat = s.app.create_chat(&s.token, "Notes").await;
    let cards_path = format!("/api/v1/chats/{chat}/flashcards");
    let reversed = s
        .app
        .create_card(
            &s.token,
            &chat,
            json!({"kind": "reversed", "question": "Mitochondria", "answer": "Powerhouse of the cell"}),
        )
        .await;
    assert_eq!(
        (
            &reversed["kind"],
            &reversed["ordinal"],
            &reversed["front"],
            &reversed["back"]
        ),
        (
            &json!("reversed"),
            &json!(0),
            &json!("Mitochondria"),
            &json!("Powerhouse of the cell")
        )
    );
    let note = text_of(&reversed, "note_id").to_string();
    let pair = s
        .ok(Method::GET, &format!("{cards_path}?note_id={note}"), None)
        .await;
    let pair = pair["items"].as_array().unwrap().clone();
    assert_eq!(pair.len(), 2);
    let backward = pair.iter().find(|c| c["ordinal"] == 1).unwrap();
    assert_eq!(backward["front"], "Powerhouse of the cell");
    assert_eq!(backward["back"], "Mitochondria");
    s.clock.set(at(10, 12, 1));
    let cloze = s
        .app
        .create_card(
            &s.token,
            &chat,
            json!({"kind": "cloze", "question": "{{c1::Mitochondria}} make {{c2::ATP::a molecule}}"}),
        )
        .await;
    assert_eq!(cloze["front"], "[...] make ATP");
    assert_eq!(cloze["back"], "**Mitochondria** make ATP");
    assert_eq!(cloze["answer"], "");
    let cloze_note = text_of(&cloze, "note_id").to_string();
    let clozes = s
        .ok(
            Method::GET,
            &format!("{cards_path}?note_id={cloze_note}"),
            None,
        )
        .await;
    let second = clozes["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["ordinal"] == 2)
        .unwrap()
        .clone();
    assert_eq!(second["front"], "Mitochondria make [a molecule]");
    // Bad notes are refused by field, in bulk too.
    for (body, field) in [
        (json!({"kind": "cloze", "question": "no gaps"}), "question"),
        (json!({"kind": "reversed", "question": "q"}), "answer"),
        (json!({"question": "q", "answer": ""}), "answer"),
    ] {
        let response = s.send(Method::POST, &cards_path, Some(body)).await;
        assert_eq!(fields_of(&problem(response, 422).await), [field]);
    }
    let response = s
        .send(
            Method::POST,
            &format!("{cards_path}/bulk"),
            Some(json!({"cards": [{"question": "q", "answer": "a"},
                {"kind": "cloze", "question": "{{c0::zero}}"}]})),
        )
        .await;
    assert_eq!(
        fields_of(&problem(response, 422).await),
        ["cards[1].question"]
    );
    let response = s
        .send(
            Method::POST,
            &cards_path,
            Some(json!({"kind": "sideways", "question": "q", "answer": "a"})),
        )
        .await;
    assert!(response.status().is_client_error(), "{}", response.status());

    // The session: studying one card of a note buries its siblings for the day.
    let first = s.next(Some(&chat)).await;
    assert_eq!(
        (shown(&first), counts(&first)),
        (Some(id_of(&reversed)), (4, 0, 0))
    );
    s.rate(id_of(&reversed), "good").await;
    let next = s.next(Some(&chat)).await;
    assert_eq!(
        shown(&next),
        Some(id_of(&cloze)),
        "the backward card is buried"
    );
    assert_eq!(counts(&next), (2, 1, 0));
    s.rate(id_of(&cloze), "good").await;
    let rest = s.next(Some(&chat)).await;
    assert_eq!(
        rest["queue"], "learning",
        "only learning cards are left: {rest}"
    );
    assert_eq!(counts(&rest).0, 0);
    s.ok(
        Method::PATCH,
        &format!("/api/v1/chats/{chat}/study-options"),
        Some(json!({"bury_siblings": false})),
    )
    .await;
    assert_eq!(counts(&s.next(Some(&chat)).await).0, 2, "unburied");
    // The next day the siblings are back.
    s.ok(
        Method::PATCH,
        &format!("/api/v1/chats/{chat}/study-options"),
        Some(json!({"bury_siblings": true})),
    )
    .await;
    assert_eq!(counts(&s.next(Some(&chat)).await).0, 0);
    s.clock.set(at(11, 12, 0));
    assert_eq!(counts(&s.next(Some(&chat)).await).0, 2);

    // An edit of a note's texts reaches its siblings; a cloze edit keeps its numbers.
    let edited = s
        .ok(
            Method::PATCH,
            &format!("/api/v1/flashcards/{}", id_of(&cloze)),
            Some(
                json!({"question": "{{c1::Chloroplasts}} make {{c2::sugar}}", "answer": "Plants"}),
            ),
        )
        .await;
    assert_eq!(edited["back"], "**Chloroplasts** make sugar\n\nPlants");
    let sibling: Value = serde_json::from_str(&s.card(text_of(&second, "id")).await).unwrap();
    assert_eq!(sibling["front"], "Chloroplasts make [...]");
    assert_eq!(sibling["answer"], "Plants");
    let response = s
        .send(
            Method::PATCH,
            &format!("/api/v1/flashcards/{}", id_of(&cloze)),
            Some(json!({"question": "{{c1::only one}}"})),
        )
        .await;
    assert_eq!(fields_of(&problem(response, 422).await), ["question"]);
}

/// Stats count in the user's study days: today's cards and time, and a forecast of the next 30
/// days with new cards at the chat's limit; retention by how long cards were remembered.
async fn stats_count_study_days_and_forecast_the_month(backend: Backend) {
    let s = Session::start(backend, at(10, 12, 0)).await;
    s.ok(
        Method::PATCH,
        "/api/v1/study/settings",
        Some(json!({"timezone": "America/Bogota"})),
    )
    .await;
    let (_chat, c) = s
        .chat_with_cards("Stats", 5, json!({"new_per_day": 2, "learning_steps": []}))
        .await;
    let good = s.rate(&c[0], "good").await;
    s.rate(&c[1], "easy").await;
    let stats = s.ok(Method::GET, "/api/v1/study/stats", None).await;
    assert_eq!(stats["reviews_today"], 2);
    assert_eq!(stats["studied_today"], 2);
    assert_eq!(stats["time_today_ms"], 6000);
    // 12:00 UTC is 07:00 in Bogotá: the same calendar day.
    let today = at(10, 12, 0).date_naive().to_string();
    let per_day = stats["reviews_per_day"].as_array().unwrap();
    assert_eq!(per_day.len(), 30);
    assert_eq!(per_day[29]["date"], today.as_str());
    assert_eq!(per_day[29]["reviews"], 2);
    let forecast = stats["forecast"].as_array().unwrap();
    assert_eq!(forecast.len(), 30);
    assert_eq!(forecast[0]["date"], today.as_str());
    let new: Vec<u64> = forecast
        .iter()
        .map(|d| d["new"].as_u64().unwrap())
        .collect();
    assert_eq!(&new[..4], [0, 2, 1, 0], "two a day after today's two");
    let reviews: u64 = forecast.iter().map(|d| d["review"].as_u64().unwrap()).sum();
    assert_eq!(reviews, 2, "both reviewed cards fall due within 30 days");
    let due: DateTime<Utc> = good["due"].as_str().unwrap().parse().unwrap();
    let index = (due - at(10, 9, 0)).num_days() as usize;
    assert!(
        forecast[index]["review"].as_u64().unwrap() >= 1,
        "{forecast:?}"
    );
    // Forgetting the card when it is due counts in the bucket of its interval.
    s.clock.set(due);
    s.rate(&c[0], "again").await;
    let stats = s.ok(Method::GET, "/api/v1/study/stats", None).await;
    let buckets = stats["retention_by_interval"].as_array().unwrap();
    assert_eq!(buckets.len(), 4);
    let held = (due - at(10, 12, 0)).num_days();
    let bucket = buckets
        .iter()
        .find(|b| {
            b["min_days"].as_i64().unwrap() <= held
                && b["max_days"].as_i64().is_none_or(|max| held <= max)
        })
        .unwrap();
    assert_eq!(
        (&bucket["reviews"], &bucket["retention"]),
        (&json!(1), &json!(0.0))
    );
    assert_eq!(stats["retention_reviews"], 1);
}

/// The simulator plans the next days from the caller's cards: new cards at the pace asked
/// until none are left, fewer under a time budget, the same answer for the same request.
async fn the_workload_is_simulated_from_the_callers_cards(backend: Backend) {
    let s = Session::start(backend, at(10, 12, 0)).await;
    let empty = s
        .ok(Method::POST, "/api/v1/study/simulate", Some(json!({})))
        .await;
    let days = empty["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(
        days[0]["date"],
        at(10, 12, 0).date_naive().to_string().as_str()
    );
    assert!(days.iter().all(|d| d["new"] == 0 && d["reviews"] == 0));
    let (chat, c) = s
        .chat_with_cards("Plan", 25, json!({"learning_steps": []}))
        .await;
    for card in &c[..5] {
        s.rate(card, "easy").await;
    }
    let ask = json!({"days": 10, "new_per_day": 8, "chat_id": chat});
    let plan = s
        .ok(Method::POST, "/api/v1/study/simulate", Some(ask.clone()))
        .await;
    assert_eq!(plan["new_per_day"], 8);
    let days = plan["days"].as_array().unwrap();
    assert_eq!(days.len(), 10);
    let new: Vec<u64> = days.iter().map(|d| d["new"].as_u64().unwrap()).collect();
    assert_eq!(
        new,
        [8, 8, 4, 0, 0, 0, 0, 0, 0, 0],
        "20 new cards at 8 a day"
    );
    assert_eq!(days[9]["introduced"], 25);
    for day in days {
        let retention = day["expected_retention"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&retention), "{day}");
    }
    assert_eq!(
        s.ok(Method::POST, "/api/v1/study/simulate", Some(ask))
            .await,
        plan,
        "repeatable"
    );
    let budget = s
        .ok(
            Method::POST,
            "/api/v1/study/simulate",
            Some(json!({"days": 10, "new_per_day": 8, "minutes_per_day": 1})),
        )
        .await;
    assert!(budget["days"][0]["new"].as_u64().unwrap() < 8, "{budget}");
    let response = s
        .send(
            Method::POST,
            "/api/v1/study/simulate",
            Some(
                json!({"days": 0, "new_per_day": 10000, "minutes_per_day": 0,
                "desired_retention": 0.5}),
            ),
        )
        .await;
    assert_eq!(
        fields_of(&problem(response, 422).await),
        [
            "days",
            "new_per_day",
            "minutes_per_day",
            "desired_retention"
        ]
    );
    let response = s
        .send(
            Method::POST,
            "/api/v1/study/simulate",
            Some(json!({"chat_id": uuid::Uuid::now_v7()})),
        )
        .await;
    problem(response, 404).await;
}

/// An exam keeps reviews before it and raises the retention as it nears; the forecast shows
/// the workload until the exam and the retention expected on the day.
async fn an_exam_keeps_reviews_before_it(backend: Backend) {
    let s = Session::start(backend, at(10, 12, 0)).await;
    let today = at(10, 12, 0).date_naive();
    let exam = today + Duration::days(3);
    let (plain, p) = s
        .chat_with_cards("Plain", 1, json!({"learning_steps": []}))
        .await;
    let (course, c) = s
        .chat_with_cards(
            "Course",
            3,
            json!({"learning_steps": [], "exam_date": exam.to_string()}),
        )
        .await;
    let options = s
        .ok(
            Method::GET,
            &format!("/api/v1/chats/{course}/study-options"),
            None,
        )
        .await;
    assert_eq!(options["exam_date"], exam.to_string().as_str());
    let free: DateTime<Utc> = s.rate(&p[0], "easy").await["due"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        free > at(13, 4, 0),
        "without an exam the first easy interval passes the exam: {free}"
    );
    let capped: DateTime<Utc> = s.rate(&c[0], "easy").await["due"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The exam day begins at 04:00 UTC (the default study day); the review, a day before.
    assert_eq!(capped, at(12, 4, 0));
    let forecast = s
        .ok(
            Method::GET,
            &format!("/api/v1/study/forecast?chat_id={course}"),
            None,
        )
        .await;
    assert_eq!(forecast["exam_date"], exam.to_string().as_str());
    assert_eq!(forecast["days_left"], 3);
    assert_eq!(forecast["days"].as_array().unwrap().len(), 4);
    assert_eq!(forecast["cards_by_exam"], 3);
    let expected = forecast["expected_retention"].as_f64().unwrap();
    assert!(expected > 0.5 && expected <= 1.0, "{forecast}");
    let raised = forecast["desired_retention"].as_f64().unwrap();
    assert!(raised > 0.94 && raised < 0.95, "three days out: {raised}");
    // Bad dates are refused; null removes the exam; a chat without one has no forecast.
    let path = format!("/api/v1/chats/{course}/study-options");
    for bad in [
        json!((today - Duration::days(1)).to_string()),
        json!("soon"),
    ] {
        let response = s
            .send(Method::PATCH, &path, Some(json!({"exam_date": bad})))
            .await;
        assert!(response.status().is_client_error(), "{bad}");
    }
    let cleared = s
        .ok(Method::PATCH, &path, Some(json!({"exam_date": null})))
        .await;
    assert_eq!(cleared["exam_date"], Value::Null);
    for chat in [&plain, &course] {
        let response = s
            .send(
                Method::GET,
                &format!("/api/v1/study/forecast?chat_id={chat}"),
                None,
            )
            .await;
        assert_eq!(fields_of(&problem(response, 422).await), ["chat_id"]);
    }
}

/// A card is explained from its source passage and its neighbours, with citations of the
/// student's material; once the document is deleted the card says its source is missing and
/// the explanation falls back to the chat's material.
async fn a_card_is_explained_from_its_source(backend: Backend) {
    let s = Session::start(backend, at(10, 12, 0)).await;
    let chat = s.app.create_chat(&s.token, "Explain").await;
    let doc = crate::knowledge::ingested(
        &s.app,
        &s.token,
        &chat,
        "notes.md",
        crate::knowledge::NOTES.as_bytes().to_vec(),
    )
    .await;
    let saved = s
        .ok(
            Method::POST,
            &format!("/api/v1/chats/{chat}/flashcards/generate"),
            Some(json!({"document_id": doc["id"], "count": 2, "save": true})),
        )
        .await;
    let card = saved["cards"][0].clone();
    let chunk = text_of(&card["source"], "chunk_id").to_string();
    // A source's passage must be one of its document's: a card cannot claim one that is not.
    let made_up = uuid::Uuid::now_v7().to_string();
    let response = s
        .send(
            Method::POST,
            &format!("/api/v1/chats/{chat}/flashcards"),
            Some(json!({"question": "q?", "answer": "a", "source": {"document_id": doc["id"], "chunk_id": made_up}})),
        )
        .await;
    assert_eq!(
        fields_of(&problem(response, 422).await),
        ["source.chunk_id"]
    );
    let response = s
        .send(
            Method::POST,
            &format!("/api/v1/chats/{chat}/flashcards"),
            Some(json!({"question": "q?", "answer": "a", "source": {"document_id": doc["id"], "chunk_id": chunk}})),
        )
        .await;
    assert_eq!(response.status(), 201);
    let explained = s
        .ok(
            Method::POST,
            &format!("/api/v1/flashcards/{}/explain", id_of(&card)),
            None,
        )
        .await;
    assert_eq!(explained["source_status"], "available");
    assert!(!text_of(&explained, "explanation").is_empty());
    let citations = explained["citations"].as_array().unwrap();
    assert!(!citations.is_empty(), "{explained}");
    assert!(
        citations.iter().any(|c| c["chunk_id"] == chunk.as_str()),
        "the card's own passage is cited: {explained}"
    );
    for citation in citations {
        assert_eq!(citation["document_id"], doc["id"]);
        assert!(crate::knowledge::NOTES.contains(text_of(citation, "quote")));
    }
    // Another user's card is not there for them.
    s.clock.set(Utc::now());
    let other = s.app.signed_up("stranger").await.access;
    let response = s
        .app
        .authed(
            Method::POST,
            &format!("/api/v1/flashcards/{}/explain", id_of(&card)),
            &other,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response, 404).await["code"], "flashcard_not_found");
    // The document goes: the card stays, its source missing, and is still explained.
    let response = s
        .send(
            Method::DELETE,
            &format!("/api/v1/chats/{chat}/documents/{}", id_of(&doc)),
            None,
        )
        .await;
    assert_eq!(response.status(), 204);
    let explained = s
        .ok(
            Method::POST,
            &format!("/api/v1/flashcards/{}/explain", id_of(&card)),
            None,
        )
        .await;
    assert_eq!(explained["source_status"], "missing");
    assert_eq!(explained["citations"], json!([]), "nothing left to cite");
}

/// The offline generator proposes cloze cards: a sentence that is not a short definition
/// becomes one gap, `{{c1::term}}`, saved as a cloze card whose front shows `[...]`; a short
/// definition stays a question and answer.
async fn generated_cloze_cards_are_saved_as_cloze_notes(backend: Backend) {
    let s = Session::start(backend, at(10, 9, 0)).await;
    let chat = s.app.create_chat(&s.token, "Generated").await;
    let text = "Osmosis is the movement of water across a membrane. \
                Photosynthesis is the process by which green plants and some other organisms use \
                sunlight to synthesize foods from carbon dioxide and water. \
                Chloroplasts capture sunlight inside the leaves of every green plant.";
    let response = s
        .send(
            Method::POST,
            &format!("/api/v1/chats/{chat}/flashcards/generate"),
            Some(json!({"text": text, "count": 10, "save": true})),
        )
        .await;
    assert_eq!(response.status(), 200);
    let generated: Value = body_of(response).await;
    let drafts = generated["drafts"].as_array().unwrap();
    assert_eq!(drafts.len(), 3, "{generated}");
    assert_eq!(drafts[0]["kind"], "basic");
    assert_eq!(drafts[0]["question"], "What is Osmosis?");
    assert_eq!(
        drafts[1]["kind"], "cloze",
        "a long definition asks for the term"
    );
    assert!(
        text_of(&drafts[1], "question").starts_with("{{c1::Photosynthesis}} is the process"),
        "{generated}"
    );
    assert_eq!(drafts[2]["kind"], "cloze");
    assert!(
        text_of(&drafts[2], "question").contains("{{c1::"),
        "{generated}"
    );
    let cards = generated["cards"].as_array().unwrap();
    assert_eq!(cards.len(), 3);
    let cloze = &cards[1];
    assert_eq!(cloze["kind"], "cloze");
    assert_eq!(cloze["ordinal"], 1);
    assert!(
        text_of(cloze, "front").starts_with("[...] is the process"),
        "{cloze}"
    );
    assert!(text_of(cloze, "back").contains("Photosynthesis"), "{cloze}");
}

/// A CSV deck carries each note once with its type; importing it makes every card of each
/// note, and an unknown type is a row error.
async fn csv_decks_carry_the_note_type(backend: Backend) {
    let s = Session::start(backend, at(10, 12, 0)).await;
    let chat = s.app.create_chat(&s.token, "Deck").await;
    let created = s
        .send(
            Method::POST,
            &format!("/api/v1/chats/{chat}/flashcards/bulk"),
            Some(json!({"cards": [
                {"kind": "reversed", "question": "Mitochondria", "answer": "Powerhouse"},
                {"kind": "cloze", "question": "{{c1::ATP}} stores {{c2::energy}}"},
                {"question": "Basic?", "answer": "Yes"}
            ]})),
        )
        .await;
    assert_eq!(created.status(), 201);
    let response = s
        .send(
            Method::GET,
            &format!("/api/v1/chats/{chat}/flashcards/export"),
            None,
        )
        .await;
    let exported = response.text().await.unwrap();
    let mut lines: Vec<&str> = exported.lines().collect();
    assert_eq!(lines.remove(0), "question,answer,tags,type");
    lines.sort();
    assert_eq!(
        lines,
        [
            "Basic?,Yes,,basic",
            "Mitochondria,Powerhouse,,reversed",
            "{{c1::ATP}} stores {{c2::energy}},,,cloze"
        ],
        "one row per note"
    );
    let other = s.app.create_chat(&s.token, "Copy").await;
    let file = format!("{exported}Odd,row,,sideways\n");
    let response = s
        .app
        .authed(
            Method::POST,
            &format!("/api/v1/chats/{other}/flashcards/import"),
            &s.token,
        )
        .header("Content-Type", "text/csv")
        .body(file)
        .send()
        .await
        .unwrap();
    let report: Value = body_of(response).await;
    assert_eq!(report["imported"], 5, "2 + 2 + 1 cards: {report}");
    assert_eq!(report["errors"][0]["row"], 4);
    assert_eq!(report["errors"][0]["field"], "type");
}

on_every_backend!(
    generated_cloze_cards_are_saved_as_cloze_notes,
    csv_decks_carry_the_note_type,
    a_card_is_explained_from_its_source,
    an_exam_keeps_reviews_before_it,
    the_workload_is_simulated_from_the_callers_cards,
    stats_count_study_days_and_forecast_the_month,
    notes_make_sibling_cards_that_bury_each_other,
    study_options_have_defaults_and_check_every_field,
    daily_limits_hold_until_the_users_day_ends,
    learning_steps_bring_cards_back_then_graduate,
    undo_restores_cards_exactly_within_the_day,
    leeches_are_tagged_or_suspended,
    studying_across_chats_keeps_each_chats_limits,
);
