//! EPUB books (2 and 3): one page per chapter, in reading (spine) order.
//!
//! `META-INF/container.xml` names the package document (OPF; without it, the first `.opf` in
//! the container is taken); its manifest maps ids to parts and its spine gives the reading
//! order. Every part is read through the bounded [`Container`], its `href` percent-decoded and
//! resolved against the package document, so nothing outside the container is ever reached.
//!
//! - **Order**: the spine's, `linear="no"` items included where they stand (they are part of
//!   the book; readers show them there too). Items missing from the manifest or the container,
//!   and items that are not (X)HTML, are skipped.
//! - **Chapters**: each written with the HTML writer ([`html::write_chapter`]), headings kept,
//!   not split. A chapter without text (a cover picture) makes no page: pages are numbered by
//!   position among the chapters with text, so page numbers never point at nothing.
//! - **Labels**: the chapter's title in the EPUB 3 navigation document, else in the EPUB 2
//!   NCX, else the chapter's first heading, else "chapter N".
//! - **Title**: the package's `dc:title`.

use std::collections::HashMap;

use flashforge_domain::knowledge::{ExtractError, Extracted, ExtractionLimits};
use quick_xml::events::{BytesStart, Event};
use scraper::{ElementRef, Html};

use super::html;
use super::render::{Pages, squash};
use super::text;
use super::zipfs::{Container, resolve};

/// A book's chapters within `limits`, one page each.
pub fn extract(bytes: &[u8], limits: &ExtractionLimits) -> Result<Extracted, ExtractError> {
    let mut container = Container::open(bytes, limits)?;
    let opf_path = package_path(&mut container)?;
    let opf = container.require_text(&opf_path)?;
    let package = Package::parse(&opf)?;
    let titles = chapter_titles(&mut container, &package, &opf_path)?;
    let mut pages = Pages::new(limits);
    pages.title = package.title.clone();
    for idref in &package.spine {
        let Some(item) = package.manifest.get(idref) else {
            continue;
        };
        if !is_html(&item.media_type) {
            continue;
        }
        let path = part_path(&opf_path, &item.href);
        let Some(bytes) = container.read(&path)? else {
            continue;
        };
        if !pages.page_is_empty() {
            pages.break_page()?;
        }
        let written = html::write_chapter(&text::decode(&bytes), &mut pages)?;
        if !pages.page_is_empty() {
            let label = titles
                .get(&path)
                .cloned()
                .or(written.first_heading)
                .unwrap_or_else(|| format!("chapter {}", pages.number()));
            pages.label(&label);
        }
    }
    Ok(pages.finish())
}

/// The path of the package document.
fn package_path(container: &mut Container<'_>) -> Result<String, ExtractError> {
    if let Some(xml) = container.read_text("META-INF/container.xml")? {
        let mut found = None;
        for_each_element(&xml, |name, attrs| {
            if found.is_none() && name == "rootfile" {
                found = attr(attrs, "full-path").map(|p| percent_decode(p.trim()));
            }
        });
        if let Some(path) = found.filter(|p| !p.is_empty()) {
            return Ok(resolve("", &path));
        }
    }
    container
        .names()
        .into_iter()
        .find(|n| n.to_ascii_lowercase().ends_with(".opf"))
        .ok_or_else(|| ExtractError::Malformed("the EPUB names no package document".into()))
}

#[derive(Debug, Clone)]
struct Item {
    href: String,
    media_type: String,
    properties: String,
}

/// What the package document says: title, parts and reading order.
#[derive(Debug, Default)]
struct Package {
    title: Option<String>,
    manifest: HashMap<String, Item>,
    spine: Vec<String>,
    /// The manifest id of the NCX (the spine's `toc`).
    toc: Option<String>,
}

