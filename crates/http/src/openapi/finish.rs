//! The passes over the assembled document that no single route can make: the answers and
//! headers every operation shares, the security of public operations, page schemas that refer
//! to their items, and the shape of an event stream.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{
    ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder, header::HeaderBuilder,
};

/// The response headers the document declares once, under `#/components/headers`.
const REQUEST_ID: &str = "X-Request-Id";
const RETRY_AFTER: &str = "Retry-After";
const DEPRECATION: &str = "Deprecation";
const LINK: &str = "Link";
const WWW_AUTHENTICATE: &str = "WWW-Authenticate";

/// Every pass, in order.
pub(super) fn finish(document: &mut OpenApi) {
    add_common_responses(document);
    declare_headers(document);
    for_each_operation(document, |_, operation| {
        describe_responses(operation);
        add_headers(operation);
        mark_public(operation);
    });
    if let Some(components) = document.components.as_mut() {
        for response in components.responses.values_mut() {
            if let RefOr::T(response) = response {
                add_header(response, REQUEST_ID);
            }
        }
    }
    refer_page_items(document);
    describe_event_streams(document);
}

/// Calls `f` on every operation with its path.
fn for_each_operation(document: &mut OpenApi, mut f: impl FnMut(&str, &mut Operation)) {
    for (path, item) in document.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            f(path, operation);
        }
    }
}

/// Whether `operation` needs a bearer token.
fn protected(operation: &Operation) -> bool {
    operation
        .security
        .as_ref()
        .is_some_and(|requirements| requirements.iter().any(|r| *r != Default::default()))
}

/// Answers every operation can give from the layers around its handler, added where its own
/// annotation does not list them: 401 (a bearer token missing, invalid or of an ended session)
/// for protected operations; 400 (malformed JSON), 415 (not JSON) and 422 (a body of the wrong
/// shape) and 413 (too large) for JSON bodies; 404 for a path whose id is not a UUID; 422 for a
/// query parameter of the wrong type; 429 (rate limits) and 503 (a dependency down) for every
/// API operation.
fn add_common_responses(document: &mut OpenApi) {
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for_each_operation(document, |path, operation| {
        let protected = protected(operation);
        let json_body = operation
            .request_body
            .as_ref()
            .is_some_and(|body| match body {
                RefOr::T(body) => body.content.contains_key("application/json"),
                RefOr::Ref(_) => false,
            });
        let has = |place: ParameterIn| {
            operation
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == place))
        };
        let (path_params, query_params) = (has(ParameterIn::Path), has(ParameterIn::Query));
        let mut add = |status: &str, description: &str| {
            operation
                .responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| problem(description));
        };
        if protected {
            add(
                "401",
                "Not authenticated: no bearer token, an invalid one, or one of an ended session",
            );
        }
        if json_body {
            add("400", "The body is not valid JSON");
            add(
                "415",
                "The body is not declared as JSON (`Content-Type: application/json`)",
            );
            add(
                "422",
                "The body does not have the documented shape, or a field is invalid",
            );
            add("413", "The body is larger than this operation's limit");
        }
        if path_params {
            add(
                "404",
                "Nothing of the caller's at this path (an id that is not a UUID names nothing)",
            );
        }
        if query_params {
            add("422", "A query parameter is invalid (`errors` names it)");
        }
        if path.starts_with("/api/") {
            add(
                "429",
                "A rate limit was reached; `Retry-After` says when to try again",
            );
            add(
                "503",
                "A dependency (the database, the vector index, storage) is unavailable; try again",
            );
        } else {
            // Health checks are not rate-limited, but every route has the server's limits on
            // the request's head.
            add("431", "The request's headers are too large");
        }
    });
}

/// `#/components/headers`: the headers several answers carry.
fn declare_headers(document: &mut OpenApi) {
    let string = || ObjectBuilder::new().schema_type(Type::String).build();
    let components = document.components.get_or_insert_with(Default::default);
    let headers = [
        (
            REQUEST_ID,
            "The request's id: the client's own `X-Request-Id` when it sent a sane one, else a \
             new one. Logs and problem bodies (`request_id`) carry it.",
            string(),
        ),
        (
            RETRY_AFTER,
            "Seconds to wait before trying again, when the server knows.",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .build(),
        ),
        (
            DEPRECATION,
            "RFC 9745: the operation is deprecated, since the given time (`@` and seconds since \
             the Unix epoch).",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .examples([serde_json::json!("@1795564800")])
                .build(),
        ),
        (
            LINK,
            "RFC 8288: the operation's successor (`rel=\"successor-version\"`).",
            string(),
        ),
        (
            WWW_AUTHENTICATE,
            "RFC 6750: the bearer challenge, with `error=\"invalid_token\"` when the token \
             itself was the problem.",
            string(),
        ),
    ];
    for (name, description, schema) in headers {
        components.headers.insert(
            name.to_string(),
            RefOr::T(
                HeaderBuilder::new()
                    .schema(Some(schema))
                    .description(Some(description))
                    .build(),
            ),
        );
    }
}

