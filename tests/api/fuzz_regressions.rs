//! Inputs kept from the cargo-fuzz targets (`fuzz/`, see fuzz/README.md), replayed through the
//! same functions with the same invariants: every file under `tests/fixtures/fuzz/<target>/`.
//!
//! - `pdf_extract`: `flashforge_files::extract_pages` ends in text or an error — no panic, no
//!   hang (a few seconds at most).
//! - `chunking`: `text_pages` and `chunk_pages` keep their contract (first byte: bit 0 Markdown,
//!   bit 1 a 16/4-token budget instead of the service's 200/30).
//! - `multipart_upload`: the first line is the multipart boundary, the rest the body of
//!   `POST /api/v1/chats/{id}/documents`, through the real app on in-memory adapters: never 5xx.
//! - `jwt_verify`: `JwtTokens::verify` refuses every saved input (none is a token we signed).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::test::{self, TestRequest};
use flashforge_domain::accounts::{AccessTokens, UserId};
use flashforge_domain::chats::ChatId;
use flashforge_domain::knowledge::{
    ApproximateTokens, ChunkId, ChunkSettings, Document, DocumentId, DocumentStatus, FileName,
    MediaType, TokenCounter, chunk_pages, text_pages,
};

/// Every file of `tests/fixtures/fuzz/<target>/`, with its name.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/fuzz")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&path).expect("a readable input"))
        })
        .filter(|(name, _)| !name.starts_with('.') && name != "README.md")
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files
}

// ---------------------------------------------------------------------------------------------
// pdf_extract

#[test]
fn pdf_extract_inputs_end_in_text_or_an_error_quickly() {
    for (name, bytes) in inputs("pdf_extract") {
        let (tx, rx) = std::sync::mpsc::channel();
        let started = std::time::Instant::now();
        // On a thread of its own, so that a hang fails this test instead of stalling it.
        std::thread::spawn(move || {
            let outcome = std::panic::catch_unwind(|| {
                flashforge_files::extract_pages(&bytes, &Default::default())
            });
            let _ = tx.send(outcome);
        });
        match rx.recv_timeout(Duration::from_secs(5)) {
            Err(_) => panic!("{name}: no answer within 5 s"),
            Ok(Err(_)) => panic!("{name}: the extractor panicked"),
            Ok(Ok(Ok(pages))) => {
                assert!(!pages.is_empty(), "{name}: Ok with no pages");
                for (i, page) in pages.iter().enumerate() {
                    assert_eq!(page.number as usize, i + 1, "{name}: page numbers");
                }
            }
            Ok(Ok(Err(_))) => {}
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// chunking

fn document(media_type: MediaType) -> Document {
    Document {
        id: DocumentId::new(),
        user_id: UserId::new(),
        chat_id: ChatId::new(),
        file_name: FileName::sanitize(Some("fuzz.md")),
        media_type,
        size_bytes: 0,
        sha256: String::new(),
        status: DocumentStatus::Processing,
        error: None,
        pages_total: None,
        pages_done: 0,
        chunk_count: 0,
        title: None,
        language: None,
        created_at: chrono::DateTime::UNIX_EPOCH,
        updated_at: chrono::DateTime::UNIX_EPOCH,
    }
}

fn check_chunking(name: &str, data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let media_type = if flags & 1 == 0 {
        MediaType::Text
    } else {
        MediaType::Markdown
    };
    let settings = if flags & 2 == 0 {
        ChunkSettings::default()
    } else {
        ChunkSettings {
            max_tokens: 16,
            overlap_tokens: 4,
        }
    };
    let text = String::from_utf8_lossy(rest);
    let pages = text_pages(&text);
    let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
    for (i, page) in pages.iter().enumerate() {
        assert_eq!(page.number as usize, i + 1, "{name}");
    }
    let joined: Vec<&str> = pages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        joined.join("\u{c}"),
        body,
        "{name}: pages rejoin to the text"
    );

    let doc = document(media_type);
    let counter: Arc<dyn TokenCounter> = Arc::new(ApproximateTokens);
    let chunks = chunk_pages(&doc, &pages, counter, settings, u32::MAX).unwrap();
    let mut last_page = 1;
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk.index as usize, i, "{name}");
        assert_eq!(chunk.id, ChunkId::derive(doc.id, i as u32), "{name}");
        assert!(
            chunk.page >= last_page && chunk.page as usize <= pages.len(),
            "{name}"
        );
        last_page = chunk.page;
        let chars: Vec<char> = pages[chunk.page as usize - 1].text.chars().collect();
        assert!(chunk.char_start <= chunk.char_end, "{name}: chunk {i}");
        assert!(chunk.char_end as usize <= chars.len(), "{name}: chunk {i}");
        let slice: String = chars[chunk.char_start as usize..chunk.char_end as usize]
            .iter()
            .collect();
        assert_eq!(
            slice, chunk.text,
            "{name}: chunk {i} is its range of the page"
        );
        assert!(
            ApproximateTokens.count(&chunk.text) <= settings.max_tokens,
            "{name}: chunk {i} over budget"
        );
    }
}

#[test]
fn chunking_inputs_keep_the_chunk_contract() {
    for (name, data) in inputs("chunking") {
        check_chunking(&name, &data);
    }
}

