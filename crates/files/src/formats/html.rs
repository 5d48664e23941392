//! HTML pages: the main content only, as structured text.
//!
//! The bytes are decoded in whatever encoding they are in ([`text::decode`], or the
//! `<meta charset>` when they are not UTF-8), parsed with `scraper` (html5ever: the browsers'
//! parsing rules, so broken markup still gives text and entities are decoded) and walked
//! without recursion, so a deeply nested page cannot exhaust the stack. Nothing is ever
//! fetched: `src` and `href` are never read.
//!
//! - **Main content**: the first `<main>` (or `role="main"`), else the only `<article>`, else
//!   `<body>`.
//! - **Dropped**: scripts, styles, embedded objects, form controls, `nav`, `aside`, hidden
//!   elements (`hidden`, `aria-hidden="true"`, `display:none`), landmark roles that are not
//!   content, `header`/`footer` outside an article (a header holding the `h1` stays), and
//!   boilerplate named by class or id (cookie banners, sidebars, menus, sharing, ads, …) —
//!   unless the element holds the page's headings or articles, so a wrapper called
//!   `content has-sidebar` keeps its text.
//! - **Structure**: `h1`–`h6` as headings, text blocks as paragraphs, lists as nested items,
//!   tables row by row (nested tables flattened into their cell), definition lists, quotes,
//!   preformatted text and captions as paragraphs. An image's `alt` text is read where it
//!   stands (it is what a reader who cannot see the picture is told) unless it is a one-pixel
//!   tracker.
//! - **Pages**: a page is split into sections at each `h1`/`h2` that follows text, each
//!   labelled with its heading; text before the first heading is "section 1". A page without
//!   `h1`/`h2` is one page.

use flashforge_domain::knowledge::{ExtractError, Extracted, ExtractionLimits};
use scraper::{ElementRef, Html, Node};

use super::render::{Pages, squash};
use super::text;

/// Elements never read, with everything inside them.
const DROPPED: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
    "button", "select", "textarea", "input", "nav", "aside", "dialog", "head", "audio", "video",
    "map", "frameset",
];

/// Roles of landmarks that are not the content.
const DROPPED_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
    "menu",
    "menubar",
    "dialog",
    "alertdialog",
];

/// Class or id words (whole words of `cookie-banner`, `site_sidebar`, …) of boilerplate.
const BOILERPLATE_WORDS: &[&str] = &[
    "cookie",
    "cookies",
    "consent",
    "gdpr",
    "banner",
    "sidebar",
    "menu",
    "navbar",
    "breadcrumb",
    "breadcrumbs",
    "share",
    "sharing",
    "social",
    "advert",
    "advertisement",
    "ad",
    "ads",
    "sponsored",
    "newsletter",
    "related",
    "comments",
    "popup",
    "modal",
];

/// Prefixes of run-together class or id words (`cookieBanner`, `sidebarLeft`).
const BOILERPLATE_PREFIXES: &[&str] = &["cookie", "sidebar", "breadcrumb", "newsletter", "advert"];

/// Elements that end a run of inline text.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "blockquote",
    "body",
    "caption",
    "center",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "hgroup",
    "hr",
    "legend",
    "main",
    "p",
    "pre",
    "section",
    "summary",
    "tbody",
    "tfoot",
    "thead",
];

/// How many nodes are looked through to decide whether boilerplate holds the content.
const CONTENT_SCAN: usize = 5_000;

/// What a walk over a page found besides its text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Written {
    /// The `<title>`, else the first `h1`.
    pub title: Option<String>,
    /// The text of the first heading of any level.
    pub first_heading: Option<String>,
}

/// An HTML page's main content within `limits`, in sections split at `h1`/`h2`.
pub fn extract(bytes: &[u8], limits: &ExtractionLimits) -> Result<Extracted, ExtractError> {
    let html = decode(bytes);
    let mut pages = Pages::new(limits);
    let written = write_html(&html, &mut pages, true)?;
    pages.title = written.title;
    let mut extracted = pages.finish();
    if extracted.pages.len() > 1 {
        for page in &mut extracted.pages {
            if page.label.is_none() {
                page.label = Some(format!("section {}", page.number));
            }
        }
    }
    Ok(extracted)
}

