//! DOCX: the body of the main document part in order — paragraphs, headings (by style, also
//! through `word/styles.xml` names, `basedOn` chains and outline levels), list paragraphs,
//! tables row by row, content controls, hyperlinks, text boxes — with footnotes and endnotes
//! written at the end of the page that references them. Deleted text and field codes are
//! left out.
//!
//! Pages. Word does not store pages; a file records at most where pages broke:
//! - when Word saved the file, `w:lastRenderedPageBreak` marks where each page began in its
//!   last layout, explicit breaks included: those give the page numbers the reader saw
//!   ("p. N"), and explicit breaks are then not counted again;
//! - otherwise explicit breaks (`w:br w:type="page"`, `w:pageBreakBefore`, a section that
//!   starts on a new page) start pages ("p. N");
//! - a file with no break at all is split into sections at its outermost heading level, each
//!   labelled with its heading; text before the first heading is "section 1".

use std::collections::HashMap;

use flashforge_domain::knowledge::{ExtractError, Extracted, ExtractionLimits};

use super::render::{Pages, squash};
use super::xml::{self, Element};
use super::zipfs::Container;

/// Subtrees never read: formatting, deleted text, field codes, fallbacks of alternate content.
const SKIP: &[&str] = &[
    "w:rPr",
    "w:del",
    "w:delText",
    "w:moveFrom",
    "w:instrText",
    "w:delInstrText",
    "mc:Fallback",
    "w:tblPr",
    "w:tblGrid",
    "w:trPr",
    "w:tcPr",
    "w:bookmarkStart",
    "w:bookmarkEnd",
    "w:proofErr",
    "w:sdtPr",
    "w:sdtEndPr",
];

/// What a paragraph style makes of its paragraphs.
#[derive(Debug, Default, Clone)]
struct Style {
    name: String,
    based_on: Option<String>,
    outline: Option<usize>,
    list: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Title,
    Heading(usize),
    List(usize),
    Body,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paging {
    Rendered,
    Explicit,
    Sections(usize),
}

fn is_on(element: Option<&Element>) -> bool {
    element.is_some_and(|e| !matches!(e.attr("w:val"), Some("0" | "false" | "off")))
}

fn heading_level_of_name(name: &str) -> Option<usize> {
    let name = name.trim().to_lowercase();
    let level = name.strip_prefix("heading")?.trim();
    level.parse::<usize>().ok().filter(|l| (1..=9).contains(l))
}

fn styles_of(root: Option<&Element>) -> HashMap<String, Style> {
    let mut styles = HashMap::new();
    let Some(root) = root else {
        return styles;
    };
    for style in root.children_named("w:style") {
        if style.attr("w:type").is_some_and(|t| t != "paragraph") {
            continue;
        }
        let Some(id) = style.attr("w:styleId") else {
            continue;
        };
        let properties = style.child("w:pPr");
        let value = |e: Option<&Element>| e.and_then(|e| e.attr("w:val")).map(str::to_string);
        styles.insert(
            id.to_string(),
            Style {
                name: value(style.child("w:name")).unwrap_or_default(),
                based_on: value(style.child("w:basedOn")),
                outline: value(properties.and_then(|p| p.child("w:outlineLvl")))
                    .and_then(|v| v.parse::<usize>().ok()),
                list: properties.is_some_and(|p| p.child("w:numPr").is_some()),
            },
        );
    }
    styles
}

/// Footnotes or endnotes by id: the text of each real note.
fn notes_of(root: Option<&Element>, name: &str) -> HashMap<String, String> {
    let mut notes = HashMap::new();
    if let Some(root) = root {
        for note in root.children_named(name) {
            if note.attr("w:type").is_some_and(|t| t != "normal") {
                continue;
            }
            if let Some(id) = note.attr("w:id") {
                let mut text = String::new();
                collect_note(note, &mut text);
                notes.insert(id.to_string(), squash(&text));
            }
        }
    }
    notes
}

fn collect_note(element: &Element, out: &mut String) {
    for child in element.elements() {
        match child.name.as_str() {
            "w:t" => out.push_str(&child.text()),
            "w:tab" | "w:br" | "w:cr" => out.push(' '),
            "w:p" => {
                collect_note(child, out);
                out.push(' ');
            }
            _ => collect_note(child, out),
        }
    }
}

fn roman(mut n: usize) -> String {
    const DIGITS: &[(usize, &str)] = &[
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ];
    let mut out = String::new();
    for (value, digits) in DIGITS {
        while n >= *value {
            out.push_str(digits);
            n -= value;
        }
    }
    out
}

struct Writer<'a> {
    pages: Pages,
    styles: &'a HashMap<String, Style>,
    footnotes: &'a HashMap<String, String>,
    endnotes: &'a HashMap<String, String>,
    paging: Paging,
    pending: Vec<(String, String)>,
    footnote_count: usize,
    endnote_count: usize,
    first_title: Option<String>,
}