impl Package {
    fn parse(opf: &str) -> Result<Self, ExtractError> {
        let mut package = Package::default();
        let mut reader = quick_xml::Reader::from_str(opf);
        reader.config_mut().check_end_names = false;
        let mut title: Option<String> = None;
        let mut in_title = false;
        loop {
            let event = match reader.read_event() {
                Ok(Event::Eof) | Err(_) => break,
                Ok(event) => event,
            };
            match event {
                Event::Start(e) | Event::Empty(e) => {
                    let name = local_name(&e);
                    let attrs = attributes(&e);
                    package.element(&name, &attrs);
                    in_title = name == "title" && package.title.is_none();
                }
                Event::End(_) => {
                    if in_title {
                        package.title = title.take().map(|t| squash(&t)).filter(|t| !t.is_empty());
                    }
                    in_title = false;
                }
                event if in_title => {
                    title
                        .get_or_insert_with(String::new)
                        .push_str(&event_text(&event));
                }
                _ => {}
            }
        }
        if package.manifest.is_empty() && package.spine.is_empty() {
            return Err(ExtractError::Malformed(
                "the EPUB package lists no parts".into(),
            ));
        }
        Ok(package)
    }

    fn element(&mut self, name: &str, attrs: &[(String, String)]) {
        match name {
            "item" => {
                if let (Some(id), Some(href)) = (attr(attrs, "id"), attr(attrs, "href")) {
                    self.manifest.entry(id.to_string()).or_insert(Item {
                        href: href.to_string(),
                        media_type: attr(attrs, "media-type").unwrap_or("").to_string(),
                        properties: attr(attrs, "properties").unwrap_or("").to_string(),
                    });
                }
            }
            "itemref" => {
                if let Some(idref) = attr(attrs, "idref") {
                    self.spine.push(idref.to_string());
                }
            }
            "spine" => self.toc = attr(attrs, "toc").map(str::to_string),
            _ => {}
        }
    }
}

fn is_html(media_type: &str) -> bool {
    let media_type = media_type.to_ascii_lowercase();
    media_type.is_empty() || media_type.contains("html")
}

/// The path inside the container of a part the package names by `href`.
fn part_path(base: &str, href: &str) -> String {
    let href = href.split('#').next().unwrap_or("");
    resolve(base, &percent_decode(href.trim()))
}

/// Chapter titles by part path: the navigation document's first, then the NCX's for the parts
/// it does not name.
fn chapter_titles(
    container: &mut Container<'_>,
    package: &Package,
    opf_path: &str,
) -> Result<HashMap<String, String>, ExtractError> {
    let mut titles = HashMap::new();
    let nav = package
        .manifest
        .values()
        .find(|item| item.properties.split_whitespace().any(|p| p == "nav"));
    if let Some(nav) = nav {
        let nav_path = part_path(opf_path, &nav.href);
        if let Some(bytes) = container.read(&nav_path)? {
            for (href, title) in nav_entries(&text::decode(&bytes)) {
                titles.entry(part_path(&nav_path, &href)).or_insert(title);
            }
        }
    }
    let ncx = package
        .toc
        .as_ref()
        .and_then(|id| package.manifest.get(id))
        .or_else(|| {
            package
                .manifest
                .values()
                .find(|item| item.media_type.contains("dtbncx"))
        });
    if let Some(ncx) = ncx {
        let ncx_path = part_path(opf_path, &ncx.href);
        if let Some(xml) = container.read_text(&ncx_path)? {
            for (src, title) in ncx_entries(&xml) {
                titles.entry(part_path(&ncx_path, &src)).or_insert(title);
            }
        }
    }
    Ok(titles)
}

/// The links of the table of contents of an EPUB 3 navigation document: `(href, text)`.
fn nav_entries(xhtml: &str) -> Vec<(String, String)> {
    let document = Html::parse_document(&html::close_raw_text_tags(xhtml));
    let navs: Vec<ElementRef<'_>> = document
        .tree
        .root()
        .descendants()
        .filter_map(ElementRef::wrap)
        .filter(|e| e.value().name() == "nav")
        .collect();
    let toc = navs
        .iter()
        .find(|nav| {
            nav.value()
                .attrs()
                .any(|(name, value)| name.ends_with("type") && value.contains("toc"))
        })
        .or(navs.first());
    let Some(toc) = toc else {
        return Vec::new();
    };
    toc.descendants()
        .filter_map(ElementRef::wrap)
        .filter(|e| e.value().name() == "a")
        .filter_map(|a| {
            let href = a.value().attr("href")?;
            let title = squash(&a.text().collect::<String>());
            (!title.is_empty()).then(|| (href.to_string(), title))
        })
        .collect()
}

