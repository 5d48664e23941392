//! A language-model provider at the protocol level, for what wiremock cannot do: an answer
//! streamed as server-sent events in pieces, each written, flushed and preceded by a pause, so
//! that the client receives them as separate chunks over time.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP request as the provider read it.
pub struct Request {
    pub head: String,
    /// The JSON body (`Null` when it is not JSON).
    pub body: Value,
}

/// Reads one HTTP request: its head and its `Content-Length` body; `None` when the peer went
/// away first.
pub async fn read_request(socket: &mut TcpStream) -> Option<Request> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut buffer).await.ok()?;
        if n == 0 {
            return None;
        }
        request.extend_from_slice(&buffer[..n]);
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    while request.len() < head_end + length {
        let n = socket.read(&mut buffer).await.ok()?;
        if n == 0 {
            return None;
        }
        request.extend_from_slice(&buffer[..n]);
    }
    let body = serde_json::from_slice(&request[head_end..]).unwrap_or(Value::Null);
    Some(Request { head, body })
}

/// Answers `200 text/event-stream` with `pieces` as the chunks of its body, each written and
/// flushed after `pause`; stops when the client goes away.
pub async fn stream_pieces(
    socket: &mut TcpStream,
    pieces: impl IntoIterator<Item = Vec<u8>>,
    pause: Duration,
) {
    let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                 transfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    if socket.write_all(head).await.is_err() {
        return;
    }
    for piece in pieces {
        tokio::time::sleep(pause).await;
        let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
        chunk.extend_from_slice(&piece);
        chunk.extend_from_slice(b"\r\n");
        if socket.write_all(&chunk).await.is_err() || socket.flush().await.is_err() {
            return;
        }
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
}

/// Answers `404` with no body (a request the provider does not serve).
pub async fn not_found(socket: &mut TcpStream) {
    let _ = socket
        .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await;
}
