//! Messages and grounded answers through HTTP, with the scripted model (and the offline default).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use flashforge::Hooks;
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::assistant::{LlmError, Passage, PassageSearch};
use flashforge_domain::chats::ChatId;
use flashforge_memory::{Reply, ScriptedModel};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Backend, TestApp, Tokens, array_of, id_of, items_of, problem, spawn_app, spawn_app_configured,
    text_of,
};

/// Two fixed passages for any question.
pub(crate) struct FixedPassages(Vec<Passage>);

impl FixedPassages {
    pub(crate) fn new() -> Self {
        Self(vec![
            Passage {
                chunk_id: Uuid::now_v7(),
                document_id: Uuid::now_v7(),
                file_name: "cell-biology.pdf".into(),
                page: Some(12),
                page_label: Some("p. 12".into()),
                text: "Mitochondria produce most of the cell's ATP. They have their own DNA."
                    .into(),
            },
            Passage {
                chunk_id: Uuid::now_v7(),
                document_id: Uuid::now_v7(),
                file_name: "cell-biology.pdf".into(),
                page: Some(13),
                page_label: Some("slide 13".into()),
                text: "The nucleus stores the chromosomes.".into(),
            },
        ])
    }
}

#[async_trait]
impl PassageSearch for FixedPassages {
    async fn search(
        &self,
        _: UserId,
        _: ChatId,
        _: &str,
        limit: usize,
    ) -> Result<Vec<Passage>, InfraError> {
        Ok(self.0.iter().take(limit).cloned().collect())
    }
}

pub(crate) async fn setup(
    backend: Backend,
    model: Arc<ScriptedModel>,
    overrides: &[(&str, &str)],
) -> (TestApp, Tokens, String) {
    let app = spawn_app_configured(
        backend,
        Hooks {
            language_model: Some(model),
            passages: Some(Arc::new(FixedPassages::new())),
            ..Hooks::default()
        },
        overrides,
    )
    .await;
    let me = app.signed_up("learner").await;
    let chat = app.create_chat(&me.access, "Biology").await;
    (app, me, chat)
}

