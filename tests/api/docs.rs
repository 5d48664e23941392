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

/// The README's configuration table names every key of config/default.toml, with its
/// environment variable (a row may name several keys of one section: `a.b`, `c`, `d`).
#[test]
fn the_readme_lists_every_configuration_key() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let defaults: toml::Table = std::fs::read_to_string(format!("{root}/config/default.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let mut listed = std::collections::HashMap::new();
    for row in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').collect();
        let mut section = None;
        for name in cells[1].split('`').skip(1).step_by(2) {
            let key = match name.split_once('.') {
                Some((s, k)) => {
                    section = Some(s.to_string());
                    k.to_string()
                }
                None => name.to_string(),
            };
            if let Some(section) = &section {
                listed.insert(format!("{section}.{key}"), cells[3].to_string());
            }
        }
    }
    let mut missing = Vec::new();
    for (section, keys) in &defaults {
        for key in keys.as_table().into_iter().flat_map(|t| t.keys()) {
            let name = format!("{section}.{key}");
            let variable = format!("FLASHFORGE__{}__", section.to_uppercase());
            match listed.get(&name) {
                Some(env) if env.contains(&variable) || env.contains('…') => {}
                _ => missing.push(name),
            }
        }
    }
    assert!(missing.is_empty(), "not in the README's table: {missing:?}");
}
