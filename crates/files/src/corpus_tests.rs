//! The committed corpus of every format (`tests/fixtures/formats/`, made by
//! `tools/corpus/generate.py`): each file's text against the text its generator put on each
//! page (word recall, printed as a table: `cargo test -p flashforge-files --lib corpus --
//! --nocapture`), its page labels and title, and mutated copies of each that must end in text
//! or an error through the guard — never a panic past it, a hang, or a zip bomb past the limit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flashforge_domain::knowledge::{
    ExtractError, Extracted, ExtractionLimits, MediaType, TextExtractor,
};
use serde::Deserialize;

use crate::extractors::Extractors;
use crate::formats::recall::word_recall as recall;
use crate::guard::{IsolatedExtractor, Isolation};
use crate::ocr::{Ocr, OcrSettings, OcrStatus};

#[derive(Debug, Deserialize)]
struct ExpectedPage {
    label: String,
    text: String,
}

#[derive(Debug, Deserialize)]
struct Expected {
    format: String,
    title: Option<String>,
    pages: Vec<ExpectedPage>,
    min_recall: f64,
}

struct Fixture {
    name: String,
    bytes: Vec<u8>,
    expected: Expected,
}

fn folder() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/formats")
}

fn fixtures() -> Vec<Fixture> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(folder()).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".expected.json"))
        else {
            continue;
        };
        let expected: Expected = serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        found.push(Fixture {
            name: name.to_string(),
            bytes: std::fs::read(folder().join(name)).unwrap(),
            expected,
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The media type of a corpus format name (`md`, `txt`, `png` …).
fn media_type(format: &str) -> MediaType {
    let name = match format {
        "md" => "markdown",
        "txt" => "text",
        "png" | "jpeg" | "jpg" | "tiff" => "image",
        other => other,
    };
    MediaType::parse(name).unwrap_or_else(|| panic!("unknown format {format}"))
}

async fn extractors() -> (Extractors, bool) {
    let parsers = IsolatedExtractor::new(Isolation::Thread, Duration::from_secs(60));
    let ocr = Ocr::probe(OcrSettings::default()).await;
    let ready = matches!(ocr.status(), OcrStatus::Ready { .. });
    assert!(
        ready || std::env::var_os("FLASHFORGE_REQUIRE_OCR").is_none(),
        "FLASHFORGE_REQUIRE_OCR is set but OCR is not available: {:?}",
        ocr.status()
    );
    (Extractors::new(Arc::new(parsers), Arc::new(ocr)), ready)
}

fn needs_ocr(fixture: &Fixture) -> bool {
    media_type(&fixture.expected.format) == MediaType::Image || fixture.expected.min_recall < 0.95
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_text_labels_and_titles_match_what_the_generator_wrote() {
    let (extractors, ocr) = extractors().await;
    let fixtures = fixtures();
    assert!(fixtures.len() >= 12, "the corpus: {} files", fixtures.len());
    let mut report = vec![format!(
        "{:<24} {:>6} {:>6} {:>8} {:>8}",
        "file", "format", "pages", "recall", "ms"
    )];
    for fixture in &fixtures {
        if needs_ocr(fixture) && !ocr {
            report.push(format!(
                "{:<24} skipped: OCR is not available",
                fixture.name
            ));
            continue;
        }
        let expected = &fixture.expected;
        let started = Instant::now();
        let extracted: Extracted = extractors
            .extract(
                media_type(&expected.format),
                Bytes::from(fixture.bytes.clone()),
                &ExtractionLimits::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e} ({e:?})", fixture.name));
        let ms = started.elapsed().as_millis();
        let name = &fixture.name;
        assert_eq!(
            extracted.pages.len(),
            expected.pages.len(),
            "{name}: pages {:#?}",
            extracted.pages
        );
        if let Some(title) = &expected.title {
            assert_eq!(extracted.title.as_deref(), Some(title.as_str()), "{name}");
        }
        let (mut all_expected, mut all_got) = (String::new(), String::new());
        for (page, want) in extracted.pages.iter().zip(&expected.pages) {
            let label = page
                .label
                .clone()
                .unwrap_or_else(|| media_type(&expected.format).default_label(page.number));
            assert_eq!(label, want.label, "{name}: page {}", page.number);
            let r = recall(&want.text, &page.text);
            assert!(
                r >= expected.min_recall,
                "{name}: page {} recall {r:.3}\nwant: {}\ngot: {}",
                page.number,
                want.text,
                page.text
            );
            all_expected.push_str(&want.text);
            all_expected.push('\n');
            all_got.push_str(&page.text);
            all_got.push('\n');
        }
        report.push(format!(
            "{:<24} {:>6} {:>6} {:>8.3} {:>8}",
            name,
            expected.format,
            extracted.pages.len(),
            recall(&all_expected, &all_got),
            ms
        ));
    }
    println!("{}", report.join("\n"));
}

/// Deterministic mutations of every parsed fixture (truncations, byte flips, overwritten runs),
/// through the guard: each ends in text or an error, quickly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_files_of_every_format_end_in_text_or_an_error() {
    let parsers = IsolatedExtractor::new(Isolation::Thread, Duration::from_secs(20));
    let limits = ExtractionLimits {
        max_unpacked_bytes: 32 * 1024 * 1024,
        ..ExtractionLimits::default()
    };
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut outcomes: HashMap<String, (u32, u32)> = HashMap::new();
    for fixture in fixtures().iter().filter(|f| !needs_ocr(f)) {
        let media = media_type(&fixture.expected.format);
        for round in 0..40 {
            let mut bytes = fixture.bytes.clone();
            let len = bytes.len();
            match round % 3 {
                0 => bytes.truncate(1 + (next() as usize) % len),
                1 => {
                    for _ in 0..(1 + next() % 16) {
                        let at = (next() as usize) % len;
                        bytes[at] = next() as u8;
                    }
                }
                _ => {
                    let at = (next() as usize) % len;
                    let run = (next() as usize % 300).min(len - at);
                    for b in &mut bytes[at..at + run] {
                        *b = next() as u8;
                    }
                }
            }
            let started = Instant::now();
            let outcome = parsers.extract(media, Bytes::from(bytes), &limits).await;
            let entry = outcomes.entry(fixture.name.clone()).or_default();
            match outcome {
                Ok(_) => entry.0 += 1,
                Err(ExtractError::TimedOut(_)) => {
                    panic!("{} mutant {round} hung", fixture.name)
                }
                Err(ExtractError::Crashed) => {
                    panic!("{} mutant {round} panicked past the parser", fixture.name)
                }
                Err(_) => entry.1 += 1,
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{}",
                fixture.name
            );
        }
    }
    assert!(outcomes.len() >= 8, "{outcomes:?}");
    println!("mutants (text, error): {outcomes:?}");
}
