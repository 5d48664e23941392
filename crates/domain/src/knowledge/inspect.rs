//! Deciding what an upload is from its bytes, while it streams: size, SHA-256, and its format
//! by content — magic bytes, the entries of a zip container, or text in some encoding. The
//! client's file name and content type are never trusted for this.

use sha2::{Digest, Sha256};

use super::models::MediaType;

/// How many leading bytes are kept to recognise a format (the PDF spec allows junk before its
/// header within the first 1024 bytes; an ODF or EPUB names its type in its first entry).
const HEAD_BYTES: usize = 1024;

/// The most text bytes whose statistics decide between text and binary.
const SAMPLE_BYTES: u64 = 4 * 1024 * 1024;

/// What was learned of an upload once all of it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub size_bytes: u64,
    pub sha256: String,
    pub media_type: MediaType,
}

/// What is accepted, in the words a refusal uses.
pub const ACCEPTED: &str = "PDF, Word (DOCX), PowerPoint (PPTX), OpenDocument text and \
presentations (ODT, ODP), RTF, EPUB, HTML, plain text and Markdown in any common encoding, and \
pictures to read by OCR (PNG, JPEG, TIFF)";

/// Why an upload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    #[error("the file is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("this kind of file is not accepted; accepted are {ACCEPTED}")]
    Unsupported,
    /// A format recognised but not read, with what to do instead.
    #[error("{0}; accepted are {ACCEPTED}")]
    UnsupportedKind(&'static str),
}

/// Entries of a zip container seen so far, from the local file headers as they stream past.
#[derive(Debug, Default)]
struct ZipEntries {
    /// The end of the previous piece, for a header split across pieces.
    tail: Vec<u8>,
    content_types: bool,
    word: bool,
    presentation: bool,
    spreadsheet: bool,
    epub_container: bool,
}

/// A local file header is 30 bytes, then the name.
const ZIP_HEADER: usize = 30;
/// Names longer than this are not among those looked for.
const ZIP_NAME_MAX: usize = 64;

impl ZipEntries {
    fn scan(&mut self, piece: &[u8]) {
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(piece);
        let mut at = 0;
        while let Some(found) = find(&window[at..], b"PK\x03\x04") {
            let start = at + found;
            at = start + 4;
            let Some(header) = window.get(start..start + ZIP_HEADER) else {
                break;
            };
            let name_len = usize::from(u16::from_le_bytes([header[26], header[27]]));
            if name_len > ZIP_NAME_MAX {
                continue;
            }
            let Some(name) = window.get(start + ZIP_HEADER..start + ZIP_HEADER + name_len) else {
                break;
            };
            match name {
                b"[Content_Types].xml" => self.content_types = true,
                b"word/document.xml" => self.word = true,
                b"ppt/presentation.xml" => self.presentation = true,
                b"xl/workbook.xml" => self.spreadsheet = true,
                b"META-INF/container.xml" => self.epub_container = true,
                _ => {}
            }
        }
        let keep = window.len().min(ZIP_HEADER + ZIP_NAME_MAX);
        self.tail = window.split_off(window.len() - keep);
    }
}

/// Byte statistics that tell text from binary, in any encoding.
#[derive(Debug, Default)]
struct TextStats {
    sampled: u64,
    /// NUL bytes at even and odd offsets (UTF-16 text has them on one side).
    nul_even: u64,
    nul_odd: u64,
    /// Control bytes other than tab, line feed, form feed, carriage return and escape.
    controls: u64,
}

impl TextStats {
    fn feed(&mut self, piece: &[u8]) {
        for byte in piece {
            if self.sampled >= SAMPLE_BYTES {
                return;
            }
            match *byte {
                0 if self.sampled.is_multiple_of(2) => self.nul_even += 1,
                0 => self.nul_odd += 1,
                b'\t' | b'\n' | b'\x0c' | b'\r' | b'\x1b' => {}
                b if b < 0x20 || b == 0x7f => self.controls += 1,
                _ => {}
            }
            self.sampled += 1;
        }
    }

    /// UTF-16 without a byte order mark: one byte of most units is NUL (Latin text), the other
    /// side almost never.
    /// (Control bytes say nothing here: they are halves of non-Latin code units.)
    fn looks_utf16(&self) -> bool {
        let half = (self.sampled / 2).max(1);
        let (many, few) = if self.nul_odd > self.nul_even {
            (self.nul_odd, self.nul_even)
        } else {
            (self.nul_even, self.nul_odd)
        };
        many * 10 >= half * 3 && few * 50 <= half
    }

    /// An 8-bit text: no NUL, and hardly any control bytes.
    fn looks_8bit(&self) -> bool {
        self.nul_even + self.nul_odd == 0 && self.controls * 200 <= self.sampled.max(1)
    }
}

