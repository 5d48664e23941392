//! PPTX: one page per slide, labelled "slide N", in the order `ppt/presentation.xml` lists
//! the slides (not the order of the part names). Per slide, shapes in document order: the
//! title placeholder as a level-1 heading, other text paragraph by paragraph (bulleted
//! paragraphs as list items at their `lvl`), tables row by row, group shapes recursively;
//! then the speaker notes of its notes slide (body text only: no slide image, number, date,
//! header or footer). Slide number, date and footer placeholders on slides are left out.
//!
//! Hidden slides (`show="0"`) keep their number, as PowerPoint numbers them, but their text is
//! not read: their page is empty.

use flashforge_domain::knowledge::{ExtractError, Extracted, ExtractionLimits};

use super::render::{Pages, squash};
use super::xml::{self, Element};
use super::zipfs::Container;

/// Subtrees never read: shape geometry and run formatting.
const SKIP: &[&str] = &[
    "p:spPr",
    "a:rPr",
    "a:endParaRPr",
    "a:bodyPr",
    "a:lstStyle",
    "p:style",
    "mc:Fallback",
    "p:extLst",
    "a:tblPr",
    "a:tblGrid",
];

/// Placeholders that carry no content of their own.
const BOILERPLATE: &[&str] = &["sldNum", "dt", "ftr", "hdr", "sldImg"];

/// The placeholder type of a shape (`title`, `body`, …): `Some("")` for a placeholder
/// without a type (a content placeholder), `None` for a free shape.
fn placeholder(shape: &Element) -> Option<&str> {
    let properties = shape.elements().find(|e| e.name.starts_with("p:nv"))?;
    let ph = properties.child("p:nvPr")?.child("p:ph")?;
    Some(ph.attr("type").unwrap_or(""))
}

fn paragraph_text(paragraph: &Element) -> String {
    let mut out = String::new();
    for child in paragraph.elements() {
        match child.name.as_str() {
            "a:r" | "a:fld" => {
                if let Some(t) = child.child("a:t") {
                    out.push_str(&t.text());
                }
            }
            "a:br" => out.push(' '),
            _ => {}
        }
    }
    out
}

