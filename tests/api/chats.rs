//! Chats through HTTP.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, id_of, items_of, problem, spawn_app, text_of};

async fn create(app: &TestApp, token: &str, name: &str) -> Value {
    let response = app
        .authed(Method::POST, "/api/v1/chats", token)
        .json(&json!({"name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/chats/{}", id_of(&body)));
    body
}

async fn a_chat_is_created_read_renamed_archived_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let me = app.signed_up("student").await;
    let chat = create(&app, &me.access, "  Cell biology ").await;
    assert_eq!(chat["name"], "Cell biology");
    assert_eq!(chat["archived"], false);
    let id = id_of(&chat);
    let path = format!("/api/v1/chats/{id}");

    let read: Value = app.get_json(&path, &me.access).await;
    assert_eq!(read, chat);

    let renamed: Value = app
        .authed(Method::PATCH, &path, &me.access)
        .json(&json!({"name": "Cell biology II", "archived": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["name"], "Cell biology II");
    assert_eq!(renamed["archived"], true);
    assert_eq!(renamed["created_at"], chat["created_at"]);

    let deleted = app
        .authed(Method::DELETE, &path, &me.access)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = app
        .authed(Method::GET, &path, &me.access)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(gone, 404).await["code"], "chat_not_found");
    let again = app
        .authed(Method::DELETE, &path, &me.access)
        .send()
        .await
        .unwrap();
    problem(again, 404).await;
}

async fn bad_names_are_422(backend: Backend) {
    let app = spawn_app(backend).await;
    let me = app.signed_up("namer").await;
    let kept = create(&app, &me.access, "kept as it is").await;
    let id = id_of(&kept);
    for name in ["", "   ", &"x".repeat(256), "tab\there", "line\nbreak"] {
        let response = app
            .authed(Method::POST, "/api/v1/chats", &me.access)
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(problem(response, 422).await["errors"][0]["field"], "name");
        let renamed = app
            .authed(Method::PATCH, &format!("/api/v1/chats/{id}"), &me.access)
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(problem(renamed, 422).await["errors"][0]["field"], "name");
    }
    // 255 characters are fine; nothing refused was stored.
    assert_eq!(
        create(&app, &me.access, &"y".repeat(255)).await["name"],
        "y".repeat(255)
    );
    let list: Value = app.get_json("/api/v1/chats", &me.access).await;
    let names: Vec<&str> = items_of(&list).iter().map(|c| text_of(c, "name")).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"kept as it is"));
    let missing = app
        .authed(Method::POST, "/api/v1/chats", &me.access)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(missing, 422).await["errors"][0]["field"], "name");
}

async fn the_list_is_newest_first_paged_and_filtered(backend: Backend) {
    let app = spawn_app(backend).await;
    let me = app.signed_up("lister").await;
    let other = app.signed_up("someone.else").await;
    create(&app, &other.access, "not mine").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(create(&app, &me.access, &format!("chat {i}")).await["id"].clone());
    }
    // Archive the middle one.
    app.authed(
        Method::PATCH,
        &format!("/api/v1/chats/{}", ids[2].as_str().unwrap()),
        &me.access,
    )
    .json(&json!({"archived": true}))
    .send()
    .await
    .unwrap();

    let mut seen = Vec::new();
    let mut path = "/api/v1/chats?limit=2".to_string();
    loop {
        let page: Value = app.get_json(&path, &me.access).await;
        assert!(items_of(&page).len() <= 2);
        seen.extend(items_of(&page).iter().map(|c| c["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/chats?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let newest_first: Vec<Value> = ids.iter().rev().cloned().collect();
    assert_eq!(
        seen, newest_first,
        "every chat once, newest first, none of another user's"
    );

    let archived: Value = app
        .get_json("/api/v1/chats?archived=true", &me.access)
        .await;
    assert_eq!(items_of(&archived).len(), 1);
    assert_eq!(archived["items"][0]["id"], ids[2]);
    let active: Value = app
        .get_json("/api/v1/chats?archived=false", &me.access)
        .await;
    assert_eq!(items_of(&active).len(), 4);

    let bad = app
        .authed(Method::GET, "/api/v1/chats?archived=maybe", &me.access)
        .send()
        .await
        .unwrap();
    problem(bad, 422).await;
}

on_every_backend!(
    a_chat_is_created_read_renamed_archived_and_deleted,
    bad_names_are_422,
    the_list_is_newest_first_paged_and_filtered,
);
