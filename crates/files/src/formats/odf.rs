//! OpenDocument text (ODT) and presentations (ODP), from `content.xml`.
//!
//! ODT: the body in order — headings (`text:h` at their outline level), paragraphs, lists
//! (depth by nesting), tables row by row, sections; footnotes and endnotes are written at the
//! end of the page that cites them, not inside the paragraph (a `[^mark]` stays where they are
//! cited). Tracked changes and annotations are left out. Pages: `text:soft-page-break` (where
//! the last layout broke pages) and paragraphs or tables whose style (automatic or common,
//! through parent styles) breaks the page before or after them start pages labelled "p. N";
//! a document with no break at all is split into sections at its outermost heading level, as
//! for DOCX ("section 1" for text before the first heading, then each heading's text).
//!
//! ODP: one page per `draw:page`, in document order, labelled "slide N": the title frame as a
//! level-1 heading, other frames' text as paragraphs and list items, tables, groups, then the
//! speaker notes (without the slide thumbnail and page-number fields). Slides hidden by their
//! page style keep their number but are not read, as in PPTX.
//!
//! The title of both is `dc:title` of `meta.xml`.

use std::collections::HashMap;

use flashforge_domain::knowledge::{ExtractError, Extracted, ExtractionLimits};

use super::render::Pages;
use super::xml::{self, Element, Node};
use super::zipfs::Container;

/// Subtrees never read.
const SKIP: &[&str] = &[
    "text:tracked-changes",
    "office:annotation",
    "office:annotation-end",
    "text:table-of-content-source",
    "text:alphabetical-index-source",
    "text:illustration-index-source",
    "text:bibliography-source",
    "text:sequence-decls",
    "text:variable-decls",
    "office:forms",
    "svg:title",
    "svg:desc",
    "draw:page-thumbnail",
    "office:font-face-decls",
    "office:scripts",
    "style:header",
    "style:footer",
];

/// What a style does to the pages and slides that use it.
#[derive(Debug, Default, Clone)]
struct Style {
    parent: Option<String>,
    break_before: bool,
    break_after: bool,
    hidden: bool,
}

/// The styles of `office:styles` and `office:automatic-styles` of the given roots.
fn styles_of(roots: &[Option<&Element>]) -> HashMap<String, Style> {
    let mut styles = HashMap::new();
    for root in roots.iter().flatten() {
        for group in root.elements() {
            if !matches!(
                group.name.as_str(),
                "office:styles" | "office:automatic-styles"
            ) {
                continue;
            }
            for style in group.children_named("style:style") {
                let Some(name) = style.attr("style:name") else {
                    continue;
                };
                let property = |attribute: &str| {
                    style
                        .elements()
                        .filter_map(|p| p.attr(attribute))
                        .any(|v| v == "page")
                };
                let hidden = style
                    .elements()
                    .any(|p| p.attr("presentation:visibility") == Some("hidden"));
                styles.insert(
                    name.to_string(),
                    Style {
                        parent: style.attr("style:parent-style-name").map(str::to_string),
                        break_before: property("fo:break-before"),
                        break_after: property("fo:break-after"),
                        hidden,
                    },
                );
            }
        }
    }
    styles
}

fn style_has(
    styles: &HashMap<String, Style>,
    element: &Element,
    attribute: &str,
    test: fn(&Style) -> bool,
) -> bool {
    let mut name = element.attr(attribute).map(str::to_string);
    for _ in 0..12 {
        let Some(style) = name.as_ref().and_then(|n| styles.get(n)) else {
            return false;
        };
        if test(style) {
            return true;
        }
        name.clone_from(&style.parent);
    }
    false
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paging {
    /// Pages by breaks, labelled "p. N".
    Breaks,
    /// Sections at headings of this level.
    Sections(usize),
    /// Slides: breaks are not read.
    Slides,
}

fn heading_level(heading: &Element) -> usize {
    heading
        .attr("text:outline-level")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, 10)
}

struct Writer<'a> {
    pages: Pages,
    styles: &'a HashMap<String, Style>,
    paging: Paging,
    pending: Vec<(String, String)>,
}