/// The page's text: UTF-8 (or a byte order mark) first, then the `<meta charset>` it
/// declares, then whatever the detector guesses.
fn decode(bytes: &[u8]) -> String {
    if encoding_rs::Encoding::for_bom(bytes).is_none()
        && std::str::from_utf8(bytes).is_err()
        && let Some(encoding) = declared_charset(bytes)
    {
        return encoding.decode_without_bom_handling(bytes).0.into_owned();
    }
    text::decode(bytes)
}

/// The charset a page declares in its first kilobytes (`<meta charset="…">` or the
/// `content="text/html; charset=…"` form); UTF-16 labels are ignored, as browsers do.
fn declared_charset(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = &bytes[..bytes.len().min(4096)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let at = head.find("charset=")? + "charset=".len();
    let label: String = head[at..]
        .trim_start_matches(['"', '\'', ' '])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
        .collect();
    let encoding = encoding_rs::Encoding::for_label(label.as_bytes())?;
    (encoding != encoding_rs::UTF_16LE && encoding != encoding_rs::UTF_16BE).then_some(encoding)
}

/// Writes the main content of `html` to `pages`; with `split_sections`, each `h1`/`h2` that
/// follows text starts a new page labelled with it.
pub fn write_html(
    html: &str,
    pages: &mut Pages,
    split_sections: bool,
) -> Result<Written, ExtractError> {
    write_document(html, pages, split_sections, true)
}

/// Writes a chapter of a book (EPUB XHTML) to `pages`, on the page being written: no
/// sections, and nothing dropped for looking like web chrome — in a book, `aside`s, sidebars
/// and footers are content. Pictures say nothing (a cover is a picture, not text); their
/// captions do.
pub fn write_chapter(html: &str, pages: &mut Pages) -> Result<Written, ExtractError> {
    write_document(&close_raw_text_tags(html), pages, false, false)
}

/// XHTML may write `<title/>`; an HTML parser reads that as an opening tag whose text runs
/// to the end of the file. Such empty elements are written out in full.
pub fn close_raw_text_tags(html: &str) -> String {
    let mut out = html.to_string();
    for tag in [
        "title", "script", "style", "textarea", "iframe", "noscript", "xmp",
    ] {
        for form in [format!("<{tag}/>"), format!("<{tag} />")] {
            if out.contains(&form) {
                out = out.replace(&form, &format!("<{tag}></{tag}>"));
            }
        }
    }
    out
}

fn write_document(
    html: &str,
    pages: &mut Pages,
    split_sections: bool,
    web: bool,
) -> Result<Written, ExtractError> {
    let document = Html::parse_document(html);
    let root = main_content(&document);
    let mut writer = Writer::new(pages, split_sections);
    writer.web = web;
    if let Some(root) = root {
        if matches!(root.value().name(), "main" | "article") {
            writer.sectioning = 1;
        }
        writer.walk(root)?;
    }
    writer.flush()?;
    let first_h1 = writer.first_h1.take();
    let first_heading = writer.first_heading.take();
    let title = page_title(&document).or(first_h1);
    Ok(Written {
        title,
        first_heading,
    })
}

/// The element whose text is read: `<main>`, else the only `<article>`, else `<body>`.
fn main_content(document: &Html) -> Option<ElementRef<'_>> {
    let mut articles = Vec::new();
    let mut body = None;
    for node in document.tree.root().descendants() {
        let Some(element) = ElementRef::wrap(node) else {
            continue;
        };
        let value = element.value();
        if value.name() == "main" || value.attr("role") == Some("main") {
            if !is_hidden(element) {
                return Some(element);
            }
        } else if value.name() == "article" && !is_hidden(element) {
            articles.push(element);
        } else if value.name() == "body" && body.is_none() {
            body = Some(element);
        }
    }
    match articles.as_slice() {
        [only] => Some(*only),
        _ => body.or_else(|| Some(document.root_element())),
    }
}

/// The `<title>` of the page.
fn page_title(document: &Html) -> Option<String> {
    document
        .tree
        .root()
        .descendants()
        .filter_map(ElementRef::wrap)
        .find(|e| e.value().name() == "title")
        .map(|e| squash(&e.text().collect::<String>()))
        .filter(|t| !t.is_empty())
}

