//! RTF documents, read by a small reader of our own: one pass over the bytes, groups kept on
//! an explicit stack (never recursion, and at most [`MAX_DEPTH`] deep), so no file can exhaust
//! the stack.
//!
//! - **Text**: literal text and `\'hh` bytes are decoded together in the document's code page
//!   (`\ansicpgN`, `\mac`; windows-1252 by default), so multi-byte code pages work; `\uN` is
//!   read as a signed 16-bit unit (surrogate pairs joined) and its `\ucN` fallback skipped;
//!   `\~`, `\_`, `\-`, `\tab`, quotes and dashes are what they stand for; `\binN` data is
//!   jumped over.
//! - **Skipped**: `\*` destinations and the tables, pictures, objects, headers and footers,
//!   field instructions (the field result is kept), theme and list data. The `\info` group is
//!   skipped but for its `\title`, the document's title.
//! - **Structure**: `\par`, `\line` and `\sect` end paragraphs; paragraphs in a style named
//!   "heading N" in the stylesheet (or with `\outlinelevelN`) are headings; list paragraphs
//!   (`\ls`, `\ilvl`) are list items; `\cell` and `\row` make table rows; `{\footnote …}` is
//!   written as a footnote at the end of the page it is on, its mark `[^N]` left in the text.
//! - **Pages**: `\page` breaks pages, labelled "p. N". A document without page breaks is split
//!   into sections at its level 1 and 2 headings like a web page (labelled with the heading,
//!   "section N" before the first); without headings either it is one page, "p. 1".
//! - Braces left open at the end are tolerated; text after the closing brace of the document
//!   is ignored.

use std::collections::HashMap;

use encoding_rs::Encoding;
use flashforge_domain::knowledge::{ExtractError, Extracted, ExtractionLimits};

use super::render::{Pages, squash};

/// The deepest nesting of groups read; deeper is refused as malformed.
pub const MAX_DEPTH: usize = 1_000;

/// Destinations whose text is never read.
const SKIPPED: &[&str] = &[
    "fonttbl",
    "colortbl",
    "pict",
    "object",
    "objdata",
    "header",
    "headerl",
    "headerr",
    "headerf",
    "footer",
    "footerl",
    "footerr",
    "footerf",
    "fldinst",
    "themedata",
    "colorschememapping",
    "datastore",
    "xmlnstbl",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "filetbl",
    "revtbl",
    "latentstyles",
    "pgdsctbl",
    "nonshppict",
    "shpinst",
    "template",
    "userprops",
    "docvar",
    "xe",
    "tc",
    "tcn",
    "ftnsep",
    "ftnsepc",
    "ftncn",
    "aftnsep",
    "aftnsepc",
    "aftncn",
    "annotation",
    "atnid",
    "atnauthor",
    "pntext",
    "pntxta",
    "pntxtb",
    "listtext",
    "protusertbl",
    "bkmkstart",
    "bkmkend",
    "falt",
    "mmathPr",
    "passwordhash",
];

/// Where the text of a group goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    Main,
    Footnote,
    Info,
    Title,
    Stylesheet,
    StyleEntry,
    Skip,
}

/// What a group's closing brace finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    Footnote,
    StyleEntry,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    dest: Dest,
    /// Fallback characters after `\uN`.
    uc: usize,
    special: Option<Special>,
}

/// A style of the stylesheet being read.
#[derive(Debug, Default)]
struct StyleEntry {
    number: Option<i32>,
    outline: Option<usize>,
    name: String,
}

/// The properties of the paragraph being read.
#[derive(Debug, Default, Clone, Copy)]
struct Paragraph {
    style: i32,
    outline: Option<usize>,
    list: Option<usize>,
    in_table: bool,
}

/// A document's text within `limits`.
pub fn extract(bytes: &[u8], limits: &ExtractionLimits) -> Result<Extracted, ExtractError> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace() && !matches!(b, 0xef | 0xbb | 0xbf))
        .unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    if !bytes.starts_with(b"{\\rtf") {
        return Err(ExtractError::Malformed("not an RTF document".into()));
    }
    let mut reader = Reader::new(limits, !has_page_breaks(bytes));
    reader.run(bytes)?;
    reader.finish()
}

/// Whether `\page` occurs anywhere.
fn has_page_breaks(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'\\') {
                i += 2;
                continue;
            }
            if bytes[i + 1..].starts_with(b"page")
                && !bytes.get(i + 5).is_some_and(u8::is_ascii_alphabetic)
            {
                return true;
            }
        }
        i += 1;
    }
    false
}

