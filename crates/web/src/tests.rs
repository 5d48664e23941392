use std::io::Read;

use actix_web::App;
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::test::{self, TestRequest};

use super::*;

fn index_html() -> &'static str {
    let index = assets::find("index.html").expect("dist/index.html is embedded");
    std::str::from_utf8(index.bytes).expect("index.html is UTF-8")
}

/// Every `/assets/…` URL in a `src="…"` or `href="…"` attribute of index.html.
fn referenced_assets(html: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            let url = &rest[..rest.find('"').unwrap_or(rest.len())];
            if url.starts_with(ASSETS_PREFIX) {
                found.push(url);
            }
        }
    }
    found
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

#[test]
fn index_html_is_embedded() {
    let html = index_html();
    assert!(
        html.trim_start()
            .to_ascii_lowercase()
            .starts_with("<!doctype html>"),
        "{html}"
    );
}

#[test]
fn every_asset_index_html_references_is_embedded_and_routed() {
    let referenced = referenced_assets(index_html());
    assert!(
        referenced.iter().any(|url| url.ends_with(".js")),
        "index.html loads a script from /assets/: {referenced:?}"
    );
    for url in referenced {
        let asset = assets::find(&url[1..]).unwrap_or_else(|| panic!("{url} is not in dist/"));
        assert!(is_routable(asset), "{url} has no route");
    }
}

#[test]
fn every_embedded_asset_has_a_route() {
    for asset in assets::all() {
        assert!(
            asset.path == "index.html" || is_routable(asset),
            "dist/{} would not be served",
            asset.path
        );
    }
}

#[test]
fn gzip_copies_decompress_to_the_original_files() {
    let mut compressed = 0;
    for asset in assets::all() {
        if let Some(gzipped) = asset.gzip() {
            assert_eq!(gunzip(&gzipped.bytes), asset.bytes, "{}", asset.path);
            assert!(gzipped.bytes.len() < asset.bytes.len(), "{}", asset.path);
            assert_ne!(gzipped.tag, *asset.tag(), "{}", asset.path);
            compressed += 1;
        }
    }
    assert!(compressed > 0, "the scripts at least are compressed");
    let script = referenced_assets(index_html())
        .into_iter()
        .find(|url| url.ends_with(".js"))
        .expect("a script");
    assert!(assets::find(&script[1..]).and_then(Asset::gzip).is_some());
}

#[test]
fn gzip_round_trips() {
    let text = "FlashForge ".repeat(100);
    let gzipped = assets::gzip(text.as_bytes()).unwrap();
    assert!(gzipped.len() < text.len());
    assert_eq!(gunzip(&gzipped), text.as_bytes());
    assert_eq!(gunzip(&assets::gzip(b"").unwrap()), b"");
}

#[test]
fn content_types_follow_the_extension() {
    for (path, expected, compressible) in [
        ("index.html", "text/html; charset=utf-8", true),
        (
            "assets/index-Cw-Dn1Tc.js",
            "text/javascript; charset=utf-8",
            true,
        ),
        ("assets/index-BuxpOZRu.CSS", "text/css; charset=utf-8", true),
        ("assets/logo-abc.svg", "image/svg+xml", true),
        ("assets/app.json", "application/json", true),
        ("assets/logo-abc.png", "image/png", false),
        ("assets/inter-abc.woff2", "font/woff2", false),
        ("assets/noextension", "application/octet-stream", false),
    ] {
        assert_eq!(
            assets::content_type(path),
            (expected, compressible),
            "{path}"
        );
    }
}

#[test]
fn pages_are_the_app_routes_and_nothing_else() {
    for page in [
        "/",
        "/signin",
        "/chats",
        "/chats/",
        "/chats/3f2b/documents",
        "/study",
        "/stats",
        "/account",
    ] {
        assert!(is_page(page), "{page}");
        assert!(is_app_path(page), "{page}");
    }
    for other in [
        "",
        "/api/v1/chats",
        "/chatsroom",
        "/docs/",
        "/health/live",
        "/metrics",
        "/assets/index.js",
        "/nope",
        "/cards/x",
    ] {
        assert!(!is_page(other), "{other}");
    }
    assert!(is_app_path("/assets/index.js"));
    assert!(!is_app_path("/api/v1/me"));
}

