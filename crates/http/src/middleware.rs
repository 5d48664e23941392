//! The layers every request passes through, outermost first:
//! 1. [`request_context`]: a request id (the client's `X-Request-Id` when it is sane, else a new
//!    UUIDv7), the client's address, a tracing span carrying the id (a child of the caller's
//!    W3C `traceparent` when trace export is on), the id echoed back, and one access-log line.
//! 2. [`security_headers`]: nosniff, no framing, no referrer, a CSP (the API's, the docs' or the
//!    study app's, by path), HSTS when configured, and `Cache-Control: no-store` on the API.
//! 3. [`problem_responses`]: every failure leaves as a problem+json body naming the request.
//! 4. CORS (actix-cors), from configuration.
//! 5. [`rate_limit`]: the per-IP request budget of the route's class (reads, writes).
//! 6. [`body_timeout`]: a request body that stops arriving is cut off with 408.
//! 7. [`catch_panics`]: a panicking handler becomes a 500, not a dropped connection.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse};
use futures_util::FutureExt;
use tracing::Instrument;

use actix_web::web;
use flashforge_domain::Services;

use crate::auth::{ClientIp, resolve_client_ip, route_class};
pub use crate::constants::REQUEST_ID;
use crate::constants::SPEC_PATH;
use crate::problem::{ApiError, PROBLEM_JSON};
use crate::settings::{HttpSecurity, Limits};

/// The id of the request being served, in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn client_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(REQUEST_ID)?.to_str().ok()?;
    let sane = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    sane.then(|| value.to_string())
}

fn request_id_of(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(|id| id.0.clone())
}

/// The caller's trace (W3C Trace Context: `traceparent`, `tracestate`), when it sent a valid one.
fn caller_trace(headers: &header::HeaderMap) -> Option<opentelemetry::Context> {
    use opentelemetry::propagation::{Extractor, TextMapPropagator};
    use opentelemetry::trace::TraceContextExt;

    struct Headers<'a>(&'a header::HeaderMap);
    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(HeaderName::as_str).collect()
        }
    }

    // The propagator pads short ids; the W3C format has none: `vv-<32 hex>-<16 hex>-ff`.
    let traceparent = headers.get("traceparent")?.to_str().ok()?;
    let parts: Vec<&str> = traceparent.split('-').collect();
    let well_formed = parts.len() >= 4
        && [2, 32, 16, 2]
            .iter()
            .zip(&parts)
            .all(|(len, part)| part.len() == *len && part.bytes().all(|b| b.is_ascii_hexdigit()));
    if !well_formed {
        return None;
    }
    let context =
        opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&Headers(headers));
    context.span().span_context().is_valid().then_some(context)
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let request_id = client_request_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let security = req.app_data::<web::Data<HttpSecurity>>().cloned();
    let trusted = security
        .as_ref()
        .map_or(&[][..], |s| &s.trusted_proxies[..]);
    // Every X-Forwarded-For line, in order: a proxy may add its own line instead of appending.
    let forwarded_for: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    let forwarded_for = (!forwarded_for.is_empty()).then(|| forwarded_for.join(","));
    let client_ip = resolve_client_ip(
        req.peer_addr().map(|a| a.ip()),
        forwarded_for.as_deref(),
        trusted,
    );
    req.extensions_mut().insert(ClientIp(client_ip));
    let method = req.method().clone();
    // Unmatched requests are logged with their path (cut short) to show what clients look for.
    let path: String = req.path().chars().take(200).collect();
    let span = tracing::info_span!("request", request_id = %request_id);
    if let Some(parent) = caller_trace(req.headers()) {
        // Without a trace exporter there is no OpenTelemetry layer to take it: nothing to do.
        let _ = tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(&span, parent);
    }

    metrics::gauge!("http_requests_in_flight").increment(1.0);
    let result = flashforge_domain::context::with_request_id(
        request_id.clone(),
        next.call(req).instrument(span.clone()),
    )
    .await;
    metrics::gauge!("http_requests_in_flight").decrement(1.0);
    let (status, route) = match &result {
        Ok(res) => (
            res.status().as_u16(),
            res.request()
                .match_pattern()
                .unwrap_or_else(|| format!("<unmatched {path}>")),
        ),
        Err(error) => (
            error.as_response_error().status_code().as_u16(),
            format!("<unmatched {path}>"),
        ),
    };
    let elapsed = started.elapsed().as_secs_f64();
    let latency_ms = (elapsed * 1e6).round() / 1e3;
    // Unmatched paths are one label value, not one per path a scanner tries.
    let route_label = if route.starts_with("<unmatched") {
        "unmatched".to_string()
    } else {
        route.clone()
    };
    let labels = [
        ("method", method.to_string()),
        ("route", route_label),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed);
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(target: "flashforge::access", %request_id, %method, %route, status, latency_ms, "request served");
        } else {
            tracing::info!(target: "flashforge::access", %request_id, %method, %route, status, latency_ms, "request served");
        }
    });
    let mut res = result?.map_into_boxed_body();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}