fn header_ref(name: &str) -> RefOr<utoipa::openapi::header::Header> {
    RefOr::Ref(Ref::new(format!("#/components/headers/{name}")))
}

fn add_header(response: &mut Response, name: &str) {
    response
        .headers
        .entry(name.to_string())
        .or_insert_with(|| header_ref(name));
}

/// `X-Request-Id` on every answer, `Retry-After` on 429 and 503, `WWW-Authenticate` on 401,
/// and `Deprecation` and `Link` on the successes of a deprecated operation.
fn add_headers(operation: &mut Operation) {
    let deprecated = matches!(
        operation.deprecated,
        Some(utoipa::openapi::Deprecated::True)
    );
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        add_header(response, REQUEST_ID);
        match status.as_str() {
            "429" | "503" => add_header(response, RETRY_AFTER),
            "401" => add_header(response, WWW_AUTHENTICATE),
            s if deprecated && s.starts_with('2') => {
                add_header(response, DEPRECATION);
                add_header(response, LINK);
            }
            _ => {}
        }
    }
}

/// A response an annotation gave no description gets its status's reason (OpenAPI requires
/// one).
fn describe_responses(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        if let RefOr::T(response) = response
            && response.description.is_empty()
        {
            response.description = status
                .parse::<u16>()
                .ok()
                .and_then(|s| actix_web::http::StatusCode::from_u16(s).ok())
                .and_then(|s| s.canonical_reason())
                .unwrap_or("The answer")
                .to_string();
        }
    }
}

/// An operation that needs no token says so (`security: [{}]`, anonymous access), so that no
/// operation is left without a security statement.
fn mark_public(operation: &mut Operation) {
    if operation.security.is_none() {
        operation.security = Some(vec![Default::default()]);
    }
}

/// A page schema (`PageBody_X`) names its items by reference to `X` instead of copying them.
fn refer_page_items(document: &mut OpenApi) {
    let Some(components) = document.components.as_mut() else {
        return;
    };
    for (name, schema) in components.schemas.iter_mut() {
        let Some(item) = name.strip_prefix("PageBody_") else {
            continue;
        };
        let RefOr::T(Schema::Object(page)) = schema else {
            continue;
        };
        if let Some(RefOr::T(Schema::Array(items))) = page.properties.get_mut("items") {
            items.items = utoipa::openapi::schema::ArrayItems::RefOrSchema(Box::new(
                Ref::from_schema_name(item).into(),
            ));
        }
    }
}

/// Every `text/event-stream` answer is a string of server-sent events whose `data` lines hold
/// one of the event payloads.
fn describe_event_streams(document: &mut OpenApi) {
    let stream = || -> RefOr<Schema> {
        let payloads = OneOfBuilder::new()
            .item(Ref::from_schema_name("QuestionEvent"))
            .item(Ref::from_schema_name("DeltaEvent"))
            .item(Ref::from_schema_name("DoneEvent"))
            .item(Ref::from_schema_name("Problem"))
            .build();
        let mut extensions = utoipa::openapi::extensions::Extensions::default();
        extensions.insert(
            "contentSchema".to_string(),
            serde_json::to_value(payloads).unwrap_or_default(),
        );
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Server-sent events (`id`, `event`, `data` lines); each `data` is one JSON \
                 payload (`contentSchema`).",
            ))
            .content_media_type("text/event-stream")
            .extensions(Some(extensions))
            .into()
    };
    for_each_operation(document, |_, operation| {
        for response in operation.responses.responses.values_mut() {
            if let RefOr::T(response) = response
                && let Some(RefOr::T(content)) = response.content.get_mut("text/event-stream")
            {
                content.schema = Some(stream());
            }
        }
    });
}
