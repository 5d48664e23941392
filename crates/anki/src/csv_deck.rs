//! Decks as CSV: a header row, then question, answer, space-separated tags and the note's type
//! per note — the file spreadsheets, Quizlet and Knowt read and write (they ignore the type). Cells that a spreadsheet would run as a
//! formula are written inert and read back as they were.

use flashforge_domain::flashcards::{DeckRow, Flashcard, Tag};

/// The notes of the cards as CSV: a header row, then question, answer, space-separated tags and
/// type (`basic`, `reversed`, `cloze`) per note — siblings make one row.
pub(crate) fn write(cards: &[Flashcard]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["question", "answer", "tags", "type"])?;
    let mut written = std::collections::HashSet::new();
    for card in cards {
        if !written.insert(card.note.id) {
            continue;
        }
        let tags: Vec<&str> = card.tags.iter().map(Tag::as_str).collect();
        writer.write_record([
            inert_cell(card.question.as_str()).as_ref(),
            inert_cell(card.answer.as_str()).as_ref(),
            inert_cell(&tags.join(" ")).as_ref(),
            card.note.kind.as_str(),
        ])?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// The first characters that make a spreadsheet read a cell as a formula (OWASP, CSV
/// injection).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell a spreadsheet shows as text: one that would start a formula gets a leading `'`.
fn inert_cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// A cell as exported by [`inert_cell`], back to what it was.
fn imported_cell(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => text,
    }
}

/// The rows of a CSV file, or why it is not a deck; reading stops after `limit + 1` rows.
pub(crate) fn read(body: &[u8], limit: usize) -> Result<Vec<DeckRow>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| format!("is not CSV: {e}"))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(question), Some(answer)) = (column("question"), column("answer")) else {
        return Err("needs a header row with `question` and `answer` columns".into());
    };
    let tags = column("tags");
    let kind = column("type");
    let mut rows = Vec::new();
    for record in reader.records() {
        if rows.len() > limit {
            // Enough to refuse it; the rest is not read.
            break;
        }
        let record = record.map_err(|e| format!("is not valid CSV: {e}"))?;
        let cell = |i: usize| imported_cell(record.get(i).unwrap_or_default()).to_string();
        rows.push(DeckRow {
            question: cell(question),
            answer: cell(answer),
            tags: tags
                .map(|i| cell(i).split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            kind: kind.map(cell).unwrap_or_default(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_written_inert_and_read_back_as_they_were() {
        for text in ["=1+1", "+x", "-y", "@z", "\tt", "plain", "'quoted"] {
            assert_eq!(imported_cell(&inert_cell(text)), text, "{text:?}");
        }
        assert_eq!(inert_cell("=1+1"), "'=1+1");
    }

    #[test]
    fn reading_stops_after_one_row_too_many_and_names_missing_columns() {
        let mut file = String::from("question,answer\n");
        for i in 0..10 {
            file.push_str(&format!("q{i},a{i}\n"));
        }
        assert_eq!(read(file.as_bytes(), 3).unwrap().len(), 4);
        let why = read(b"front,back\nq,a\n", 10).unwrap_err();
        assert!(why.contains("`question` and `answer`"), "{why}");
        let rows = read(b"Question , Answer,tags\nq,a,x y\n", 10).unwrap();
        assert_eq!(rows[0].tags, ["x", "y"]);
    }
}
