//! Writing a document's structure as pages of Markdown-style text, within the extraction
//! limits: headings as `#` lines (so chunks split at them and keep their heading path), list
//! items as `- `, table rows as `| a | b |`, speaker notes and footnotes marked as such. Every
//! format's extractor writes through this, so the limits are counted the same way for all, as
//! the text grows — never after a whole document sits in memory.

use flashforge_domain::knowledge::{
    ExtractError, Extracted, ExtractedPage, ExtractionLimits, OverLimit,
};

/// The pages written so far and the one being written.
#[derive(Debug)]
pub struct Pages {
    limits: ExtractionLimits,
    pages: Vec<ExtractedPage>,
    current: String,
    label: Option<String>,
    page_chars: u64,
    total_chars: u64,
    /// The title the file gives itself.
    pub title: Option<String>,
}

/// Whitespace runs (line breaks included) as single spaces, trimmed.
pub fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Pages {
    pub fn new(limits: &ExtractionLimits) -> Self {
        Self {
            limits: *limits,
            pages: Vec::new(),
            current: String::new(),
            label: None,
            page_chars: 0,
            total_chars: 0,
            title: None,
        }
    }

    /// The number of the page being written.
    pub fn number(&self) -> u32 {
        self.pages.len() as u32 + 1
    }

    /// Whether the page being written has any text yet.
    pub fn page_is_empty(&self) -> bool {
        self.current.trim().is_empty()
    }

    fn push(&mut self, text: &str) -> Result<(), ExtractError> {
        let chars = text.chars().count() as u64;
        self.page_chars += chars;
        self.total_chars += chars;
        if self.page_chars > self.limits.max_page_chars {
            return Err(OverLimit::PageChars {
                page: self.number(),
                count: self.page_chars,
                limit: self.limits.max_page_chars,
            }
            .into());
        }
        if self.total_chars > self.limits.max_chars {
            return Err(OverLimit::Chars {
                count: self.total_chars,
                more: true,
                limit: self.limits.max_chars,
            }
            .into());
        }
        self.current.push_str(text);
        Ok(())
    }

    /// A heading of `level` (1 = outermost); empty text writes nothing.
    pub fn heading(&mut self, level: usize, text: &str) -> Result<(), ExtractError> {
        let text = squash(text);
        if text.is_empty() {
            return Ok(());
        }
        let marks = "#".repeat(level.clamp(1, 6));
        self.push(&format!("{marks} {text}\n\n"))
    }

    /// A paragraph; empty text writes nothing.
    pub fn paragraph(&mut self, text: &str) -> Result<(), ExtractError> {
        let text = squash(text);
        if text.is_empty() {
            return Ok(());
        }
        self.push(&format!("{text}\n\n"))
    }

    /// An item of a list nested `depth` deep (0 = top level).
    pub fn list_item(&mut self, depth: usize, text: &str) -> Result<(), ExtractError> {
        let text = squash(text);
        if text.is_empty() {
            return Ok(());
        }
        let indent = "  ".repeat(depth.min(8));
        self.push(&format!("{indent}- {text}\n"))
    }

    /// A row of a table, cell by cell; a row of empty cells writes nothing.
    pub fn table_row(&mut self, cells: &[String]) -> Result<(), ExtractError> {
        let cells: Vec<String> = cells.iter().map(|c| squash(c).replace('|', "/")).collect();
        if cells.iter().all(String::is_empty) {
            return Ok(());
        }
        self.push(&format!("| {} |\n", cells.join(" | ")))
    }

    /// Ends a list or a table: a blank line, so the next paragraph stands apart.
    pub fn end_block(&mut self) -> Result<(), ExtractError> {
        if self.current.ends_with('\n') && !self.current.ends_with("\n\n") {
            self.push("\n")?;
        }
        Ok(())
    }

    /// Speaker notes of a slide, marked as notes.
    pub fn notes(&mut self, text: &str) -> Result<(), ExtractError> {
        let text = squash(text);
        if text.is_empty() {
            return Ok(());
        }
        self.push(&format!("Speaker notes: {text}\n\n"))
    }

    /// A footnote or endnote, marked as one.
    pub fn footnote(&mut self, mark: &str, text: &str) -> Result<(), ExtractError> {
        let text = squash(text);
        if text.is_empty() {
            return Ok(());
        }
        self.push(&format!("[^{}]: {text}\n\n", squash(mark)))
    }

    /// What a person sees for the page being written ("slide 3", "Chapter 2").
    pub fn label(&mut self, label: &str) {
        let label: String = squash(label).chars().take(120).collect();
        self.label = (!label.is_empty()).then_some(label);
    }

    /// Ends the page being written and starts the next; an empty page still counts, so page
    /// numbers stay those of the document.
    pub fn break_page(&mut self) -> Result<(), ExtractError> {
        let count = self.pages.len() as u64 + 1;
        if count >= u64::from(self.limits.max_pages) {
            // One more page is about to start: the document has more than the limit.
            return Err(OverLimit::Pages {
                count: count + 1,
                limit: self.limits.max_pages,
            }
            .into());
        }
        let text = std::mem::take(&mut self.current);
        self.pages.push(ExtractedPage {
            number: count as u32,
            label: self.label.take(),
            text: text.trim_end().to_string(),
        });
        self.page_chars = 0;
        Ok(())
    }

    /// The pages, the one being written included when it has text or is the only one.
    pub fn finish(mut self) -> Extracted {
        if !self.page_is_empty() || self.pages.is_empty() {
            let number = self.number();
            let text = std::mem::take(&mut self.current);
            self.pages.push(ExtractedPage {
                number,
                label: self.label.take(),
                text: text.trim_end().to_string(),
            });
        }
        Extracted {
            pages: self.pages,
            title: self.title.map(|t| squash(&t)).filter(|t| !t.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_is_written_as_markdown_page_by_page() {
        let mut pages = Pages::new(&ExtractionLimits::default());
        pages.heading(1, "Cells\n and  life").unwrap();
        pages.paragraph("  Cells   divide. ").unwrap();
        pages.list_item(0, "mitosis").unwrap();
        pages.list_item(1, "prophase").unwrap();
        pages.end_block().unwrap();
        pages.table_row(&["a|b".into(), "c".into()]).unwrap();
        pages.label("slide 1");
        pages.break_page().unwrap();
        pages.notes("Say hello").unwrap();
        let extracted = pages.finish();
        assert_eq!(
            extracted.pages[0].text,
            "# Cells and life\n\nCells divide.\n\n- mitosis\n  - prophase\n\n| a/b | c |"
        );
        assert_eq!(extracted.pages[0].label.as_deref(), Some("slide 1"));
        assert_eq!(extracted.pages[1].number, 2);
        assert_eq!(extracted.pages[1].text, "Speaker notes: Say hello");
    }

    #[test]
    fn limits_stop_the_writing_as_soon_as_they_are_passed() {
        let limits = ExtractionLimits {
            max_pages: 2,
            max_chars: 30,
            max_page_chars: 20,
            ..ExtractionLimits::default()
        };
        let mut pages = Pages::new(&limits);
        assert!(matches!(
            pages.paragraph(&"x".repeat(25)),
            Err(ExtractError::OverLimit(OverLimit::PageChars {
                page: 1,
                ..
            }))
        ));
        let mut pages = Pages::new(&limits);
        pages.paragraph(&"x".repeat(15)).unwrap();
        pages.break_page().unwrap();
        assert!(matches!(
            pages.paragraph(&"y".repeat(15)),
            Err(ExtractError::OverLimit(OverLimit::Chars { more: true, .. }))
        ));
        let mut pages = Pages::new(&limits);
        pages.break_page().unwrap();
        assert!(matches!(
            pages.break_page(),
            Err(ExtractError::OverLimit(OverLimit::Pages {
                count: 3,
                limit: 2
            }))
        ));
    }
}
