//! HTTP clients: the tests' client (no redirects followed, optionally trusting a test
//! certificate) and [`Api`], the calls tests and benchmarks make of a server at an address.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::settings::PASSWORD;

/// An HTTP client that follows no redirects; with `root`, it trusts that certificate (PEM).
pub fn client(root: Option<&str>) -> reqwest::Client {
    // reqwest is built without a bundled crypto provider; the process uses ring, like the server.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = root {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        for der in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(der.expect("PEM certificate")).expect("root");
        }
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_root_certificates(roots)
            .with_no_client_auth();
        builder = builder.use_preconfigured_tls(tls);
    }
    builder.build().expect("client")
}

/// Reads a problem+json answer, checking the parts every problem has.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("every answer has a request id");
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status);
    assert_eq!(body["request_id"], request_id.as_str());
    for field in ["type", "title", "detail", "instance", "code"] {
        assert!(body[field].is_string(), "problem lacks `{field}`: {body}");
    }
    body
}

/// A client of the API at `base` (`http://…/api/v1`), for servers the test reaches by address:
/// real processes and the benchmarks' servers.
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
}

impl Api {
    /// The API of the server on `port` of this machine, with no pooled connections: a test may
    /// start a new process on the same port.
    pub fn new(port: u16) -> Self {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        Self::at(client, &format!("http://127.0.0.1:{port}"))
    }

    /// The API of the server at `address` (`http://host:port`) through `client`.
    pub fn at(client: reqwest::Client, address: &str) -> Self {
        Self {
            client,
            base: format!("{address}/api/v1"),
        }
    }

    /// The URL of `path` (`/chats`) under the API.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `request`; its JSON body.
    pub async fn json(&self, request: reqwest::RequestBuilder) -> Value {
        request
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("JSON body")
    }

    /// Sends `request`; its status and JSON body (`null` when there is none).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Registers `username` (with [`PASSWORD`]), which must answer 201; the answer: tokens and
    /// the user.
    pub async fn register(&self, username: &str) -> Value {
        let body = json!({"username": username, "password": PASSWORD});
        let (status, tokens) = self
            .send(self.client.post(self.url("/auth/register")).json(&body))
            .await;
        assert_eq!(status, 201, "register {username}: {tokens}");
        tokens
    }

    /// Registers `username`; its access token.
    pub async fn sign_up(&self, username: &str) -> String {
        access_token(&self.register(username).await)
    }

    /// Logs `username` in (with [`PASSWORD`]), which must answer 200; the answer: the new
    /// session's tokens.
    pub async fn session(&self, username: &str) -> Value {
        let body = json!({"username": username, "password": PASSWORD});
        let (status, tokens) = self
            .send(self.client.post(self.url("/auth/login")).json(&body))
            .await;
        assert_eq!(status, 200, "login of {username}: {tokens}");
        tokens
    }

    /// Logs `username` in; the access token.
    pub async fn login(&self, username: &str) -> String {
        access_token(&self.session(username).await)
    }

    /// A new chat, which must answer 201; its id.
    pub async fn chat(&self, token: &str, name: &str) -> String {
        let request = self
            .client
            .post(self.url("/chats"))
            .bearer_auth(token)
            .json(&json!({ "name": name }));
        let (status, chat) = self.send(request).await;
        assert_eq!(status, 201, "create chat {name}: {chat}");
        chat["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no chat id: {chat}"))
            .to_string()
    }

    /// Uploads `bytes` as `name` into `chat`; the response.
    pub async fn upload(
        &self,
        token: &str,
        chat: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
        );
        self.client
            .post(self.url(&format!("/chats/{chat}/documents")))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("request sent")
    }

    /// `GET path` with the bearer token, as JSON.
    pub async fn get(&self, token: &str, path: &str) -> Value {
        self.json(self.client.get(self.url(path)).bearer_auth(token))
            .await
    }

    /// A GET that must answer 200: its JSON (or, for a file, its text).
    pub async fn get_ok(&self, token: &str, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        let is_json = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or_default().contains("json"));
        let body = if is_json {
            response.json().await.expect("JSON body")
        } else {
            Value::String(response.text().await.expect("text body"))
        };
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Polls the document at `path` (`/chats/{chat}/documents/{id}`) every `every` until it is
    /// `completed` or `failed`, for `within` at most; the document.
    pub async fn settled(
        &self,
        token: &str,
        path: &str,
        every: Duration,
        within: Duration,
    ) -> Value {
        let started = Instant::now();
        loop {
            let doc = self.get(token, path).await;
            let status = doc["status"].as_str().unwrap_or_default().to_string();
            if status == "completed" || status == "failed" {
                return doc;
            }
            assert!(
                started.elapsed() < within,
                "document still {status} after {within:?}: {doc}"
            );
            tokio::time::sleep(every).await;
        }
    }
}

/// The access token of a registration's or login's answer.
fn access_token(tokens: &Value) -> String {
    tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {tokens}"))
        .to_string()
}
