//! The isolation matrix: for every route that takes a resource id, another user gets 404 with
//! every method, and nothing of the owner's changes. Each new resource adds its routes to
//! `ROUTES` and a way to make one in `Resources::create`.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{
    Backend, TestApp, Tokens, array_of, id_of, items_of, problem, spawn_app, text_of,
};

/// Every route that names a resource by id, with `{id}` for the id, and the kind of resource.
const ROUTES: &[(&str, &str)] = &[
    ("session", "/api/v1/auth/sessions/{id}"),
    ("chat", "/api/v1/chats/{id}"),
    ("chat", "/api/v1/chats/{id}/messages"),
    ("message", "/api/v1/chats/{chat}/messages/{id}"),
    ("message", "/api/v1/chats/{chat}/messages/{id}/regenerate"),
    ("message", "/api/v1/chats/{chat}/messages/{id}/stream"),
    ("chat", "/api/v1/chats/{id}/documents"),
    ("chat", "/api/v1/chats/{id}/search"),
    ("document", "/api/v1/chats/{chat}/documents/{id}"),
    ("document", "/api/v1/chats/{chat}/documents/{id}/chunks"),
    ("document", "/api/v1/chats/{chat}/documents/{id}/file"),
    ("document", "/api/v1/chats/{chat}/documents/{id}/retry"),
    ("chat", "/api/v1/chats/{id}/flashcards"),
    ("chat", "/api/v1/chats/{id}/flashcards/bulk"),
    ("chat", "/api/v1/chats/{id}/flashcards/export"),
    ("chat", "/api/v1/chats/{id}/flashcards/import"),
    ("chat", "/api/v1/chats/{id}/flashcards/generate"),
    ("card", "/api/v1/flashcards/{id}"),
    ("card", "/api/v1/flashcards/{id}/reviews"),
    ("generation", "/api/v1/flashcards/generations/{id}"),
];

/// A body every route would accept from its owner, so that only ownership can refuse it.
fn plausible_body() -> Value {
    serde_json::json!({
        "name": "intruder", "content": "intruder", "archived": true,
        "question": "intruder", "answer": "intruder", "rating": "good", "cards": []
    })
}

