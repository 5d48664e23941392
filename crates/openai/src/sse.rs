//! Server-sent events from a byte stream, as the WHATWG spec reads them: lines end in CRLF, LF
//! or CR; `data:` lines join with `\n`; a blank line ends an event; `:` lines are comments.
//!
//! Bytes are gathered until a whole line is in and only then decoded as UTF-8, so a character
//! that the network splits between two chunks arrives whole (decoding each chunk on its own
//! turned it into two U+FFFD). Bytes that are not UTF-8 at all become U+FFFD, as the spec says.
//!
//! Written here rather than taken from eventsource-stream: that crate (unreleased since 2022)
//! keeps undecodable bytes in its buffer for ever and sets no bound on an event's size; this is
//! ~100 lines with both, and costs no build time.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, Stream, StreamExt};

use crate::error::WireError;

/// One event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `None` for the default, `message`.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The `id:` field, when the event has one.
    pub id: Option<String>,
}

/// The bytes of one event (its lines together) may not exceed this: a provider that never
/// ends a line must not grow the buffer without bound.
pub const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// Turns bytes, pushed in whatever pieces they arrive, into events.
#[derive(Debug)]
pub struct SseDecoder {
    line: Vec<u8>,
    /// The previous byte ended a line with CR: a LF right after it belongs to that ending.
    after_cr: bool,
    started: bool,
    event: SseEvent,
    has_data: bool,
    max_event_bytes: usize,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new(MAX_EVENT_BYTES)
    }
}

impl SseDecoder {
    /// A decoder refusing events over `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            line: Vec::new(),
            after_cr: false,
            started: false,
            event: SseEvent::default(),
            has_data: false,
            max_event_bytes,
        }
    }

    /// The events completed by `bytes`. An error when an event grows past the bound.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, SseTooLarge> {
        let mut events = Vec::new();
        for &byte in bytes {
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&line) {
                        events.push(event);
                    }
                }
                _ => self.line.push(byte),
            }
            if self.line.len() + self.event.data.len() > self.max_event_bytes {
                return Err(SseTooLarge(self.max_event_bytes));
            }
        }
        Ok(events)
    }

    fn line_done(&mut self, line: &[u8]) -> Option<SseEvent> {
        let mut text = String::from_utf8_lossy(line);
        if !std::mem::replace(&mut self.started, true)
            && let Some(rest) = text.strip_prefix('\u{feff}')
        {
            text = rest.to_string().into();
        }
        if text.is_empty() {
            let mut event = std::mem::take(&mut self.event);
            return std::mem::take(&mut self.has_data).then(|| {
                event.data.pop(); // the `\n` after the last data line
                event
            });
        }
        let (field, value) = match text.split_once(':') {
            Some(("", _)) => return None, // a comment
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
        };
        match field {
            "data" => {
                self.event.data.push_str(value);
                self.event.data.push('\n');
                self.has_data = true;
            }
            "event" => self.event.event = Some(value.to_string()),
            "id" if !value.contains('\0') => self.event.id = Some(value.to_string()),
            _ => {} // `retry` and unknown fields: nothing this client uses
        }
        None
    }
}

/// An event grew past the decoder's bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an event of the stream is over {0} bytes")]
pub struct SseTooLarge(pub usize);

