//! Model spend and held connections (issue 16): the usage ledger and daily budgets, concurrent
//! model calls, abandoned streams, resuming past the end, keep-alive and idle streams, request
//! bodies that stop arriving, readiness under a probe storm and the `/metrics` token.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use flashforge::Hooks;
use flashforge_domain::health::HealthCheck;
use flashforge_memory::{Reply, ScriptedModel};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, TestApp, Tokens, problem, spawn_app_configured, text_of};
use crate::messages::{
    contents, edit_message, events, list, regenerate_answer, send, send_streaming, setup,
};

async fn tokens_today(app: &TestApp, me: &Tokens) -> Value {
    app.get_json("/api/v1/me/usage", &me.access).await["model_tokens"].clone()
}

async fn used_today(app: &TestApp, me: &Tokens) -> u64 {
    tokens_today(app, me).await["used"].as_u64().unwrap()
}

/// Answers, regenerations, edits and flashcard generations are all counted, and deleting what
/// they produced gives nothing back (today's main summed the tokens of the messages still
/// stored, and generations were never counted).
async fn every_model_call_is_in_the_ledger_and_nothing_resets_it(backend: Backend) {
    let model = Arc::new(ScriptedModel::new());
    let (app, me, chat) = setup(backend, model.clone(), &[]).await;
    let today = tokens_today(&app, &me).await;
    assert_eq!(today["used"], 0);
    assert_eq!(today["limit"], Value::Null);
    assert!(text_of(&today, "resets_at").contains("T00:00:00"));

    let first: Value = send(&app, &me, &chat, json!({"content": "What makes ATP?"}))
        .await
        .json()
        .await
        .unwrap();
    let answered = used_today(&app, &me).await;
    let usage = &first["answer"]["usage"];
    assert_eq!(
        answered,
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap(),
        "the ledger holds what the provider reported"
    );
    let regenerated = regenerate_answer(&app, &me, &chat, &first["answer"]["id"], None).await;
    assert_eq!(regenerated.status(), 201);
    let after_regeneration = used_today(&app, &me).await;
    assert!(after_regeneration > answered);
    let edited = edit_message(
        &app,
        &me,
        &chat,
        &first["question"]["id"],
        json!({"content": "What makes ATP, exactly?"}),
    )
    .await;
    assert_eq!(edited.status(), 200, "an edit answers 200, not 201");
    let after_edit = used_today(&app, &me).await;
    assert!(after_edit > after_regeneration);

    model.push(Reply::Text(
        json!({"flashcards": [{"question": "Q?", "answer": "A", "source_chunk_id": null}]})
            .to_string(),
    ));
    let generated = app
        .authed(
            Method::POST,
            &format!("/api/v1/chats/{chat}/flashcards/generate"),
            &me.access,
        )
        .json(&json!({"text": "Mitochondria make ATP.", "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(generated.status(), 200);
    let after_cards = used_today(&app, &me).await;
    assert!(after_cards > after_edit, "a generation is counted");

    let deleted = app
        .authed(Method::DELETE, &format!("/api/v1/chats/{chat}"), &me.access)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(used_today(&app, &me).await, after_cards);
}

/// Requests that arrive together cannot all pass a budget that fits two of them: each reserves
/// its worst case before the model is called.
async fn concurrent_requests_cannot_all_pass_the_budget(backend: Backend) {
    let model = Arc::new(ScriptedModel::with_delay(Duration::from_millis(1500)));
    let (app, me, chat) = setup(
        backend,
        model,
        &[
            ("FLASHFORGE__ASSISTANT__DAILY_TOKEN_BUDGET", "2500"),
            ("FLASHFORGE__LLM__MAX_TOKENS", "1000"),
            ("FLASHFORGE__LLM__MAX_CONCURRENT_CALLS_PER_USER", "0"),
        ],
    )
    .await;
    let answers = futures_util::future::join_all((0..6).map(|i| {
        send(
            &app,
            &me,
            &chat,
            json!({"content": format!("question {i}")}),
        )
    }))
    .await;
    let mut passed = 0;
    for answer in answers {
        if answer.status() == 201 {
            passed += 1;
        } else {
            assert_eq!(problem(answer, 429).await["code"], "token_budget_spent");
        }
    }
    assert!((1..=2).contains(&passed), "{passed} answers passed");
    let today = tokens_today(&app, &me).await;
    assert_eq!(today["limit"], 2500);
    assert!(today["used"].as_u64().unwrap() <= 2500);
    // Refused questions were not stored.
    assert_eq!(contents(&app, &me, &chat).await.len(), passed * 2);
}

async fn a_user_runs_a_bounded_number_of_model_calls_at_once(backend: Backend) {
    let model = Arc::new(ScriptedModel::with_delay(Duration::from_millis(1500)));
    let (app, me, chat) = setup(
        backend,
        model,
        &[("FLASHFORGE__LLM__MAX_CONCURRENT_CALLS_PER_USER", "1")],
    )
    .await;
    let answers = futures_util::future::join_all((0..3).map(|i| {
        send(
            &app,
            &me,
            &chat,
            json!({"content": format!("question {i}")}),
        )
    }))
    .await;
    let mut passed = 0;
    for answer in answers {
        if answer.status() == 201 {
            passed += 1;
        } else {
            assert!(answer.headers().contains_key("retry-after"));
            assert_eq!(problem(answer, 429).await["code"], "model_calls_busy");
        }
    }
    assert_eq!(passed, 1);
    // The slot is given back when the call ends.
    assert_eq!(
        send(&app, &me, &chat, json!({"content": "again"}))
            .await
            .status(),
        201
    );
}

const LONG_ANSWER: &str = "one two three four five six seven eight nine ten eleven twelve \
    thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two \
    twenty-three twenty-four twenty-five twenty-six twenty-seven twenty-eight twenty-nine thirty";

/// A client that leaves and does not come back stops the answer (today's main wrote it to the
/// end, paying for every token nobody would read); its tokens are counted. One that comes back
/// within the grace time gets the whole answer.
async fn an_abandoned_stream_is_stopped_and_counted(backend: Backend) {
    let model = Arc::new(ScriptedModel::with_delay(Duration::from_millis(150)));
    model.push(Reply::Text(LONG_ANSWER.into()));
    model.push(Reply::Text(LONG_ANSWER.into()));
    let (app, me, chat) = setup(
        backend,
        model,
        &[("FLASHFORGE__ASSISTANT__ABANDONED_STREAM_SECS", "1")],
    )
    .await;
    let mut response = send_streaming(&app, &me, &chat, json!({"content": "Count"})).await;
    let first = response.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: question"));
    drop(response);
    let mut stored = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stored = list(&app, &me, &chat).await;
        if stored.len() == 2 {
            break;
        }
    }
    assert_eq!(stored.len(), 2, "what was written is kept");
    let kept = text_of(&stored[1], "content");
    assert_eq!(stored[1]["status"], "incomplete");
    assert!(
        kept.len() < LONG_ANSWER.len() && LONG_ANSWER.starts_with(kept),
        "the answer was stopped part-way: {kept:?}"
    );
    assert!(used_today(&app, &me).await > 0, "its tokens are counted");

    // Back within the grace time: the answer goes on to the end.
    let mut response = send_streaming(&app, &me, &chat, json!({"content": "Again"})).await;
    let answer_id = response.headers()["x-answer-id"]
        .to_str()
        .unwrap()
        .to_string();
    response.chunk().await.unwrap();
    drop(response);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let resumed = app
        .authed(
            Method::GET,
            &format!("/api/v1/chats/{chat}/messages/{answer_id}/stream"),
            &me.access,
        )
        .header("last-event-id", "1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resumed = events(&resumed);
    let (_, last, done) = resumed.last().unwrap();
    assert_eq!(last, "done", "{resumed:?}");
    assert_eq!(done["answer"]["content"], LONG_ANSWER);
    assert_eq!(done["answer"]["status"], "complete");
}

/// `Last-Event-ID` at or past the final event ends at once with the terminal event (today's
/// main waited forever for an event that would never come).
async fn resuming_past_the_end_ends_at_once(backend: Backend) {
    let model = Arc::new(ScriptedModel::new());
    model.push(Reply::Text("A short answer.".into()));
    let (app, me, chat) = setup(backend, model, &[]).await;
    let response = send_streaming(&app, &me, &chat, json!({"content": "Short?"})).await;
    let answer_id = response.headers()["x-answer-id"]
        .to_str()
        .unwrap()
        .to_string();
    let streamed = events(&response.text().await.unwrap());
    let (last_id, _, _) = streamed.last().unwrap().clone();
    for past in [last_id, last_id + 1, 999] {
        let resumed = tokio::time::timeout(
            Duration::from_secs(5),
            app.authed(
                Method::GET,
                &format!("/api/v1/chats/{chat}/messages/{answer_id}/stream"),
                &me.access,
            )
            .header("last-event-id", past.to_string())
            .send()
            .await
            .unwrap()
            .text(),
        )
        .await
        .expect("the stream ends at once")
        .unwrap();
        let resumed = events(&resumed);
        assert_eq!(resumed.len(), 1, "{resumed:?}");
        assert_eq!(resumed[0].1, "done");
        assert_eq!(resumed[0].2["answer"]["content"], "A short answer.");
    }
}

/// While an answer is slow to come, comment lines keep the connection alive; a stream that has
/// sent no event for its idle time ends.
async fn streams_are_kept_alive_and_end_when_idle(backend: Backend) {
    let model = Arc::new(ScriptedModel::with_delay(Duration::from_millis(1300)));
    model.push(Reply::Text("slow answer".into()));
    let (app, me, chat) = setup(
        backend,
        model.clone(),
        &[
            ("FLASHFORGE__SERVER__SSE_KEEPALIVE_SECS", "1"),
            ("FLASHFORGE__SERVER__SSE_IDLE_TIMEOUT_SECS", "2"),
        ],
    )
    .await;
    let body = send_streaming(&app, &me, &chat, json!({"content": "Slow?"}))
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains(": keep-alive\n\n"), "{body}");
    assert!(body.contains("event: done"), "{body}");

    // Nothing for longer than the idle time: the stream ends without its answer.
    let stuck = Arc::new(ScriptedModel::with_delay(Duration::from_secs(4)));
    stuck.push(Reply::Text("late".into()));
    let (app, me, chat) = setup(
        backend,
        stuck,
        &[
            ("FLASHFORGE__SERVER__SSE_KEEPALIVE_SECS", "1"),
            ("FLASHFORGE__SERVER__SSE_IDLE_TIMEOUT_SECS", "2"),
        ],
    )
    .await;
    let started = std::time::Instant::now();
    let body = tokio::time::timeout(
        Duration::from_secs(10),
        send_streaming(&app, &me, &chat, json!({"content": "Stuck?"}))
            .await
            .text(),
    )
    .await
    .expect("an idle stream ends")
    .unwrap();
    assert!(!body.contains("event: done"), "{body}");
    assert!(started.elapsed() < Duration::from_millis(3900));
}

/// A body that stops arriving is cut off with 408 (today's main had a limit on the head only,
/// so a trickled login held its connection for ever).
async fn a_request_body_that_stops_arriving_is_408(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        Hooks::default(),
        &[("FLASHFORGE__SERVER__BODY_TIMEOUT_SECS", "1")],
    )
    .await;
    let address = app.address.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\":",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buffer = [0u8; 4096];
        loop {
            let n = stream.read(&mut buffer).await.unwrap();
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server answered");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "the half-read connection is not reused: {answer}"
    );
}

struct Counting(Arc<AtomicUsize>);

#[async_trait]
impl HealthCheck for Counting {
    fn name(&self) -> &str {
        "counted"
    }
    fn required(&self) -> bool {
        true
    }
    async fn check(&self) -> Result<(), String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A storm of readiness probes checks the dependencies about once a second.
async fn readiness_checks_its_dependencies_once_a_second(backend: Backend) {
    let checks = Arc::new(AtomicUsize::new(0));
    let app = spawn_app_configured(
        backend,
        Hooks {
            extra_health_checks: vec![Arc::new(Counting(checks.clone()))],
            ..Hooks::default()
        },
        &[],
    )
    .await;
    let before = checks.load(Ordering::SeqCst);
    let started = std::time::Instant::now();
    let probes = futures_util::future::join_all((0..100).map(|_| app.get("/health/ready"))).await;
    assert!(probes.iter().all(|p| p.status() == 200));
    let seconds = started.elapsed().as_secs() as usize;
    assert!(
        checks.load(Ordering::SeqCst) - before <= seconds + 2,
        "{} checks for 100 probes in {seconds} s",
        checks.load(Ordering::SeqCst) - before
    );
}

/// Wrong `/metrics` tokens from one address are throttled like failed logins (today's main let
/// a client guess at request rate).
async fn wrong_metrics_tokens_are_throttled(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        Hooks::default(),
        &[
            ("FLASHFORGE__METRICS__TOKEN", "the-right-metrics-token"),
            ("FLASHFORGE__RATE_LIMIT__LOGIN_FAILURES_BEFORE_BACKOFF", "3"),
        ],
    )
    .await;
    let metrics = |token: &'static str| {
        app.client
            .get(app.url("/metrics"))
            .bearer_auth(token)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(metrics("guess").await.unwrap().status(), 404);
    }
    let throttled = metrics("guess").await.unwrap();
    assert!(throttled.headers().contains_key("retry-after"));
    assert_eq!(problem(throttled, 429).await["code"], "rate_limited");
    // While held, even the right token waits (the address is guessing).
    assert_eq!(
        metrics("the-right-metrics-token").await.unwrap().status(),
        429
    );
}

on_every_backend!(
    every_model_call_is_in_the_ledger_and_nothing_resets_it,
    concurrent_requests_cannot_all_pass_the_budget,
    a_user_runs_a_bounded_number_of_model_calls_at_once,
    an_abandoned_stream_is_stopped_and_counted,
    resuming_past_the_end_ends_at_once,
    streams_are_kept_alive_and_end_when_idle,
    a_request_body_that_stops_arriving_is_408,
    readiness_checks_its_dependencies_once_a_second,
    wrong_metrics_tokens_are_throttled,
);