impl Writer<'_> {
    /// Whether the style of `element` (a paragraph, heading or table) satisfies `test`.
    fn styled(&self, element: &Element, test: fn(&Style) -> bool) -> bool {
        self.paging == Paging::Breaks
            && ["text:style-name", "table:style-name"]
                .iter()
                .any(|attribute| style_has(self.styles, element, attribute, test))
    }

    fn breaks_before(&self, element: &Element) -> bool {
        self.styled(element, |s| s.break_before)
    }

    fn breaks_after(&self, element: &Element) -> bool {
        self.styled(element, |s| s.break_after)
    }

    fn break_page(&mut self) -> Result<(), ExtractError> {
        self.flush_notes()?;
        self.pages.break_page()?;
        let label = format!("p. {}", self.pages.number());
        self.pages.label(&label);
        Ok(())
    }

    fn flush_notes(&mut self) -> Result<(), ExtractError> {
        self.pages.end_block()?;
        for (mark, text) in std::mem::take(&mut self.pending) {
            self.pages.footnote(&mark, &text)?;
        }
        Ok(())
    }

    /// Writes the block-level content of `element` (a body, section, cell, list item,
    /// text box), lists `depth` deep.
    fn blocks(&mut self, element: &Element, depth: Option<usize>) -> Result<(), ExtractError> {
        for child in element.elements() {
            self.block(child, depth)?;
        }
        Ok(())
    }

    fn block(&mut self, element: &Element, depth: Option<usize>) -> Result<(), ExtractError> {
        if self.breaks_before(element) && !self.pages.page_is_empty() {
            self.break_page()?;
        }
        match element.name.as_str() {
            "text:h" => {
                let level = heading_level(element);
                let starts_section =
                    matches!(self.paging, Paging::Sections(outer) if outer == level);
                if starts_section && !self.pages.page_is_empty() {
                    self.flush_notes()?;
                    self.pages.break_page()?;
                }
                let text = self.inline_text(element)?;
                if starts_section {
                    self.pages.label(&text);
                }
                self.pages.end_block()?;
                self.pages.heading(level, &text)?;
            }
            "text:p" => {
                let text = self.inline_text(element)?;
                match depth {
                    Some(depth) => self.pages.list_item(depth, &text)?,
                    None => {
                        self.pages.end_block()?;
                        self.pages.paragraph(&text)?;
                    }
                }
            }
            "text:list" => {
                let depth = depth.map_or(0, |d| d + 1);
                for item in element.elements() {
                    self.blocks(item, Some(depth))?;
                }
                if depth == 0 {
                    self.pages.end_block()?;
                }
            }
            "table:table" => self.table(element)?,
            "text:soft-page-break" => {
                if self.paging == Paging::Breaks {
                    self.break_page()?;
                }
            }
            _ => self.blocks(element, depth)?,
        }
        if self.breaks_after(element) {
            self.break_page()?;
        }
        Ok(())
    }

    fn table(&mut self, table: &Element) -> Result<(), ExtractError> {
        self.pages.end_block()?;
        let mut rows = Vec::new();
        collect_rows(table, &mut rows);
        for row in rows {
            let mut cells = Vec::new();
            for cell in row.children_named("table:table-cell") {
                let mut text = String::new();
                self.collect(cell, &mut text)?;
                cells.push(text);
            }
            self.pages.table_row(&cells)?;
        }
        self.pages.end_block()
    }

    fn inline_text(&mut self, element: &Element) -> Result<String, ExtractError> {
        let mut text = String::new();
        self.collect(element, &mut text)?;
        Ok(text)
    }

    /// Collects the text at or below `element` into `text`: spaces, tabs and line breaks as
    /// spaces, notes set aside for the end of the page, paragraphs within apart by a space.
    fn collect(&mut self, element: &Element, text: &mut String) -> Result<(), ExtractError> {
        for node in &element.children {
            let child = match node {
                Node::Text(t) => {
                    text.push_str(t);
                    continue;
                }
                Node::Element(child) => child,
            };
            match child.name.as_str() {
                "text:s" | "text:tab" | "text:line-break" => text.push(' '),
                "text:note" => {
                    let mark = child
                        .child("text:note-citation")
                        .map(Element::text)
                        .unwrap_or_default();
                    let mut body = String::new();
                    if let Some(note) = child.child("text:note-body") {
                        self.collect(note, &mut body)?;
                    }
                    text.push_str(&format!("[^{}]", mark.trim()));
                    self.pending.push((mark, body));
                }
                "text:soft-page-break" if self.paging == Paging::Breaks => {
                    // Mid-paragraph: the paragraph is written on the page it starts on.
                }
                "text:page-number" | "text:page-count" if self.paging == Paging::Slides => {}
                "text:p" | "text:h" | "text:list-item" | "table:table-row" => {
                    text.push(' ');
                    self.collect(child, text)?;
                    text.push(' ');
                }
                _ => self.collect(child, text)?,
            }
        }
        Ok(())
    }
}