fn is_hidden(element: ElementRef<'_>) -> bool {
    let value = element.value();
    if value.attr("hidden").is_some() || value.attr("aria-hidden") == Some("true") {
        return true;
    }
    value.attr("style").is_some_and(|style| {
        let style: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        style.contains("display:none") || style.contains("visibility:hidden")
    })
}

/// Whether a class or id names boilerplate.
fn is_boilerplate_name(name: &str) -> bool {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .any(|word| {
            BOILERPLATE_WORDS.contains(&word.as_str())
                || BOILERPLATE_PREFIXES.iter().any(|p| word.starts_with(p))
        })
}

/// Whether an element holds the page's content: a top-level heading, an article, or more
/// than can be looked through cheaply.
fn holds_content(element: ElementRef<'_>) -> bool {
    element
        .descendants()
        .skip(1)
        .take(CONTENT_SCAN + 1)
        .enumerate()
        .any(|(i, node)| {
            i == CONTENT_SCAN
                || ElementRef::wrap(node)
                    .is_some_and(|e| matches!(e.value().name(), "h1" | "h2" | "main" | "article"))
        })
}

/// The state of a walk: where the text of the block being read goes.
struct Writer<'p> {
    pages: &'p mut Pages,
    split: bool,
    /// A web page, whose chrome is dropped and whose pictures' alt text is read.
    web: bool,
    /// The inline text of the block being read.
    buf: String,
    /// Open `ul`/`ol`/`menu` lists.
    lists: usize,
    /// The level of the heading being read.
    heading: Option<usize>,
    /// Open tables; rows of nested ones are read as text of their cell.
    tables: usize,
    row: Option<Vec<String>>,
    cell: Option<String>,
    /// Open `main`/`article`/`section` elements: their headers and footers are content.
    sectioning: usize,
    /// Whether the page being written has text besides headings, and a label.
    page_has_body: bool,
    page_labelled: bool,
    first_heading: Option<String>,
    first_h1: Option<String>,
}

impl<'p> Writer<'p> {
    fn new(pages: &'p mut Pages, split: bool) -> Self {
        Self {
            pages,
            split,
            web: true,
            buf: String::new(),
            lists: 0,
            heading: None,
            tables: 0,
            row: None,
            cell: None,
            sectioning: 0,
            page_has_body: false,
            page_labelled: false,
            first_heading: None,
            first_h1: None,
        }
    }