impl Writer<'_> {
    /// The kind of a paragraph, from its properties and its style.
    fn kind(&self, paragraph: &Element) -> Kind {
        let properties = paragraph.child("w:pPr");
        let style_id = properties
            .and_then(|p| p.child("w:pStyle"))
            .and_then(|s| s.attr("w:val"));
        let mut outline = properties
            .and_then(|p| p.child("w:outlineLvl"))
            .and_then(|o| o.attr("w:val"))
            .and_then(|v| v.parse::<usize>().ok());
        let mut list = properties.and_then(|p| p.child("w:numPr")).map(|n| {
            let numbered = n
                .child("w:numId")
                .and_then(|i| i.attr("w:val"))
                .is_none_or(|v| v != "0");
            let level = n
                .child("w:ilvl")
                .and_then(|i| i.attr("w:val"))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            (numbered, level)
        });
        let mut id = style_id.map(str::to_string);
        for _ in 0..12 {
            let Some(current) = id.take() else { break };
            let style = self.styles.get(&current);
            let name = style.map_or(current.as_str(), |s| s.name.as_str());
            if current == "Title" || name.eq_ignore_ascii_case("title") {
                return Kind::Title;
            }
            if let Some(level) = heading_level_of_name(name)
                .or_else(|| heading_level_of_name(&current.replace("Heading", "heading ")))
            {
                return Kind::Heading(level);
            }
            if let Some(style) = style {
                outline = outline.or(style.outline);
                if style.list && list.is_none() {
                    list = Some((true, 0));
                }
                id.clone_from(&style.based_on);
            }
        }
        match (outline, list) {
            (Some(level), _) if level < 9 => Kind::Heading(level + 1),
            (_, Some((true, level))) => Kind::List(level),
            _ => Kind::Body,
        }
    }

    fn write(&mut self, kind: Kind, text: &str) -> Result<(), ExtractError> {
        if !matches!(kind, Kind::List(_)) {
            self.pages.end_block()?;
        }
        match kind {
            Kind::Title => {
                if self.first_title.is_none() && !squash(text).is_empty() {
                    self.first_title = Some(squash(text));
                }
                self.pages.heading(1, text)
            }
            Kind::Heading(level) => self.pages.heading(level, text),
            Kind::List(depth) => self.pages.list_item(depth, text),
            Kind::Body => self.pages.paragraph(text),
        }
    }

    /// Writes the notes referenced on this page, then starts the next one.
    fn break_page(&mut self) -> Result<(), ExtractError> {
        self.flush_notes()?;
        self.pages.break_page()?;
        if !matches!(self.paging, Paging::Sections(_)) {
            let label = format!("p. {}", self.pages.number());
            self.pages.label(&label);
        }
        Ok(())
    }

    fn flush_notes(&mut self) -> Result<(), ExtractError> {
        self.pages.end_block()?;
        for (mark, text) in std::mem::take(&mut self.pending) {
            self.pages.footnote(&mark, &text)?;
        }
        Ok(())
    }

    fn block(&mut self, element: &Element, in_table: bool) -> Result<(), ExtractError> {
        match element.name.as_str() {
            "w:p" => self.paragraph(element, in_table),
            "w:tbl" => self.table(element),
            "w:pPr" | "w:sectPr" => Ok(()),
            "mc:AlternateContent" => match element.child("mc:Choice") {
                Some(choice) => self.blocks(choice, in_table),
                None => Ok(()),
            },
            _ => self.blocks(element, in_table),
        }
    }

    fn blocks(&mut self, element: &Element, in_table: bool) -> Result<(), ExtractError> {
        for child in element.elements() {
            self.block(child, in_table)?;
        }
        Ok(())
    }

    fn paragraph(&mut self, paragraph: &Element, in_table: bool) -> Result<(), ExtractError> {
        let kind = self.kind(paragraph);
        let properties = paragraph.child("w:pPr");
        if self.paging == Paging::Explicit
            && is_on(properties.and_then(|p| p.child("w:pageBreakBefore")))
            && !self.pages.page_is_empty()
        {
            self.break_page()?;
        }
        let starts_section = matches!(
            (self.paging, kind, in_table),
            (Paging::Sections(outer), Kind::Heading(level), false) if level == outer
        );
        if starts_section && !self.pages.page_is_empty() {
            self.break_page()?;
        }
        let mut text = String::new();
        self.inline(paragraph, kind, &mut text)?;
        if starts_section {
            self.pages.label(&text);
        }
        self.write(kind, &text)?;
        if self.paging == Paging::Explicit && properties.is_some_and(section_breaks_page) {
            self.break_page()?;
        }
        Ok(())
    }

    /// Collects the text of a paragraph's runs into `text`; a page break inside writes what
    /// came before it on the page it ends.
    fn inline(
        &mut self,
        element: &Element,
        kind: Kind,
        text: &mut String,
    ) -> Result<(), ExtractError> {
        for child in element.elements() {
            match child.name.as_str() {
                "w:t" => text.push_str(&child.text()),
                "w:tab" | "w:ptab" | "w:cr" => text.push(' '),
                "w:noBreakHyphen" => text.push('-'),
                "w:br" if child.attr("w:type") == Some("page") => {
                    if self.paging == Paging::Explicit {
                        self.write(kind, text)?;
                        text.clear();
                        self.break_page()?;
                    } else {
                        text.push(' ');
                    }
                }
                "w:br" => text.push(' '),
                "w:lastRenderedPageBreak" if self.paging == Paging::Rendered => {
                    self.write(kind, text)?;
                    text.clear();
                    if !(self.pages.number() == 1 && self.pages.page_is_empty()) {
                        self.break_page()?;
                    }
                }
                "w:footnoteReference" | "w:endnoteReference" => self.note_reference(child, text),
                "w:pPr" => {}
                "w:p" => {
                    self.inline(child, kind, text)?;
                    text.push(' ');
                }
                "mc:AlternateContent" => {
                    if let Some(choice) = child.child("mc:Choice") {
                        self.inline(choice, kind, text)?;
                    }
                }
                _ => self.inline(child, kind, text)?,
            }
        }
        Ok(())
    }

    fn note_reference(&mut self, reference: &Element, text: &mut String) {
        let footnote = reference.is("w:footnoteReference");
        let notes = if footnote {
            self.footnotes
        } else {
            self.endnotes
        };
        let Some(note) = reference.attr("w:id").and_then(|id| notes.get(id)) else {
            return;
        };
        let mark = if footnote {
            self.footnote_count += 1;
            self.footnote_count.to_string()
        } else {
            self.endnote_count += 1;
            roman(self.endnote_count)
        };
        text.push_str(&format!("[^{mark}]"));
        self.pending.push((mark, note.clone()));
    }

    fn table(&mut self, table: &Element) -> Result<(), ExtractError> {
        self.pages.end_block()?;
        for row in rows(table) {
            let cells: Vec<String> = cells(row)
                .into_iter()
                .map(|cell| {
                    let mut text = String::new();
                    cell_text(cell, &mut text);
                    text
                })
                .collect();
            self.pages.table_row(&cells)?;
        }
        self.pages.end_block()
    }
}

