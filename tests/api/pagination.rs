//! The cursor pagination type through HTTP, on a test route that pages over 0..25 by key.

use actix_web::{HttpResponse, web};
use flashforge::Hooks;
use flashforge_domain::pagination::Page;
use flashforge_http::ApiError;
use flashforge_http::pagination::{PageBody, PageQuery};

use crate::helpers::{Backend, array_of, items_of, problem, spawn_app_with};

async fn numbers(query: web::Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    let request = query.parse::<u32>()?;
    let start = request.after.map_or(0, |after| after + 1);
    let items: Vec<u32> = (start..25)
        .take(request.limit.fetch_count() as usize)
        .collect();
    let page = Page::from_overfetch(items, request.limit, |n| *n);
    Ok(HttpResponse::Ok().json(PageBody::from_page(page, |n| n)))
}

fn numbers_route(cfg: &mut web::ServiceConfig) {
    cfg.route("/__test/numbers", web::get().to(numbers));
}

async fn spawn(backend: Backend) -> crate::helpers::TestApp {
    spawn_app_with(
        backend,
        Hooks {
            extra_routes: numbers_route,
            ..Hooks::default()
        },
    )
    .await
}

async fn following_next_cursor_walks_the_whole_list_once(backend: Backend) {
    let app = spawn(backend).await;
    let mut seen = Vec::new();
    let mut path = "/__test/numbers?limit=10".to_string();
    loop {
        let body: serde_json::Value = app.get(&path).await.json().await.unwrap();
        seen.extend(items_of(&body).iter().map(|v| v.as_u64().unwrap()));
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/__test/numbers?limit=10&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, (0..25).collect::<Vec<u64>>());
}

async fn the_default_limit_applies_when_none_is_given(backend: Backend) {
    let app = spawn(backend).await;
    let body: serde_json::Value = app.get("/__test/numbers").await.json().await.unwrap();
    assert_eq!(items_of(&body).len(), 25);
    assert!(body["next_cursor"].is_null());
}

async fn a_bad_cursor_or_limit_answers_422_naming_each(backend: Backend) {
    let app = spawn(backend).await;
    let body = problem(app.get("/__test/numbers?cursor=garbage!").await, 422).await;
    assert_eq!(body["errors"][0]["field"], "cursor");

    for limit in ["0", "201", "ten", "-1"] {
        let body = problem(
            app.get(&format!("/__test/numbers?limit={limit}")).await,
            422,
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "limit", "limit={limit}");
    }

    let body = problem(app.get("/__test/numbers?limit=0&cursor=zz").await, 422).await;
    assert_eq!(array_of(&body, "errors").len(), 2);
}

on_every_backend!(
    following_next_cursor_walks_the_whole_list_once,
    the_default_limit_applies_when_none_is_given,
    a_bad_cursor_or_limit_answers_422_naming_each,
);