// ---------------------------------------------------------------------------------------------
// multipart_upload

/// The app as `flashforge serve` composes it on `memory://`, with the fuzzer's two changes: a
/// 1 KiB upload limit (so the streaming size check is reachable) and no rate limits.
#[actix_web::test]
async fn multipart_upload_inputs_never_answer_5xx() {
    let settings = crate::helpers::test_settings("memory://", &[]);
    let backend = flashforge::startup::compose(&settings)
        .await
        .expect("the memory backend");
    let mut service_settings = flashforge::startup::service_settings(&settings);
    service_settings.knowledge.max_upload_bytes = 1024;
    service_settings.rate_limits.enabled = false;
    let services = Arc::new(flashforge_domain::Services::new(
        backend.ports,
        service_settings,
    ));
    let state = flashforge_http::AppState {
        services,
        limits: flashforge_http::Limits {
            json_bytes: settings.server.json_limit_bytes,
            body_bytes: settings.server.body_limit_bytes,
            ..Default::default()
        },
        security: flashforge_http::HttpSecurity {
            max_header_bytes: settings.server.max_header_bytes,
            ..Default::default()
        },
        metrics: None,
    };
    let app = test::init_service(flashforge_http::create_app(
        state,
        flashforge_http::no_extra_routes,
    ))
    .await;

    let register = TestRequest::post()
        .uri("/api/v1/auth/register")
        .set_json(serde_json::json!({
            "username": "fuzzer",
            "password": crate::helpers::PASSWORD
        }))
        .to_request();
    let body: serde_json::Value = test::call_and_read_body_json(&app, register).await;
    let token = body["access_token"].as_str().expect("access_token");
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
    let chat = TestRequest::post()
        .uri("/api/v1/chats")
        .insert_header((header::AUTHORIZATION, bearer.clone()))
        .set_json(serde_json::json!({ "name": "fuzz" }))
        .to_request();
    let chat: serde_json::Value = test::call_and_read_body_json(&app, chat).await;
    let path = format!(
        "/api/v1/chats/{}/documents",
        chat["id"].as_str().expect("chat id")
    );

    let mut accepted = 0;
    for (name, data) in inputs("multipart_upload") {
        let (boundary, body) = match data.iter().position(|&b| b == b'\n') {
            Some(at) => (&data[..at], &data[at + 1..]),
            None => (&data[..], &[][..]),
        };
        let mut content_type = b"multipart/form-data; boundary=".to_vec();
        content_type.extend_from_slice(boundary);
        let Ok(content_type) = HeaderValue::from_bytes(&content_type) else {
            continue; // the HTTP parser refuses it before the app sees it
        };
        let request = TestRequest::post()
            .uri(&path)
            .insert_header((header::AUTHORIZATION, bearer.clone()))
            .insert_header((header::CONTENT_TYPE, content_type))
            .set_payload(body.to_vec())
            .to_request();
        let (status, answer) = match actix_web::dev::Service::call(&app, request).await {
            Ok(response) => {
                let status = response.status();
                (status, test::read_body(response).await)
            }
            Err(error) => {
                let response = error.error_response();
                (response.status(), Default::default())
            }
        };
        assert!(
            !status.is_server_error(),
            "{name}: {status} {}",
            String::from_utf8_lossy(&answer)
        );
        accepted += usize::from(status == actix_web::http::StatusCode::ACCEPTED);
    }
    // The well-formed samples get through authentication and the upload path.
    assert!(
        accepted > 0,
        "no input was accepted: the harness is not reaching the upload"
    );
}

// ---------------------------------------------------------------------------------------------
// jwt_verify

#[test]
fn jwt_verify_inputs_are_refused() {
    use flashforge_auth::{JwtAlgorithm, JwtKey, JwtSettings, JwtTokens};
    // The fuzz target's keys (fuzz/src/jwt.rs): throwaway, for fuzzing only.
    let ed_public = "-----BEGIN PUBLIC KEY-----\n\
MCowBQYDK2VwAyEAbs/GPhe64LU9fsx+qpvAaYNi9xegaIr0wNlhuWO4aw4=\n\
-----END PUBLIC KEY-----\n";
    let verifier = JwtTokens::new(
        JwtSettings {
            issuer: "flashforge".into(),
            audience: "flashforge-api".into(),
            lifetime: Duration::from_secs(900),
            leeway: Duration::from_secs(5),
        },
        JwtKey::hs256(
            b"fuzz-only-hs256-secret-0123456789abcdefghij",
            Some("hs-fuzz".into()),
        ),
        vec![
            JwtKey::from_pem(
                JwtAlgorithm::EdDSA,
                None,
                ed_public.as_bytes(),
                Some("ed-fuzz".into()),
            )
            .expect("the fuzz Ed25519 key"),
        ],
    )
    .expect("the verifier");
    for (name, data) in inputs("jwt_verify") {
        let token = String::from_utf8_lossy(&data);
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| verifier.verify(&token)));
        match outcome {
            Err(_) => panic!("{name}: verify panicked"),
            Ok(Ok(claims)) => panic!("{name}: accepted a token we did not sign: {claims:?}"),
            Ok(Err(_)) => {}
        }
    }
}