fn collect_rows<'a>(element: &'a Element, rows: &mut Vec<&'a Element>) {
    for child in element.elements() {
        match child.name.as_str() {
            "table:table-row" => rows.push(child),
            "table:table-rows"
            | "table:table-header-rows"
            | "table:table-row-group"
            | "text:soft-page-break" => collect_rows(child, rows),
            _ => {}
        }
    }
}

/// The content and the styles of an OpenDocument file, and its `dc:title`.
struct Document {
    content: Element,
    styles: HashMap<String, Style>,
    title: Option<String>,
}

fn open(zip: &mut Container<'_>) -> Result<Document, ExtractError> {
    let content = xml::require_part(zip, "content.xml", SKIP)?;
    let common = xml::optional_part(zip, "styles.xml", SKIP)?;
    let styles = styles_of(&[Some(&content), common.as_ref()]);
    let title = xml::dc_title(zip, "meta.xml")?;
    Ok(Document {
        content,
        styles,
        title,
    })
}

fn body<'a>(content: &'a Element, kind: &str) -> Result<&'a Element, ExtractError> {
    content
        .child("office:body")
        .and_then(|b| b.child(kind))
        .ok_or_else(|| ExtractError::Malformed(format!("content.xml has no {kind}")))
}

/// The outermost heading level used outside tables and notes, if any.
fn outermost(element: &Element, outer: &mut Option<usize>) {
    for child in element.elements() {
        match child.name.as_str() {
            "text:h" => {
                let level = heading_level(child);
                *outer = Some(outer.map_or(level, |o| o.min(level)));
            }
            "table:table" | "text:note" => {}
            _ => outermost(child, outer),
        }
    }
}

/// The text of an ODT file, page by page (see the module notes), within `limits`.
pub fn extract(bytes: &[u8], limits: &ExtractionLimits) -> Result<Extracted, ExtractError> {
    let mut zip = Container::open(bytes, limits)?;
    let document = open(&mut zip)?;
    let text = body(&document.content, "office:text")?;
    let styles = &document.styles;
    let has_breaks = text.any(&|e| {
        e.is("text:soft-page-break")
            || ["text:style-name", "table:style-name"]
                .iter()
                .any(|a| style_has(styles, e, a, |s| s.break_before || s.break_after))
    });
    let paging = if has_breaks {
        Paging::Breaks
    } else {
        let mut outer = None;
        outermost(text, &mut outer);
        Paging::Sections(outer.unwrap_or(usize::MAX))
    };
    let mut writer = Writer {
        pages: Pages::new(limits),
        styles,
        paging,
        pending: Vec::new(),
    };
    writer
        .pages
        .label(if has_breaks { "p. 1" } else { "section 1" });
    writer.blocks(text, None)?;
    writer.flush_notes()?;
    writer.pages.title = document.title;
    Ok(writer.pages.finish())
}

/// Writes the shapes of a slide (or a group) in order.
fn write_shapes(writer: &mut Writer<'_>, shapes: &Element) -> Result<(), ExtractError> {
    for shape in shapes.elements() {
        let class = shape.attr("presentation:class").unwrap_or("");
        match (shape.name.as_str(), class) {
            ("presentation:notes", _) => {}
            (_, "page-number" | "date-time" | "footer" | "header") => {}
            ("draw:g", _) => write_shapes(writer, shape)?,
            (_, "title") => {
                let text = writer.inline_text(shape)?;
                writer.pages.heading(1, &text)?;
            }
            _ => {
                let content = shape.child("draw:text-box").unwrap_or(shape);
                writer.blocks(content, None)?;
            }
        }
    }
    Ok(())
}

