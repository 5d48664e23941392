//! The knowledge base's [`TextExtractor`]: the format parsers under their guard, and OCR for
//! what has no text layer — a picture, or the pages of a PDF that are scans. A document that
//! ends with no text at all fails with a reason: "no text", or why OCR could not run and how
//! to enable it.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use flashforge_domain::knowledge::{
    ExtractError, Extracted, ExtractedPage, ExtractionLimits, MediaType, OverLimit, PageBudget,
    TextExtractor,
};

use crate::ocr::Ocr;

/// Parsers first, OCR where they found nothing to read.
pub struct Extractors {
    parsers: Arc<dyn TextExtractor>,
    ocr: Arc<Ocr>,
}

fn has_text(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

impl Extractors {
    pub fn new(parsers: Arc<dyn TextExtractor>, ocr: Arc<Ocr>) -> Self {
        Self { parsers, ocr }
    }

    pub fn ocr(&self) -> &Ocr {
        &self.ocr
    }

    async fn picture(
        &self,
        bytes: Bytes,
        limits: &ExtractionLimits,
    ) -> Result<Extracted, ExtractError> {
        let texts = self.ocr.read_image(bytes).await?;
        limits.check_pages(texts.len() as u64)?;
        let pages = texts
            .into_iter()
            .enumerate()
            .map(|(i, text)| ExtractedPage::new(i as u32 + 1, text.trim_end()))
            .collect();
        Ok(Extracted::pages(pages))
    }

    /// Reads the pages of a PDF that came back without text; when OCR cannot run, a scan
    /// fails with the reason and a PDF with some text keeps what it has.
    async fn scanned_pages(
        &self,
        bytes: Bytes,
        extracted: &mut Extracted,
    ) -> Result<(), ExtractError> {
        let blank: Vec<usize> = extracted
            .pages
            .iter()
            .enumerate()
            .filter(|(_, page)| !has_text(&page.text))
            .map(|(i, _)| i)
            .collect();
        if blank.is_empty() {
            return Ok(());
        }
        let limit = self.ocr.max_pages();
        if blank.len() as u64 > u64::from(limit) {
            return Err(OverLimit::OcrPages {
                count: blank.len() as u64,
                limit,
            }
            .into());
        }
        for index in blank {
            let number = extracted.pages[index].number;
            match self.ocr.read_pdf_page(bytes.clone(), number).await {
                Ok(text) => extracted.pages[index].text = text,
                Err(ExtractError::OcrUnavailable(reason))
                    if extracted.pages.iter().any(|p| has_text(&p.text)) =>
                {
                    tracing::info!(%reason, "a PDF has pages without text and OCR is not available; kept the pages with text");
                    return Ok(());
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

/// Counts the pages again against the limits: OCR adds text the parser did not count.
fn recount(extracted: &Extracted, limits: &ExtractionLimits) -> Result<(), ExtractError> {
    let mut budget = PageBudget::new(*limits);
    for page in &extracted.pages {
        budget.take(page.number, page.text.chars().count() as u64)?;
    }
    Ok(())
}

#[async_trait]
impl TextExtractor for Extractors {
    async fn extract(
        &self,
        media_type: MediaType,
        bytes: Bytes,
        limits: &ExtractionLimits,
    ) -> Result<Extracted, ExtractError> {
        let extracted = match media_type {
            MediaType::Image => self.picture(bytes, limits).await?,
            MediaType::Pdf => {
                let mut extracted = self
                    .parsers
                    .extract(media_type, bytes.clone(), limits)
                    .await?;
                self.scanned_pages(bytes, &mut extracted).await?;
                extracted
            }
            other => self.parsers.extract(other, bytes, limits).await?,
        };
        recount(&extracted, limits)?;
        if !extracted.pages.iter().any(|p| has_text(&p.text)) {
            return Err(ExtractError::NoText);
        }
        Ok(extracted)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::guard::{IsolatedExtractor, Isolation};
    use crate::ocr::{OcrSettings, OcrStatus};

    fn pdf_fixture(name: &str) -> Bytes {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/pdf/");
        Bytes::from(std::fs::read(format!("{path}{name}")).unwrap())
    }

    async fn extractors(settings: OcrSettings) -> Extractors {
        let parsers = IsolatedExtractor::new(Isolation::Thread, Duration::from_secs(30));
        Extractors::new(Arc::new(parsers), Arc::new(Ocr::probe(settings).await))
    }

    /// Whether this machine can run OCR; CI installs it and sets FLASHFORGE_REQUIRE_OCR=1.
    async fn ocr_or_skip() -> Option<Extractors> {
        let extractors = extractors(OcrSettings::default()).await;
        if matches!(extractors.ocr().status(), OcrStatus::Ready { .. }) {
            return Some(extractors);
        }
        assert!(
            std::env::var_os("FLASHFORGE_REQUIRE_OCR").is_none(),
            "FLASHFORGE_REQUIRE_OCR is set but OCR is not available: {:?}",
            extractors.ocr().status()
        );
        eprintln!("OCR is not available here: skipped");
        None
    }

    #[tokio::test]
    async fn a_scan_without_ocr_fails_saying_how_to_enable_it() {
        let without = extractors(OcrSettings {
            tesseract: "/nonexistent/tesseract".into(),
            ..OcrSettings::default()
        })
        .await;
        let error = without
            .extract(
                MediaType::Pdf,
                pdf_fixture("image-only.pdf"),
                &ExtractionLimits::default(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(error, ExtractError::OcrUnavailable(_)),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("not available") && message.contains("knowledge.ocr_enabled"),
            "{message}"
        );
        // A PDF with a text layer needs no OCR.
        let text = without
            .extract(
                MediaType::Pdf,
                pdf_fixture("single-column.pdf"),
                &ExtractionLimits::default(),
            )
            .await
            .unwrap();
        assert!(text.pages.iter().any(|p| has_text(&p.text)));
    }

    #[tokio::test]
    async fn a_scanned_pdf_is_read_by_ocr() {
        let Some(extractors) = ocr_or_skip().await else {
            return;
        };
        let extracted = extractors
            .extract(
                MediaType::Pdf,
                pdf_fixture("image-only.pdf"),
                &ExtractionLimits::default(),
            )
            .await
            .unwrap();
        let text = extracted.pages[0].text.to_lowercase();
        assert!(text.split_whitespace().count() > 5, "{text}");
    }

    #[tokio::test]
    async fn ocr_pages_count_against_their_limit() {
        let Some(_) = ocr_or_skip().await else {
            return;
        };
        let few = extractors(OcrSettings {
            max_pages: 0,
            ..OcrSettings::default()
        })
        .await;
        assert!(matches!(
            few.extract(
                MediaType::Pdf,
                pdf_fixture("image-only.pdf"),
                &ExtractionLimits::default()
            )
            .await,
            Err(ExtractError::OverLimit(OverLimit::OcrPages {
                limit: 0,
                ..
            }))
        ));
    }

    #[tokio::test]
    async fn a_file_with_nothing_to_read_has_no_text() {
        let extractors = extractors(OcrSettings::default()).await;
        assert_eq!(
            extractors
                .extract(
                    MediaType::Text,
                    Bytes::from_static(b" \n\t\n"),
                    &ExtractionLimits::default()
                )
                .await,
            Err(ExtractError::NoText)
        );
    }
}
