//! The prototype web client, as it is: it signs in through `/api/register` and `/api/login` and
//! makes flashcards through `POST /sendmessage` with `{model_name, user_message}`, reading the
//! cards from `message.content` — JSON text, as an Ollama chat reply with a structured format
//! carries it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, problem, spawn_app, spawn_app_with};

const NOTES: &str = "Mitochondria are the powerhouse of the cell. They make ATP by oxidative \
phosphorylation. Ribosomes are the sites of protein synthesis. Osmosis is the movement of water \
across a semipermeable membrane.";

/// Signs up and in as the prototype client does; its token.
async fn old_client_token(app: &TestApp, username: &str) -> String {
    let credentials = json!({"username": username, "password": PASSWORD});
    let registered = app.post_json("/api/register", &credentials).await;
    assert_eq!(registered.status(), 201);
    let login = app.post_json("/api/login", &credentials).await;
    assert_eq!(login.status(), 200);
    let body: Value = login.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

/// Posts what the prototype posts.
async fn send_message(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.authed(Method::POST, "/sendmessage", token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The cards, read the way the prototype reads them: `JSON.parse(reply.message.content)`.
fn cards_of(reply: &Value) -> Vec<(String, String)> {
    let content = reply["message"]["content"]
        .as_str()
        .expect("content is text");
    let parsed: Value = serde_json::from_str(content).expect("content is JSON text");
    parsed["flashcards"]
        .as_array()
        .expect("a flashcards array")
        .iter()
        .map(|card| {
            (
                card["question"].as_str().unwrap().to_string(),
                card["answer"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn the_prototype_client_makes_flashcards_through_sendmessage(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = old_client_token(&app, "prototype.user").await;
    let response = send_message(
        &app,
        &token,
        &json!({"model_name": "llama3.2", "user_message": NOTES}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("deprecation"));
    let link = response.headers()["link"].to_str().unwrap().to_string();
    assert!(link.contains("generate_cards"), "{link}");
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["message"]["role"], "assistant");
    assert_eq!(reply["done"], true);
    assert_eq!(reply["model"], "llama3.2");
    let cards = cards_of(&reply);
    assert!(!cards.is_empty() && cards.len() <= 10, "{reply}");
    for (question, answer) in &cards {
        assert!(!question.trim().is_empty() && !answer.trim().is_empty());
    }
    // Made from the caller's text (the offline generator quotes its sentences).
    let all: String = cards.iter().map(|(q, a)| format!("{q} {a} ")).collect();
    assert!(
        ["Mitochondria", "ATP", "Ribosomes", "Osmosis"]
            .iter()
            .any(|word| all.contains(word)),
        "{all}"
    );
    // Nothing is saved: the prototype only shows them.
    let chats = app.get_json("/api/v1/chats", &token).await;
    assert_eq!(chats["items"], json!([]));

    // Refused as the other routes refuse, in the problem format.
    problem(
        app.post_json("/sendmessage", &json!({"user_message": NOTES}))
            .await,
        401,
    )
    .await;
    for (body, field) in [
        (
            json!({"model_name": "llama3.2", "user_message": "   "}),
            "user_message",
        ),
        (
            json!({"model_name": "llama3.2", "user_message": "x".repeat(20_001)}),
            "user_message",
        ),
        (
            json!({"model_name": "m".repeat(201), "user_message": NOTES}),
            "model_name",
        ),
    ] {
        let refused = problem(send_message(&app, &token, &body).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], field, "{refused}");
    }
    let missing = send_message(&app, &token, &json!({"model_name": "llama3.2"})).await;
    assert!(missing.status().is_client_error(), "{}", missing.status());
}

/// The same generator as `/flashcards/generate`: a language model writing structured output.
#[tokio::test]
async fn sendmessage_uses_the_language_model_when_one_writes_structured_output() {
    use std::sync::Arc;
    let model = Arc::new(flashforge_memory::ScriptedModel::new());
    let app = spawn_app_with(
        Backend::Memory,
        flashforge::Hooks {
            language_model: Some(model.clone()),
            ..Default::default()
        },
    )
    .await;
    let token = old_client_token(&app, "prototype.llm").await;
    let answer = json!({"flashcards": [
        {"question": "What makes ATP?", "answer": "Mitochondria", "source_chunk_id": null},
        {"question": "Where are proteins made?", "answer": "Ribosomes", "source_chunk_id": null}
    ]});
    model.push(flashforge_memory::Reply::Text(answer.to_string()));
    let response = send_message(
        &app,
        &token,
        &json!({"model_name": "llama3.2", "user_message": NOTES}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(
        cards_of(&reply),
        [
            ("What makes ATP?".to_string(), "Mitochondria".to_string()),
            (
                "Where are proteins made?".to_string(),
                "Ribosomes".to_string()
            )
        ]
    );
    let prompt = &model.prompts()[0];
    assert!(prompt.passages[0].passage.text.contains("oxidative"));

    // A provider timing out is the same 504 as on the new route.
    model.push(flashforge_memory::Reply::Fail(
        flashforge_domain::assistant::LlmError::Timeout,
    ));
    let timed_out = send_message(&app, &token, &json!({"user_message": NOTES})).await;
    problem(timed_out, 504).await;
}

on_every_backend!(the_prototype_client_makes_flashcards_through_sendmessage);
