//! The study web app, served by the binary beside the API.
//!
//! The app (Preact + TypeScript under `app/`, built by Vite into `dist/`) is a client of the
//! public API only: it calls `/api/v1` with the same bearer tokens as any other client and
//! reaches nothing private. `dist/` is committed and compiled into this crate with
//! `include_dir`, so one binary serves the app offline: no CDN, no file on disk to deploy.
//!
//! [`routes`] registers:
//! - `GET`/`HEAD` `/` and every client-side route ([`APP_ROUTES`], with or without further
//!   segments): `index.html`, revalidated on every load (`Cache-Control: no-cache`, with an
//!   `ETag`), so a new build is picked up at once;
//! - `GET`/`HEAD` `/assets/…`: one route per embedded file. Their names carry a content hash,
//!   so they are cached for a year as immutable. A name that is not embedded matches no route
//!   and gets the API's usual 404 problem.
//!
//! Text files are served gzip-compressed to clients that accept it, compressed once on first
//! use. Security headers (the app's CSP) are the HTTP crate's middleware's business.

#![forbid(unsafe_code)]

mod assets;

use actix_web::http::header::{self, AcceptEncoding, Encoding, EntityTag, Header, IfNoneMatch};
use actix_web::{HttpRequest, HttpResponse, web};

use assets::Asset;

/// The first path segments of the app's client-side routes: `/chats`, `/chats/{id}/documents`…
/// A deep link to any of them loads `index.html`, whose router shows the page.
pub const APP_ROUTES: &[&str] = &[
    "signin", "signup", "chats", "search", "study", "stats", "account",
];

/// Where the hashed build output is served.
pub const ASSETS_PREFIX: &str = "/assets/";

/// `index.html`: always revalidated (cheap with its `ETag`), so a deploy shows at once.
const PAGE_CACHING: &str = "no-cache";
/// A hashed file never changes under its name.
const ASSET_CACHING: &str = "public, max-age=31536000, immutable";

/// Whether `path` is one of the app's pages: `/` or a path under one of [`APP_ROUTES`].
pub fn is_page(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let first = rest.split('/').next().unwrap_or_default();
    rest.is_empty() || APP_ROUTES.contains(&first)
}

/// Whether `path` is one this crate answers: a page or a file under [`ASSETS_PREFIX`] (an
/// asset that is not embedded included: it is still no API request).
pub fn is_app_path(path: &str) -> bool {
    is_page(path) || path.starts_with(ASSETS_PREFIX)
}

/// Registers the app's pages and its embedded assets.
pub fn routes(cfg: &mut web::ServiceConfig) {
    if let Some(index) = assets::find("index.html") {
        let page = move |req: HttpRequest| async move { respond(index, PAGE_CACHING, &req) };
        cfg.service(
            web::resource("/")
                .route(web::get().to(page))
                .route(web::head().to(page)),
        );
        for route in APP_ROUTES {
            cfg.service(
                web::resource([format!("/{route}"), format!("/{route}/{{tail:.*}}")])
                    .route(web::get().to(page))
                    .route(web::head().to(page)),
            );
        }
    }
    for asset in assets::all().iter().filter(|asset| is_routable(asset)) {
        let file = move |req: HttpRequest| async move { respond(asset, ASSET_CACHING, &req) };
        cfg.service(
            web::resource(format!("/{}", asset.path))
                .route(web::get().to(file))
                .route(web::head().to(file)),
        );
    }
}

/// A file under `assets/` whose name is literal in a route pattern (Vite's names are:
/// `[name]-[hash].[ext]`); a unit test checks that every embedded asset is.
fn is_routable(asset: &Asset) -> bool {
    let path = &asset.path;
    path.strip_prefix("assets/")
        .is_some_and(|name| !name.is_empty())
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~/".contains(&b))
}

/// Whether the client takes gzip over the raw bytes (its `Accept-Encoding`, with q-values).
fn accepts_gzip(req: &HttpRequest) -> bool {
    let supported = [Encoding::gzip(), Encoding::identity()];
    AcceptEncoding::parse(req)
        .ok()
        .and_then(|accepted| accepted.negotiate(supported.iter()))
        .is_some_and(|chosen| chosen == Encoding::gzip())
}

/// Whether the client's cached copy (its `If-None-Match`) is the representation `tag` names.
fn not_modified(req: &HttpRequest, tag: &EntityTag) -> bool {
    match IfNoneMatch::parse(req) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(tag)),
        Err(_) => false,
    }
}

fn respond(asset: &'static Asset, caching: &'static str, req: &HttpRequest) -> HttpResponse {
    let gzipped = accepts_gzip(req).then(|| asset.gzip()).flatten();
    let (body, tag): (&'static [u8], &EntityTag) = match gzipped {
        Some(gzipped) => (&gzipped.bytes, &gzipped.tag),
        None => (asset.bytes, asset.tag()),
    };
    let fresh = not_modified(req, tag);
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, caching))
        .insert_header(header::ETag(tag.clone()));
    if asset.varies_by_encoding() {
        response.insert_header((header::VARY, "accept-encoding"));
    }
    if fresh {
        return response.finish();
    }
    if gzipped.is_some() {
        response.insert_header((header::CONTENT_ENCODING, "gzip"));
    }
    response.content_type(asset.content_type).body(body)
}

#[cfg(test)]
mod tests;
