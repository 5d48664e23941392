//! The study web app the binary serves (crates/web): its pages, its hashed assets, caching,
//! compression and its own CSP, beside the API's and the docs'. Each test runs on every
//! backend: the app is served the same whatever stores the data.

use std::io::Read;

use flashforge::Hooks;
use reqwest::header::{self, HeaderMap};

use crate::helpers::{Backend, TestApp, problem, spawn_app, spawn_app_configured};

/// The CSP every app page and asset carries (crates/http `APP_CSP`).
const APP_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

fn text<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

/// The `/assets/…` URLs index.html loads with `attribute="…"` (`src`, `href`).
fn assets_in(html: &str, attribute: &str) -> Vec<String> {
    let marker = format!("{attribute}=\"/assets/");
    html.match_indices(&marker)
        .map(|(at, _)| {
            let url = &html[at + marker.len() - "/assets/".len()..];
            url[..url.find('"').unwrap()].to_string()
        })
        .collect()
}

/// The page at `/`, and the script it loads.
async fn index_and_script(app: &TestApp) -> (String, String) {
    let html = app.get("/").await.text().await.unwrap();
    let script = assets_in(&html, "src")
        .into_iter()
        .find(|url| url.ends_with(".js"))
        .unwrap_or_else(|| panic!("index.html loads no script from /assets/: {html}"));
    (html, script)
}

async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn the_root_serves_the_app_page_with_the_apps_csp(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(text(headers, "content-type"), "text/html; charset=utf-8");
    assert_eq!(text(headers, "content-security-policy"), APP_CSP);
    assert_eq!(text(headers, "x-content-type-options"), "nosniff");
    assert_eq!(text(headers, "x-frame-options"), "DENY");
    assert_eq!(text(headers, "cache-control"), "no-cache");
    assert!(headers.contains_key("etag"));
    let html = response.text().await.unwrap();
    assert!(html.contains("<div id=\"app\">"), "{html}");
    assert!(!html.contains("https://"), "no asset from a CDN");
    assert!(
        !html.contains("<script>"),
        "no inline script (the CSP forbids it)"
    );
}

async fn the_script_index_html_loads_is_immutable_and_revalidates_with_its_etag(backend: Backend) {
    let app = spawn_app(backend).await;
    let (html, script) = index_and_script(&app).await;
    let response = app.get(&script).await;
    assert_eq!(response.status(), 200, "{script}");
    let headers = response.headers().clone();
    assert_eq!(
        text(&headers, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(text(&headers, "cache-control"), IMMUTABLE);
    assert_eq!(text(&headers, "content-security-policy"), APP_CSP);
    let etag = text(&headers, "etag").to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(
        response.bytes().await.unwrap().len() > 1000,
        "the real file"
    );

    let cached = get_with(&app, &script, &[("if-none-match", &etag)]).await;
    assert_eq!(cached.status(), 304);
    assert_eq!(text(cached.headers(), "etag"), etag);
    assert!(cached.bytes().await.unwrap().is_empty());
    let stale = get_with(&app, &script, &[("if-none-match", "\"an-old-build\"")]).await;
    assert_eq!(stale.status(), 200);

    // Every other asset index.html names is served too (the stylesheet, when there is one).
    for url in assets_in(&html, "href") {
        let response = app.get(&url).await;
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(
            text(response.headers(), "cache-control"),
            IMMUTABLE,
            "{url}"
        );
        if url.ends_with(".css") {
            assert_eq!(
                text(response.headers(), "content-type"),
                "text/css; charset=utf-8"
            );
        }
    }
}

async fn a_client_that_accepts_gzip_gets_the_same_bytes_compressed(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, script) = index_and_script(&app).await;
    for path in ["/", script.as_str()] {
        let plain = app.get(path).await;
        assert!(!plain.headers().contains_key("content-encoding"), "{path}");
        let plain = plain.bytes().await.unwrap();
        let gzipped = get_with(&app, path, &[("accept-encoding", "gzip, deflate, br")]).await;
        assert_eq!(gzipped.status(), 200, "{path}");
        assert_eq!(
            text(gzipped.headers(), "content-encoding"),
            "gzip",
            "{path}"
        );
        // CORS adds its own names to Vary.
        let vary = text(gzipped.headers(), "vary").to_ascii_lowercase();
        assert!(vary.contains("accept-encoding"), "{path}: {vary}");
        let compressed = gzipped.bytes().await.unwrap();
        assert!(compressed.len() < plain.len(), "{path}");
        assert_eq!(gunzip(&compressed), plain, "{path}");
    }
    let refused = get_with(&app, &script, &[("accept-encoding", "gzip;q=0")]).await;
    assert!(!refused.headers().contains_key("content-encoding"));
}

async fn deep_links_into_the_app_serve_its_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let index = app.get("/").await.text().await.unwrap();
    for path in [
        "/chats/some-id/documents",
        "/chats",
        "/study",
        "/signin?next=%2Fstats",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(text(response.headers(), "content-security-policy"), APP_CSP);
        assert_eq!(text(response.headers(), "cache-control"), "no-cache");
        assert_eq!(response.text().await.unwrap(), index, "{path}");
    }
}

