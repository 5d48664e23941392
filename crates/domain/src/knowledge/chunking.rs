//! Splitting a document's pages into chunks sized in the embedding model's tokens, with overlap,
//! along semantic boundaries (Markdown structure for Markdown, sentences and lines otherwise).

use std::sync::Arc;

use text_splitter::{ChunkConfig, ChunkSizer, MarkdownSplitter, TextSplitter};

use super::bounds::OverLimit;
use super::models::ExtractedPage;
use super::models::{Chunk, ChunkId, Document};
use super::ports::TokenCounter;

/// How chunks are sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSettings {
    /// The most tokens a chunk holds (the embedding model's input limit bounds it).
    pub max_tokens: usize,
    /// Tokens shared by neighbouring chunks.
    pub overlap_tokens: usize,
}

impl Default for ChunkSettings {
    fn default() -> Self {
        Self {
            max_tokens: 200,
            overlap_tokens: 30,
        }
    }
}

struct Sizer(Arc<dyn TokenCounter>);

impl ChunkSizer for Sizer {
    fn size(&self, chunk: &str) -> usize {
        self.0.count(chunk)
    }
}

/// Character offsets of byte offsets into one text, in any order.
///
/// text-splitter's `chunk_char_indices` assumes each chunk starts at or after the previous one
/// and panics ("Invalid byte sequence") when it does not — which happens with overlap and
/// trimming (found by fuzzing: tests/fixtures/fuzz/chunking/). Chunk starts can move back, so
/// this counts from the last offset in whichever direction the next one lies.
struct CharOffsets<'a> {
    text: &'a str,
    byte: usize,
    char: usize,
}

impl<'a> CharOffsets<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            byte: 0,
            char: 0,
        }
    }

    /// The character offset of `byte`, a char boundary of the text (a chunk's start).
    fn at(&mut self, byte: usize) -> usize {
        if byte >= self.byte {
            self.char += self.text[self.byte..byte].chars().count();
        } else {
            self.char -= self.text[byte..self.byte].chars().count();
        }
        self.byte = byte;
        self.char
    }
}

/// The headings of a page as Markdown marks them (`#` … `######` at a line's start, outside
/// fenced code), each with the heading path in force from its byte offset on.
struct HeadingPaths {
    /// Level and text of the headings in force, outermost first.
    stack: Vec<(usize, String)>,
}

impl HeadingPaths {
    /// The joined path in force, `None` before any heading.
    fn current(&self) -> Option<String> {
        (!self.stack.is_empty()).then(|| {
            self.stack
                .iter()
                .map(|(_, text)| text.as_str())
                .collect::<Vec<_>>()
                .join(" › ")
        })
    }

    /// Reads a page's headings: the byte offset of each and the path from there on. The stack
    /// carries on to the next page.
    fn scan(&mut self, text: &str) -> Vec<(usize, Option<String>)> {
        let mut found = Vec::new();
        let mut fenced = false;
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let trimmed = line.trim_start();
            if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                fenced = !fenced;
                continue;
            }
            if fenced || line.starts_with("    ") {
                continue;
            }
            let level = trimmed.chars().take_while(|c| *c == '#').count();
            let rest = &trimmed[level..];
            if !(1..=6).contains(&level) || !rest.starts_with([' ', '\t']) {
                continue;
            }
            let title: String = rest
                .trim()
                .trim_end_matches('#')
                .trim()
                .chars()
                .take(120)
                .collect();
            if title.is_empty() {
                continue;
            }
            self.stack.retain(|(l, _)| *l < level);
            self.stack.push((level, title));
            found.push((start, self.current()));
        }
        found
    }
}