pub(crate) async fn send(app: &TestApp, me: &Tokens, chat: &str, body: Value) -> reqwest::Response {
    app.authed(
        Method::POST,
        &format!("/api/v1/chats/{chat}/messages"),
        &me.access,
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

/// Sends a message asking for the answer as server-sent events.
pub(crate) async fn send_streaming(
    app: &TestApp,
    me: &Tokens,
    chat: &str,
    body: Value,
) -> reqwest::Response {
    app.authed(
        Method::POST,
        &format!("/api/v1/chats/{chat}/messages"),
        &me.access,
    )
    .header("accept", "text/event-stream")
    .json(&body)
    .send()
    .await
    .unwrap()
}

pub(crate) async fn list(app: &TestApp, me: &Tokens, chat: &str) -> Vec<Value> {
    let page: Value = app
        .get_json(&format!("/api/v1/chats/{chat}/messages"), &me.access)
        .await;
    items_of(&page).to_vec()
}

/// `POST …/messages/{answer}/regenerate`, with `body` when given.
pub(crate) async fn regenerate_answer(
    app: &TestApp,
    me: &Tokens,
    chat: &str,
    answer: &Value,
    body: Option<Value>,
) -> reqwest::Response {
    let path = format!(
        "/api/v1/chats/{chat}/messages/{}/regenerate",
        answer.as_str().unwrap()
    );
    let mut request = app.authed(Method::POST, &path, &me.access);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// `PATCH …/messages/{message}`: an edit.
pub(crate) async fn edit_message(
    app: &TestApp,
    me: &Tokens,
    chat: &str,
    message: &Value,
    body: Value,
) -> reqwest::Response {
    let path = format!(
        "/api/v1/chats/{chat}/messages/{}",
        message.as_str().unwrap()
    );
    app.authed(Method::PATCH, &path, &me.access)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The contents of the chat's messages, oldest first.
pub(crate) async fn contents(app: &TestApp, me: &Tokens, chat: &str) -> Vec<String> {
    list(app, me, chat)
        .await
        .iter()
        .map(|m| text_of(m, "content").to_string())
        .collect()
}

async fn an_answer_is_grounded_cited_and_stored_after_its_question(backend: Backend) {
    let model = Arc::new(ScriptedModel::new());
    model.push(Reply::Text("Mitochondria make ATP [1]; ignore [7].".into()));
    let (app, me, chat) = setup(backend, model.clone(), &[]).await;
    let response = send(&app, &me, &chat, json!({"content": "What makes ATP?"})).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["question"]["role"], "user");
    assert_eq!(body["question"]["content"], "What makes ATP?");
    let answer = &body["answer"];
    assert_eq!(answer["role"], "assistant");
    assert_eq!(answer["status"], "complete");
    assert_eq!(answer["model"], ScriptedModel::NAME);
    assert!(answer["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let citations = array_of(answer, "citations");
    assert_eq!(
        citations.len(),
        1,
        "only passages that were in the prompt are cited"
    );
    assert_eq!(citations[0]["page"], 12);
    assert_eq!(
        citations[0]["quote"],
        "Mitochondria produce most of the cell's ATP."
    );

    // The model saw the numbered passages.
    let prompt = &model.prompts()[0];
    assert_eq!(prompt.passages.len(), 2);
    assert!(
        prompt
            .system_text()
            .contains("<passage number=\"1\" source=\"cell-biology.pdf, p. 12\">")
    );

    // A follow-up carries the conversation.
    send(&app, &me, &chat, json!({"content": "And the nucleus?"})).await;
    let history = &model.prompts()[1].history;
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].content, "What makes ATP?");

    let messages = list(&app, &me, &chat).await;
    let roles: Vec<&str> = messages.iter().map(|m| text_of(m, "role")).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(messages[1]["id"], answer["id"]);
}

async fn without_a_model_the_offline_assistant_says_so(backend: Backend) {
    let app = spawn_app(backend).await;
    let me = app.signed_up("offline").await;
    let chat = app.create_chat(&me.access, "Notes").await;
    let body: Value = send(&app, &me, &chat, json!({"content": "Explain osmosis"}))
        .await
        .json()
        .await
        .unwrap();
    let text = text_of(&body["answer"], "content");
    assert!(text.contains("No language model is configured"), "{text}");
    assert_eq!(body["answer"]["model"], "offline-extractive");
    let models: Value = app.get_json("/api/v1/models", &me.access).await;
    assert_eq!(models["default"], "offline-extractive");
}

/// Reads an SSE body into `(id, event, data)` triples.
pub(crate) fn events(body: &str) -> Vec<(u64, String, Value)> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut id = 0;
            let mut event = String::new();
            let mut data = Value::Null;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse().unwrap();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    event = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(v).unwrap();
                }
            }
            (id, event, data)
        })
        .collect()
}

async fn answers_stream_as_server_sent_events(backend: Backend) {
    let model = Arc::new(ScriptedModel::new());
    model.push(Reply::Text("Mitochondria produce ATP [1] in cells.".into()));
    let (app, me, chat) = setup(backend, model, &[]).await;
    let response = send_streaming(&app, &me, &chat, json!({"content": "What makes ATP?"})).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = events(&response.text().await.unwrap());
    assert_eq!(events.first().unwrap().1, "question");
    let (last_id, last_event, done) = events.last().unwrap();
    assert_eq!(last_event, "done");
    let ids: Vec<u64> = events.iter().map(|e| e.0).collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "ids count up: {ids:?}"
    );
    assert_eq!(*last_id as usize, events.len() - 1);
    let streamed: String = events
        .iter()
        .filter(|e| e.1 == "delta")
        .map(|e| e.2["text"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, text_of(&done["answer"], "content"));
    assert_eq!(array_of(&done["answer"], "citations").len(), 1);
    let stored = list(&app, &me, &chat).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1]["content"], done["answer"]["content"]);
}