/// Fed an upload's bytes in order; tells what it is at the end.
pub struct Inspector {
    max_bytes: u64,
    size: u64,
    hasher: Sha256,
    head: Vec<u8>,
    /// Still possibly UTF-8 text: no invalid sequence and no NUL byte so far.
    utf8: bool,
    /// An incomplete UTF-8 sequence at the end of the last piece.
    carry: Vec<u8>,
    stats: TextStats,
    zip: Option<ZipEntries>,
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
            utf8: true,
            carry: Vec::new(),
            stats: TextStats::default(),
            zip: None,
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
        let before = self.head.len();
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(piece.len());
            self.head.extend_from_slice(&piece[..take]);
        }
        if before < 4 && self.head.starts_with(b"PK\x03\x04") {
            // A zip container: its entries are scanned from the first byte on.
            let mut zip = ZipEntries::default();
            zip.scan(&self.head[..before]);
            self.zip = Some(zip);
        }
        if let Some(zip) = &mut self.zip {
            zip.scan(piece);
            return Ok(());
        }
        self.stats.feed(piece);
        if self.utf8 {
            self.check_utf8(piece);
        }
        self.scan_markdown(piece);
        Ok(())
    }

    fn check_utf8(&mut self, piece: &[u8]) {
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
                self.utf8 = false;
                return;
            }
        };
        if valid.contains('\0') {
            self.utf8 = false;
        }
    }

    /// Markdown hints at line starts; bytes, so that any ASCII-compatible encoding counts.
    fn scan_markdown(&mut self, piece: &[u8]) {
        for line in piece.split_inclusive(|b| *b == b'\n') {
            if self.line_start {
                let trimmed = line.trim_ascii_start();
                if [&b"# "[..], b"## ", b"### ", b"```", b"- [", b"> "]
                    .iter()
                    .any(|mark| trimmed.starts_with(mark))
                {
                    self.markdown_hints += 1;
                }
            }
            self.line_start = line.ends_with(b"\n");
        }
    }

    /// Decides. `file_name` only tells Markdown from plain text once the bytes proved to be
    /// text; it never makes a file acceptable.
    pub fn finish(self, file_name: &str) -> Result<Inspection, InspectError> {
        if self.size == 0 {
            return Err(InspectError::Empty);
        }
        let media_type = match self.binary_kind()? {
            Some(kind) => kind,
            None => self.text_kind(file_name)?,
        };
        Ok(Inspection {
            size_bytes: self.size,
            sha256: hex(&self.hasher.finalize()),
            media_type,
        })
    }

    /// The format of a file its magic bytes or container name; `None`: not one of those.
    fn binary_kind(&self) -> Result<Option<MediaType>, InspectError> {
        let head = &self.head[..];
        if find(head, b"%PDF-").is_some() {
            return Ok(Some(MediaType::Pdf));
        }
        if let Some(zip) = &self.zip {
            return zip_kind(head, zip).map(Some);
        }
        if head.starts_with(b"\x89PNG\r\n\x1a\n")
            || head.starts_with(b"\xff\xd8\xff")
            || head.starts_with(b"II*\0")
            || head.starts_with(b"MM\0*")
        {
            return Ok(Some(MediaType::Image));
        }
        if head.get(4..8) == Some(b"ftyp") {
            let brand = head.get(8..12).unwrap_or_default();
            if [&b"heic"[..], b"heix", b"mif1", b"msf1", b"avif"].contains(&brand) {
                return Err(InspectError::UnsupportedKind(
                    "HEIC and AVIF pictures are not read here; export the photo as JPEG",
                ));
            }
        }
        if head.starts_with(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") {
            return Err(InspectError::UnsupportedKind(
                "old Office files (.doc, .ppt, .xls) are not read; save them as DOCX or PPTX",
            ));
        }
        let start = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
        if start.trim_ascii_start().starts_with(b"{\\rtf") {
            return Ok(Some(MediaType::Rtf));
        }
        Ok(None)
    }

    fn text_kind(&self, file_name: &str) -> Result<MediaType, InspectError> {
        let head = &self.head[..];
        let bom16 = head.starts_with(b"\xff\xfe") || head.starts_with(b"\xfe\xff");
        let text = if bom16 || self.stats.looks_utf16() {
            let big_endian = if bom16 {
                head.starts_with(b"\xfe\xff")
            } else {
                self.stats.nul_even > self.stats.nul_odd
            };
            self.size.is_multiple_of(2) && plausible_utf16(head, big_endian)
        } else {
            (self.utf8 && self.carry.is_empty()) || self.stats.looks_8bit()
        };
        if !text {
            return Err(InspectError::Unsupported);
        }
        if is_html(head) {
            return Ok(MediaType::Html);
        }
        let lower = file_name.to_ascii_lowercase();
        Ok(
            if lower.ends_with(".md") || lower.ends_with(".markdown") || self.markdown_hints > 0 {
                MediaType::Markdown
            } else {
                MediaType::Text
            },
        )
    }
}