/// Splits pages into chunks with deterministic ids, page numbers and labels, heading paths and
/// character ranges; stops with [`OverLimit::Chunks`] as soon as there would be more than
/// `max_chunks`.
pub fn chunk_pages(
    document: &Document,
    pages: &[ExtractedPage],
    counter: Arc<dyn TokenCounter>,
    settings: ChunkSettings,
    max_chunks: u32,
) -> Result<Vec<Chunk>, OverLimit> {
    let max = settings.max_tokens.max(1);
    let overlap = settings.overlap_tokens.min(max.saturating_sub(1));
    let config = || {
        ChunkConfig::new(max)
            .with_overlap(overlap)
            .unwrap_or_else(|_| ChunkConfig::new(max))
            .with_sizer(Sizer(counter.clone()))
    };
    let media = document.media_type;
    let markdown = MarkdownSplitter::new(config());
    let plain = TextSplitter::new(config());
    let mut headings = HeadingPaths { stack: Vec::new() };
    let mut chunks: Vec<Chunk> = Vec::new();
    for page in pages {
        let label = page
            .label
            .clone()
            .unwrap_or_else(|| media.default_label(page.number));
        let before = headings.current();
        let (pieces, marks): (Vec<(usize, &str)>, _) = if media.has_headings() {
            let marks = headings.scan(&page.text);
            (markdown.chunk_indices(&page.text).collect(), marks)
        } else {
            (plain.chunk_indices(&page.text).collect(), Vec::new())
        };
        let mut offsets = CharOffsets::new(&page.text);
        for (byte_offset, text) in pieces {
            if chunks.len() >= max_chunks as usize {
                return Err(OverLimit::Chunks { limit: max_chunks });
            }
            let heading = match marks.partition_point(|(at, _)| *at <= byte_offset) {
                0 => before.clone(),
                n => marks[n - 1].1.clone(),
            };
            let index = chunks.len() as u32;
            let char_start = offsets.at(byte_offset);
            chunks.push(Chunk {
                id: ChunkId::derive(document.id, index),
                document_id: document.id,
                user_id: document.user_id,
                chat_id: document.chat_id,
                index,
                page: page.number,
                page_label: Some(label.clone()),
                heading,
                char_start: char_start as u32,
                char_end: (char_start + text.chars().count()) as u32,
                text: text.to_string(),
            });
        }
    }
    Ok(chunks)
}