/// The encoding of Windows code page `number`.
fn code_page(number: i32) -> Option<&'static Encoding> {
    match number {
        65001 => Some(encoding_rs::UTF_8),
        932 => Some(encoding_rs::SHIFT_JIS),
        936 => Some(encoding_rs::GBK),
        949 => Some(encoding_rs::EUC_KR),
        950 => Some(encoding_rs::BIG5),
        10000 => Some(encoding_rs::MACINTOSH),
        20866 => Some(encoding_rs::KOI8_R),
        21866 => Some(encoding_rs::KOI8_U),
        28591..=28605 => Encoding::for_label(format!("iso-8859-{}", number - 28590).as_bytes()),
        _ => Encoding::for_label(format!("windows-{number}").as_bytes()),
    }
}

/// A symbol a control word stands for.
fn symbol(word: &str) -> Option<&'static str> {
    Some(match word {
        "tab" | "emspace" | "enspace" | "qmspace" => " ",
        "emdash" => "\u{2014}",
        "endash" => "\u{2013}",
        "bullet" => "\u{2022}",
        "lquote" => "\u{2018}",
        "rquote" => "\u{2019}",
        "ldblquote" => "\u{201c}",
        "rdblquote" => "\u{201d}",
        "zwj" => "\u{200d}",
        "zwnj" => "\u{200c}",
        _ => return None,
    })
}

struct Reader {
    pages: Pages,
    stack: Vec<Group>,
    group: Group,
    encoding: &'static Encoding,
    /// Text bytes not decoded yet; they belong to the current group.
    pending: Vec<u8>,
    /// Fallback characters of a `\uN` still to skip.
    fallback: usize,
    high_surrogate: Option<u16>,
    text: String,
    paragraph: Paragraph,
    cells: Vec<String>,
    footnote: String,
    footnotes: Vec<(String, String)>,
    footnote_count: usize,
    title: String,
    styles: HashMap<i32, usize>,
    style: StyleEntry,
    /// Split at headings (there are no page breaks).
    sections: bool,
    page_has_body: bool,
    page_labelled: bool,
    after_table: bool,
}

impl Reader {
    fn new(limits: &ExtractionLimits, sections: bool) -> Self {
        let top = Group {
            dest: Dest::Main,
            uc: 1,
            special: None,
        };
        Self {
            pages: Pages::new(limits),
            stack: Vec::new(),
            group: top,
            encoding: encoding_rs::WINDOWS_1252,
            pending: Vec::new(),
            fallback: 0,
            high_surrogate: None,
            text: String::new(),
            paragraph: Paragraph::default(),
            cells: Vec::new(),
            footnote: String::new(),
            footnotes: Vec::new(),
            footnote_count: 0,
            title: String::new(),
            styles: HashMap::new(),
            style: StyleEntry::default(),
            sections,
            page_has_body: false,
            page_labelled: false,
            after_table: false,
        }
    }

    /// Reads the document from its opening brace.
    fn run(&mut self, bytes: &[u8]) -> Result<(), ExtractError> {
        let mut i = 0;
        // The document's own group is the first brace; it is the bottom of the stack.
        let mut opened = false;
        while i < bytes.len() {
            let b = bytes[i];
            i += 1;
            match b {
                b'{' => {
                    if opened {
                        self.open_group()?;
                    }
                    opened = true;
                }
                b'}' => {
                    if self.close_group()? {
                        return Ok(());
                    }
                }
                b'\\' => i = self.control_at(bytes, i)?,
                b'\r' | b'\n' | 0 => {}
                b'\t' => self.literal(b' '),
                _ => self.literal(b),
            }
        }
        Ok(())
    }