/// The events of a byte stream. Waiting more than `idle` for the next bytes is a
/// [`WireError::Timeout`]; the stream ends after its first error. An event left unfinished
/// when the bytes end is dropped, as the spec says.
pub fn events<S>(
    bytes: S,
    idle: Duration,
    url: String,
) -> BoxStream<'static, Result<SseEvent, WireError>>
where
    S: Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
{
    struct State {
        bytes: BoxStream<'static, reqwest::Result<Bytes>>,
        decoder: SseDecoder,
        ready: std::collections::VecDeque<SseEvent>,
        failed: bool,
    }
    let state = State {
        bytes: bytes.boxed(),
        decoder: SseDecoder::default(),
        ready: Default::default(),
        failed: false,
    };
    stream::unfold(state, move |mut state| {
        let url = url.clone();
        async move {
            loop {
                if let Some(event) = state.ready.pop_front() {
                    return Some((Ok(event), state));
                }
                if state.failed {
                    return None;
                }
                let error = match tokio::time::timeout(idle, state.bytes.next()).await {
                    Ok(None) => return None,
                    Ok(Some(Ok(chunk))) => match state.decoder.push(&chunk) {
                        Ok(events) => {
                            state.ready.extend(events);
                            continue;
                        }
                        Err(too_large) => WireError::Stream {
                            url,
                            source: too_large,
                        },
                    },
                    Ok(Some(Err(e))) if e.is_timeout() => WireError::Timeout { url, after: idle },
                    Ok(Some(Err(e))) => WireError::Body { url, source: e },
                    Err(_) => WireError::Timeout { url, after: idle },
                };
                state.failed = true;
                return Some((Err(error), state));
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    /// Feeds `bytes` in pieces of `size` and gathers the events.
    fn in_pieces(bytes: &[u8], size: usize) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::default();
        bytes
            .chunks(size)
            .flat_map(|piece| decoder.push(piece).unwrap())
            .collect()
    }

    #[test]
    fn multi_byte_characters_split_between_chunks_arrive_whole() {
        let text = "Grüße aus Köln: Maß, 日本語, 🦀🎉";
        let body = format!("data: {{\"content\":\"{text}\"}}\n\ndata: [DONE]\n\n");
        // Every split point, including each one inside a character.
        for size in 1..body.len() {
            let events = in_pieces(body.as_bytes(), size);
            assert_eq!(
                data(&events),
                [format!("{{\"content\":\"{text}\"}}").as_str(), "[DONE]"],
                "pieces of {size} bytes"
            );
        }
    }

    #[test]
    fn a_character_split_between_two_pushes_is_decoded_once_whole() {
        let mut decoder = SseDecoder::default();
        let bytes = "data: ß\n\n".as_bytes();
        let cut = "data: ".len() + 1; // inside the two bytes of ß
        assert!(decoder.push(&bytes[..cut]).unwrap().is_empty());
        let events = decoder.push(&bytes[cut..]).unwrap();
        assert_eq!(data(&events), ["ß"]);
        assert!(!events[0].data.contains('\u{fffd}'));
    }

    #[test]
    fn every_line_ending_and_multi_line_data_and_fields_are_read() {
        let body =
            b"\xef\xbb\xbf: a comment\r\nevent: delta\r\nid: 7\r\ndata: one\r\ndata:two\r\n\r\n\
                     data: cr\r\rdata: lf\n\ndata\n\n";
        for size in [1, 2, 3, body.len()] {
            let events = in_pieces(body, size);
            assert_eq!(data(&events), ["one\ntwo", "cr", "lf", ""], "{size}");
            assert_eq!(events[0].event.as_deref(), Some("delta"));
            assert_eq!(events[0].id.as_deref(), Some("7"));
            assert_eq!(events[1].event, None);
        }
    }

    #[test]
    fn events_without_data_and_an_unfinished_event_are_dropped() {
        let events = in_pieces(b"event: ping\n\n: keep-alive\n\ndata: half", 4);
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn bytes_that_are_not_utf8_become_replacement_characters() {
        let events = in_pieces(b"data: a\xffb\n\n", 1);
        assert_eq!(data(&events), ["a\u{fffd}b"]);
    }

    #[test]
    fn an_event_past_the_bound_is_an_error() {
        let mut decoder = SseDecoder::new(16);
        assert!(decoder.push(b"data: 0123456\n").unwrap().is_empty());
        assert_eq!(decoder.push(b"data: 0123456789\n"), Err(SseTooLarge(16)));
        let mut endless = SseDecoder::new(16);
        assert_eq!(endless.push(&[b'x'; 17]), Err(SseTooLarge(16)));
    }

    #[tokio::test]
    async fn the_event_stream_decodes_chunks_and_ends_with_the_bytes() {
        let chunks: Vec<reqwest::Result<Bytes>> = "data: 日本\n\ndata: 語\n\n"
            .as_bytes()
            .chunks(4)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let events: Vec<_> = events(stream::iter(chunks), Duration::from_secs(1), "u".into())
            .collect()
            .await;
        let texts: Vec<String> = events.into_iter().map(|e| e.unwrap().data).collect();
        assert_eq!(texts, ["日本", "語"]);
    }

    #[tokio::test]
    async fn a_silent_stream_times_out() {
        let silent = stream::pending::<reqwest::Result<Bytes>>();
        let mut events = events(silent, Duration::from_millis(20), "u".into());
        assert!(matches!(
            events.next().await,
            Some(Err(WireError::Timeout { .. }))
        ));
        assert!(events.next().await.is_none());
    }
}
