//! Bounds on what one document may become, enforced while it is read — never after the whole
//! thing sits in memory. A file over a bound fails with a sentence that names the bound and the
//! value, so the person who uploaded it knows what to change.

use serde::{Deserialize, Serialize};

pub use crate::text::grouped;

use super::models::ExtractedPage;

/// How much one document may hold. Every extractor and the chunker stop at these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractionLimits {
    /// Pages (or slides, or form-feed separated parts of a text file).
    pub max_pages: u32,
    /// Characters of extracted text in the whole document.
    pub max_chars: u64,
    /// Characters of extracted text on one page.
    pub max_page_chars: u64,
    /// Chunks (passages) the document is split into.
    pub max_chunks: u32,
    /// Bytes a compressed container (DOCX, PPTX, ODT, ODP, EPUB) may expand to when its parts
    /// are read: a zip bomb stops here.
    #[serde(default = "default_unpacked_bytes")]
    pub max_unpacked_bytes: u64,
}

fn default_unpacked_bytes() -> u64 {
    ExtractionLimits::default().max_unpacked_bytes
}

impl Default for ExtractionLimits {
    fn default() -> Self {
        Self {
            max_pages: 5_000,
            max_chars: 5_000_000,
            max_page_chars: 500_000,
            max_chunks: 10_000,
            max_unpacked_bytes: 128 * 1024 * 1024,
        }
    }
}

/// Which bound a document went past, and by how much as far as it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "over", rename_all = "snake_case")]
pub enum OverLimit {
    #[error("the file has {} pages; the limit is {}", grouped(*count), grouped(u64::from(*limit)))]
    Pages { count: u64, limit: u32 },
    /// `count` is exact when the whole text was counted, a lower bound (`more`) otherwise.
    #[error("the file has {}{} characters of text; the limit is {}", if *more { "at least " } else { "" }, grouped(*count), grouped(*limit))]
    Chars { count: u64, more: bool, limit: u64 },
    #[error("page {page} has {} characters of text; the limit per page is {}", grouped(*count), grouped(*limit))]
    PageChars { page: u32, count: u64, limit: u64 },
    #[error("the file makes more than {} passages to index; the limit is {}", grouped(u64::from(*limit)), grouped(u64::from(*limit)))]
    Chunks { limit: u32 },
    #[error("the file expands to more than {} bytes when unpacked; the limit is {}", grouped(*limit), grouped(*limit))]
    Unpacked { limit: u64 },
    #[error("the file has {} pages without a text layer to read by OCR; the limit is {}", grouped(*count), grouped(u64::from(*limit)))]
    OcrPages { count: u64, limit: u32 },
}

impl ExtractionLimits {
    /// Checks a page count before any page is read.
    pub fn check_pages(&self, count: u64) -> Result<(), OverLimit> {
        if count > u64::from(self.max_pages) {
            return Err(OverLimit::Pages {
                count,
                limit: self.max_pages,
            });
        }
        Ok(())
    }
}

/// Counts the text of pages as they are read and stops at the first bound passed.
#[derive(Debug)]
pub struct PageBudget {
    limits: ExtractionLimits,
    chars: u64,
}

impl PageBudget {
    pub fn new(limits: ExtractionLimits) -> Self {
        Self { limits, chars: 0 }
    }

    /// Counts one more page of `chars` characters.
    pub fn take(&mut self, page: u32, chars: u64) -> Result<(), OverLimit> {
        if chars > self.limits.max_page_chars {
            return Err(OverLimit::PageChars {
                page,
                count: chars,
                limit: self.limits.max_page_chars,
            });
        }
        self.chars += chars;
        if self.chars > self.limits.max_chars {
            return Err(OverLimit::Chars {
                count: self.chars,
                more: true,
                limit: self.limits.max_chars,
            });
        }
        Ok(())
    }
}

/// The pages of a text file: parts separated by form feeds, numbered from 1, within `limits`.
/// The pages and characters are counted before anything is copied, so a file far over a bound
/// costs one pass over its bytes.
pub fn bounded_text_pages(
    text: &str,
    limits: &ExtractionLimits,
) -> Result<Vec<ExtractedPage>, OverLimit> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let pages = text.bytes().filter(|b| *b == b'\x0c').count() as u64 + 1;
    limits.check_pages(pages)?;
    let chars = text.chars().count() as u64 - (pages - 1);
    if chars > limits.max_chars {
        return Err(OverLimit::Chars {
            count: chars,
            more: false,
            limit: limits.max_chars,
        });
    }
    let mut budget = PageBudget::new(*limits);
    let mut out = Vec::with_capacity(pages as usize);
    for (i, part) in text.split('\u{c}').enumerate() {
        let number = i as u32 + 1;
        budget.take(number, part.chars().count() as u64)?;
        out.push(ExtractedPage::new(number, part));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_048_577), "1,048,577");
        assert_eq!(grouped(12_345_678_901), "12,345,678,901");
    }

    #[test]
    fn a_page_per_form_feed_past_the_limit_is_refused_before_anything_is_copied() {
        let text = "a\u{c}".repeat(1_048_576);
        let error = bounded_text_pages(&text, &ExtractionLimits::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the file has 1,048,577 pages; the limit is 5,000"
        );
    }

    #[test]
    fn characters_in_all_and_per_page_are_bounded() {
        let limits = ExtractionLimits {
            max_pages: 10,
            max_chars: 100,
            max_page_chars: 40,
            max_chunks: 10,
            max_unpacked_bytes: 1000,
        };
        let total = bounded_text_pages(&"é".repeat(101), &limits).unwrap_err();
        assert_eq!(
            total.to_string(),
            "the file has 101 characters of text; the limit is 100"
        );
        let page = bounded_text_pages(
            &format!("{}\u{c}{}", "a".repeat(10), "b".repeat(41)),
            &limits,
        )
        .unwrap_err();
        assert_eq!(
            page.to_string(),
            "page 2 has 41 characters of text; the limit per page is 40"
        );
        let pages = bounded_text_pages("\u{feff}one\u{c}two", &limits).unwrap();
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].text, "one");
        assert_eq!(pages[1].number, 2);
    }

    #[test]
    fn the_budget_says_at_least_when_it_stopped_counting() {
        let mut budget = PageBudget::new(ExtractionLimits {
            max_chars: 10,
            ..ExtractionLimits::default()
        });
        budget.take(1, 6).unwrap();
        assert_eq!(
            budget.take(2, 6).unwrap_err().to_string(),
            "the file has at least 12 characters of text; the limit is 10"
        );
    }
}