    /// Walks everything under `root` in document order, without recursion.
    fn walk(&mut self, root: ElementRef<'_>) -> Result<(), ExtractError> {
        let Some(mut node) = root.first_child() else {
            return Ok(());
        };
        'outer: loop {
            let descend = match node.value() {
                Node::Text(text) => {
                    self.text(text);
                    false
                }
                Node::Element(_) => match ElementRef::wrap(node) {
                    Some(element) => self.open(element)?,
                    None => false,
                },
                _ => false,
            };
            if descend {
                if let Some(child) = node.first_child() {
                    node = child;
                    continue;
                }
                self.close(node.value())?;
            }
            loop {
                if let Some(next) = node.next_sibling() {
                    node = next;
                    continue 'outer;
                }
                match node.parent() {
                    Some(parent) if parent.id() != root.id() => {
                        node = parent;
                        self.close(node.value())?;
                    }
                    _ => break 'outer,
                }
            }
        }
        Ok(())
    }

    fn text(&mut self, text: &str) {
        match self.cell.as_mut() {
            Some(cell) => cell.push_str(text),
            None => self.buf.push_str(text),
        }
    }

    /// Whether to skip `element` and everything in it.
    fn drops(&self, element: ElementRef<'_>) -> bool {
        let value = element.value();
        let name = value.name();
        if is_hidden(element) {
            return true;
        }
        if DROPPED.contains(&name) {
            return name != "aside" || self.web;
        }
        if !self.web {
            return false;
        }
        if value
            .attr("role")
            .is_some_and(|role| DROPPED_ROLES.contains(&role.trim().to_ascii_lowercase().as_str()))
        {
            return true;
        }
        let outside = self.sectioning == 0;
        let named_boilerplate = value.attr("class").is_some_and(is_boilerplate_name)
            || value.id().is_some_and(is_boilerplate_name);
        let doubtful = named_boilerplate
            || name == "form"
            || (outside && name == "footer")
            || (outside && name == "header");
        if !doubtful {
            return false;
        }
        if name == "footer" && !named_boilerplate {
            return true;
        }
        !holds_content(element)
    }

    /// Starts reading `element`; `false` when it is skipped (with everything inside).
    fn open(&mut self, element: ElementRef<'_>) -> Result<bool, ExtractError> {
        if self.drops(element) {
            return Ok(false);
        }
        let value = element.value();
        let name = value.name();
        match name {
            "br" | "wbr" => self.text(" "),
            "img" | "area" if self.web => {
                let pixel = ["width", "height"]
                    .iter()
                    .any(|a| value.attr(a).is_some_and(|v| matches!(v.trim(), "0" | "1")));
                if let Some(alt) = value.attr("alt").filter(|_| !pixel) {
                    self.text(&format!(" {alt} "));
                }
            }
            "main" | "article" | "section" => {
                self.sectioning += 1;
                self.block()?;
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                if self.tables > 0 {
                    self.block()?;
                } else {
                    self.flush()?;
                    self.heading = Some(heading_level(name));
                }
            }
            "ul" | "ol" | "menu" | "dir" => {
                self.block()?;
                self.lists += 1;
            }
            "li" => self.block()?,
            "table" => {
                self.block()?;
                self.tables += 1;
            }
            "tr" if self.tables == 1 => {
                self.flush()?;
                self.row = Some(Vec::new());
            }
            "td" | "th" if self.tables == 1 => {
                if self.row.is_none() {
                    self.row = Some(Vec::new());
                }
                self.cell = Some(String::new());
            }
            "tr" | "td" | "th" => self.text(" "),
            _ if BLOCKS.contains(&name) => self.block()?,
            _ => {}
        }
        Ok(true)
    }

    /// Ends reading an element that was opened.
    fn close(&mut self, node: &Node) -> Result<(), ExtractError> {
        let Node::Element(value) = node else {
            return Ok(());
        };
        let name = value.name();
        match name {
            "main" | "article" | "section" => {
                self.sectioning = self.sectioning.saturating_sub(1);
                self.block()?;
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                if self.tables > 0 || self.heading.is_none() {
                    self.block()?;
                } else {
                    self.end_heading(heading_level(name))?;
                }
            }
            "ul" | "ol" | "menu" | "dir" => {
                self.flush()?;
                self.lists = self.lists.saturating_sub(1);
                if self.lists == 0 {
                    self.pages.end_block()?;
                }
            }
            "li" => self.block()?,
            "table" if self.tables > 1 => {
                self.tables -= 1;
                self.text(" ");
            }
            "table" => {
                self.end_row()?;
                self.flush()?;
                self.tables = self.tables.saturating_sub(1);
                if self.tables == 0 {
                    self.pages.end_block()?;
                }
            }
            "td" | "th" if self.tables == 1 => {
                if let (Some(cell), Some(row)) = (self.cell.take(), self.row.as_mut()) {
                    row.push(cell);
                }
            }
            "tr" if self.tables == 1 => self.end_row()?,
            "tr" | "td" | "th" => self.text(" "),
            _ if BLOCKS.contains(&name) => self.block()?,
            _ => {}
        }
        Ok(())
    }

    fn end_row(&mut self) -> Result<(), ExtractError> {
        if let Some(cell) = self.cell.take()
            && let Some(row) = self.row.as_mut()
        {
            row.push(cell);
        }
        if let Some(row) = self.row.take() {
            self.pages.table_row(&row)?;
            if row.iter().any(|c| !c.trim().is_empty()) {
                self.page_has_body = true;
            }
        }
        Ok(())
    }

    fn end_heading(&mut self, level: usize) -> Result<(), ExtractError> {
        self.heading = None;
        let text = squash(&std::mem::take(&mut self.buf));
        if text.is_empty() {
            return Ok(());
        }
        if self.split && level <= 2 {
            if self.page_has_body {
                self.pages.break_page()?;
                self.page_has_body = false;
                self.page_labelled = false;
            }
            if !self.page_labelled {
                self.pages.label(&text);
                self.page_labelled = true;
            }
        }
        if level == 1 && self.first_h1.is_none() {
            self.first_h1 = Some(text.clone());
        }
        if self.first_heading.is_none() {
            self.first_heading = Some(text.clone());
        }
        self.pages.heading(level, &text)
    }

    /// A block boundary: inside a cell or a heading a space, elsewhere the end of a paragraph
    /// (or list item).
    fn block(&mut self) -> Result<(), ExtractError> {
        if let Some(cell) = self.cell.as_mut() {
            cell.push(' ');
            Ok(())
        } else if self.heading.is_some() {
            self.buf.push(' ');
            Ok(())
        } else {
            self.flush()
        }
    }

    /// Writes the inline text read so far as a paragraph, or a list item inside a list.
    fn flush(&mut self) -> Result<(), ExtractError> {
        if self.buf.trim().is_empty() {
            self.buf.clear();
            return Ok(());
        }
        let text = std::mem::take(&mut self.buf);
        self.page_has_body = true;
        if self.lists > 0 {
            self.pages.list_item(self.lists - 1, &text)
        } else {
            self.pages.paragraph(&text)
        }
    }
}