/// The pages of a text file: parts separated by form feeds, numbered from 1.
pub fn text_pages(text: &str) -> Vec<ExtractedPage> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\u{c}')
        .enumerate()
        .map(|(i, part)| ExtractedPage::new(i as u32 + 1, part))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::models::{DocumentId, DocumentStatus, FileName, MediaType};
    use crate::knowledge::ports::ApproximateTokens;

    fn document(media_type: MediaType) -> Document {
        Document {
            id: DocumentId::new(),
            user_id: crate::accounts::UserId::new(),
            chat_id: crate::chats::ChatId::new(),
            file_name: FileName::sanitize(Some("a")),
            media_type,
            size_bytes: 1,
            sha256: String::new(),
            status: DocumentStatus::Processing,
            error: None,
            pages_total: None,
            pages_done: 0,
            chunk_count: 0,
            title: None,
            language: None,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn chunks_respect_the_token_budget_and_keep_their_page_and_range() {
        let doc = document(MediaType::Text);
        let sentence = "Cells divide by mitosis into two identical daughter cells. ";
        let pages = text_pages(&format!(
            "{}\u{c}{}",
            sentence.repeat(40),
            sentence.repeat(3)
        ));
        let settings = ChunkSettings {
            max_tokens: 50,
            overlap_tokens: 20,
        };
        let chunks =
            chunk_pages(&doc, &pages, Arc::new(ApproximateTokens), settings, 1000).unwrap();
        assert!(chunks.len() > 3);
        for (i, chunk) in chunks.iter().enumerate() {
            assert_eq!(chunk.index as usize, i);
            assert_eq!(chunk.id, ChunkId::derive(doc.id, i as u32));
            assert!(ApproximateTokens.count(&chunk.text) <= 50, "{}", chunk.text);
            let page = &pages[chunk.page as usize - 1].text;
            let slice: String = page
                .chars()
                .skip(chunk.char_start as usize)
                .take((chunk.char_end - chunk.char_start) as usize)
                .collect();
            assert_eq!(slice, chunk.text);
        }
        assert_eq!(chunks.last().unwrap().page, 2);
        // Overlap: consecutive chunks of the long page share text.
        assert!(chunks[1].char_start < chunks[0].char_end);
        // Same input, same chunks.
        assert_eq!(
            chunks,
            chunk_pages(&doc, &pages, Arc::new(ApproximateTokens), settings, 1000).unwrap()
        );
        // One chunk fewer than it makes is refused, naming the limit.
        let limit = chunks.len() as u32 - 1;
        assert_eq!(
            chunk_pages(&doc, &pages, Arc::new(ApproximateTokens), settings, limit),
            Err(OverLimit::Chunks { limit })
        );
    }

    #[test]
    fn char_offsets_follow_byte_offsets_in_either_direction() {
        let text = "añb€c😀d";
        let starts: Vec<usize> = text.char_indices().map(|(byte, _)| byte).collect();
        let mut offsets = CharOffsets::new(text);
        for (char_index, byte) in starts.iter().enumerate().rev() {
            assert_eq!(offsets.at(*byte), char_index);
        }
        for (char_index, byte) in starts.iter().enumerate() {
            assert_eq!(offsets.at(*byte), char_index);
        }
        assert_eq!(offsets.at(text.len()), text.chars().count());
    }

    #[test]
    fn markdown_is_split_at_headings() {
        let doc = document(MediaType::Markdown);
        let text = format!(
            "# Cells\n\n{}\n\n# Genetics\n\n{}",
            "Cells are units of life. ".repeat(6),
            "Genes carry heredity. ".repeat(6)
        );
        let settings = ChunkSettings {
            max_tokens: 60,
            overlap_tokens: 0,
        };
        let chunks = chunk_pages(
            &doc,
            &text_pages(&text),
            Arc::new(ApproximateTokens),
            settings,
            100,
        )
        .unwrap();
        assert!(
            chunks.iter().any(|c| c.text.starts_with("# Genetics")),
            "{chunks:#?}"
        );
        let genetics = chunks
            .iter()
            .find(|c| c.text.starts_with("# Genetics"))
            .unwrap();
        assert_eq!(genetics.heading.as_deref(), Some("Genetics"));
        assert_eq!(chunks[0].heading.as_deref(), Some("Cells"));
        assert_eq!(chunks[0].page_label.as_deref(), Some("p. 1"));
    }

    #[test]
    fn heading_paths_nest_and_carry_over_to_the_next_page() {
        let mut doc = document(MediaType::Docx);
        doc.media_type = MediaType::Pptx;
        let pages = vec![
            ExtractedPage::new(1, "# Chapter 3\n\n## Mitochondria\n\nThey make ATP."),
            ExtractedPage::labelled(2, "Chapter 3 (cont.)", "More about the inner membrane."),
            ExtractedPage::new(3, "```\n# not a heading\n```\n# Chapter 4\n\nPlants."),
        ];
        let settings = ChunkSettings {
            max_tokens: 6,
            overlap_tokens: 0,
        };
        let chunks = chunk_pages(&doc, &pages, Arc::new(ApproximateTokens), settings, 100).unwrap();
        let atp = chunks.iter().find(|c| c.text.contains("ATP")).unwrap();
        assert_eq!(atp.heading.as_deref(), Some("Chapter 3 › Mitochondria"));
        assert_eq!(atp.page_label.as_deref(), Some("slide 1"));
        let inner = chunks.iter().find(|c| c.text.contains("inner")).unwrap();
        assert_eq!(inner.heading.as_deref(), Some("Chapter 3 › Mitochondria"));
        assert_eq!(inner.page_label.as_deref(), Some("Chapter 3 (cont.)"));
        let plants = chunks.iter().find(|c| c.text.contains("Plants")).unwrap();
        assert_eq!(plants.heading.as_deref(), Some("Chapter 4"));
        let fenced = chunks
            .iter()
            .find(|c| c.text.contains("not a heading"))
            .unwrap();
        assert_eq!(fenced.heading.as_deref(), Some("Chapter 3 › Mitochondria"));
    }

    #[test]
    fn formats_without_headings_have_no_heading_path() {
        let doc = document(MediaType::Pdf);
        let pages = vec![ExtractedPage::new(
            4,
            "# Looks like a heading\n\nbut PDFs have none.",
        )];
        let chunks = chunk_pages(
            &doc,
            &pages,
            Arc::new(ApproximateTokens),
            ChunkSettings::default(),
            100,
        )
        .unwrap();
        assert_eq!(chunks[0].heading, None);
        assert_eq!(chunks[0].page_label.as_deref(), Some("p. 4"));
    }
}