/// A paragraph whose properties end a section that starts on a new page.
fn section_breaks_page(properties: &Element) -> bool {
    properties.child("w:sectPr").is_some_and(|section| {
        !matches!(
            section.child("w:type").and_then(|t| t.attr("w:val")),
            Some("continuous" | "nextColumn")
        )
    })
}

/// The rows of a table, through content controls and custom XML.
fn rows(table: &Element) -> Vec<&Element> {
    let mut out = Vec::new();
    for child in table.elements() {
        match child.name.as_str() {
            "w:tr" => out.push(child),
            "w:tbl" => {}
            _ => out.extend(rows(child)),
        }
    }
    out
}

fn cells(row: &Element) -> Vec<&Element> {
    let mut out = Vec::new();
    for child in row.elements() {
        match child.name.as_str() {
            "w:tc" => out.push(child),
            "w:tr" | "w:tbl" => {}
            _ => out.extend(cells(child)),
        }
    }
    out
}

fn cell_text(element: &Element, out: &mut String) {
    for child in element.elements() {
        match child.name.as_str() {
            "w:t" => out.push_str(&child.text()),
            "w:tab" | "w:br" | "w:cr" => out.push(' '),
            "w:p" | "w:tr" | "w:tc" => {
                cell_text(child, out);
                out.push(' ');
            }
            _ => cell_text(child, out),
        }
    }
}