/// All the text of a text body or a cell, paragraphs joined by spaces.
fn body_text(body: &Element) -> String {
    body.children_named("a:p")
        .map(paragraph_text)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a paragraph is a bullet, and its level.
fn bullet(paragraph: &Element, bulleted_by_default: bool) -> Option<usize> {
    let properties = paragraph.child("a:pPr");
    let level = properties
        .and_then(|p| p.attr("lvl"))
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    let explicit = properties.is_some_and(|p| {
        p.child("a:buChar").is_some()
            || p.child("a:buAutoNum").is_some()
            || p.child("a:buBlip").is_some()
    });
    let none = properties.is_some_and(|p| p.child("a:buNone").is_some());
    (explicit || (bulleted_by_default && !none)).then_some(level)
}

fn write_shape(pages: &mut Pages, shape: &Element) -> Result<(), ExtractError> {
    match shape.name.as_str() {
        "p:sp" => {
            let kind = placeholder(shape);
            if kind.is_some_and(|k| BOILERPLATE.contains(&k)) {
                return Ok(());
            }
            let Some(body) = shape.child("p:txBody") else {
                return Ok(());
            };
            if matches!(kind, Some("title" | "ctrTitle")) {
                return pages.heading(1, &body_text(body));
            }
            let bulleted = matches!(kind, Some("" | "body" | "obj"));
            for paragraph in body.children_named("a:p") {
                let text = paragraph_text(paragraph);
                match bullet(paragraph, bulleted) {
                    Some(level) => pages.list_item(level, &text)?,
                    None => {
                        pages.end_block()?;
                        pages.paragraph(&text)?;
                    }
                }
            }
            pages.end_block()
        }
        "p:graphicFrame" => {
            let Some(table) = shape.find("a:tbl") else {
                return Ok(());
            };
            pages.end_block()?;
            for row in table.children_named("a:tr") {
                let cells: Vec<String> = row
                    .children_named("a:tc")
                    .filter(|c| c.attr("hMerge").is_none() && c.attr("vMerge").is_none())
                    .map(|c| c.child("a:txBody").map(body_text).unwrap_or_default())
                    .collect();
                pages.table_row(&cells)?;
            }
            pages.end_block()
        }
        "p:grpSp" => write_shapes(pages, shape),
        "mc:AlternateContent" => match shape.child("mc:Choice") {
            Some(choice) => write_shapes(pages, choice),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

fn write_shapes(pages: &mut Pages, tree: &Element) -> Result<(), ExtractError> {
    for shape in tree.elements() {
        write_shape(pages, shape)?;
    }
    Ok(())
}

/// The speaker notes of a notes slide: its body text, without boilerplate placeholders.
fn notes_text(notes: &Element) -> String {
    let Some(tree) = notes.child("p:cSld").and_then(|c| c.child("p:spTree")) else {
        return String::new();
    };
    let mut texts = Vec::new();
    collect_notes(tree, &mut texts);
    texts.join(" ")
}

fn collect_notes(tree: &Element, texts: &mut Vec<String>) {
    for shape in tree.elements() {
        match shape.name.as_str() {
            "p:sp" => {
                let kind = placeholder(shape);
                if kind.is_some_and(|k| BOILERPLATE.contains(&k) || k == "title") {
                    continue;
                }
                if let Some(body) = shape.child("p:txBody") {
                    texts.push(body_text(body));
                }
            }
            "p:grpSp" => collect_notes(shape, texts),
            _ => {}
        }
    }
}

fn write_slide(zip: &mut Container<'_>, pages: &mut Pages, part: &str) -> Result<(), ExtractError> {
    // A slide that is missing or unreadable stays an empty page: the others still count.
    let Some(slide) = xml::optional_part(zip, part, SKIP)? else {
        return Ok(());
    };
    if slide.attr("show") == Some("0") || slide.attr("show") == Some("false") {
        return Ok(());
    }
    if let Some(tree) = slide.child("p:cSld").and_then(|c| c.child("p:spTree")) {
        write_shapes(pages, tree)?;
    }
    let relationships = xml::relationships(zip, part)?;
    if let Some(notes) = xml::target_of(&relationships, "notesSlide")
        && let Some(notes) = xml::optional_part(zip, &notes, SKIP)?
    {
        pages.end_block()?;
        pages.notes(&squash(&notes_text(&notes)))?;
    }
    Ok(())
}

/// The text of a PPTX file, slide by slide, within `limits`.
pub fn extract(bytes: &[u8], limits: &ExtractionLimits) -> Result<Extracted, ExtractError> {
    let mut zip = Container::open(bytes, limits)?;
    let main = xml::main_part(&mut zip, "ppt/presentation.xml")?;
    let presentation = match xml::read_part(&mut zip, &main, SKIP)? {
        Some(presentation) => presentation,
        None => xml::require_part(&mut zip, "ppt/presentation.xml", SKIP)?,
    };
    let relationships = xml::relationships(&mut zip, &main)?;
    let slides: Vec<Option<String>> = presentation
        .child("p:sldIdLst")
        .map(|list| {
            list.children_named("p:sldId")
                .map(|id| {
                    let id = id.attr("r:id")?;
                    relationships
                        .iter()
                        .find(|r| r.id == id)
                        .map(|r| r.target.clone())
                })
                .collect()
        })
        .unwrap_or_default();
    limits.check_pages(slides.len() as u64)?;
    let mut pages = Pages::new(limits);
    pages.title = xml::dc_title(&mut zip, "docProps/core.xml")?;
    for (index, slide) in slides.iter().enumerate() {
        if index > 0 {
            pages.break_page()?;
        }
        pages.label(&format!("slide {}", index + 1));
        if let Some(part) = slide {
            write_slide(&mut zip, &mut pages, part)?;
        }
    }
    Ok(pages.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::xml::testing::{survives_mutations, zip_of, zip_text};
    use flashforge_domain::knowledge::OverLimit;

    const NS: &str = r#"xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;
    const RELS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
    const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

    fn presentation(ids: &[&str]) -> String {
        let ids: String = ids
            .iter()
            .enumerate()
            .map(|(i, id)| format!(r#"<p:sldId id="{}" r:id="{id}"/>"#, 256 + i))
            .collect();
        format!(r#"<p:presentation {NS}><p:sldIdLst>{ids}</p:sldIdLst></p:presentation>"#)
    }

    fn rels(targets: &[(&str, &str, &str)]) -> String {
        let rels: String = targets
            .iter()
            .map(|(id, kind, target)| {
                format!(r#"<Relationship Id="{id}" Type="{REL}/{kind}" Target="{target}"/>"#)
            })
            .collect();
        format!(r#"<Relationships xmlns="{RELS}">{rels}</Relationships>"#)
    }

    fn shape(ph: &str, paragraphs: &str) -> String {
        let ph = if ph == "none" {
            String::new()
        } else if ph.is_empty() {
            r#"<p:ph idx="1"/>"#.to_string()
        } else {
            format!(r#"<p:ph type="{ph}"/>"#)
        };
        format!(
            r#"<p:sp><p:nvSpPr><p:cNvPr id="2" name="x"/><p:cNvSpPr/><p:nvPr>{ph}</p:nvPr></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/>{paragraphs}</p:txBody></p:sp>"#
        )
    }

    fn para(level: Option<usize>, text: &str) -> String {
        let properties = level.map_or(String::new(), |l| format!(r#"<a:pPr lvl="{l}"/>"#));
        format!(r#"<a:p>{properties}<a:r><a:rPr lang="en"/><a:t>{text}</a:t></a:r></a:p>"#)
    }

    fn slide(show: &str, shapes: &str) -> String {
        format!(
            r#"<p:sld {NS} {show}><p:cSld><p:spTree><p:nvGrpSpPr/><p:grpSpPr/>{shapes}</p:spTree></p:cSld></p:sld>"#
        )
    }

    fn deck() -> Vec<(&'static str, String)> {
        let first = slide(
            "",
            &[
                shape("title", &para(None, "Mitosis")),
                shape("", &[para(None, "Prophase"), para(Some(1), "Chromatin condenses")].concat()),
                shape("none", &[para(None, "A free text box"), "<a:p><a:r><a:t>line</a:t></a:r><a:br/><a:r><a:t>break</a:t></a:r></a:p>".into()].concat()),
                r#"<p:graphicFrame><a:graphic><a:graphicData><a:tbl><a:tblGrid/><a:tr><a:tc><a:txBody><a:p><a:r><a:t>phase</a:t></a:r></a:p></a:txBody></a:tc><a:tc><a:txBody><a:p><a:r><a:t>hours</a:t></a:r></a:p></a:txBody></a:tc></a:tr></a:tbl></a:graphicData></a:graphic></p:graphicFrame>"#.into(),
                format!("<p:grpSp><p:nvGrpSpPr/>{}</p:grpSp>", shape("none", &para(None, "grouped"))),
                shape("sldNum", &para(None, "7")),
            ]
            .concat(),
        );
        let notes = format!(
            r#"<p:notes {NS}><p:cSld><p:spTree>{}{}{}</p:spTree></p:cSld></p:notes>"#,
            shape("sldImg", ""),
            shape("body", &para(None, "Remember the spindle.")),
            shape("sldNum", &para(None, "1"))
        );
        vec![
            ("_rels/.rels", rels(&[("rId1", "officeDocument", "ppt/presentation.xml")])),
            ("ppt/presentation.xml", presentation(&["rId7", "rId8", "rId9"])),
            (
                "ppt/_rels/presentation.xml.rels",
                rels(&[("rId7", "slide", "slides/slide3.xml"), ("rId8", "slide", "slides/slide1.xml"), ("rId9", "slide", "slides/slide2.xml")]),
            ),
            ("ppt/slides/slide3.xml", first),
            ("ppt/slides/_rels/slide3.xml.rels", rels(&[("rId1", "notesSlide", "../notesSlides/notesSlide1.xml")])),
            ("ppt/notesSlides/notesSlide1.xml", notes),
            ("ppt/slides/slide1.xml", slide(r#"show="0""#, &shape("title", &para(None, "Hidden")))),
            ("ppt/slides/slide2.xml", slide("", &shape("ctrTitle", &para(None, "The end")))),
            ("docProps/core.xml", r#"<cp:coreProperties xmlns:cp="c" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Cell division</dc:title></cp:coreProperties>"#.into()),
        ]
    }

    fn parts<'a>(deck: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        deck.iter().map(|(n, t)| (*n, t.as_str())).collect()
    }

    #[test]
    fn slides_in_presentation_order_with_notes_tables_groups_and_hidden_slides() {
        let deck = deck();
        let extracted = extract(&zip_text(&parts(&deck)), &ExtractionLimits::default()).unwrap();
        assert_eq!(extracted.title.as_deref(), Some("Cell division"));
        let pages: Vec<(u32, &str, &str)> = extracted
            .pages
            .iter()
            .map(|p| (p.number, p.label.as_deref().unwrap_or(""), p.text.as_str()))
            .collect();
        assert_eq!(
            pages,
            [
                (
                    1,
                    "slide 1",
                    "# Mitosis\n\n- Prophase\n  - Chromatin condenses\n\nA free text box\n\nline break\n\n| phase | hours |\n\ngrouped\n\nSpeaker notes: Remember the spindle."
                ),
                (2, "slide 2", ""),
                (3, "slide 3", "# The end"),
            ]
        );
    }

    #[test]
    fn limits_bombs_and_garbage() {
        let deck = deck();
        let bytes = zip_text(&parts(&deck));
        let two = ExtractionLimits {
            max_pages: 2,
            ..ExtractionLimits::default()
        };
        assert!(matches!(
            extract(&bytes, &two),
            Err(ExtractError::OverLimit(OverLimit::Pages { count: 3, .. }))
        ));
        let chars = ExtractionLimits {
            max_chars: 20,
            ..ExtractionLimits::default()
        };
        assert!(matches!(
            extract(&bytes, &chars),
            Err(ExtractError::OverLimit(OverLimit::Chars { .. }))
        ));
        let big = slide("", &" ".repeat(2_000_000));
        let bomb = zip_of(&[
            ("ppt/presentation.xml", presentation(&["rId1"]).as_bytes()),
            (
                "ppt/_rels/presentation.xml.rels",
                rels(&[("rId1", "slide", "slides/slide1.xml")]).as_bytes(),
            ),
            ("ppt/slides/slide1.xml", big.as_bytes()),
        ]);
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
            extract(b"PK\x03\x04junk", &limits),
            Err(ExtractError::Malformed(_))
        ));
        assert!(matches!(
            extract(&bytes[..bytes.len() - 30], &limits),
            Err(ExtractError::Malformed(_))
        ));
        let missing = zip_text(&[("ppt/slides/slide1.xml", "<x/>")]);
        assert!(matches!(
            extract(&missing, &limits),
            Err(ExtractError::Malformed(_))
        ));
        let broken = zip_text(&[("ppt/presentation.xml", "<p:presentation><oops")]);
        assert!(matches!(
            extract(&broken, &limits),
            Err(ExtractError::Malformed(_))
        ));
        // Bad targets and missing slides are tolerated: the slide is an empty page.
        let bad = zip_text(&[
            ("ppt/presentation.xml", &presentation(&["rId1", "rId2"])),
            (
                "ppt/_rels/presentation.xml.rels",
                &rels(&[("rId1", "slide", "../../../nowhere.xml")]),
            ),
        ]);
        let extracted = extract(&bad, &limits).unwrap();
        assert!(extracted.pages.iter().all(|p| p.text.is_empty()));
    }

    #[test]
    fn mutated_files_never_panic() {
        let deck = deck();
        survives_mutations(&parts(&deck), extract);
    }
}