/// The entries of an EPUB 2 NCX: `(content src, navLabel text)`.
fn ncx_entries(xml: &str) -> Vec<(String, String)> {
    let mut entries = Vec::new();
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = false;
    let mut label = String::new();
    let mut in_text = false;
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(event) => event,
        };
        match event {
            Event::Start(e) | Event::Empty(e) => match local_name(&e).as_str() {
                "navPoint" => label.clear(),
                "text" => in_text = true,
                "content" => {
                    let attrs = attributes(&e);
                    let title = squash(&label);
                    if let Some(src) = attr(&attrs, "src")
                        && !title.is_empty()
                    {
                        entries.push((src.to_string(), title));
                    }
                    label.clear();
                }
                _ => {}
            },
            Event::End(_) => in_text = false,
            event if in_text => label.push_str(&event_text(&event)),
            _ => {}
        }
    }
    entries
}

/// Calls `f` with the local name and attributes of every element of `xml`, as far as it
/// parses.
fn for_each_element(xml: &str, mut f: impl FnMut(&str, &[(String, String)])) {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => f(&local_name(&e), &attributes(&e)),
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

fn local_name(e: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
}

/// The attributes of an element by local name, values unescaped; broken ones are left out.
fn attributes(e: &BytesStart<'_>) -> Vec<(String, String)> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .filter_map(|a| {
            let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
            let value = a.unescape_value().ok()?.into_owned();
            Some((key, value))
        })
        .collect()
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The text an event carries: text, CDATA, or an entity reference.
fn event_text(event: &Event<'_>) -> String {
    match event {
        Event::Text(t) => t.decode().map(|t| t.into_owned()).unwrap_or_default(),
        Event::CData(t) => String::from_utf8_lossy(t.as_ref()).into_owned(),
        Event::GeneralRef(r) => match r.resolve_char_ref() {
            Ok(Some(c)) => c.to_string(),
            _ => r
                .decode()
                .ok()
                .and_then(|name| quick_xml::escape::resolve_xml_entity(&name))
                .unwrap_or("")
                .to_string(),
        },
        _ => String::new(),
    }
}

/// `%20`-style escapes of an href as the bytes they stand for.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::xml::testing::zip_of;
    use flashforge_domain::knowledge::OverLimit;

    const CONTAINER: &[u8] = br#"<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"#;

    const OPF: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Cells &amp; Life</dc:title></metadata>
<manifest>
<item id="c2" href="text/two.xhtml" media-type="application/xhtml+xml"/>
<item id="cover" href="text/cover.xhtml" media-type="application/xhtml+xml"/>
<item id="c1" href="text/chapter%20one.xhtml" media-type="application/xhtml+xml"/>
<item id="c3" href="text/three.xhtml" media-type="application/xhtml+xml"/>
<item id="c4" href="text/four.xhtml" media-type="application/xhtml+xml"/>
<item id="gone" href="text/missing.xhtml" media-type="application/xhtml+xml"/>
<item id="nav" href="nav.xhtml" properties="nav" media-type="application/xhtml+xml"/>
<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>
<item id="img" href="images/c.png" media-type="image/png"/>
</manifest>
<spine toc="ncx">
<itemref idref="cover"/><itemref idref="c1"/><itemref idref="gone"/><itemref idref="nobody"/>
<itemref idref="img"/><itemref idref="c2"/><itemref idref="c3" linear="no"/><itemref idref="c4"/>
</spine></package>"#;

    const NAV: &[u8] =
        br#"<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title/></head><body><nav epub:type="toc"><ol>
<li><a href="text/chapter%20one.xhtml">1. Membranes</a></li>
<li><a href="text/two.xhtml#start">2. Division</a></li></ol></nav></body></html>"#;

    const NCX: &[u8] = br#"<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/">