async fn an_answer_is_completed_and_stored_when_the_client_disconnects(backend: Backend) {
    let model = Arc::new(ScriptedModel::with_delay(Duration::from_millis(40)));
    model.push(Reply::Text(
        "one two three four five six seven eight".into(),
    ));
    let (app, me, chat) = setup(backend, model, &[]).await;
    let mut response = send_streaming(&app, &me, &chat, json!({"content": "Count"})).await;
    // Read the first piece, then hang up.
    let first = response.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: question"));
    drop(response);
    let mut stored = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stored = list(&app, &me, &chat).await;
        if stored.len() == 2 {
            break;
        }
    }
    assert_eq!(stored.len(), 2, "the answer was stored");
    assert_eq!(
        stored[1]["content"],
        "one two three four five six seven eight"
    );
    assert_eq!(stored[1]["status"], "complete");
}

async fn a_failing_provider_is_502_or_504_and_leaves_no_half_answer(backend: Backend) {
    let model = Arc::new(ScriptedModel::new());
    model.push(Reply::Fail(LlmError::Unavailable("HTTP 500".into())));
    model.push(Reply::Fail(LlmError::Timeout));
    model.push(Reply::FailAfter(
        "Half an ans".into(),
        LlmError::Unavailable("reset".into()),
    ));
    let (app, me, chat) = setup(backend, model, &[]).await;

    let failed = problem(send(&app, &me, &chat, json!({"content": "Q1"})).await, 502).await;
    assert_eq!(failed["code"], "model_unavailable");
    assert!(
        !failed.to_string().contains("HTTP 500"),
        "provider details stay in the log"
    );
    let timed_out = problem(send(&app, &me, &chat, json!({"content": "Q2"})).await, 504).await;
    assert_eq!(timed_out["code"], "model_timeout");
    let stored = list(&app, &me, &chat).await;
    assert_eq!(stored.len(), 2, "both questions are stored, no answers");
    assert!(stored.iter().all(|m| m["role"] == "user"));

    // A stream cut part-way: an error event, and the part that was written kept as incomplete.
    let body = send_streaming(&app, &me, &chat, json!({"content": "Q3"}))
        .await
        .text()
        .await
        .unwrap();
    let events = events(&body);
    let (_, last, problem_body) = events.last().unwrap();
    assert_eq!(last, "error");
    assert_eq!(problem_body["status"], 502);
    let stored = list(&app, &me, &chat).await;
    let last = stored.last().unwrap();
    assert_eq!(last["role"], "assistant");
    assert_eq!(last["status"], "incomplete");
    assert_eq!(last["content"], "Half an ans");
}

async fn the_daily_token_budget_answers_429_when_spent(backend: Backend) {
    // A call reserves its prompt (~200 tokens here) and max_tokens (50) of answer: the first
    // fits 300 tokens, the second does not.
    let (app, me, chat) = setup(
        backend,
        Arc::new(ScriptedModel::new()),
        &[
            ("FLASHFORGE__ASSISTANT__DAILY_TOKEN_BUDGET", "300"),
            ("FLASHFORGE__LLM__MAX_TOKENS", "50"),
        ],
    )
    .await;
    let first = send(&app, &me, &chat, json!({"content": "first"})).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let spent = send(&app, &me, &chat, json!({"content": "second"})).await;
    let retry_after: u64 = spent.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 86_400);
    assert_eq!(problem(spent, 429).await["code"], "token_budget_spent");
    // Regenerating and editing ask the model too: the same 429, and nothing changes.
    let regenerate = regenerate_answer(&app, &me, &chat, &first["answer"]["id"], None).await;
    assert_eq!(problem(regenerate, 429).await["code"], "token_budget_spent");
    let edit = edit_message(
        &app,
        &me,
        &chat,
        &first["question"]["id"],
        json!({"content": "first, rephrased"}),
    )
    .await;
    assert_eq!(problem(edit, 429).await["code"], "token_budget_spent");
    assert_eq!(contents(&app, &me, &chat).await.len(), 2);
    assert_eq!(contents(&app, &me, &chat).await[0], "first");
}