fn heading_level(name: &str) -> usize {
    name[1..].parse().unwrap_or(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(html: &str) -> Extracted {
        extract(html.as_bytes(), &ExtractionLimits::default()).unwrap()
    }

    fn all_text(extracted: &Extracted) -> String {
        extracted
            .pages
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    const PAGE: &str = r#"<!DOCTYPE html><html><head><title>Cells &amp; Life</title>
<style>.x { color: red } stylewordzz</style><script>var scriptwordzz = 1;</script></head>
<body>
<div class="cookie-consent">We use cookies cookiewordzz</div>
<header><a href="/">Site name headerwordzz</a></header>
<nav><ul><li>Home navwordzz</li></ul></nav>
<div class="layout has-sidebar">
<aside>Related asidewordzz</aside>
<article class="post">
<header><h1>Cell Division</h1><p class="byline">By Ana</p></header>
<p>Cells divide by <b>mito</b>sis.<br>Each daughter<br/>cell is whole.</p>
<div class="share-buttons">Share on X sharewordzz</div>
<noscript>noscriptwordzz</noscript>
<p hidden>hiddenwordzz</p><p aria-hidden="true">ariawordzz</p>
<img src="http://tracker.invalid/pixel.gif" alt="" width="1" height="1">
<figure><img src="http://img.invalid/cell.png" alt="A cell in anaphase"><figcaption>Figure 1: anaphase</figcaption></figure>
</article>
</div>
<footer>Copyright footerwordzz</footer>
</body></html>"#;

    #[test]
    fn the_main_content_is_read_and_boilerplate_is_not() {
        let extracted = read(PAGE);
        let text = all_text(&extracted);
        for absent in [
            "stylewordzz",
            "scriptwordzz",
            "cookiewordzz",
            "headerwordzz",
            "navwordzz",
            "asidewordzz",
            "sharewordzz",
            "noscriptwordzz",
            "hiddenwordzz",
            "ariawordzz",
            "footerwordzz",
            "http",
            "invalid",
        ] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        assert!(text.starts_with("# Cell Division\n\nBy Ana\n\n"), "{text}");
        assert!(text.contains("Cells divide by mitosis. Each daughter cell is whole."));
        assert!(text.contains("A cell in anaphase"));
        assert!(text.contains("Figure 1: anaphase"));
        assert_eq!(extracted.title.as_deref(), Some("Cells & Life"));
        assert_eq!(extracted.pages.len(), 1);
        assert_eq!(extracted.pages[0].label.as_deref(), Some("Cell Division"));
    }

    #[test]
    fn without_main_or_article_the_body_is_read_without_its_chrome() {
        let html = "<body><div id=menu>menuwordzz</div><div id=content class=main-content>\
                    <p>Body text here.</p></div><footer>footerwordzz</footer></body>";
        let text = all_text(&read(html));
        assert_eq!(text, "Body text here.");
        // A wrapper named like boilerplate that holds the headings is kept.
        let html =
            "<body><div class=\"page sidebar-layout\"><h1>Kept</h1><p>Text.</p></div></body>";
        assert_eq!(all_text(&read(html)), "# Kept\n\nText.");
    }

    #[test]
    fn sections_split_at_h1_and_h2_and_are_labelled() {
        let html = "<title>T</title><p>Intro text.</p><h1>One</h1><h2>One A</h2><p>a</p>\
                    <h3>Deeper</h3><p>b</p><h2>Two</h2><p>c</p>";
        let extracted = read(html);
        let labels: Vec<_> = extracted.pages.iter().map(|p| p.label.clone()).collect();
        assert_eq!(
            labels,
            [
                Some("section 1".to_string()),
                Some("One".to_string()),
                Some("Two".to_string())
            ]
        );
        assert_eq!(extracted.pages[0].text, "Intro text.");
        assert_eq!(
            extracted.pages[1].text,
            "# One\n\n## One A\n\na\n\n### Deeper\n\nb"
        );
        assert_eq!(extracted.pages[2].text, "## Two\n\nc");
        assert_eq!(extracted.pages[2].number, 3);
        let single = read("<p>No headings.</p><h3>Small</h3><p>x</p>");
        assert_eq!(single.pages.len(), 1);
        assert_eq!(single.pages[0].label, None);
        assert_eq!(single.title, None);
        assert_eq!(
            read("<h1>First</h1><p>x</p>").title.as_deref(),
            Some("First")
        );
    }

    #[test]
    fn lists_tables_and_definitions_keep_their_structure() {
        let html = "<main><ul><li>one</li><li>two<ol><li>two a</li></ol></li></ul>\
                    <p>after</p><table><caption>Cap</caption><tr><th>A</th><th>B</th></tr>\
                    <tr><td>1 <table><tr><td>in</td><td>ner</td></tr></table></td><td>2</td></tr>\
                    </table><dl><dt>Term</dt><dd>Meaning</dd></dl><blockquote>Quote</blockquote>\
                    <pre>let x =\n    1;</pre></main>";
        assert_eq!(
            all_text(&read(html)),
            "- one\n- two\n  - two a\n\nafter\n\nCap\n\n| A | B |\n| 1 in ner | 2 |\n\n\
             Term\n\nMeaning\n\nQuote\n\nlet x = 1;"
        );
    }

    #[test]
    fn entities_and_encodings_are_decoded() {
        let text = all_text(&read(
            "<p>caf&eacute; &amp; cr&#232;me &#x2014; &lt;b&gt; &nbsp;x</p>",
        ));
        assert_eq!(text, "café & crème — <b> x");
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(
            "<html><head><meta charset=\"windows-1251\"></head><body><p>Клетка</p></body></html>",
        );
        let extracted = extract(&bytes, &ExtractionLimits::default()).unwrap();
        assert_eq!(extracted.pages[0].text, "Клетка");
    }

    #[test]
    fn malformed_and_deeply_nested_pages_still_give_text() {
        let text = all_text(&read(
            "<p>open <b>bold <i>both</p><div>next</span></td> end",
        ));
        assert_eq!(text, "open bold both\n\nnext end");
        let deep = format!("{}deep text{}", "<div><span>".repeat(3_000), "</span>");
        assert!(all_text(&read(&deep)).contains("deep text"));
        let read_garbage = extract(&[0xff, 0x00, 0x13, 0x80], &ExtractionLimits::default());
        assert!(read_garbage.is_ok());
    }

    #[test]
    fn limits_apply_while_writing() {
        let limits = ExtractionLimits {
            max_page_chars: 50,
            ..ExtractionLimits::default()
        };
        let html = format!("<p>{}</p>", "word ".repeat(100));
        assert!(matches!(
            extract(html.as_bytes(), &limits),
            Err(ExtractError::OverLimit(_))
        ));
    }

    #[test]
    fn mutated_pages_never_panic() {
        crate::formats::xml::testing::survives_byte_mutations(PAGE.as_bytes(), extract);
    }
}