/// The text of an ODP file, slide by slide, within `limits`.
pub fn extract_presentation(
    bytes: &[u8],
    limits: &ExtractionLimits,
) -> Result<Extracted, ExtractError> {
    let mut zip = Container::open(bytes, limits)?;
    let document = open(&mut zip)?;
    let presentation = body(&document.content, "office:presentation")?;
    let slides: Vec<&Element> = presentation.children_named("draw:page").collect();
    limits.check_pages(slides.len() as u64)?;
    let mut writer = Writer {
        pages: Pages::new(limits),
        styles: &document.styles,
        paging: Paging::Slides,
        pending: Vec::new(),
    };
    for (index, slide) in slides.iter().enumerate() {
        if index > 0 {
            writer.flush_notes()?;
            writer.pages.break_page()?;
        }
        writer.pages.label(&format!("slide {}", index + 1));
        if style_has(&document.styles, slide, "draw:style-name", |s| s.hidden) {
            continue;
        }
        write_shapes(&mut writer, slide)?;
        if let Some(notes) = slide.child("presentation:notes") {
            let mut text = String::new();
            for frame in notes.elements() {
                let class = frame.attr("presentation:class").unwrap_or("");
                if matches!(class, "page-number" | "date-time" | "footer" | "header") {
                    continue;
                }
                writer.collect(frame, &mut text)?;
                text.push(' ');
            }
            writer.pages.end_block()?;
            writer.pages.notes(&text)?;
        }
    }
    writer.flush_notes()?;
    writer.pages.title = document.title;
    Ok(writer.pages.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::xml::testing::{survives_mutations, zip_of, zip_text};
    use flashforge_domain::knowledge::OverLimit;

    const NS: &str = r#"xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0""#;
    const META: &str = r#"<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><office:meta><dc:title>Acids</dc:title></office:meta></office:document-meta>"#;

    fn content(styles: &str, kind: &str, body: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><office:document-content {NS}><office:automatic-styles>{styles}</office:automatic-styles><office:body><office:{kind}>{body}</office:{kind}></office:body></office:document-content>"#
        )
    }

    fn pages(extracted: &Extracted) -> Vec<(&str, &str)> {
        extracted
            .pages
            .iter()
            .map(|p| (p.label.as_deref().unwrap_or(""), p.text.as_str()))
            .collect()
    }

    const BREAK_STYLE: &str = r#"<style:style style:name="P1" style:family="paragraph" style:parent-style-name="Standard"><style:paragraph-properties fo:break-before="page"/></style:style>"#;

    fn text_body() -> String {
        r#"<text:tracked-changes><text:changed-region><text:deletion><text:p>deleted</text:p></text:deletion></text:changed-region></text:tracked-changes>
        <text:h text:outline-level="1">Acids</text:h>
        <text:p>Arrhenius<text:s/>defined<text:tab/>acids.<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation><text:note-body><text:p>A note.</text:p></text:note-body></text:note><office:annotation><text:p>a comment</text:p></office:annotation></text:p>
        <text:list><text:list-item><text:p>first</text:p><text:list><text:list-item><text:p>nested</text:p></text:list-item></text:list></text:list-item></text:list>
        <text:p text:style-name="P1">Second <text:span>page</text:span><text:line-break/>here</text:p>
        <table:table><table:table-column/><table:table-header-rows><table:table-row><table:table-cell><text:p>Indicator</text:p></table:table-cell><table:table-cell><text:p>Colour</text:p></table:table-cell></table:table-row></table:table-header-rows><table:table-row><table:table-cell><text:p>a</text:p><text:p>b</text:p></table:table-cell><table:covered-table-cell/></table:table-row></table:table>
        <text:soft-page-break/><text:h text:outline-level="2">Third</text:h>"#
            .to_string()
    }

    #[test]
    fn odt_structure_notes_and_page_breaks() {
        let bytes = zip_text(&[
            ("content.xml", &content(BREAK_STYLE, "text", &text_body())),
            ("meta.xml", META),
        ]);
        let extracted = extract(&bytes, &ExtractionLimits::default()).unwrap();
        assert_eq!(extracted.title.as_deref(), Some("Acids"));
        assert_eq!(
            pages(&extracted),
            [
                (
                    "p. 1",
                    "# Acids\n\nArrhenius defined acids.[^1]\n\n- first\n  - nested\n\n[^1]: A note."
                ),
                (
                    "p. 2",
                    "Second page here\n\n| Indicator | Colour |\n| a b |"
                ),
                ("p. 3", "## Third"),
            ]
        );
    }

    #[test]
    fn odt_without_breaks_is_split_into_sections_at_the_outermost_headings() {
        let body = r#"<text:p>intro</text:p><text:h text:outline-level="2">A</text:h><text:p>a</text:p><text:h text:outline-level="3">A.1</text:h><text:h text:outline-level="2">B</text:h>"#;
        let bytes = zip_text(&[("content.xml", &content("", "text", body))]);
        let extracted = extract(&bytes, &ExtractionLimits::default()).unwrap();
        assert_eq!(extracted.title, None);
        assert_eq!(
            pages(&extracted),
            [
                ("section 1", "intro"),
                ("A", "## A\n\na\n\n### A.1"),
                ("B", "## B")
            ]
        );
        let empty = zip_text(&[("content.xml", &content("", "text", ""))]);
        let extracted = extract(&empty, &ExtractionLimits::default()).unwrap();
        assert_eq!(extracted.pages.len(), 1);
        assert_eq!(extracted.pages[0].text, "");
    }

    fn slides() -> String {
        let hidden = r#"<style:style style:name="dp2" style:family="drawing-page"><style:drawing-page-properties presentation:visibility="hidden"/></style:style>"#;
        let body = r#"<draw:page draw:name="one"><draw:frame presentation:class="title"><draw:text-box><text:p>The Sun</text:p></draw:text-box></draw:frame>
            <draw:frame presentation:class="outline"><draw:text-box><text:list><text:list-item><text:p>hot</text:p><text:list><text:list-item><text:p>very</text:p></text:list-item></text:list></text:list-item></text:list></draw:text-box></draw:frame>
            <draw:g><draw:custom-shape><text:p>grouped</text:p></draw:custom-shape></draw:g>
            <draw:frame><table:table><table:table-row><table:table-cell><text:p>x</text:p></table:table-cell><table:table-cell><text:p>y</text:p></table:table-cell></table:table-row></table:table></draw:frame>
            <draw:frame presentation:class="page-number"><draw:text-box><text:p>1</text:p></draw:text-box></draw:frame>
            <presentation:notes><draw:page-thumbnail/><draw:frame presentation:class="notes"><draw:text-box><text:p>Say <text:page-number>1</text:page-number>hello.</text:p></draw:text-box></draw:frame></presentation:notes></draw:page>
            <draw:page draw:style-name="dp2"><draw:frame presentation:class="title"><draw:text-box><text:p>Hidden</text:p></draw:text-box></draw:frame></draw:page>
            <draw:page><draw:frame presentation:class="title"><draw:text-box><text:p>Moon</text:p></draw:text-box></draw:frame></draw:page>"#;
        content(hidden, "presentation", body)
    }

    #[test]
    fn odp_slides_titles_lists_tables_notes_and_hidden_slides() {
        let bytes = zip_text(&[("content.xml", &slides()), ("meta.xml", META)]);
        let extracted = extract_presentation(&bytes, &ExtractionLimits::default()).unwrap();
        assert_eq!(extracted.title.as_deref(), Some("Acids"));
        assert_eq!(
            pages(&extracted),
            [
                (
                    "slide 1",
                    "# The Sun\n\n- hot\n  - very\n\ngrouped\n\n| x | y |\n\nSpeaker notes: Say hello."
                ),
                ("slide 2", ""),
                ("slide 3", "# Moon"),
            ]
        );
    }

    #[test]
    fn limits_bombs_and_garbage() {
        let odt = zip_text(&[("content.xml", &content(BREAK_STYLE, "text", &text_body()))]);
        let odp = zip_text(&[("content.xml", &slides())]);
        let two = ExtractionLimits {
            max_pages: 2,
            ..ExtractionLimits::default()
        };
        assert!(matches!(
            extract(&odt, &two),
            Err(ExtractError::OverLimit(OverLimit::Pages { .. }))
        ));
        assert!(matches!(
            extract_presentation(&odp, &two),
            Err(ExtractError::OverLimit(OverLimit::Pages {
                count: 3,
                limit: 2
            }))
        ));
        let per_page = ExtractionLimits {
            max_page_chars: 10,
            ..ExtractionLimits::default()
        };
        assert!(matches!(
            extract(&odt, &per_page),
            Err(ExtractError::OverLimit(OverLimit::PageChars {
                page: 1,
                ..
            }))
        ));
        let big = content("", "text", &" ".repeat(2_000_000));
        let bomb = zip_of(&[("content.xml", big.as_bytes())]);
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
            extract_presentation(&odp[..odp.len() - 10], &limits),
            Err(ExtractError::Malformed(_))
        ));
        let missing = zip_text(&[("meta.xml", META)]);
        assert!(matches!(
            extract(&missing, &limits),
            Err(ExtractError::Malformed(_))
        ));
        // A text document is not a presentation.
        assert!(matches!(
            extract_presentation(&odt, &limits),
            Err(ExtractError::Malformed(_))
        ));
        let broken = zip_text(&[("content.xml", "<office:document-content><office:body>")]);
        assert!(matches!(
            extract(&broken, &limits),
            Err(ExtractError::Malformed(_))
        ));
    }

    #[test]
    fn mutated_files_never_panic() {
        survives_mutations(
            &[
                ("content.xml", &content(BREAK_STYLE, "text", &text_body())),
                ("meta.xml", META),
            ],
            extract,
        );
        survives_mutations(
            &[("content.xml", &slides()), ("meta.xml", META)],
            extract_presentation,
        );
    }
}