async fn bad_messages_are_422_and_other_chats_404(backend: Backend) {
    let (app, me, chat) = setup(backend, Arc::new(ScriptedModel::new()), &[]).await;
    for body in [
        json!({"content": ""}),
        json!({"content": "   "}),
        json!({"content": "x".repeat(8001)}),
    ] {
        let bad = problem(send(&app, &me, &chat, body).await, 422).await;
        assert_eq!(bad["errors"][0]["field"], "content");
    }
    let unknown = problem(
        send(
            &app,
            &me,
            &chat,
            json!({"content": "hi", "model": "gpt-99"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(unknown["errors"][0]["field"], "model");
    let named = send(
        &app,
        &me,
        &chat,
        json!({"content": "hi", "model": ScriptedModel::OTHER}),
    )
    .await;
    let named: Value = named.json().await.unwrap();
    assert_eq!(named["answer"]["model"], ScriptedModel::OTHER);
    let missing = Uuid::now_v7();
    problem(
        send(&app, &me, &missing.to_string(), json!({"content": "hi"})).await,
        404,
    )
    .await;
    let models: Value = app.get_json("/api/v1/models", &me.access).await;
    assert_eq!(array_of(&models, "models").len(), 2);

    // An edit and a regeneration check the same fields, and change nothing when refused.
    let before = contents(&app, &me, &chat).await;
    for (body, field) in [
        (json!({"content": ""}), "content"),
        (json!({"content": "x".repeat(8001)}), "content"),
        (json!({"content": "fine", "model": "gpt-99"}), "model"),
    ] {
        let edit = edit_message(&app, &me, &chat, &named["question"]["id"], body).await;
        assert_eq!(problem(edit, 422).await["errors"][0]["field"], field);
    }
    let regenerate = regenerate_answer(
        &app,
        &me,
        &chat,
        &named["answer"]["id"],
        Some(json!({"model": "gpt-99"})),
    )
    .await;
    assert_eq!(
        problem(regenerate, 422).await["errors"][0]["field"],
        "model"
    );
    assert_eq!(contents(&app, &me, &chat).await, before);
}

/// A long conversation pages oldest first without gaps or repeats, and talking in a chat moves
/// it to the top of the chat list.
async fn messages_page_in_order_and_talking_moves_the_chat_up(backend: Backend) {
    let model = Arc::new(ScriptedModel::new());
    for i in 0..4 {
        model.push(Reply::Text(format!("answer {i}")));
    }
    let (app, me, chat) = setup(backend, model, &[]).await;
    let newer = app.create_chat(&me.access, "Newer").await;
    let chats = app.get_json("/api/v1/chats", &me.access).await;
    assert_eq!(chats["items"][0]["id"], newer.as_str(), "newest first");

    for i in 0..4 {
        let sent = send(
            &app,
            &me,
            &chat,
            json!({"content": format!("question {i}")}),
        )
        .await;
        assert_eq!(sent.status(), 201);
    }
    let all = crate::helpers::every_page(
        &app,
        &me.access,
        &format!("/api/v1/chats/{chat}/messages"),
        3,
    )
    .await;
    let contents: Vec<&str> = all.iter().map(|m| text_of(m, "content")).collect();
    let expected: Vec<String> = (0..4)
        .flat_map(|i| [format!("question {i}"), format!("answer {i}")])
        .collect();
    assert_eq!(contents, expected);
    let bad = app
        .authed(
            Method::GET,
            &format!("/api/v1/chats/{chat}/messages?cursor=not-a-cursor"),
            &me.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(problem(bad, 422).await["errors"][0]["field"], "cursor");

    let chats = app.get_json("/api/v1/chats", &me.access).await;
    assert_eq!(
        chats["items"][0]["id"],
        chat.as_str(),
        "the chat talked in comes first"
    );
    let activity = |i: usize| {
        chrono::DateTime::parse_from_rfc3339(text_of(&chats["items"][i], "last_activity_at"))
            .unwrap()
    };
    assert!(activity(0) > activity(1));
}

async fn deleting_a_chat_deletes_its_messages(backend: Backend) {
    let (app, me, chat) = setup(backend, Arc::new(ScriptedModel::new()), &[]).await;
    send(&app, &me, &chat, json!({"content": "remember me"})).await;
    app.authed(Method::DELETE, &format!("/api/v1/chats/{chat}"), &me.access)
        .send()
        .await
        .unwrap();
    let gone = app
        .authed(
            Method::GET,
            &format!("/api/v1/chats/{chat}/messages"),
            &me.access,
        )
        .send()
        .await
        .unwrap();
    problem(gone, 404).await;
}

async fn the_last_answer_can_be_regenerated_and_a_question_edited(backend: Backend) {
    let model = Arc::new(ScriptedModel::new());
    for reply in [
        "first answer",
        "second answer",
        "regenerated answer",
        "answer to the edit",
    ] {
        model.push(Reply::Text(reply.into()));
    }
    let (app, me, chat) = setup(backend, model.clone(), &[]).await;
    let one: Value = send(&app, &me, &chat, json!({"content": "Q1"}))
        .await
        .json()
        .await
        .unwrap();
    let two: Value = send(&app, &me, &chat, json!({"content": "Q2"}))
        .await
        .json()
        .await
        .unwrap();

    // Only the last answer can be regenerated.
    let stale = regenerate_answer(&app, &me, &chat, &one["answer"]["id"], None).await;
    assert_eq!(problem(stale, 409).await["code"], "not_last_answer");
    let regenerated: Value = regenerate_answer(&app, &me, &chat, &two["answer"]["id"], None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(regenerated["question"]["id"], two["question"]["id"]);
    assert_eq!(regenerated["answer"]["content"], "regenerated answer");
    assert_eq!(
        contents(&app, &me, &chat).await,
        ["Q1", "first answer", "Q2", "regenerated answer"]
    );
    // The regenerated answer saw the same history as the original.
    assert_eq!(model.prompts()[2].history.len(), 2);

    // Editing Q1 replaces everything after it; an edit creates nothing new: 200.
    let edited = edit_message(
        &app,
        &me,
        &chat,
        &one["question"]["id"],
        json!({"content": "Q1, rephrased"}),
    )
    .await;
    assert_eq!(edited.status(), 200);
    let edited: Value = edited.json().await.unwrap();
    assert_eq!(edited["question"]["id"], one["question"]["id"]);
    assert_eq!(edited["question"]["content"], "Q1, rephrased");
    assert_eq!(
        contents(&app, &me, &chat).await,
        ["Q1, rephrased", "answer to the edit"]
    );
    assert!(model.prompts()[3].history.is_empty());

    // An answer cannot be edited; unknown ids are 404.
    let not_user = edit_message(
        &app,
        &me,
        &chat,
        &edited["answer"]["id"],
        json!({"content": "rewrite history"}),
    )
    .await;
    problem(not_user, 422).await;
    let unknown = regenerate_answer(&app, &me, &chat, &json!(Uuid::now_v7()), None).await;
    assert_eq!(problem(unknown, 404).await["code"], "message_not_found");
}

async fn a_failed_regeneration_keeps_the_old_answer_and_a_failed_edit_keeps_the_edit(
    backend: Backend,
) {
    let model = Arc::new(ScriptedModel::new());
    model.push(Reply::Text("first answer".into()));
    model.push(Reply::Text("second answer".into()));
    model.push(Reply::Fail(LlmError::Unavailable("HTTP 503".into())));
    model.push(Reply::Fail(LlmError::Unavailable("HTTP 503".into())));
    model.push(Reply::FailAfter(
        "Half a new ans".into(),
        LlmError::Unavailable("reset".into()),
    ));
    model.push(Reply::Text("regenerated at last".into()));
    model.push(Reply::Fail(LlmError::Timeout));
    let (app, me, chat) = setup(backend, model.clone(), &[]).await;
    let one: Value = send(&app, &me, &chat, json!({"content": "Q1"}))
        .await
        .json()
        .await
        .unwrap();
    let two: Value = send(&app, &me, &chat, json!({"content": "Q2"}))
        .await
        .json()
        .await
        .unwrap();

    // The provider fails: 502, and the answer that was there is still there, with its id.
    let failed = regenerate_answer(&app, &me, &chat, &two["answer"]["id"], None).await;
    assert_eq!(problem(failed, 502).await["code"], "model_unavailable");
    assert_eq!(
        contents(&app, &me, &chat).await,
        ["Q1", "first answer", "Q2", "second answer"]
    );
    let stored = list(&app, &me, &chat).await;
    assert_eq!(stored[3]["id"], two["answer"]["id"]);

    // Asked for a stream, the same: the model fails before any event, so a 502, nothing replaced.
    let failed = app
        .authed(
            Method::POST,
            &format!(
                "/api/v1/chats/{chat}/messages/{}/regenerate",
                id_of(&two["answer"])
            ),
            &me.access,
        )
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(failed, 502).await["code"], "model_unavailable");
    assert_eq!(
        contents(&app, &me, &chat).await,
        ["Q1", "first answer", "Q2", "second answer"]
    );

    // A streamed regeneration cut part-way: the deltas, an error event, and still the old answer.
    let body = app
        .authed(
            Method::POST,
            &format!(
                "/api/v1/chats/{chat}/messages/{}/regenerate",
                id_of(&two["answer"])
            ),
            &me.access,
        )
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = events(&body);
    assert!(events.iter().any(|(_, name, _)| name == "delta"), "{body}");
    let (_, last, failure) = events.last().unwrap();
    assert_eq!((last.as_str(), &failure["status"]), ("error", &json!(502)));
    assert_eq!(
        contents(&app, &me, &chat).await,
        ["Q1", "first answer", "Q2", "second answer"]
    );

    // So it can be regenerated again, and then the old answer is replaced.
    let regenerated: Value = regenerate_answer(&app, &me, &chat, &two["answer"]["id"], None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(regenerated["answer"]["content"], "regenerated at last");
    assert_eq!(
        contents(&app, &me, &chat).await,
        ["Q1", "first answer", "Q2", "regenerated at last"]
    );
    assert_eq!(
        model.prompts()[5].history.len(),
        2,
        "the old answer was not part of the new one's history"
    );

    // An edit whose answer fails keeps the edit, like a new question, and nothing after it.
    let edit = edit_message(
        &app,
        &me,
        &chat,
        &one["question"]["id"],
        json!({"content": "Q1, rephrased"}),
    )
    .await;
    assert_eq!(problem(edit, 504).await["code"], "model_timeout");
    assert_eq!(contents(&app, &me, &chat).await, ["Q1, rephrased"]);
}

async fn a_dropped_stream_resumes_after_the_last_event_id(backend: Backend) {
    let model = Arc::new(ScriptedModel::with_delay(Duration::from_millis(60)));
    model.push(Reply::Text(
        "alpha beta gamma delta epsilon zeta eta theta".into(),
    ));
    let (app, me, chat) = setup(backend, model, &[]).await;
    let mut response = send_streaming(&app, &me, &chat, json!({"content": "Greek letters"})).await;
    let answer_id = response.headers()["x-answer-id"]
        .to_str()
        .unwrap()
        .to_string();
    // Read until two pieces have arrived, then lose the connection.
    let mut seen = String::new();
    while events(&seen).iter().filter(|e| e.1 == "delta").count() < 2 {
        seen.push_str(&String::from_utf8_lossy(
            &response.chunk().await.unwrap().unwrap(),
        ));
    }
    drop(response);
    let received = events(&seen);
    let last_id = received.last().unwrap().0;
    let question = &received[0].2;
    assert_eq!(question["answer_id"], answer_id.as_str());

    let resumed = app
        .authed(
            Method::GET,
            &format!("/api/v1/chats/{chat}/messages/{answer_id}/stream"),
            &me.access,
        )
        .header("last-event-id", last_id.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let rest = events(&resumed.text().await.unwrap());
    assert_eq!(
        rest[0].0,
        last_id + 1,
        "picks up right after the last event received"
    );
    let (_, last_event, done) = rest.last().unwrap();
    assert_eq!(last_event, "done");
    let text: String = received
        .iter()
        .chain(rest.iter())
        .filter(|e| e.1 == "delta")
        .map(|e| e.2["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, text_of(&done["answer"], "content"));
    assert_eq!(done["answer"]["id"], answer_id.as_str());

    // Another user cannot follow it, even knowing both ids.
    let other = app.signed_up("eavesdropper").await;
    let denied = app
        .authed(
            Method::GET,
            &format!("/api/v1/chats/{chat}/messages/{answer_id}/stream"),
            &other.access,
        )
        .send()
        .await
        .unwrap();
    problem(denied, 404).await;

    // An answer no longer being written (here, one that was never streamed) resumes as one
    // `done` with the stored answer; a question has no stream.
    let whole: Value = send(&app, &me, &chat, json!({"content": "And the nucleus?"}))
        .await
        .json()
        .await
        .unwrap();
    let stream_of = |id: &str| {
        app.authed(
            Method::GET,
            &format!("/api/v1/chats/{chat}/messages/{id}/stream"),
            &me.access,
        )
        .send()
    };
    let replay = stream_of(id_of(&whole["answer"]))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let replay = events(&replay);
    assert_eq!(replay.len(), 1, "{replay:?}");
    assert_eq!(replay[0].1, "done");
    assert_eq!(replay[0].2["answer"], whole["answer"]);
    let question = stream_of(id_of(&whole["question"])).await.unwrap();
    assert_eq!(problem(question, 404).await["code"], "message_not_found");
}

on_every_backend!(
    a_dropped_stream_resumes_after_the_last_event_id,
    the_last_answer_can_be_regenerated_and_a_question_edited,
    a_failed_regeneration_keeps_the_old_answer_and_a_failed_edit_keeps_the_edit,
    messages_page_in_order_and_talking_moves_the_chat_up,
    an_answer_is_grounded_cited_and_stored_after_its_question,
    without_a_model_the_offline_assistant_says_so,
    answers_stream_as_server_sent_events,
    an_answer_is_completed_and_stored_when_the_client_disconnects,
    a_failing_provider_is_502_or_504_and_leaves_no_half_answer,
    the_daily_token_budget_answers_429_when_spent,
    bad_messages_are_422_and_other_chats_404,
    deleting_a_chat_deletes_its_messages,
);

/// The same flow against an OpenAI-compatible provider (a protocol-level mock), whole and streamed.
mod provider {
    use serde_json::{Value, json};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    async fn with_provider(backend: Backend, server: &MockServer) -> (TestApp, Tokens, String) {
        let base = format!("{}/v1", server.uri());
        let app = spawn_app_configured(
            backend,
            Hooks {
                passages: Some(Arc::new(FixedPassages::new())),
                ..Hooks::default()
            },
            &[
                ("FLASHFORGE__LLM__PROVIDER", "openai"),
                ("FLASHFORGE__LLM__BASE_URL", &base),
                ("FLASHFORGE__LLM__MODEL", "mock-model"),
                ("FLASHFORGE__LLM__MODELS", "mock-model,mock-large"),
                ("FLASHFORGE__LLM__TIMEOUT_SECS", "2"),
                ("FLASHFORGE__LLM__MAX_RETRIES", "0"),
            ],
        )
        .await;
        let me = app.signed_up("provider.user").await;
        let chat: Value = app
            .authed(Method::POST, "/api/v1/chats", &me.access)
            .json(&json!({"name": "Provider"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (app, me, id_of(&chat).to_string())
    }

    pub async fn a_provider_answers_whole_and_streamed(backend: Backend) {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .and(wiremock::matchers::body_partial_json(json!({"stream": false})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "model": "mock-model",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ATP is made by mitochondria [1]."}}],
                "usage": {"prompt_tokens": 120, "completion_tokens": 9}
            })))
            .mount(&server)
            .await;
        let stream_body = [
            r#"{"model":"mock-model","choices":[{"index":0,"delta":{"content":"Streamed "}}]}"#,
            r#"{"model":"mock-model","choices":[{"index":0,"delta":{"content":"answer [2]."}}]}"#,
            r#"{"model":"mock-model","choices":[],"usage":{"prompt_tokens":100,"completion_tokens":4}}"#,
            "[DONE]",
        ]
        .iter()
        .map(|c| format!("data: {c}\n\n"))
        .collect::<String>();
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .and(wiremock::matchers::body_partial_json(
                json!({"stream": true}),
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "text/event-stream")
                    .set_body_string(stream_body),
            )
            .mount(&server)
            .await;
        let (app, me, chat) = with_provider(backend, &server).await;

        let body: Value = send(&app, &me, &chat, json!({"content": "What makes ATP?"}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            body["answer"]["content"],
            "ATP is made by mitochondria [1]."
        );
        assert_eq!(body["answer"]["usage"]["prompt_tokens"], 120);
        assert_eq!(body["answer"]["citations"][0]["page"], 12);

        let streamed = send_streaming(&app, &me, &chat, json!({"content": "And the nucleus?"}))
            .await
            .text()
            .await
            .unwrap();
        let events = super::events(&streamed);
        let (_, last, done) = events.last().unwrap();
        assert_eq!(last, "done");
        assert_eq!(done["answer"]["content"], "Streamed answer [2].");
        assert_eq!(done["answer"]["citations"][0]["page"], 13);
        assert_eq!(done["answer"]["usage"]["completion_tokens"], 4);

        let models: Value = app.get_json("/api/v1/models", &me.access).await;
        assert_eq!(models["models"], json!(["mock-model", "mock-large"]));
    }

    pub async fn a_provider_error_is_502_and_a_slow_one_504(backend: Backend) {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500).set_body_string("upstream exploded"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(5)))
            .mount(&server)
            .await;
        let (app, me, chat) = with_provider(backend, &server).await;
        let failed = problem(send(&app, &me, &chat, json!({"content": "one"})).await, 502).await;
        assert!(!failed.to_string().contains("exploded"));
        problem(send(&app, &me, &chat, json!({"content": "two"})).await, 504).await;
        let stored = list(&app, &me, &chat).await;
        assert_eq!(stored.len(), 2);
        assert!(
            stored.iter().all(|m| m["role"] == "user"),
            "no half-written answers"
        );
    }

    /// Without a configured list, the models are the provider's: listed through it, and a 502
    /// problem when it fails (not cached), then listed again once it answers.
    pub async fn the_model_list_comes_from_the_provider_or_is_502(backend: Backend) {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/models"))
            .respond_with(ResponseTemplate::new(503).set_body_string("models are down"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/models"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "object": "list",
                "data": [{"id": "served-model", "object": "model"}]
            })))
            .mount(&server)
            .await;
        let base = format!("{}/v1", server.uri());
        let app = spawn_app_configured(
            backend,
            Hooks::default(),
            &[
                ("FLASHFORGE__LLM__PROVIDER", "openai"),
                ("FLASHFORGE__LLM__BASE_URL", &base),
                ("FLASHFORGE__LLM__MODEL", "served-model"),
                ("FLASHFORGE__LLM__MAX_RETRIES", "0"),
            ],
        )
        .await;
        let me = app.signed_up("model.lister").await;
        let failed = app
            .authed(Method::GET, "/api/v1/models", &me.access)
            .send()
            .await
            .unwrap();
        let body = problem(failed, 502).await;
        assert!(!body.to_string().contains("models are down"), "{body}");
        let models: Value = app.get_json("/api/v1/models", &me.access).await;
        assert_eq!(models["models"], json!(["served-model"]));
    }

    on_every_backend!(
        a_provider_answers_whole_and_streamed,
        a_provider_error_is_502_and_a_slow_one_504,
        the_model_list_comes_from_the_provider_or_is_502,
    );
}
