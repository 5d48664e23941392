//! The OpenAPI 3.1 document, the route serving it, and the offline docs page. It sits above
//! [`routes`]: routes declare their operations, this module assembles the document from them.

use std::sync::OnceLock;

use actix_web::dev::{HttpServiceFactory, ServiceFactory, ServiceRequest};
use actix_web::{App, HttpResponse, web};
use swagger_ui_dist::{ApiDefinition, OpenApiSource};
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, UtoipaApp};

pub use crate::constants::SPEC_PATH;
use flashforge_domain::Code;

use crate::problem::{Problem, ProblemField, ProblemQuota, status_of};
use crate::schemas::{BinaryFile, DeltaEvent};
use crate::{responses, routes, schemas};

mod finish;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "FlashForge API",
        description = "Study from your own material: upload it, search it, talk with an assistant that cites it, and review flashcards on an FSRS schedule.\n\nEvery error is an RFC 9457 `application/problem+json` body with a stable `code`. Lists are cursor-paginated (`?limit=&cursor=` → `{items, next_cursor}`).",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    servers((url = "/", description = "This server (the document's own origin)")),
    components(schemas(
        Problem,
        ProblemField,
        ProblemQuota,
        BinaryFile,
        DeltaEvent,
        routes::messages::QuestionEvent,
        routes::messages::DoneEvent
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "auth", description = "Accounts and sessions"),
        (name = "me", description = "The caller's own account"),
        (name = "chats", description = "Study workspaces: each owns its messages, documents and cards"),
        (name = "assistant", description = "Messages, and answers grounded in the chat's material"),
        (name = "documents", description = "Course material uploaded into a chat, and its ingestion"),
        (name = "search", description = "Search of the caller's material by meaning and by words"),
        (name = "flashcards", description = "Cards of a chat, linked to the passages they came from"),
        (name = "study", description = "Spaced-repetition study: the due queue (FSRS)"),
        (name = "legacy", description = "The prototype's routes, deprecated")
    )
)]
struct ApiDoc;

/// Declares the bearer-JWT scheme that protected operations name.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The parts of the document no route declares: info, tags, shared schemas and the shared
/// responses ([`responses`]).
pub fn base() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    let components = document.components.get_or_insert_with(Default::default);
    responses::register(components);
    let mut enums = Vec::new();
    schemas::register(&mut enums);
    components.schemas.extend(enums);
    document
}

/// Writes the table of error codes ([`Code`]) into the description of `Problem.code`: each
/// code, its status and what it means.
fn list_error_codes(document: &mut utoipa::openapi::OpenApi) {
    use std::fmt::Write as _;
    use utoipa::openapi::{RefOr, Schema};

    let Some(RefOr::T(Schema::Object(problem))) = document
        .components
        .as_mut()
        .and_then(|c| c.schemas.get_mut("Problem"))
    else {
        return;
    };
    let Some(RefOr::T(Schema::Object(code))) = problem.properties.get_mut("code") else {
        return;
    };
    let mut table = String::from(
        "A stable machine-readable code; clients may branch on it. The service's codes:\n\n\
         | code | status | meaning |\n|---|---|---|\n",
    );
    for each in Code::ALL {
        let _ = writeln!(
            table,
            "| `{}` | {} | {} |",
            each.as_str(),
            status_of(each.kind()).as_u16(),
            each.meaning()
        );
    }
    table.push_str(
        "\nA request the server cannot take at all answers with a code named after its status: \
         `bad_request`, `malformed_json`, `unreadable_body`, `not_found` (no such route), \
         `method_not_allowed`, `request_timeout`, `body_timeout`, `length_required`, \
         `payload_too_large`, `uri_too_long`, `unsupported_media_type`, `multipart_required`, \
         `bad_multipart`, `headers_too_large`, `storage_full`.",
    );
    code.description = Some(table);
}

/// `app` with every documented route registered ([`routes::mount`]), its document started from
/// [`base`].
pub fn documented_app<T>(app: App<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    routes::mount(app.into_utoipa_app().openapi(base()))
}

/// The whole document, as the running server serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = documented_app(App::new()).split_for_parts().1;
    finish::finish(&mut document);
    // After the routes: their schemas replace the components the base declared.
    list_error_codes(&mut document);
    document
}

/// The document as pretty JSON with a trailing newline, as committed in `docs/openapi.json`.
pub fn document_json() -> String {
    let mut json = document().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

/// The document as served, built once per process.
fn served_json() -> web::Bytes {
    static JSON: OnceLock<web::Bytes> = OnceLock::new();
    JSON.get_or_init(|| web::Bytes::from(document().to_pretty_json().unwrap_or_default()))
        .clone()
}

/// `GET /api/v1/openapi.json`. Registered before the `/api/v1` scope, which would otherwise
/// claim the path.
pub(crate) fn spec_service() -> impl HttpServiceFactory {
    web::resource(SPEC_PATH).route(web::get().to(|| async {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(served_json())
    }))
}

/// The docs page: Swagger UI, its scripts and styles served from this binary (no CDN), started by
/// an external script so that the CSP needs no inline script.
const DOCS_INDEX: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>FlashForge API</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"#;

const DOCS_INIT: &str = r##"window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
"##;

/// `/docs` (redirect), `/docs/`, `/docs/init.js`, and Swagger UI's assets under `/docs/`.
pub(crate) fn docs_service() -> impl HttpServiceFactory {
    let redirect = web::resource("/docs").route(web::get().to(|| async {
        HttpResponse::PermanentRedirect()
            .insert_header(("Location", "/docs/"))
            .finish()
    }));
    let index = web::resource("/docs/").route(web::get().to(|| async {
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(DOCS_INDEX)
    }));
    let init = web::resource("/docs/init.js").route(web::get().to(|| async {
        HttpResponse::Ok()
            .content_type("text/javascript; charset=utf-8")
            .body(DOCS_INIT)
    }));
    // The crate's own scope also serves an index, but ours (registered first) wins.
    let assets = swagger_ui_dist::generate_scope(ApiDefinition {
        uri_prefix: "/docs",
        api_definition: OpenApiSource::Uri(SPEC_PATH),
        title: Some("FlashForge API"),
    });
    (redirect, index, init, assets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_problem_schema_lists_every_error_code_with_its_status() {
        let document = serde_json::to_value(document()).unwrap();
        let listed =
            document["components"]["schemas"]["Problem"]["properties"]["code"]["description"]
                .as_str()
                .unwrap()
                .to_string();
        for code in Code::ALL {
            let row = format!(
                "| `{}` | {} |",
                code.as_str(),
                status_of(code.kind()).as_u16()
            );
            assert!(listed.contains(&row), "{row} is not listed");
        }
        assert!(listed.contains("| `chat_not_found` | 404 |"));
    }
}