    /// Reads the control word or symbol after a backslash at `i`; the index after it.
    fn control_at(&mut self, bytes: &[u8], mut i: usize) -> Result<usize, ExtractError> {
        let Some(&first) = bytes.get(i) else {
            return Ok(i);
        };
        if !first.is_ascii_alphabetic() {
            i += 1;
            match first {
                b'\'' => {
                    let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
                    if let (Some(h), Some(l)) = (hex(bytes.get(i)), hex(bytes.get(i + 1))) {
                        self.literal((h * 16 + l) as u8);
                        i += 2;
                    }
                }
                b'\\' | b'{' | b'}' => self.literal(first),
                b'\r' | b'\n' => self.word("par", None)?,
                b'~' => self.symbol_text("\u{a0}"),
                b'_' => self.symbol_text("\u{2011}"),
                b'-' => self.symbol_text(""),
                b'*' => {
                    self.flush_bytes();
                    self.group.dest = Dest::Skip;
                }
                _ => self.symbol_text(""),
            }
            return Ok(i);
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let word = String::from_utf8_lossy(&bytes[start..i.min(start + 32)]).into_owned();
        let negative =
            bytes.get(i) == Some(&b'-') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        if negative {
            i += 1;
        }
        let digits = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let param = (i > digits).then(|| {
            let value = bytes[digits..i.min(digits + 10)]
                .iter()
                .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
            let value = if negative { -value } else { value };
            value.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
        });
        if bytes.get(i) == Some(&b' ') {
            i += 1;
        }
        if word == "bin" {
            // Binary data: the parameter says how many bytes to jump over.
            let skip = param.unwrap_or(0).max(0) as usize;
            self.flush_bytes();
            return Ok(i.saturating_add(skip).min(bytes.len()));
        }
        self.word(&word, param)?;
        Ok(i)
    }

    /// A byte of text: literal, `\'hh`, or an escaped brace or backslash.
    fn literal(&mut self, byte: u8) {
        if self.fallback > 0 {
            self.fallback -= 1;
            return;
        }
        if matches!(self.group.dest, Dest::Skip | Dest::Info | Dest::Stylesheet) {
            // Picture data and the like: never decoded, never kept.
            return;
        }
        if self.high_surrogate.take().is_some() {
            self.put("\u{fffd}");
        }
        self.pending.push(byte);
    }

    /// The text of a control symbol (or nothing), which counts as one fallback character.
    fn symbol_text(&mut self, text: &str) {
        self.flush_bytes();
        if self.fallback > 0 {
            self.fallback -= 1;
            return;
        }
        self.put(text);
    }

    fn flush_bytes(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let bytes = std::mem::take(&mut self.pending);
        let (text, _) = self.encoding.decode_without_bom_handling(&bytes);
        self.put(&text);
    }

    /// Text for the current destination.
    fn put(&mut self, text: &str) {
        match self.group.dest {
            Dest::Main => self.text.push_str(text),
            Dest::Footnote => self.footnote.push_str(text),
            Dest::Title => self.title.push_str(text),
            Dest::StyleEntry => self.style.name.push_str(text),
            Dest::Info | Dest::Stylesheet | Dest::Skip => {}
        }
    }

    fn open_group(&mut self) -> Result<(), ExtractError> {
        self.flush_bytes();
        self.fallback = 0;
        if self.stack.len() >= MAX_DEPTH {
            return Err(ExtractError::Malformed(format!(
                "groups nested more than {MAX_DEPTH} deep"
            )));
        }
        self.stack.push(self.group);
        let (dest, special) = match self.group.dest {
            Dest::Stylesheet => (Dest::StyleEntry, Some(Special::StyleEntry)),
            other => (other, None),
        };
        if special == Some(Special::StyleEntry) {
            self.style = StyleEntry {
                number: Some(0),
                ..StyleEntry::default()
            };
        }
        self.group = Group {
            dest,
            uc: self.group.uc,
            special,
        };
        Ok(())
    }

    /// Closes a group; `true` when it was the document's own.
    fn close_group(&mut self) -> Result<bool, ExtractError> {
        self.flush_bytes();
        self.fallback = 0;
        let closed = self.group;
        let Some(parent) = self.stack.pop() else {
            return Ok(true);
        };
        self.group = parent;
        match closed.special {
            Some(Special::Footnote) => {
                self.footnote_count += 1;
                let text = std::mem::take(&mut self.footnote);
                self.footnotes.push((self.footnote_count.to_string(), text));
            }
            Some(Special::StyleEntry) => {
                let entry = std::mem::take(&mut self.style);
                if let Some(number) = entry.number
                    && let Some(level) = entry.outline.or_else(|| heading_level(&entry.name))
                {
                    self.styles.insert(number, level);
                }
            }
            None => {}
        }
        Ok(false)
    }

    /// A control word with its parameter.
    fn word(&mut self, word: &str, param: Option<i32>) -> Result<(), ExtractError> {
        self.flush_bytes();
        if word == "u" {
            if let Some(value) = param {
                self.unicode(value);
            }
            return Ok(());
        }
        if self.fallback > 0 {
            self.fallback -= 1;
            return Ok(());
        }
        if self.destination(word) {
            return Ok(());
        }
        if let Some(text) = symbol(word) {
            self.put(text);
            return Ok(());
        }
        let dest = self.group.dest;
        match (word, dest) {
            ("uc", _) => self.group.uc = param.unwrap_or(1).clamp(0, 16) as usize,
            ("ansicpg", _) => {
                if let Some(encoding) = param.and_then(code_page) {
                    self.encoding = encoding;
                }
            }
            ("mac", _) => self.encoding = encoding_rs::MACINTOSH,
            ("par" | "line" | "sect", Dest::Main) => self.end_paragraph()?,
            ("par" | "line", Dest::Footnote | Dest::Title) => self.put(" "),
            ("page", Dest::Main) => {
                self.end_paragraph()?;
                self.end_page()?;
            }
            ("pard", Dest::Main) => self.paragraph = Paragraph::default(),
            ("s", Dest::Main) => self.paragraph.style = param.unwrap_or(0),
            ("s", Dest::StyleEntry) => self.style.number = Some(param.unwrap_or(0)),
            ("cs" | "ds" | "ts", Dest::StyleEntry) => self.style.number = None,
            ("outlinelevel", Dest::Main) => self.paragraph.outline = outline(param),
            ("outlinelevel", Dest::StyleEntry) => self.style.outline = outline(param),
            ("ls", Dest::Main) => {
                self.paragraph.list = Some(self.paragraph.list.unwrap_or(0));
            }
            ("ilvl", Dest::Main) => {
                self.paragraph.list = Some(param.unwrap_or(0).clamp(0, 8) as usize);
            }
            ("intbl", Dest::Main) => self.paragraph.in_table = true,
            ("cell", Dest::Main) => {
                let cell = std::mem::take(&mut self.text);
                self.cells.push(cell);
            }
            ("nestcell" | "cell", _) => self.put(" "),
            ("row", Dest::Main) => self.end_row()?,
            ("chftn", Dest::Main) => {
                let mark = format!("[^{}]", self.footnote_count + 1);
                self.put(&mark);
            }
            _ => {}
        }
        Ok(())
    }

    /// Handles a destination word; `false` when `word` is none.
    fn destination(&mut self, word: &str) -> bool {
        let dest = self.group.dest;
        let new = match word {
            "footnote" if dest == Dest::Main => {
                self.group.special = Some(Special::Footnote);
                self.footnote.clear();
                Dest::Footnote
            }
            "footnote" => Dest::Skip,
            "info" => Dest::Info,
            "title" if dest == Dest::Info => {
                self.title.clear();
                Dest::Title
            }
            "stylesheet" => Dest::Stylesheet,
            _ if SKIPPED.contains(&word) => Dest::Skip,
            _ => return false,
        };
        if dest != Dest::Skip {
            self.group.dest = new;
        }
        true
    }

    /// `\uN`: a UTF-16 unit, then its fallback characters skipped.
    fn unicode(&mut self, value: i32) {
        let unit = i64::from(value).rem_euclid(65_536) as u16;
        self.fallback = self.group.uc;
        match unit {
            0xd800..=0xdbff => {
                if self.high_surrogate.replace(unit).is_some() {
                    self.put("\u{fffd}");
                }
            }
            0xdc00..=0xdfff => {
                let text = match self.high_surrogate.take() {
                    Some(high) => char::decode_utf16([high, unit])
                        .next()
                        .and_then(Result::ok)
                        .unwrap_or('\u{fffd}'),
                    None => '\u{fffd}',
                };
                self.put(&text.to_string());
            }
            0 => {}
            _ => {
                if self.high_surrogate.take().is_some() {
                    self.put("\u{fffd}");
                }
                let c = char::from_u32(u32::from(unit)).unwrap_or('\u{fffd}');
                self.put(&c.to_string());
            }
        }
    }

    /// The level of the paragraph being read if it is a heading.
    fn heading(&self) -> Option<usize> {
        self.paragraph
            .outline
            .or_else(|| self.styles.get(&self.paragraph.style).copied())
    }

    fn end_paragraph(&mut self) -> Result<(), ExtractError> {
        if self.paragraph.in_table {
            self.text.push(' ');
            return Ok(());
        }
        let text = squash(&std::mem::take(&mut self.text));
        if text.is_empty() {
            return Ok(());
        }
        if self.after_table {
            self.pages.end_block()?;
            self.after_table = false;
        }
        if let Some(level) = self.heading() {
            return self.write_heading(level, &text);
        }
        self.page_has_body = true;
        match self.paragraph.list {
            Some(depth) => self.pages.list_item(depth, &text),
            None => {
                self.pages.end_block()?;
                self.pages.paragraph(&text)
            }
        }
    }

    fn write_heading(&mut self, level: usize, text: &str) -> Result<(), ExtractError> {
        if self.sections && level <= 2 {
            if self.page_has_body {
                self.end_page()?;
            }
            if !self.page_labelled {
                self.pages.label(text);
                self.page_labelled = true;
            }
        }
        self.pages.end_block()?;
        self.pages.heading(level, text)
    }

    fn end_row(&mut self) -> Result<(), ExtractError> {
        if self.cells.is_empty() && !self.paragraph.in_table {
            return Ok(());
        }
        let rest = std::mem::take(&mut self.text);
        if !rest.trim().is_empty() {
            self.cells.push(rest);
        }
        let cells = std::mem::take(&mut self.cells);
        if cells.iter().any(|c| !c.trim().is_empty()) {
            if !self.after_table {
                self.pages.end_block()?;
            }
            self.pages.table_row(&cells)?;
            self.after_table = true;
            self.page_has_body = true;
        }
        Ok(())
    }

    fn write_footnotes(&mut self) -> Result<(), ExtractError> {
        if self.footnotes.is_empty() {
            return Ok(());
        }
        self.pages.end_block()?;
        for (mark, text) in std::mem::take(&mut self.footnotes) {
            self.pages.footnote(&mark, &text)?;
        }
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), ExtractError> {
        self.end_row()?;
        self.write_footnotes()?;
        self.pages.break_page()?;
        self.page_has_body = false;
        self.page_labelled = false;
        self.after_table = false;
        Ok(())
    }

    fn finish(mut self) -> Result<Extracted, ExtractError> {
        self.flush_bytes();
        self.end_row()?;
        self.paragraph.in_table = false;
        self.end_paragraph()?;
        self.write_footnotes()?;
        let title = squash(&self.title);
        self.pages.title = (!title.is_empty()).then_some(title);
        let sections = self.sections;
        let mut extracted = self.pages.finish();
        let count = extracted.pages.len();
        for page in &mut extracted.pages {
            if page.label.is_none() {
                page.label = Some(if sections && count > 1 {
                    format!("section {}", page.number)
                } else {
                    format!("p. {}", page.number)
                });
            }
        }
        Ok(extracted)
    }
}

fn outline(param: Option<i32>) -> Option<usize> {
    // Level 9 is body text.
    param
        .filter(|level| (0..6).contains(level))
        .map(|level| level as usize + 1)
}

/// The level of a style named "heading N" (any case).
fn heading_level(name: &str) -> Option<usize> {
    let name = name
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let level: usize = name.strip_prefix("heading")?.trim().parse().ok()?;
    (1..=6).contains(&level).then_some(level)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(rtf: &str) -> Extracted {
        extract(rtf.as_bytes(), &ExtractionLimits::default()).unwrap()
    }

    const NOTES: &str = r#"{\rtf1\ansi\ansicpg1252\deff0\uc1
{\fonttbl{\f0\froman\fcharset0 Times New Roman fontwordzz;}}
{\colortbl;\red0\green0\blue0;}
{\stylesheet{\s0 Normal;}{\s1\b heading 1;}{\s2 Heading 2;}{\*\cs10 Default Paragraph Font;}}
{\info{\title Plate \'c9tudes}{\author infowordzz}}
{\header headerwordzz\par}
\pard\plain\s1 Drift\par
\pard\plain\s0 Caf\'e9 na\'efve \u8217? and \u-3913? ok\u55357\u56832?.{\super\chftn}{\footnote\pard {\super\chftn} A note.}\par
\pard{\field{\*\fldinst HYPERLINK "http://x.invalid"}{\fldrslt link text}}\par
{\*\shppict{\pict\pngblip 89504e47}}{\pict\wmetafile8 0100090000}\par
\page
\pard\s2 Table\par
\trowd\cellx3000\cellx6000
\pard\intbl A\cell \pard\intbl B\cell\row
\trowd\cellx3000\cellx6000
\pard\intbl 1\cell \pard\intbl two\par lines\cell\row
\pard After\~the\_table\-s\tab end\par
\pard\ls1\ilvl0 item one\par
\pard\ls1\ilvl1 item two\par
\pard Back \{braces\} \\ done\par
}"#;

    #[test]
    fn text_pages_tables_and_footnotes_are_read() {
        let extracted = read(NOTES);
        assert_eq!(extracted.title.as_deref(), Some("Plate Études"));
        assert_eq!(extracted.pages.len(), 2);
        let one = &extracted.pages[0];
        assert_eq!(one.label.as_deref(), Some("p. 1"));
        assert_eq!(
            one.text,
            "# Drift\n\nCafé naïve \u{2019} and \u{f0b7} ok\u{1f600}.[^1]\n\nlink text\n\n\
             [^1]: A note."
        );
        let two = &extracted.pages[1];
        assert_eq!(two.label.as_deref(), Some("p. 2"));
        assert_eq!(
            two.text,
            "## Table\n\n| A | B |\n| 1 | two lines |\n\nAfter the\u{2011}tables end\n\n\
             - item one\n  - item two\n\nBack {braces} \\ done"
        );
        for page in &extracted.pages {
            for absent in [
                "fontwordzz",
                "infowordzz",
                "headerwordzz",
                "HYPERLINK",
                "8950",
                "0100",
                "Normal",
                "Default",
            ] {
                assert!(!page.text.contains(absent), "{absent} in {}", page.text);
            }
        }
    }

    #[test]
    fn code_pages_and_unicode_fallbacks_decode() {
        let text = all(&read(
            r"{\rtf1\ansi\ansicpg1251 \'CA\'EB\'E5\'F2\'EA\'E0 {\uc2\u1046\'3f\'3f}x\uc0\u1046 y}",
        ));
        assert_eq!(text, "Клетка ЖxЖy");
        let text = all(&read(r"{\rtf1\ansi\ansicpg932 \'82\'a0\'82\'a2}"));
        assert_eq!(text, "あい");
        let text = all(&read(r"{\rtf1\ansi \'e9\u233\'e9 \uc1\u233 ?x}"));
        assert_eq!(text, "éé éx");
    }

    #[test]
    fn without_page_breaks_headings_make_sections() {
        let rtf = r"{\rtf1{\stylesheet{\s1 heading 1;}{\s3\outlinelevel2 Sub;}}
\pard Intro.\par\pard\s1 First\par\pard\s0 Body.\par\pard\s3 Deep\par\pard\s0 More.\par
\pard\outlinelevel0 Second\par\pard Body two.\par}";
        let extracted = read(rtf);
        let labels: Vec<_> = extracted
            .pages
            .iter()
            .map(|p| p.label.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(labels, ["section 1", "First", "Second"]);
        assert_eq!(
            extracted.pages[1].text,
            "# First\n\nBody.\n\n### Deep\n\nMore."
        );
        let plain = read(r"{\rtf1 Just text.\par}");
        assert_eq!(plain.pages.len(), 1);
        assert_eq!(plain.pages[0].label.as_deref(), Some("p. 1"));
        assert_eq!(plain.title, None);
    }

    fn all(extracted: &Extracted) -> String {
        extracted
            .pages
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn deep_nesting_is_malformed_and_truncation_is_tolerated() {
        let deep = format!("{{\\rtf1 {}x", "{".repeat(100_000));
        assert!(matches!(
            extract(deep.as_bytes(), &ExtractionLimits::default()),
            Err(ExtractError::Malformed(_))
        ));
        let ok = format!("{{\\rtf1 {}x", "{".repeat(500));
        assert_eq!(all(&read(&ok)), "x");
        assert_eq!(
            all(&read(r"{\rtf1 Cut off in the mid")),
            "Cut off in the mid"
        );
        assert_eq!(all(&read(r"{\rtf1 A\'e")), "Ae");
        assert_eq!(all(&read(r"{\rtf1 A\u")), "A");
        assert_eq!(all(&read(r"{\rtf1 A\bin999999 BBB}")), "A");
        assert!(matches!(
            extract(b"not rtf", &ExtractionLimits::default()),
            Err(ExtractError::Malformed(_))
        ));
    }

    #[test]
    fn limits_apply_while_reading() {
        let limits = ExtractionLimits {
            max_pages: 2,
            ..ExtractionLimits::default()
        };
        assert!(matches!(
            extract(br"{\rtf1 a\page b\page c}", &limits),
            Err(ExtractError::OverLimit(_))
        ));
    }

    #[test]
    fn mutated_documents_never_panic() {
        crate::formats::xml::testing::survives_byte_mutations(NOTES.as_bytes(), extract);
    }
}