/// Whether the head reads as UTF-16 text: hardly any control characters and no broken
/// surrogate pairs (a binary file that merely starts with a byte order mark does not).
fn plausible_utf16(head: &[u8], big_endian: bool) -> bool {
    let units: Vec<u16> = head
        .chunks_exact(2)
        .map(|pair| {
            if big_endian {
                u16::from_be_bytes([pair[0], pair[1]])
            } else {
                u16::from_le_bytes([pair[0], pair[1]])
            }
        })
        .collect();
    let mut bad = 0usize;
    for decoded in char::decode_utf16(units.iter().copied()) {
        match decoded {
            Err(_) => bad += 1,
            Ok(c) if c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}' | '\u{1b}') => {
                bad += 1;
            }
            Ok(_) => {}
        }
    }
    // A pair cut at the end of the head is not the file's fault.
    bad * 100 <= units.len().max(1) + 100
}

/// The kind of a zip container: an ODF or EPUB names it in a first, stored `mimetype` entry;
/// an Office Open XML file by its main part.
fn zip_kind(head: &[u8], zip: &ZipEntries) -> Result<MediaType, InspectError> {
    if head.get(ZIP_HEADER..ZIP_HEADER + 8) == Some(b"mimetype") {
        let name_len = usize::from(u16::from_le_bytes([head[26], head[27]]));
        let extra = usize::from(u16::from_le_bytes([head[28], head[29]]));
        let size = u32::from_le_bytes([head[18], head[19], head[20], head[21]]) as usize;
        let at = ZIP_HEADER + name_len + extra;
        let mime = head.get(at..at + size.min(100)).unwrap_or_default();
        return match mime {
            b"application/vnd.oasis.opendocument.text" => Ok(MediaType::Odt),
            b"application/vnd.oasis.opendocument.presentation" => Ok(MediaType::Odp),
            b"application/epub+zip" => Ok(MediaType::Epub),
            b"application/vnd.oasis.opendocument.spreadsheet" => Err(
                InspectError::UnsupportedKind("spreadsheets are not read; export the sheet as PDF"),
            ),
            _ => Err(InspectError::Unsupported),
        };
    }
    if zip.content_types && zip.word {
        Ok(MediaType::Docx)
    } else if zip.content_types && zip.presentation {
        Ok(MediaType::Pptx)
    } else if zip.content_types && zip.spreadsheet {
        Err(InspectError::UnsupportedKind(
            "spreadsheets are not read; export the sheet as PDF",
        ))
    } else if zip.epub_container {
        Ok(MediaType::Epub)
    } else {
        Err(InspectError::Unsupported)
    }
}

