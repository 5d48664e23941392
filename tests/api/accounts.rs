//! Accounts through HTTP: registration, login, refresh rotation, sessions, the account itself,
//! and the prototype's routes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, PASSWORD, TestApp, array_of, id_of, items_of, problem, spawn_app, text_of,
};

async fn registering_returns_the_user_and_a_working_token_pair(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"username": "ada.lovelace", "password": PASSWORD, "email": "ada@example.com"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let id = uuid::Uuid::parse_str(id_of(&body["user"])).unwrap();
    assert_eq!(id.get_version_num(), 7, "ids are UUIDv7");
    assert_eq!(body["user"]["username"], "ada.lovelace");
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(!body.to_string().contains(PASSWORD));

    let me: Value = app
        .authed(Method::GET, "/api/v1/me", text_of(&body, "access_token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], body["user"]["id"]);
}

async fn a_taken_username_in_any_case_answers_409(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.register("Grace", PASSWORD).await.status(), 201);
    let body = problem(app.register("gRACE", PASSWORD).await, 409).await;
    assert_eq!(body["code"], "username_taken");
}

async fn usernames_are_nfkc_normalized(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.register("ｈｏｐｐｅｒ", PASSWORD).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["username"], "hopper");
    problem(app.register("Hopper", PASSWORD).await, 409).await;
}

async fn a_guessable_password_is_a_422_that_says_how_to_fix_it(backend: Backend) {
    let app = spawn_app(backend).await;
    for weak in ["password1234", "qwertyuiop123", "margaret.hamilton1"] {
        let body = problem(app.register("margaret.hamilton", weak).await, 422).await;
        let message = text_of(&body["errors"][0], "message");
        assert_eq!(body["errors"][0]["field"], "password");
        assert!(message.contains("too easy to guess"), "{weak}: {message}");
    }
}

async fn login_returns_a_new_session_and_records_the_time(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("linus").await;
    let response = app.login("LINUS", PASSWORD).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["user"]["last_login_at"].is_string());
    let me: Value = app
        .authed(Method::GET, "/api/v1/me", text_of(&body, "access_token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["last_login_at"], body["user"]["last_login_at"]);
}

async fn an_unknown_user_and_a_wrong_password_get_the_same_401(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("barbara").await;
    let wrong = app.login("barbara", "not the right password").await;
    assert_eq!(
        wrong.headers()["www-authenticate"],
        r#"Bearer realm="flashforge""#
    );
    let mut wrong = problem(wrong, 401).await;
    let mut unknown = problem(
        app.login("nobody.here", "not the right password").await,
        401,
    )
    .await;
    for body in [&mut wrong, &mut unknown] {
        body.as_object_mut().unwrap().remove("request_id");
    }
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["code"], "invalid_credentials");
}

