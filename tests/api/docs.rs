//! The OpenAPI document and the offline docs page.

use crate::helpers::{Backend, spawn_app};

async fn the_openapi_document_is_served_as_openapi_3_1(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let spec: serde_json::Value = response.json().await.unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    for path in [
        "/api/v1/auth/register",
        "/health/live",
        "/health/ready",
        "/health",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is documented");
    }
    assert!(spec["components"]["schemas"]["Problem"].is_object());
}

async fn the_docs_page_and_its_assets_are_served_by_the_binary(backend: Backend) {
    let app = spawn_app(backend).await;
    let redirect = app.get("/docs").await;
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/docs/");

    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(!html.contains("https://"), "no asset from a CDN");
    assert!(
        !html.contains("<script>"),
        "no inline script (the CSP forbids it)"
    );
    let init = app.get("/docs/init.js").await.text().await.unwrap();
    assert!(init.contains("/api/v1/openapi.json"));
    assert!(html.contains("/docs/init.js"));
    for asset in ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"] {
        assert!(html.contains(asset), "{asset} is linked");
        let response = app.get(asset).await;
        assert_eq!(response.status(), 200, "{asset}");
        assert!(
            response.bytes().await.unwrap().len() > 10_000,
            "{asset} is the real file"
        );
    }
}

/// `docs/openapi.json` is what the code generates; `make docs` regenerates it.
#[test]
fn the_committed_openapi_document_matches_the_code() {
    let committed = include_str!("../../docs/openapi.json");
    let generated = flashforge_http::openapi::document_json();
    assert!(
        committed == generated,
        "docs/openapi.json is stale: run `make docs` and commit the result"
    );
}

on_every_backend!(
    the_openapi_document_is_served_as_openapi_3_1,
    the_docs_page_and_its_assets_are_served_by_the_binary,
);
