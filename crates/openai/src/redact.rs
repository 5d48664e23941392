//! The one redaction rule for everything this crate puts in an error or a log line: a provider
//! that echoes the request (many do, in their 401 bodies) must not leak the key through us.
//!
//! Replaced by `[redacted]`: the configured key wherever it appears, the token of any
//! `Bearer …`, and anything shaped like an OpenAI key (`sk-` then 16 or more key characters),
//! which catches a key the provider echoes in part or a different key of the same account.

use secrecy::{ExposeSecret, SecretString};

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Keys shorter than this are not searched for by value: a key of "x" would blank every "x".
/// (The shape rules below still apply.)
const MIN_KEY_CHARS: usize = 8;
/// How many key characters after `sk-` make a key.
const MIN_SK_CHARS: usize = 16;

/// Blanks out secrets in text bound for an error or a log.
#[derive(Clone, Default)]
pub struct Redactor {
    key: Option<SecretString>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor([redacted])")
    }
}

impl Redactor {
    pub fn new(key: Option<SecretString>) -> Self {
        Self { key }
    }

    /// `text` with every secret replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let mut text = match &self.key {
            Some(key) if key.expose_secret().chars().count() >= MIN_KEY_CHARS => {
                text.replace(key.expose_secret(), REDACTED)
            }
            _ => text.to_string(),
        };
        text = redact_after(&text, "Bearer ", 1);
        redact_after(&text, "sk-", MIN_SK_CHARS)
    }
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

/// Replaces the run of key characters after each `marker` (when at least `min` long) with
/// [`REDACTED`]; a `sk-` marker goes too, a `Bearer ` marker stays.
fn redact_after(text: &str, marker: &str, min: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let after = &rest[at + marker.len()..];
        let run = after.find(|c| !is_key_char(c)).unwrap_or(after.len());
        let secret = &after[..run];
        if secret.chars().count() >= min && secret != REDACTED {
            out.push_str(&rest[..at]);
            if marker == "Bearer " {
                out.push_str(marker);
            }
            out.push_str(REDACTED);
        } else {
            out.push_str(&rest[..at + marker.len() + run]);
        }
        rest = &after[run..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_key(key: &str) -> Redactor {
        Redactor::new(Some(SecretString::from(key.to_string())))
    }

    #[test]
    fn the_configured_key_is_blanked_wherever_it_appears() {
        let redactor = with_key("ollama-local-key-42");
        assert_eq!(
            redactor.redact("HTTP 401: bad key ollama-local-key-42 (ollama-local-key-42)"),
            "HTTP 401: bad key [redacted] ([redacted])"
        );
    }

    #[test]
    fn bearer_tokens_and_openai_shaped_keys_are_blanked_even_when_not_configured() {
        let redactor = Redactor::default();
        assert_eq!(
            redactor.redact("sent Authorization: Bearer abc.def-123 to the server"),
            "sent Authorization: Bearer [redacted] to the server"
        );
        assert_eq!(
            redactor.redact("Incorrect API key provided: sk-proj-AbCdEf0123456789xyz."),
            "Incorrect API key provided: [redacted]"
        );
        assert_eq!(
            redactor.redact(r#"{"key":"sk-0123456789abcdef"}"#),
            r#"{"key":"[redacted]"}"#
        );
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        let redactor = with_key("sk-test-0123456789");
        for text in [
            "risk-free and task-based",
            "the disk-0123 is full",
            "Bearer ",
            "a short sk-123 is not a key",
            "ünïcödé stays: 日本語 🎉",
        ] {
            assert_eq!(redactor.redact(text), text);
        }
    }

    #[test]
    fn a_short_configured_key_is_not_searched_for_by_value() {
        assert_eq!(with_key("abc").redact("abcabc"), "abcabc");
    }

    #[test]
    fn debug_never_shows_the_key() {
        let text = format!("{:?}", with_key("sk-test-0123456789"));
        assert!(!text.contains("0123456789"), "{text}");
    }
}