<docTitle><text>Cells</text></docTitle><navMap>
<navPoint id="a"><navLabel><text>NCX one</text></navLabel><content src="text/chapter%20one.xhtml"/></navPoint>
<navPoint id="b"><navLabel><text>Energy &amp; Heat</text></navLabel><content src="text/three.xhtml"/></navPoint>
</navMap></ncx>"#;

    fn chapter(body: &str) -> Vec<u8> {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><html xmlns=\"http://www.w3.org/1999/xhtml\">\
             <head><title/><link href=\"../style.css\" rel=\"stylesheet\"/></head><body>{body}</body></html>"
        )
        .into_bytes()
    }

    fn book() -> Vec<u8> {
        let one = chapter(
            "<h1>Membranes</h1><p>Lipids form a bilayer.</p><aside class=\"sidebar\">Box text.</aside>",
        );
        let two = chapter("<h2>Division</h2><p>Cells divide.</p>");
        let three = chapter("<p>ATP stores energy.</p>");
        let four = chapter("<h3>Summary</h3><p>All done.</p>");
        let five = chapter("<div/><p>no heading</p>");
        let cover = chapter("<div><img src=\"../images/c.png\" alt=\"Cover\"/></div>");
        zip_of(&[
            ("mimetype", b"application/epub+zip"),
            ("META-INF/container.xml", CONTAINER),
            ("OEBPS/text/four.xhtml", &four),
            ("OEBPS/text/two.xhtml", &two),
            ("OEBPS/text/three.xhtml", &three),
            ("OEBPS/text/chapter one.xhtml", &one),
            ("OEBPS/text/cover.xhtml", &cover),
            ("OEBPS/text/five.xhtml", &five),
            ("OEBPS/content.opf", OPF),
            ("OEBPS/nav.xhtml", NAV),
            ("OEBPS/toc.ncx", NCX),
        ])
    }

    #[test]
    fn chapters_come_in_spine_order_labelled_by_the_table_of_contents() {
        let extracted = extract(&book(), &ExtractionLimits::default()).unwrap();
        assert_eq!(extracted.title.as_deref(), Some("Cells & Life"));
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
                    "1. Membranes",
                    "# Membranes\n\nLipids form a bilayer.\n\nBox text."
                ),
                (2, "2. Division", "## Division\n\nCells divide."),
                (3, "Energy & Heat", "ATP stores energy."),
                (4, "Summary", "### Summary\n\nAll done."),
            ]
        );
    }

    #[test]
    fn without_a_table_of_contents_or_heading_a_chapter_is_numbered() {
        let opf = br#"<package><metadata/><manifest>
<item id="a" href="a.xhtml" media-type="application/xhtml+xml"/>
<item id="b" href="b.xhtml" media-type="application/xhtml+xml"/></manifest>
<spine><itemref idref="b"/><itemref idref="a"/></spine></package>"#;
        let bytes = zip_of(&[
            ("book.opf", opf),
            ("a.xhtml", &chapter("<p>Alpha</p>")),
            ("b.xhtml", &chapter("<p>Beta</p>")),
        ]);
        let extracted = extract(&bytes, &ExtractionLimits::default()).unwrap();
        assert_eq!(extracted.title, None);
        assert_eq!(extracted.pages.len(), 2);
        assert_eq!(extracted.pages[0].text, "Beta");
        assert_eq!(extracted.pages[0].label.as_deref(), Some("chapter 1"));
        assert_eq!(extracted.pages[1].label.as_deref(), Some("chapter 2"));
    }

    #[test]
    fn a_part_that_expands_too_far_stops_with_the_limit() {
        let big = chapter(&format!("<p>{}</p>", " ".repeat(3_000_000)));
        let bytes = zip_of(&[
            ("META-INF/container.xml", CONTAINER),
            ("OEBPS/content.opf", OPF),
            ("OEBPS/text/chapter one.xhtml", &big),
        ]);
        assert!(bytes.len() < 50_000);
        let limits = ExtractionLimits {
            max_unpacked_bytes: 1_000_000,
            ..ExtractionLimits::default()
        };
        assert_eq!(
            extract(&bytes, &limits),
            Err(ExtractError::OverLimit(OverLimit::Unpacked {
                limit: 1_000_000
            }))
        );
    }

    #[test]
    fn garbage_is_malformed() {
        for bytes in [
            &b"not a zip at all"[..],
            &b"PK\x03\x04garbage"[..],
            &zip_of(&[("mimetype", b"application/epub+zip")]),
            &zip_of(&[
                ("META-INF/container.xml", CONTAINER),
                ("OEBPS/content.opf", b"<<<"),
            ]),
        ] {
            assert!(
                matches!(
                    extract(bytes, &ExtractionLimits::default()),
                    Err(ExtractError::Malformed(_))
                ),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn mutated_books_never_panic() {
        crate::formats::xml::testing::survives_byte_mutations(&book(), extract);
    }
}