async fn unknown_assets_and_paths_answer_404_problems(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/assets/nope.js", "/nope", "/chatsroom", "/index.html"] {
        let body = problem(app.get(path).await, 404).await;
        assert_eq!(body["instance"], path, "{body}");
    }
}

async fn the_api_and_the_docs_keep_their_own_csps(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/api/v1/me", "/api/v1/openapi.json", "/health/live"] {
        let response = app.get(path).await;
        let csp = text(response.headers(), "content-security-policy");
        assert_eq!(
            csp, "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            "{path}"
        );
    }
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status(), 200);
    let csp = text(docs.headers(), "content-security-policy");
    assert!(
        csp.contains("'unsafe-inline'"),
        "Swagger UI's styles: {csp}"
    );
    assert_ne!(csp, APP_CSP);
}

async fn head_on_the_root_answers_like_get_without_a_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let get = app.get("/").await;
    let length = text(get.headers(), "content-length").to_string();
    let response = app.client.head(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        text(response.headers(), "content-type"),
        "text/html; charset=utf-8"
    );
    assert_eq!(text(response.headers(), "content-length"), length);
    assert_eq!(text(response.headers(), "content-security-policy"), APP_CSP);
    assert!(response.bytes().await.unwrap().is_empty());
}

async fn post_on_the_root_is_a_problem_not_the_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .post(app.url("/"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert!((400..500).contains(&status), "{status}");
    let body = problem(response, status).await;
    assert_eq!(body["instance"], "/");
}

/// Loading the app (its page, its files, deep links, a missing asset) spends nothing of the
/// address's request budget: the API calls that follow get all of it.
async fn loading_the_app_spends_no_request_budget(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        Hooks::default(),
        &[("FLASHFORGE__RATE_LIMIT__READS_PER_MINUTE", "3")],
    )
    .await;
    let (_, script) = index_and_script(&app).await;
    for _ in 0..5 {
        for path in ["/", script.as_str(), "/study", "/chats/x/cards"] {
            assert_eq!(app.get(path).await.status(), 200, "{path}");
        }
        assert_eq!(app.get("/assets/nope.js").await.status(), 404);
    }
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/me").await.status(), 401);
    }
    problem(app.get("/api/v1/me").await, 429).await;
}

on_every_backend!(
    the_root_serves_the_app_page_with_the_apps_csp,
    the_script_index_html_loads_is_immutable_and_revalidates_with_its_etag,
    a_client_that_accepts_gzip_gets_the_same_bytes_compressed,
    deep_links_into_the_app_serve_its_page,
    unknown_assets_and_paths_answer_404_problems,
    the_api_and_the_docs_keep_their_own_csps,
    head_on_the_root_answers_like_get_without_a_body,
    post_on_the_root_is_a_problem_not_the_page,
    loading_the_app_spends_no_request_budget,
);