pub async fn problem_responses(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // The request cannot be cloned before routing (routing needs it unshared), so keep what an
    // error that escapes as `Err` needs to name it.
    let instance = req.path().to_string();
    let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
    let res = match next.call(req).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(error) => {
            let api_error = api_error_of(&error).with_context(instance, request_id);
            return Err(api_error.into());
        }
    };
    if !res.status().is_client_error() && !res.status().is_server_error() {
        return Ok(res);
    }
    let api_error = match res.response().error() {
        Some(error) => api_error_of(error),
        // A body we wrote on purpose (the readiness report on 503, say) stays as it is.
        None if has_body(&res) => return Ok(res),
        None => ApiError::from_status(res.status()),
    };
    let (http_req, old) = res.into_parts();
    let mut new = api_error.render(http_req.path(), request_id_of(&http_req).as_deref());
    // Keep what the original answer said beyond its body: Allow, Retry-After, WWW-Authenticate…
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ServiceResponse::new(http_req, new))
}

fn api_error_of(error: &Error) -> ApiError {
    error
        .as_error::<ApiError>()
        .cloned()
        .unwrap_or_else(|| ApiError::from_status(error.as_response_error().status_code()))
}

fn has_body(res: &ServiceResponse<BoxBody>) -> bool {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    !is_problem
        && !matches!(
            res.response().body().size(),
            actix_web::body::BodySize::None | actix_web::body::BodySize::Sized(0)
        )
}

/// The API's CSP: it serves JSON only, so nothing may load from it or frame it.
const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// The docs page's CSP: its own scripts and styles (Swagger UI sets inline styles), nothing else.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// The study app's CSP (crates/web): its own bundled scripts, styles and fonts, no inline script
/// or style (markdown it renders cannot run anything) and no other origin; API calls to this
/// origin only; images may also be `data:` (index.html's empty icon) or object URLs the app
/// makes itself (`blob:`); forms post here only; nothing may frame it.
const APP_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The CSP for an answer to `path`: the docs', the study app's (its pages and assets), or else
/// the API's strictest one (the API, health, metrics, and any unknown path's 404).
fn csp_for(path: &str) -> &'static str {
    if path == "/docs" || path.starts_with("/docs/") {
        DOCS_CSP
    } else if flashforge_web::is_app_path(path) {
        APP_CSP
    } else {
        API_CSP
    }
}

pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let csp = csp_for(req.path());
    let is_api = req.path().starts_with("/api/");
    let hsts = req
        .app_data::<web::Data<HttpSecurity>>()
        .is_some_and(|s| s.hsts);
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    let set = |headers: &mut actix_web::http::header::HeaderMap,
               name: &'static str,
               value: &'static str| {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    };
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "no-referrer");
    set(headers, "cross-origin-opener-policy", "same-origin");
    set(headers, "content-security-policy", csp);
    if hsts {
        set(
            headers,
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        );
    }
    if is_api && !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, "cache-control", "no-store");
    }
    Ok(res)
}

/// Paths outside every budget: probes, the docs and the study app's pages and files (loading
/// the app must not spend the API budget its user is about to need).
fn unmetered(path: &str) -> bool {
    path.starts_with("/health")
        || path.starts_with("/docs")
        || path == SPEC_PATH
        || path == "/metrics"
        || flashforge_web::is_app_path(path)
}