/// How the document is split into pages, and the outermost heading level used.
fn paging_of(body: &Element, writer: &Writer<'_>) -> Paging {
    if body.any(&|e| e.is("w:lastRenderedPageBreak")) {
        return Paging::Rendered;
    }
    let explicit = body.any(&|e| {
        (e.is("w:br") && e.attr("w:type") == Some("page"))
            || (e.is("w:pPr") && (is_on(e.child("w:pageBreakBefore")) || section_breaks_page(e)))
    });
    if explicit {
        return Paging::Explicit;
    }
    let mut outer = usize::MAX;
    outermost(body, writer, &mut outer);
    Paging::Sections(outer)
}

fn outermost(element: &Element, writer: &Writer<'_>, outer: &mut usize) {
    for child in element.elements() {
        match child.name.as_str() {
            "w:p" => {
                if let Kind::Heading(level) = writer.kind(child) {
                    *outer = (*outer).min(level);
                }
            }
            "w:tbl" => {}
            _ => outermost(child, writer, outer),
        }
    }
}

/// The text of a DOCX file, page by page (see the module notes), within `limits`.
pub fn extract(bytes: &[u8], limits: &ExtractionLimits) -> Result<Extracted, ExtractError> {
    let mut zip = Container::open(bytes, limits)?;
    let main = xml::main_part(&mut zip, "word/document.xml")?;
    let document = match xml::read_part(&mut zip, &main, SKIP)? {
        Some(document) => document,
        None => xml::require_part(&mut zip, "word/document.xml", SKIP)?,
    };
    let Some(body) = document.child("w:body") else {
        return Err(ExtractError::Malformed("the document has no body".into()));
    };
    let relationships = xml::relationships(&mut zip, &main)?;
    let part = |kind: &str, default: &str| {
        xml::target_of(&relationships, kind).unwrap_or_else(|| default.to_string())
    };
    let styles = xml::optional_part(&mut zip, &part("styles", "word/styles.xml"), SKIP)?;
    let styles = styles_of(styles.as_ref());
    let footnotes = xml::optional_part(&mut zip, &part("footnotes", "word/footnotes.xml"), SKIP)?;
    let footnotes = notes_of(footnotes.as_ref(), "w:footnote");
    let endnotes = xml::optional_part(&mut zip, &part("endnotes", "word/endnotes.xml"), SKIP)?;
    let endnotes = notes_of(endnotes.as_ref(), "w:endnote");
    let title = xml::dc_title(&mut zip, "docProps/core.xml")?;
    let mut writer = Writer {
        pages: Pages::new(limits),
        styles: &styles,
        footnotes: &footnotes,
        endnotes: &endnotes,
        paging: Paging::Explicit,
        pending: Vec::new(),
        footnote_count: 0,
        endnote_count: 0,
        first_title: None,
    };
    writer.paging = paging_of(body, &writer);
    let first_label = match writer.paging {
        Paging::Sections(_) => "section 1",
        _ => "p. 1",
    };
    writer.pages.label(first_label);
    writer.blocks(body, false)?;
    writer.flush_notes()?;
    writer.pages.title = title.or(writer.first_title.take());
    Ok(writer.pages.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::xml::testing::{survives_mutations, zip_of, zip_text};
    use flashforge_domain::knowledge::OverLimit;

    const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006""#;

    fn document(body: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><w:document {W}><w:body>{body}<w:sectPr/></w:body></w:document>"#
        )
    }

    fn p(style: &str, text: &str) -> String {
        let style = if style.is_empty() {
            String::new()
        } else {
            format!(r#"<w:pPr><w:pStyle w:val="{style}"/></w:pPr>"#)
        };
        format!(
            r#"<w:p>{style}<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">{text}</w:t></w:r></w:p>"#
        )
    }

    fn read(parts: &[(&str, &str)]) -> Extracted {
        extract(&zip_text(parts), &ExtractionLimits::default()).unwrap()
    }

    fn texts(extracted: &Extracted) -> Vec<(&str, &str)> {
        extracted
            .pages
            .iter()
            .map(|p| (p.label.as_deref().unwrap_or(""), p.text.as_str()))
            .collect()
    }

    #[test]
    fn structure_lists_tables_notes_and_skipped_text() {
        let body = format!(
            r#"{}{}<w:p><w:pPr><w:numPr><w:ilvl w:val="1"/><w:numId w:val="3"/></w:numPr></w:pPr><w:r><w:t>nested item</w:t></w:r></w:p>
            <w:p><w:r><w:t>Cells</w:t></w:r><w:r><w:tab/><w:t>divide</w:t><w:br/><w:t>often</w:t></w:r><w:del><w:r><w:delText>gone</w:delText></w:r></w:del><w:r><w:instrText>PAGE</w:instrText></w:r><w:r><w:footnoteReference w:id="2"/></w:r><w:hyperlink><w:r><w:t> link text</w:t></w:r></w:hyperlink></w:p>
            <w:sdt><w:sdtContent>{}</w:sdtContent></w:sdt>
            <w:tbl><w:tblPr/><w:tr><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p><w:p><w:r><w:t>b</w:t></w:r></w:p></w:tc><w:tc>{}</w:tc></w:tr></w:tbl>{}"#,
            p("Title", "The Cell"),
            p("berschrift1", "Intro"),
            p("", "in a control"),
            p("", "c"),
            p("Heading2", "Sub"),
        );
        let styles = format!(
            r#"<w:styles {W}><w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/></w:style></w:styles>"#
        );
        let notes = format!(
            r#"<w:footnotes {W}><w:footnote w:type="separator" w:id="0"><w:p><w:r><w:t>sep</w:t></w:r></w:p></w:footnote><w:footnote w:id="2"><w:p><w:r><w:footnoteRef/><w:t>A note.</w:t></w:r></w:p></w:footnote></w:footnotes>"#
        );
        let extracted = read(&[
            ("word/document.xml", &document(&body)),
            ("word/styles.xml", &styles),
            ("word/footnotes.xml", &notes),
        ]);
        assert_eq!(extracted.title.as_deref(), Some("The Cell"));
        assert_eq!(
            texts(&extracted),
            [
                ("section 1", "# The Cell"),
                (
                    "Intro",
                    "# Intro\n\n  - nested item\n\nCells divide often[^1] link text\n\nin a control\n\n| a b | c |\n\n## Sub\n\n[^1]: A note."
                )
            ]
        );
    }

    #[test]
    fn explicit_breaks_make_pages_with_notes_at_the_end_of_their_page() {
        let body = format!(
            r#"<w:p><w:r><w:t>one</w:t><w:footnoteReference w:id="1"/><w:br w:type="page"/><w:t>two</w:t></w:r></w:p><w:p><w:pPr><w:pageBreakBefore/></w:pPr><w:r><w:t>three</w:t><w:endnoteReference w:id="5"/></w:r></w:p>{}"#,
            p("Heading1", "Not a section")
        );
        let notes = format!(
            r#"<w:footnotes {W}><w:footnote w:id="1"><w:p><w:r><w:t>first</w:t></w:r></w:p></w:footnote></w:footnotes>"#
        );
        let ends = format!(
            r#"<w:endnotes {W}><w:endnote w:id="5"><w:p><w:r><w:t>last</w:t></w:r></w:p></w:endnote></w:endnotes>"#
        );
        let core = r#"<cp:coreProperties xmlns:cp="x" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Core title</dc:title></cp:coreProperties>"#;
        let extracted = read(&[
            ("word/document.xml", &document(&body)),
            ("word/footnotes.xml", &notes),
            ("word/endnotes.xml", &ends),
            ("docProps/core.xml", core),
        ]);
        assert_eq!(extracted.title.as_deref(), Some("Core title"));
        assert_eq!(
            texts(&extracted),
            [
                ("p. 1", "one[^1]\n\n[^1]: first"),
                ("p. 2", "two"),
                ("p. 3", "three[^i]\n\n# Not a section\n\n[^i]: last"),
            ]
        );
    }

    #[test]
    fn rendered_breaks_win_over_explicit_ones() {
        let body = r#"<w:p><w:r><w:t>one</w:t><w:br w:type="page"/></w:r></w:p><w:p><w:r><w:lastRenderedPageBreak/><w:t>two</w:t></w:r></w:p>"#;
        let extracted = read(&[("word/document.xml", &document(body))]);
        assert_eq!(texts(&extracted), [("p. 1", "one"), ("p. 2", "two")]);
    }

    #[test]
    fn without_breaks_the_outermost_headings_make_sections() {
        let body = [
            p("", "before"),
            p("Heading2", "A"),
            p("", "a text"),
            p("Heading2", "B"),
            p("Heading3", "B.1"),
        ]
        .concat();
        let extracted = read(&[("word/document.xml", &document(&body))]);
        assert_eq!(
            texts(&extracted),
            [
                ("section 1", "before"),
                ("A", "## A\n\na text"),
                ("B", "## B\n\n### B.1")
            ]
        );
        assert_eq!(extracted.pages[2].number, 3);
        let starts_with_heading = read(&[("word/document.xml", &document(&p("Heading1", "Only")))]);
        assert_eq!(texts(&starts_with_heading), [("Only", "# Only")]);
        let empty = read(&[("word/document.xml", &document(""))]);
        assert_eq!(empty.pages.len(), 1);
        assert_eq!(empty.pages[0].text, "");
    }

    #[test]
    fn limits_bombs_and_garbage() {
        let body = format!(
            "{}<w:p><w:r><w:br w:type=\"page\"/><w:br w:type=\"page\"/></w:r></w:p>",
            p("", "some words here")
        );
        let bytes = zip_text(&[("word/document.xml", &document(&body))]);
        let pages = ExtractionLimits {
            max_pages: 2,
            ..ExtractionLimits::default()
        };
        assert!(matches!(
            extract(&bytes, &pages),
            Err(ExtractError::OverLimit(OverLimit::Pages { .. }))
        ));
        let chars = ExtractionLimits {
            max_chars: 5,
            ..ExtractionLimits::default()
        };
        assert!(matches!(
            extract(&bytes, &chars),
            Err(ExtractError::OverLimit(OverLimit::Chars { .. }))
        ));
        let big = document(&" ".repeat(2_000_000));
        let bomb = zip_of(&[("word/document.xml", big.as_bytes())]);
        let small = ExtractionLimits {
            max_unpacked_bytes: 1_000_000,
            ..ExtractionLimits::default()
        };
        assert!(matches!(
            extract(&bomb, &small),
            Err(ExtractError::OverLimit(OverLimit::Unpacked { .. }))
        ));
        let limits = ExtractionLimits::default();
        assert!(matches!(
            extract(b"garbage", &limits),
            Err(ExtractError::Malformed(_))
        ));
        assert!(matches!(
            extract(&bytes[..bytes.len() / 2], &limits),
            Err(ExtractError::Malformed(_))
        ));
        let missing = zip_text(&[("word/other.xml", "<x/>")]);
        assert!(matches!(
            extract(&missing, &limits),
            Err(ExtractError::Malformed(_))
        ));
        let broken = zip_text(&[("word/document.xml", "<w:document><w:body><w:p>")]);
        assert!(matches!(
            extract(&broken, &limits),
            Err(ExtractError::Malformed(_))
        ));
    }

    #[test]
    fn mutated_files_never_panic() {
        let body = format!(
            r#"{}<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>item</w:t><w:footnoteReference w:id="1"/></w:r></w:p><w:tbl><w:tr><w:tc>{}</w:tc></w:tr></w:tbl>"#,
            p("Heading1", "Head"),
            p("", "cell")
        );
        let notes = format!(
            r#"<w:footnotes {W}><w:footnote w:id="1"><w:p><w:r><w:t>n</w:t></w:r></w:p></w:footnote></w:footnotes>"#
        );
        survives_mutations(
            &[
                ("word/document.xml", &document(&body)),
                ("word/footnotes.xml", &notes),
            ],
            extract,
        );
    }
}