const METHODS: &[Method] = &[
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// One resource of each kind, owned by one user.
struct Resources {
    session: String,
    chat: String,
    message: String,
    document: String,
    card: String,
    generation: String,
}

impl Resources {
    async fn create(app: &TestApp, owner: &Tokens) -> Self {
        let sessions: Value = app.get_json("/api/v1/auth/sessions", &owner.access).await;
        let chat: Value = app
            .authed(Method::POST, "/api/v1/chats", &owner.access)
            .json(&serde_json::json!({"name": "private notes"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let chat_id = id_of(&chat).to_string();
        let exchange: Value = app
            .authed(
                Method::POST,
                &format!("/api/v1/chats/{chat_id}/messages"),
                &owner.access,
            )
            .json(&serde_json::json!({"content": "my private question"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let document = crate::knowledge::ingested(
            app,
            &owner.access,
            &chat_id,
            "private.md",
            crate::knowledge::NOTES.as_bytes().to_vec(),
        )
        .await;
        let card = app
            .create_card(
                &owner.access,
                &chat_id,
                serde_json::json!({"question": "private?", "answer": "yes"}),
            )
            .await;
        // More cards than a request makes at once: a background generation.
        let generation: Value = app
            .authed(
                Method::POST,
                &format!("/api/v1/chats/{chat_id}/flashcards/generate"),
                &owner.access,
            )
            .json(&serde_json::json!({"text": crate::knowledge::NOTES, "count": 51}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self {
            generation: id_of(&generation).to_string(),
            card: id_of(&card).to_string(),
            document: id_of(&document).to_string(),
            session: id_of(&sessions["items"][0]).to_string(),
            message: id_of(&exchange["answer"]).to_string(),
            chat: chat_id,
        }
    }

    fn id(&self, kind: &str) -> &str {
        match kind {
            "session" => &self.session,
            "chat" => &self.chat,
            "message" => &self.message,
            "document" => &self.document,
            "card" => &self.card,
            "generation" => &self.generation,
            other => panic!("no resource of kind {other}: add it to Resources"),
        }
    }

    /// What the owner sees of everything, to compare before and after.
    async fn snapshot(app: &TestApp, owner: &Tokens) -> Value {
        let get = |path: String| async move {
            app.authed(Method::GET, &path, &owner.access)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        };
        let sessions = get("/api/v1/auth/sessions".into()).await;
        let me = get("/api/v1/me".into()).await;
        let chats = get("/api/v1/chats".into()).await;
        let mut messages = Vec::new();
        let mut documents = Vec::new();
        for chat in items_of(&chats) {
            let id = id_of(chat);
            messages.push(get(format!("/api/v1/chats/{id}/messages")).await);
            let docs = get(format!("/api/v1/chats/{id}/documents")).await;
            for doc in items_of(&docs) {
                let doc_id = id_of(doc);
                documents.push(get(format!("/api/v1/chats/{id}/documents/{doc_id}/chunks")).await);
            }
            documents.push(docs);
            documents.push(get(format!("/api/v1/chats/{id}/search?q=Mendel")).await);
            documents.push(get(format!("/api/v1/chats/{id}/flashcards")).await);
        }
        // `last_used_at` may move with the owner's own requests; ids and states may not.
        let ids: Vec<&Value> = items_of(&sessions).iter().map(|s| &s["id"]).collect();
        serde_json::json!({"sessions": ids, "me": me, "chats": chats, "messages": messages, "documents": documents})
    }
}

async fn another_users_resources_answer_404_to_every_method_and_stay_unchanged(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.signed_up("owner.a").await;
    let intruder = app.signed_up("intruder.b").await;
    let resources = Resources::create(&app, &owner).await;
    let before = Resources::snapshot(&app, &owner).await;

    for (kind, template) in ROUTES {
        let path = template
            .replace("{chat}", &resources.chat)
            .replace("{id}", resources.id(kind));
        for method in METHODS {
            let response = app
                .authed(method.clone(), &path, &intruder.access)
                .json(&plausible_body())
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            // 405 would reveal nothing either, but the rule is 404 for what is not yours; a
            // method the route does not have at all answers 405 to everyone.
            if status == 405 {
                let owner_status = app
                    .authed(method.clone(), &path, &owner.access)
                    .json(&plausible_body())
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                assert_eq!(
                    owner_status, 405,
                    "{method} {template}: the owner may use it, so the intruder must get 404"
                );
                continue;
            }
            problem(response, 404).await;
        }
    }
    assert_eq!(
        Resources::snapshot(&app, &owner).await,
        before,
        "the owner's data changed"
    );
}

/// A chat's message or document asked for under another chat of the same owner is not there:
/// 404 with every method, and nothing changes.
async fn an_id_under_another_of_the_owners_chats_answers_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.signed_up("owner.c").await;
    let resources = Resources::create(&app, &owner).await;
    let other_chat = app.create_chat(&owner.access, "another subject").await;
    let before = Resources::snapshot(&app, &owner).await;

    let mut checked = 0;
    for (kind, template) in ROUTES.iter().filter(|(_, t)| t.contains("{chat}")) {
        let path = template
            .replace("{chat}", &other_chat)
            .replace("{id}", resources.id(kind));
        for method in METHODS {
            let response = app
                .authed(method.clone(), &path, &owner.access)
                .json(&plausible_body())
                .send()
                .await
                .unwrap();
            if response.status() == 405 {
                continue;
            }
            problem(response, 404).await;
            checked += 1;
        }
    }
    assert!(checked >= 8, "{checked} requests checked");
    assert_eq!(
        Resources::snapshot(&app, &owner).await,
        before,
        "the owner's data changed"
    );
}

/// Ids of another user's documents and chunks inside a request body are refused as naming
/// nothing in the caller's chat (422, the same words as for ids that do not exist), and nothing
/// is made from them.
async fn another_users_ids_in_a_body_are_refused_as_unknown(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.signed_up("owner.d").await;
    let intruder = app.signed_up("intruder.e").await;
    let resources = Resources::create(&app, &owner).await;
    let chunks: Value = app
        .get_json(
            &format!(
                "/api/v1/chats/{}/documents/{}/chunks",
                resources.chat, resources.document
            ),
            &owner.access,
        )
        .await;
    let chunk = id_of(&chunks["items"][0]).to_string();
    let own_chat = app.create_chat(&intruder.access, "mine").await;
    let post = |path: String, body: Value| {
        app.authed(Method::POST, &path, &intruder.access)
            .json(&body)
            .send()
    };
    let field_errors = |body: &Value| -> Vec<(String, String)> {
        array_of(body, "errors")
            .iter()
            .map(|e| {
                (
                    text_of(e, "field").to_string(),
                    text_of(e, "message").to_string(),
                )
            })
            .collect()
    };
    let unknown = uuid::Uuid::now_v7().to_string();
    for document in [&resources.document, &unknown] {
        let card = post(
            format!("/api/v1/chats/{own_chat}/flashcards"),
            serde_json::json!({"question": "q?", "answer": "a", "source": {"document_id": document}}),
        )
        .await
        .unwrap();
        let errors = field_errors(&problem(card, 422).await);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "source.document_id");
        let generate = post(
            format!("/api/v1/chats/{own_chat}/flashcards/generate"),
            serde_json::json!({"document_id": document}),
        )
        .await
        .unwrap();
        assert_eq!(
            field_errors(&problem(generate, 422).await),
            [(
                "document_id".to_string(),
                "names no document of this chat".to_string()
            )]
        );
    }
    let generate = post(
        format!("/api/v1/chats/{own_chat}/flashcards/generate"),
        serde_json::json!({"chunk_ids": [chunk]}),
    )
    .await
    .unwrap();
    assert_eq!(
        field_errors(&problem(generate, 422).await),
        [(
            "chunk_ids[0]".to_string(),
            "names no chunk of this chat".to_string()
        )]
    );
    let cards: Value = app
        .get_json(
            &format!("/api/v1/chats/{own_chat}/flashcards"),
            &intruder.access,
        )
        .await;
    assert_eq!(cards["items"], serde_json::json!([]), "nothing was made");
}

on_every_backend!(
    another_users_resources_answer_404_to_every_method_and_stay_unchanged,
    an_id_under_another_of_the_owners_chats_answers_404,
    another_users_ids_in_a_body_are_refused_as_unknown,
);
