//! Deciding what an upload is from its bytes, while it streams: size, SHA-256, PDF magic bytes or
//! valid UTF-8 text. The client's file name and content type are never trusted for this.

use sha2::{Digest, Sha256};

use super::models::MediaType;

/// How many leading bytes are kept to find a PDF header (the PDF spec allows junk before it
/// within the first 1024 bytes).
const HEAD_BYTES: usize = 1024;

/// What was learned of an upload once all of it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub size_bytes: u64,
    pub sha256: String,
    pub media_type: MediaType,
}

/// Why an upload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    #[error("the file is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("only PDF, plain text and Markdown files are accepted")]
    Unsupported,
}

/// Fed an upload's bytes in order; tells what it is at the end.
pub struct Inspector {
    max_bytes: u64,
    size: u64,
    hasher: Sha256,
    head: Vec<u8>,
    /// Still possibly UTF-8 text: no invalid sequence and no NUL byte so far.
    text: bool,
    /// An incomplete UTF-8 sequence at the end of the last piece.
    carry: Vec<u8>,
    /// Markdown hints seen in the text.
    markdown_hints: u32,
    line_start: bool,
}

impl Inspector {
    pub fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            size: 0,
            hasher: Sha256::new(),
            head: Vec::with_capacity(HEAD_BYTES),
            text: true,
            carry: Vec::new(),
            markdown_hints: 0,
            line_start: true,
        }
    }

    /// Takes the next piece; fails as soon as the upload passes the maximum size.
    pub fn feed(&mut self, piece: &[u8]) -> Result<(), InspectError> {
        self.size += piece.len() as u64;
        if self.size > self.max_bytes {
            return Err(InspectError::TooLarge {
                max_bytes: self.max_bytes,
            });
        }
        self.hasher.update(piece);
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(piece.len());
            self.head.extend_from_slice(&piece[..take]);
        }
        if self.text {
            self.check_text(piece);
        }
        Ok(())
    }

    fn check_text(&mut self, piece: &[u8]) {
        let mut buffer;
        let bytes = if self.carry.is_empty() {
            piece
        } else {
            buffer = std::mem::take(&mut self.carry);
            buffer.extend_from_slice(piece);
            &buffer[..]
        };
        let valid = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) if error.error_len().is_none() => {
                // An incomplete sequence at the end: keep it for the next piece.
                let (valid, rest) = bytes.split_at(error.valid_up_to());
                self.carry = rest.to_vec();
                // `valid` is UTF-8 by construction.
                std::str::from_utf8(valid).unwrap_or_default()
            }
            Err(_) => {
                self.text = false;
                return;
            }
        };
        if valid.contains('\0') {
            self.text = false;
            return;
        }
        self.scan_markdown(valid);
    }

    fn scan_markdown(&mut self, text: &str) {
        for line in text.split_inclusive('\n') {
            if self.line_start {
                let trimmed = line.trim_start();
                if trimmed.starts_with("# ")
                    || trimmed.starts_with("## ")
                    || trimmed.starts_with("### ")
                    || trimmed.starts_with("```")
                    || trimmed.starts_with("- [")
                    || trimmed.starts_with("> ")
                {
                    self.markdown_hints += 1;
                }
            }
            self.line_start = line.ends_with('\n');
        }
    }

    /// Decides. `file_name` only tells Markdown from plain text once the bytes proved to be
    /// text; it never makes a file acceptable.
    pub fn finish(self, file_name: &str) -> Result<Inspection, InspectError> {
        if self.size == 0 {
            return Err(InspectError::Empty);
        }
        let is_pdf = find(&self.head, b"%PDF-").is_some();
        let media_type = if is_pdf {
            MediaType::Pdf
        } else if self.text && self.carry.is_empty() {
            let lower = file_name.to_ascii_lowercase();
            if lower.ends_with(".md") || lower.ends_with(".markdown") || self.markdown_hints > 0 {
                MediaType::Markdown
            } else {
                MediaType::Text
            }
        } else {
            return Err(InspectError::Unsupported);
        };
        Ok(Inspection {
            size_bytes: self.size,
            sha256: hex(&self.hasher.finalize()),
            media_type,
        })
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Inspects a whole buffer at once (tests and small inputs).
pub fn inspect(bytes: &[u8], file_name: &str, max_bytes: u64) -> Result<Inspection, InspectError> {
    let mut inspector = Inspector::new(max_bytes);
    inspector.feed(bytes)?;
    inspector.finish(file_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdfs_are_known_by_their_header_not_their_name() {
        let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj";
        assert_eq!(
            inspect(pdf, "notes.txt", 1000).unwrap().media_type,
            MediaType::Pdf
        );
        assert_eq!(
            inspect(b"plain words", "slides.pdf", 1000)
                .unwrap()
                .media_type,
            MediaType::Text
        );
    }

    #[test]
    fn markdown_is_text_with_a_markdown_name_or_markdown_structure() {
        assert_eq!(
            inspect(b"just words", "a.md", 100).unwrap().media_type,
            MediaType::Markdown
        );
        assert_eq!(
            inspect(b"intro\n# Heading\nbody", "a.txt", 100)
                .unwrap()
                .media_type,
            MediaType::Markdown
        );
        assert_eq!(
            inspect(b"no structure here", "a", 100).unwrap().media_type,
            MediaType::Text
        );
    }

    #[test]
    fn binary_or_invalid_utf8_is_unsupported() {
        assert_eq!(
            inspect(b"\x89PNG\r\n\x1a\n\0\0", "a.txt", 100),
            Err(InspectError::Unsupported)
        );
        assert_eq!(
            inspect(b"ok \xff bad", "a.txt", 100),
            Err(InspectError::Unsupported)
        );
        assert_eq!(
            inspect(b"nul\0inside", "a.txt", 100),
            Err(InspectError::Unsupported)
        );
        // A file that ends in the middle of a multi-byte character is not text.
        assert_eq!(
            inspect(b"caf\xc3", "a.txt", 100),
            Err(InspectError::Unsupported)
        );
    }

    #[test]
    fn utf8_split_across_pieces_is_still_text() {
        let text = "Ελληνικά και émigré — ✓".as_bytes();
        for split in 1..text.len() {
            let mut inspector = Inspector::new(1000);
            inspector.feed(&text[..split]).unwrap();
            inspector.feed(&text[split..]).unwrap();
            let inspection = inspector.finish("x").unwrap();
            assert_eq!(inspection.media_type, MediaType::Text, "split at {split}");
        }
    }

    #[test]
    fn size_is_checked_while_streaming_and_empty_files_are_refused() {
        let mut inspector = Inspector::new(10);
        inspector.feed(b"12345").unwrap();
        assert_eq!(
            inspector.feed(b"678901"),
            Err(InspectError::TooLarge { max_bytes: 10 })
        );
        assert_eq!(inspect(b"", "a.txt", 10), Err(InspectError::Empty));
    }

    #[test]
    fn the_digest_is_the_sha256_of_all_pieces() {
        let mut inspector = Inspector::new(100);
        inspector.feed(b"ab").unwrap();
        inspector.feed(b"c").unwrap();
        assert_eq!(
            inspector.finish("x").unwrap().sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