/// Without the grace window for retries (`auth.refresh_grace_secs = 0`; tests/api/abuse.rs
/// has it): an old token presented again is theft.
async fn refresh_rotates_and_a_reused_token_ends_the_session(backend: Backend) {
    let app = crate::helpers::spawn_app_configured(
        backend,
        Default::default(),
        &[("FLASHFORGE__AUTH__REFRESH_GRACE_SECS", "0")],
    )
    .await;
    let first = app.signed_up("rotor").await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": token}))
                .await
        }
    };
    let rotated = refresh(first.refresh.clone()).await;
    assert_eq!(rotated.status(), 200);
    let second: Value = rotated.json().await.unwrap();
    let second_refresh = text_of(&second, "refresh_token").to_string();
    assert_ne!(second_refresh, first.refresh);
    assert_eq!(
        app.authed(Method::GET, "/api/v1/me", text_of(&second, "access_token"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The first token again: theft is assumed, the whole family ends.
    let body = problem(refresh(first.refresh.clone()).await, 401).await;
    assert_eq!(body["code"], "invalid_refresh_token");
    problem(refresh(second_refresh).await, 401).await;
    let me = app
        .authed(Method::GET, "/api/v1/me", text_of(&second, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(me, 401).await["code"], "invalid_token");
}

async fn a_made_up_refresh_token_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    for token in ["", "nope", &"x".repeat(300)] {
        let response = app
            .post_json("/api/v1/auth/refresh", &json!({"refresh_token": token}))
            .await;
        problem(response, 401).await;
    }
}

async fn logout_ends_this_session_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let phone = app.signed_up("dual").await;
    let laptop = app.logged_in("dual").await;
    let out = app
        .authed(Method::POST, "/api/v1/auth/logout", &phone.access)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let me = app
        .authed(Method::GET, "/api/v1/me", &phone.access)
        .send()
        .await
        .unwrap();
    problem(me, 401).await;
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": phone.refresh}),
        )
        .await;
    problem(refresh, 401).await;
    let me = app
        .authed(Method::GET, "/api/v1/me", &laptop.access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

async fn logout_all_ends_every_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.signed_up("many").await;
    let b = app.logged_in("many").await;
    let out = app
        .authed(Method::POST, "/api/v1/auth/logout-all", &a.access)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    for tokens in [a, b] {
        let me = app
            .authed(Method::GET, "/api/v1/me", &tokens.access)
            .send()
            .await
            .unwrap();
        problem(me, 401).await;
    }
}

async fn sessions_are_listed_newest_first_with_their_client_and_paged(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("traveller").await;
    for agent in ["Phone/1", "Tablet/2"] {
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("user-agent", agent)
            .json(&json!({"username": "traveller", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let current = app.logged_in("traveller").await;

    let first: Value = app
        .get_json("/api/v1/auth/sessions?limit=2", &current.access)
        .await;
    let items = items_of(&first);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["current"], true, "newest first: this session");
    assert_eq!(items[1]["user_agent"], "Tablet/2");
    assert_eq!(items[1]["ip"], "127.0.0.1");
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second: Value = app
        .get_json(
            &format!("/api/v1/auth/sessions?limit=2&cursor={cursor}"),
            &current.access,
        )
        .await;
    let rest = items_of(&second);
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[0]["user_agent"], "Phone/1");
    assert!(second["next_cursor"].is_null());

    let bad = app
        .authed(
            Method::GET,
            "/api/v1/auth/sessions?cursor=bogus",
            &current.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(problem(bad, 422).await["errors"][0]["field"], "cursor");
}

async fn a_session_can_be_ended_by_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let old = app.signed_up("closer").await;
    let current = app.logged_in("closer").await;
    let list: Value = app.get_json("/api/v1/auth/sessions", &current.access).await;
    let other = items_of(&list)
        .iter()
        .find(|s| s["current"] == false)
        .map(id_of)
        .unwrap()
        .to_string();
    let ended = app
        .authed(
            Method::DELETE,
            &format!("/api/v1/auth/sessions/{other}"),
            &current.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    let me = app
        .authed(Method::GET, "/api/v1/me", &old.access)
        .send()
        .await
        .unwrap();
    problem(me, 401).await;
    // Ending it again, or a session that never existed, is 404.
    let again = app
        .authed(
            Method::DELETE,
            &format!("/api/v1/auth/sessions/{other}"),
            &current.access,
        )
        .send()
        .await
        .unwrap();
    problem(again, 404).await;
    let malformed = app
        .authed(
            Method::DELETE,
            "/api/v1/auth/sessions/not-a-uuid",
            &current.access,
        )
        .send()
        .await
        .unwrap();
    problem(malformed, 404).await;
}

async fn the_profile_can_be_changed(backend: Backend) {
    let app = spawn_app(backend).await;
    let me = app.signed_up("katherine").await;
    app.signed_up("dorothy").await;
    let patch = |body: Value| {
        app.authed(Method::PATCH, "/api/v1/me", &me.access)
            .json(&body)
            .send()
    };
    let changed: Value = patch(json!({"username": "kjohnson", "email": "k@nasa.gov"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(changed["username"], "kjohnson");
    assert_eq!(changed["email"], "k@nasa.gov");
    // Absent fields stay; null clears the e-mail.
    let cleared: Value = patch(json!({"email": null}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["username"], "kjohnson");
    assert!(cleared["email"].is_null());
    // A taken name, and bad values.
    problem(patch(json!({"username": "DOROTHY"})).await.unwrap(), 409).await;
    let invalid = problem(
        patch(json!({"username": "x", "email": "nope"}))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(array_of(&invalid, "errors").len(), 2);
    // The new name logs in.
    assert_eq!(app.login("kjohnson", PASSWORD).await.status(), 200);
}

async fn changing_the_password_needs_the_current_one_and_ends_other_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let other = app.signed_up("mary").await;
    let current = app.logged_in("mary").await;
    let change = |current_password: &str, new_password: &str| {
        app.authed(Method::POST, "/api/v1/me/password", &current.access)
            .json(&json!({"current_password": current_password, "new_password": new_password}))
            .send()
    };
    let wrong = problem(
        change("wrong password here", "violet tractor lagoon 91")
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(wrong["errors"][0]["field"], "current_password");
    let weak = problem(change(PASSWORD, "password1234").await.unwrap(), 422).await;
    assert_eq!(weak["errors"][0]["field"], "new_password");

    assert_eq!(
        change(PASSWORD, "violet tractor lagoon 91")
            .await
            .unwrap()
            .status(),
        204
    );
    let me = app
        .authed(Method::GET, "/api/v1/me", &other.access)
        .send()
        .await
        .unwrap();
    problem(me, 401).await;
    let me = app
        .authed(Method::GET, "/api/v1/me", &current.access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "this session stays");
    problem(app.login("mary", PASSWORD).await, 401).await;
    assert_eq!(
        app.login("mary", "violet tractor lagoon 91").await.status(),
        200
    );
}

/// Everything the user made: a chat with an ingested document (rows, chunks, index points, the
/// file), an exchange with the assistant, a reviewed card with a source, and study settings.
async fn material_of(app: &TestApp, who: &crate::helpers::Tokens) -> (String, String) {
    let chat = app.create_chat(&who.access, "material").await;
    let document = crate::knowledge::ingested(
        app,
        &who.access,
        &chat,
        "notes.md",
        crate::knowledge::NOTES.as_bytes().to_vec(),
    )
    .await;
    let asked = app
        .authed(
            Method::POST,
            &format!("/api/v1/chats/{chat}/messages"),
            &who.access,
        )
        .json(&json!({"content": "What do mitochondria produce?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 201);
    let card = app.create_card(&who.access,
        &chat,
        json!({"question": "Mitochondria make?", "answer": "ATP", "source": {"document_id": document["id"]}}),
    )
    .await;
    let card = id_of(&card).to_string();
    let reviewed = app
        .authed(
            Method::POST,
            &format!("/api/v1/flashcards/{card}/reviews"),
            &who.access,
        )
        .json(&json!({"rating": "good"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reviewed.status(), 200);
    let settings = app
        .authed(Method::PATCH, "/api/v1/study/settings", &who.access)
        .json(&json!({"desired_retention": 0.85}))
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status(), 200);
    (chat, card)
}

/// Rows of `user` in `table` (by `column`), counted behind the API.
async fn rows(
    db: &flashforge_sql::DatabaseConnection,
    table: &str,
    column: &str,
    user: &str,
) -> i64 {
    use flashforge_sql::sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    use flashforge_sql::sea_orm::{ConnectionTrait, TryGetable};
    let query = Query::select()
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .from(Alias::new(table))
        .and_where(ExprTrait::eq(
            Expr::col(Alias::new(column)),
            user.parse::<uuid::Uuid>().unwrap(),
        ))
        .to_owned();
    let row = db.query_one(&query).await.unwrap().expect("a count");
    i64::try_get(&row, "", "n").unwrap()
}

/// Files under `dir`, however deep.
fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                if e.path().is_dir() {
                    files_under(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

/// Deleting an account removes every row and file the user owned, and nothing of anyone else's.
async fn deleting_the_account_removes_everything_it_owned_and_nothing_else(backend: Backend) {
    let app = spawn_app(backend).await;
    let leaving = app.signed_up("leaving.all").await;
    let staying = app.signed_up("staying.on").await;
    let user_id_of = |tokens: &crate::helpers::Tokens| {
        let token = tokens.access.clone();
        let app = &app;
        async move { id_of(&app.get_json("/api/v1/me", &token).await).to_string() }
    };
    let (leaving_id, staying_id) = (user_id_of(&leaving).await, user_id_of(&staying).await);
    material_of(&app, &leaving).await;
    let (chat, card) = material_of(&app, &staying).await;

    let deleted = app
        .authed(Method::POST, "/api/v1/me/delete", &leaving.access)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);

    // The other user's material is all there and works.
    let hits = app
        .get_json(
            &format!("/api/v1/chats/{chat}/search?q=mitochondria"),
            &staying.access,
        )
        .await;
    assert!(!array_of(&hits, "hits").is_empty(), "{hits}");
    let messages = app
        .get_json(&format!("/api/v1/chats/{chat}/messages"), &staying.access)
        .await;
    assert_eq!(items_of(&messages).len(), 2);
    let got = app
        .get_json(&format!("/api/v1/flashcards/{card}"), &staying.access)
        .await;
    assert_eq!(
        (got["reps"].as_i64(), got["source_status"].as_str()),
        (Some(1), Some("available"))
    );

    // Behind the API: no row and no file of the leaving user remains.
    if let Some(url) = app.storage().database_url() {
        let db = flashforge_sql::connect(&url, &Default::default())
            .await
            .unwrap();
        for table in [
            "chats",
            "documents",
            "chunks",
            "messages",
            "flashcards",
            "reviews",
            "study_settings",
            "sessions",
        ] {
            assert_eq!(rows(&db, table, "user_id", &leaving_id).await, 0, "{table}");
            assert!(
                rows(&db, table, "user_id", &staying_id).await > 0,
                "{table} of the other user"
            );
        }
        assert_eq!(rows(&db, "users", "id", &leaving_id).await, 0);
        db.close().await.unwrap();
    }
    if let Some(dir) = app.storage().files_dir() {
        let blobs = dir.join("blobs").join("users");
        assert_eq!(
            files_under(&blobs.join(&leaving_id)),
            0,
            "the leaving user's files"
        );
        assert_eq!(
            files_under(&blobs.join(&staying_id)),
            1,
            "the other user's file"
        );
    }
}

async fn deleting_the_account_removes_it_and_its_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.signed_up("leaving").await;
    let wrong = app
        .authed(Method::POST, "/api/v1/me/delete", &tokens.access)
        .json(&json!({"password": "not my password"}))
        .send()
        .await
        .unwrap();
    problem(wrong, 422).await;
    let deleted = app
        .authed(Method::POST, "/api/v1/me/delete", &tokens.access)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(deleted.headers().get("deprecation").is_none());
    problem(
        app.authed(Method::GET, "/api/v1/me", &tokens.access)
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(app.login("leaving", PASSWORD).await, 401).await;
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": tokens.refresh}),
        )
        .await;
    problem(refresh, 401).await;
    // The name is free again.
    assert_eq!(app.register("leaving", PASSWORD).await.status(), 201);
}

/// `DELETE /api/v1/me` (a body some clients and proxies drop) still deletes the account, and
/// says it is deprecated for `POST /api/v1/me/delete`.
async fn the_deprecated_delete_of_me_still_deletes_and_names_its_successor(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.signed_up("leaving.old.way").await;
    let wrong = app
        .authed(Method::DELETE, "/api/v1/me", &tokens.access)
        .json(&json!({"password": "not my password"}))
        .send()
        .await
        .unwrap();
    problem(wrong, 422).await;
    assert_eq!(
        app.get_json("/api/v1/me", &tokens.access).await["username"],
        "leaving.old.way"
    );

    let deleted = app
        .authed(Method::DELETE, "/api/v1/me", &tokens.access)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let deprecation = deleted.headers()["deprecation"].to_str().unwrap();
    assert!(deprecation.starts_with('@'), "{deprecation}");
    assert_eq!(
        deleted.headers()["link"],
        "</api/v1/me/delete>; rel=\"successor-version\""
    );
    problem(app.login("leaving.old.way", PASSWORD).await, 401).await;
    problem(
        app.authed(Method::GET, "/api/v1/me", &tokens.access)
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
}

/// The new route needs the password too, and a body: without one it deletes nothing.
async fn deleting_the_account_by_post_needs_a_body_with_the_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.signed_up("keeping.it").await;
    let no_body = app
        .authed(Method::POST, "/api/v1/me/delete", &tokens.access)
        .send()
        .await
        .unwrap();
    assert!(no_body.status().is_client_error(), "{}", no_body.status());
    let no_password = app
        .authed(Method::POST, "/api/v1/me/delete", &tokens.access)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(no_password, 422).await;
    assert_eq!(
        app.get_json("/api/v1/me", &tokens.access).await["username"],
        "keeping.it"
    );
}

async fn the_prototype_routes_still_work_and_say_they_are_deprecated(backend: Backend) {
    let app = spawn_app(backend).await;
    let registered = app
        .post_json(
            "/api/register",
            &json!({"username": "oldclient", "password": PASSWORD}),
        )
        .await;
    assert_eq!(registered.status(), 201);
    assert!(registered.headers().contains_key("deprecation"));
    let login = app
        .post_json(
            "/api/login",
            &json!({"username": "oldclient", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 200);
    assert!(
        login.headers()["link"]
            .to_str()
            .unwrap()
            .contains("/api/v1/auth/login")
    );
    let token = login.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let profile = app
        .authed(Method::GET, "/api/profile", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 200);
    assert!(profile.headers().contains_key("deprecation"));
    let body: Value = profile.json().await.unwrap();
    assert_eq!(body["username"], "oldclient");
    assert!(uuid::Uuid::parse_str(text_of(&body, "user_id")).is_ok());
    problem(app.get("/api/profile").await, 401).await;

    // The old routes refuse what the new ones refuse, in the same problem format.
    let taken = app
        .post_json(
            "/api/register",
            &json!({"username": "OldClient", "password": PASSWORD}),
        )
        .await;
    problem(taken, 409).await;
    let weak = app
        .post_json(
            "/api/register",
            &json!({"username": "newer", "password": "password"}),
        )
        .await;
    assert!(problem(weak, 422).await["errors"].is_array());
    let wrong = app
        .post_json(
            "/api/login",
            &json!({"username": "oldclient", "password": "not the password"}),
        )
        .await;
    problem(wrong, 401).await;
    let not_json = |path: &str| {
        app.client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
    };
    let new_route = not_json("/api/v1/auth/login").await.unwrap().status();
    assert!(new_route.is_client_error(), "{new_route}");
    problem(not_json("/api/login").await.unwrap(), new_route.as_u16()).await;
}

/// The old login route shares the new one's back-off: guessing there counts, and is blocked.
async fn the_prototype_login_backs_off_like_the_new_one(backend: Backend) {
    let app = crate::helpers::spawn_app_configured(
        backend,
        flashforge::Hooks::default(),
        &[("FLASHFORGE__RATE_LIMIT__LOGIN_FAILURES_BEFORE_BACKOFF", "3")],
    )
    .await;
    app.signed_up("legacy.user").await;
    for _ in 0..3 {
        let wrong = app
            .post_json(
                "/api/login",
                &json!({"username": "legacy.user", "password": "a wrong guess"}),
            )
            .await;
        problem(wrong, 401).await;
    }
    for blocked in [
        app.post_json(
            "/api/login",
            &json!({"username": "legacy.user", "password": PASSWORD}),
        )
        .await,
        app.login("legacy.user", PASSWORD).await,
    ] {
        assert_eq!(problem(blocked, 429).await["code"], "rate_limited");
    }
}

on_every_backend!(
    registering_returns_the_user_and_a_working_token_pair,
    a_taken_username_in_any_case_answers_409,
    usernames_are_nfkc_normalized,
    a_guessable_password_is_a_422_that_says_how_to_fix_it,
    login_returns_a_new_session_and_records_the_time,
    an_unknown_user_and_a_wrong_password_get_the_same_401,
    refresh_rotates_and_a_reused_token_ends_the_session,
    a_made_up_refresh_token_is_401,
    logout_ends_this_session_only,
    logout_all_ends_every_session,
    sessions_are_listed_newest_first_with_their_client_and_paged,
    a_session_can_be_ended_by_id,
    the_profile_can_be_changed,
    changing_the_password_needs_the_current_one_and_ends_other_sessions,
    deleting_the_account_removes_it_and_its_sessions,
    the_deprecated_delete_of_me_still_deletes_and_names_its_successor,
    deleting_the_account_by_post_needs_a_body_with_the_password,
    deleting_the_account_removes_everything_it_owned_and_nothing_else,
    the_prototype_routes_still_work_and_say_they_are_deprecated,
    the_prototype_login_backs_off_like_the_new_one,
);