/// The per-address budget of the route's class — for requests that are not authenticated.
/// A request with a valid access token counts against its user's budget instead (spent by
/// [`crate::auth::Authenticated`]), so the neighbours behind one address do not share one.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let ip = req.extensions().get::<ClientIp>().and_then(|c| c.0);
    let services = req.app_data::<web::Data<Services>>().cloned();
    // Verified once here; `Authenticated` reads the claims instead of verifying again.
    let verified = services.as_ref().and_then(|s| {
        let token = crate::auth::bearer_token(req.request())?;
        s.accounts.verify_token(&token).ok()
    });
    let authenticated = verified.is_some();
    if let Some(claims) = verified {
        req.extensions_mut()
            .insert(crate::auth::VerifiedClaims(claims));
    }
    if !unmetered(req.path())
        && let Some(services) = services.clone()
        && let Some(ip) = ip
        && !authenticated
        && let Err(limited) = services
            .limits
            .request(
                &format!("ip:{}", services.limits.address(ip)),
                route_class(req.method()),
            )
            .await
    {
        let error = ApiError::from(limited);
        return Ok(req.into_response(HttpResponse::from_error(error)));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// Refuses a request whose header names and values add up to more than the configured bytes
/// (431 in the problem format).
pub async fn header_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let limit = req
        .app_data::<web::Data<HttpSecurity>>()
        .map_or(usize::MAX, |s| s.max_header_bytes);
    let size: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if size > limit {
        let error = ApiError::new(
            actix_web::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("the request's headers exceed {limit} bytes"),
        );
        return Ok(req.into_response(HttpResponse::from_error(error)));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// Cuts off a request body that makes no progress for [`Limits::body_timeout`]: the
/// handler's read fails and the answer is 408 in the problem format, so a client trickling a
/// login or an upload holds a connection (and whatever the handler holds) for that long at most.
/// The head has its own limit (`client_request_timeout`).
pub async fn body_timeout(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use actix_web::dev::Payload;
    use actix_web::error::PayloadError;
    use futures_util::StreamExt;

    let timeout = req
        .app_data::<web::Data<Limits>>()
        .map_or(Limits::default().body_timeout, |l| l.body_timeout);
    let stalled = Arc::new(AtomicBool::new(false));
    let payload = req.take_payload();
    let flag = stalled.clone();
    let guarded = futures_util::stream::unfold(Some(payload), move |payload| {
        let flag = flag.clone();
        async move {
            let mut payload = payload?;
            match tokio::time::timeout(timeout, payload.next()).await {
                Ok(Some(item)) => Some((item, Some(payload))),
                Ok(None) => None,
                Err(_) => {
                    flag.store(true, Ordering::SeqCst);
                    let error = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body stopped arriving",
                    );
                    Some((Err(PayloadError::Io(error)), None))
                }
            }
        }
    });
    // Fused: body readers (multipart, say) may poll again after the end.
    req.set_payload(Payload::Stream {
        payload: Box::pin(guarded.fuse()),
    });
    let outcome = next.call(req).await;
    if !stalled.load(Ordering::SeqCst) {
        return outcome.map(ServiceResponse::map_into_boxed_body);
    }
    let error = ApiError::new(
        actix_web::http::StatusCode::REQUEST_TIMEOUT,
        "body_timeout",
        format!(
            "the request body stopped arriving for {} s",
            timeout.as_secs().max(1)
        ),
    );
    match outcome {
        Ok(res) => {
            let (http_req, _) = res.into_parts();
            let mut response = HttpResponse::from_error(error);
            // The rest of the body may still come: the connection cannot serve another request.
            response
                .head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
            Ok(ServiceResponse::new(http_req, response))
        }
        Err(_) => Err(error.into()),
    }
}

pub async fn catch_panics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(result) => result.map(ServiceResponse::map_into_boxed_body),
        Err(_) => {
            // The panic hook has logged the message and location; the client learns nothing of it.
            tracing::error!("request handler panicked");
            Err(ApiError::internal().into())
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceContextExt;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> header::HeaderMap {
        let mut map = header::HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn a_valid_traceparent_names_the_callers_trace_and_span() {
        let context = caller_trace(&headers(&[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )]))
        .expect("a valid traceparent");
        let span = context.span();
        let span = span.span_context();
        assert_eq!(
            span.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(span.span_id().to_string(), "00f067aa0ba902b7");
        assert!(span.is_remote());
    }

    #[test]
    fn the_csp_and_the_budget_follow_the_path() {
        for (path, csp) in [
            ("/api/v1/me", API_CSP),
            ("/api/register", API_CSP),
            ("/health/live", API_CSP),
            ("/metrics", API_CSP),
            ("/docs", DOCS_CSP),
            ("/docs/swagger-ui.css", DOCS_CSP),
            ("/", APP_CSP),
            ("/chats/3f2b/documents", APP_CSP),
            ("/assets/index-Cw-Dn1Tc.js", APP_CSP),
            ("/nowhere", API_CSP),
        ] {
            assert_eq!(csp_for(path), csp, "{path}");
        }
        for free in [
            "/",
            "/study",
            "/chats/x/cards",
            "/assets/index.js",
            "/docs/",
            "/health",
        ] {
            assert!(unmetered(free), "{free}");
        }
        for metered in ["/api/v1/me", "/api/v1/chats", "/nowhere", "/chatsroom"] {
            assert!(!unmetered(metered), "{metered}");
        }
    }

    #[test]
    fn no_or_a_malformed_traceparent_starts_a_new_trace() {
        assert!(caller_trace(&headers(&[])).is_none());
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
        ] {
            assert!(
                caller_trace(&headers(&[("traceparent", bad)])).is_none(),
                "{bad:?}"
            );
        }
    }
}
