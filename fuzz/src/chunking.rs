//! `text_pages` and `chunk_pages` as the ingestion worker runs them, and what they promise.
//!
//! The input's first byte picks the media type (bit 0: Markdown or plain text) and the chunk
//! settings (bit 1: the service's defaults, 200 tokens with 30 of overlap — what
//! `config/default.toml` sets — or a small budget, 16/4, that splits even short inputs many
//! times); the rest is the file, read as UTF-8 (lossily: the worker rejects invalid UTF-8 before
//! chunking, so only valid text reaches the chunker).

use std::sync::Arc;

use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::knowledge::{
    ApproximateTokens, ChunkId, ChunkSettings, Document, DocumentId, DocumentStatus, FileName,
    MediaType, TokenCounter, chunk_pages, text_pages,
};

fn document(media_type: MediaType) -> Document {
    Document {
        id: DocumentId::from_uuid(uuid::Uuid::from_u128(
            0x0193_0000_0000_7000_8000_0000_0000_0001,
        )),
        user_id: UserId::from_uuid(uuid::Uuid::from_u128(2)),
        chat_id: ChatId::from_uuid(uuid::Uuid::from_u128(3)),
        file_name: FileName::sanitize(Some("fuzz.md")),
        media_type,
        size_bytes: 0,
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

/// Splits `data` as described in the module docs and asserts every promise of the chunker.
pub fn check(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let media_type = if flags & 1 == 0 {
        MediaType::Text
    } else {
        MediaType::Markdown
    };
    let settings = if flags & 2 == 0 {
        ChunkSettings::default()
    } else {
        ChunkSettings {
            max_tokens: 16,
            overlap_tokens: 4,
        }
    };
    let text = String::from_utf8_lossy(rest);

    // text_pages: the parts between form feeds, numbered from 1, a leading BOM dropped.
    let pages = text_pages(&text);
    let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
    assert!(!pages.is_empty());
    for (i, page) in pages.iter().enumerate() {
        assert_eq!(page.number as usize, i + 1);
        assert!(!page.text.contains('\u{c}'));
    }
    let joined: Vec<&str> = pages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(joined.join("\u{c}"), body);

    // chunk_pages: deterministic ids in order, each chunk on its page, its character range
    // within that page and its text exactly that range, within the token budget.
    let doc = document(media_type);
    let counter: Arc<dyn TokenCounter> = Arc::new(ApproximateTokens);
    let chunks = chunk_pages(&doc, &pages, counter, settings, u32::MAX)
        .expect("no chunk limit is set");
    let page_chars: Vec<Vec<char>> = pages.iter().map(|p| p.text.chars().collect()).collect();
    let mut last_page = 1;
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk.index as usize, i);
        assert_eq!(chunk.id, ChunkId::derive(doc.id, i as u32));
        assert_eq!(chunk.document_id, doc.id);
        assert_eq!(chunk.user_id, doc.user_id);
        assert_eq!(chunk.chat_id, doc.chat_id);
        assert!(
            chunk.page >= 1 && chunk.page as usize <= pages.len(),
            "chunk {i} on page {} of {}",
            chunk.page,
            pages.len()
        );
        assert!(chunk.page >= last_page, "pages go forward");
        last_page = chunk.page;
        let chars = &page_chars[chunk.page as usize - 1];
        assert!(chunk.char_start <= chunk.char_end);
        assert!(
            chunk.char_end as usize <= chars.len(),
            "chunk {i} ends at {} of a {}-character page",
            chunk.char_end,
            chars.len()
        );
        let slice: String = chars[chunk.char_start as usize..chunk.char_end as usize]
            .iter()
            .collect();
        assert_eq!(
            slice, chunk.text,
            "chunk {i}'s text is its range of the page"
        );
        let tokens = ApproximateTokens.count(&chunk.text);
        assert!(
            tokens <= settings.max_tokens,
            "chunk {i} has {tokens} tokens, over {}",
            settings.max_tokens
        );
    }
}