// ---------------------------------------------------------------------------------------------
// Through actix (no middleware: the HTTP crate's tests cover the assembled app)

fn header_of(res: &ServiceResponse, name: header::HeaderName) -> String {
    res.headers()
        .get(&name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
        .to_string()
}

fn script_url() -> String {
    referenced_assets(index_html())
        .into_iter()
        .find(|url| url.ends_with(".js"))
        .expect("a script")
        .to_string()
}

#[actix_web::test]
async fn every_app_route_serves_index_html_uncached() {
    let app = test::init_service(App::new().configure(routes)).await;
    for path in [
        "/",
        "/chats",
        "/chats/3f2b/documents",
        "/study",
        "/signin?next=%2Fstats",
    ] {
        let res = test::call_service(&app, TestRequest::get().uri(path).to_request()).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header_of(&res, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert_eq!(header_of(&res, header::CACHE_CONTROL), "no-cache");
        assert!(res.headers().contains_key(header::ETAG));
        assert!(!res.headers().contains_key(header::CONTENT_ENCODING));
        let body = test::read_body(res).await;
        assert_eq!(body, index_html().as_bytes(), "{path}");
    }
}

#[actix_web::test]
async fn assets_are_immutable_and_revalidate_with_their_etag() {
    let app = test::init_service(App::new().configure(routes)).await;
    let url = script_url();
    let res = test::call_service(&app, TestRequest::get().uri(&url).to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        header_of(&res, header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        header_of(&res, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header_of(&res, header::VARY), "accept-encoding");
    let etag = header_of(&res, header::ETAG);
    let body = test::read_body(res).await;
    assert_eq!(body, assets::find(&url[1..]).unwrap().bytes);

    for if_none_match in [etag.clone(), format!("\"x\", W/{etag}"), "*".into()] {
        let req = TestRequest::get()
            .uri(&url)
            .insert_header((header::IF_NONE_MATCH, if_none_match.as_str()))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{if_none_match}");
        assert_eq!(header_of(&res, header::ETAG), etag);
        assert!(test::read_body(res).await.is_empty());
    }
    let req = TestRequest::get()
        .uri(&url)
        .insert_header((header::IF_NONE_MATCH, "\"something-else\""))
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn gzip_is_served_when_the_client_accepts_it() {
    let app = test::init_service(App::new().configure(routes)).await;
    let url = script_url();
    let raw = assets::find(&url[1..]).unwrap().bytes;
    for (accept, gzip) in [
        (Some("gzip, deflate, br, zstd"), true),
        (Some("gzip"), true),
        (Some("br;q=1.0, gzip;q=0.8, *;q=0.1"), true),
        (Some("gzip;q=0"), false),
        (Some("identity"), false),
        (Some("br"), false),
        (None, false),
    ] {
        let mut req = TestRequest::get().uri(&url);
        if let Some(accept) = accept {
            req = req.insert_header((header::ACCEPT_ENCODING, accept));
        }
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::OK, "{accept:?}");
        assert_eq!(
            res.headers()
                .get(header::CONTENT_ENCODING)
                .is_some_and(|v| v == "gzip"),
            gzip,
            "{accept:?}"
        );
        assert_eq!(header_of(&res, header::VARY), "accept-encoding");
        let body = test::read_body(res).await;
        let body = if gzip { gunzip(&body) } else { body.to_vec() };
        assert_eq!(body, raw, "{accept:?}");
    }
}

#[actix_web::test]
async fn unknown_assets_and_paths_match_no_route() {
    let app = test::init_service(App::new().configure(routes)).await;
    for path in [
        "/assets/nope.js",
        "/assets/",
        "/nope",
        "/api/v1/chats",
        "/index.html",
    ] {
        let res = test::call_service(&app, TestRequest::get().uri(path).to_request()).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let post = TestRequest::post().uri("/").to_request();
    assert_eq!(
        test::call_service(&app, post).await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}