/// An HTML page: its head (past a byte order mark, blanks, an XML declaration and comments)
/// opens with a doctype or an `<html>`, `<head>` or `<body>` tag.
fn is_html(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let lower = head.to_ascii_lowercase();
    let mut rest = lower.trim_ascii_start();
    loop {
        if rest.starts_with(b"<?xml") || rest.starts_with(b"<!--") {
            let close: &[u8] = if rest.starts_with(b"<!--") {
                b"-->"
            } else {
                b"?>"
            };
            match find(rest, close) {
                Some(end) => rest = rest[end + close.len()..].trim_ascii_start(),
                None => return false,
            }
        } else {
            break;
        }
    }
    [&b"<!doctype html"[..], b"<html", b"<head", b"<body"]
        .iter()
        .any(|tag| rest.starts_with(tag))
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
    fn binary_garbage_is_unsupported_and_legacy_text_is_text() {
        assert_eq!(
            inspect(b"nul\0inside", "a.txt", 100),
            Err(InspectError::Unsupported)
        );
        let garbage: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(
            inspect(&garbage, "a.txt", 10_000),
            Err(InspectError::Unsupported)
        );
        // Windows-1252 is not UTF-8, but it is text.
        assert_eq!(
            inspect(b"Gr\xfc\xdfe aus K\xf6ln \x80 5", "a.txt", 100)
                .unwrap()
                .media_type,
            MediaType::Text
        );
        assert_eq!(
            inspect(b"# \xdcberschrift\nText", "a.txt", 100)
                .unwrap()
                .media_type,
            MediaType::Markdown
        );
    }

    #[test]
    fn utf16_is_text_with_or_without_a_byte_order_mark() {
        let text = "Zellteilung — Mitose und Meiose\r\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let mut bom = vec![0xff, 0xfe];
        bom.extend_from_slice(&le);
        for bytes in [&le, &be, &bom] {
            assert_eq!(
                inspect(bytes, "x", 1000).unwrap().media_type,
                MediaType::Text
            );
        }
        // Greek in UTF-16 has no NUL bytes; with its byte order mark it is still text.
        let mut greek = vec![0xfe, 0xff];
        greek.extend("Ελληνικά".encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(
            inspect(&greek, "x", 1000).unwrap().media_type,
            MediaType::Text
        );
    }

    #[test]
    fn binary_behind_a_byte_order_mark_is_not_text() {
        let mut fake = vec![0xff, 0xfe];
        fake.extend((0..1000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8));
        assert_eq!(
            inspect(&fake, "a.txt", 10_000),
            Err(InspectError::Unsupported)
        );
    }

    #[test]
    fn pictures_rtf_and_html_are_known_by_their_first_bytes() {
        for head in [
            &b"\x89PNG\r\n\x1a\n\0\0"[..],
            b"\xff\xd8\xff\xe0\0\x10JFIF",
            b"II*\0\x08\0",
            b"MM\0*\0\0",
        ] {
            assert_eq!(
                inspect(head, "a.txt", 100).unwrap().media_type,
                MediaType::Image
            );
        }
        assert_eq!(
            inspect(b"{\\rtf1\\ansi Hello}", "a.txt", 100)
                .unwrap()
                .media_type,
            MediaType::Rtf
        );
        for page in [
            &b"<!DOCTYPE html><title>x</title>"[..],
            b"\xef\xbb\xbf\n  <html lang=de>",
            b"<?xml version=\"1.0\"?>\n<!-- saved -->\n<html xmlns=\"http://www.w3.org/1999/xhtml\">",
        ] {
            assert_eq!(inspect(page, "notes.txt", 1000).unwrap().media_type, MediaType::Html);
        }
        // Text that merely mentions a tag is not a web page.
        assert_eq!(
            inspect(b"Use the <html> tag", "a.txt", 100)
                .unwrap()
                .media_type,
            MediaType::Text
        );
        assert!(matches!(
            inspect(b"\0\0\0\x18ftypheic\0\0", "a.jpg", 100),
            Err(InspectError::UnsupportedKind(_))
        ));
        assert!(matches!(
            inspect(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0\0", "a.doc", 100),
            Err(InspectError::UnsupportedKind(_))
        ));
    }

    /// A zip local file header for `name` with `data` stored uncompressed.
    fn entry(name: &str, data: &[u8]) -> Vec<u8> {
        let mut out = b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn zip_containers_are_known_by_their_entries_in_any_piece() {
        let odp = entry(
            "mimetype",
            b"application/vnd.oasis.opendocument.presentation",
        );
        assert_eq!(
            inspect(&odp, "x.zip", 1000).unwrap().media_type,
            MediaType::Odp
        );
        let epub = [
            entry("mimetype", b"application/epub+zip"),
            entry("META-INF/container.xml", b"<c/>"),
        ]
        .concat();
        assert_eq!(
            inspect(&epub, "x", 1000).unwrap().media_type,
            MediaType::Epub
        );
        let docx = [
            entry("[Content_Types].xml", b"<Types/>"),
            entry("_rels/.rels", &[7u8; 300]),
            entry("word/document.xml", b"<w:document/>"),
        ]
        .concat();
        // However the upload is cut into pieces, the entries are found.
        for split in [1, 3, 29, 40, 300, 330, 345, docx.len() - 1] {
            let mut inspector = Inspector::new(10_000);
            inspector.feed(&docx[..split]).unwrap();
            inspector.feed(&docx[split..]).unwrap();
            assert_eq!(
                inspector.finish("x").unwrap().media_type,
                MediaType::Docx,
                "split at {split}"
            );
        }
        let pptx = [
            entry("[Content_Types].xml", b"<Types/>"),
            entry("ppt/presentation.xml", b"<p/>"),
        ]
        .concat();
        assert_eq!(
            inspect(&pptx, "x", 1000).unwrap().media_type,
            MediaType::Pptx
        );
        let xlsx = [
            entry("[Content_Types].xml", b"<Types/>"),
            entry("xl/workbook.xml", b"<w/>"),
        ]
        .concat();
        assert!(matches!(
            inspect(&xlsx, "x", 1000),
            Err(InspectError::UnsupportedKind(_))
        ));
        let plain_zip = entry("photos/a.txt", b"hello");
        assert_eq!(
            inspect(&plain_zip, "x.docx", 1000),
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
