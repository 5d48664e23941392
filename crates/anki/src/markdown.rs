//! Markdown to the HTML that Anki fields hold, and HTML back to the plain text Anki sorts and
//! checksums by.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

/// Renders `markdown` as HTML for an Anki field.
///
/// - Raw HTML in the input is shown as text (escaped), never interpreted. As in CommonMark, a line
///   that starts an HTML block (`<div>`, `<script>`, …) is raw up to the block's end, so Markdown
///   inside it stays as typed.
/// - Tables and `~~strikethrough~~` are rendered; `$…$` and `$$…$$` become MathJax's `\(…\)`
///   and `\[…\]`, which Anki renders.
/// - Links keep only `http`, `https` and `mailto` addresses (and scheme-less relative ones); any
///   other scheme (`javascript:`, `data:`, …) leaves the link text. Images keep only the deck's
///   own media (a relative file name): a remote image leaves its alt text, so a deck never
///   makes Anki fetch anything.
/// - A field that is a single paragraph loses its `<p>` wrapper, as fields typed in Anki do.
pub(crate) fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_MATH;
    let mut kept_links: Vec<bool> = Vec::new();
    let mut events: Vec<Event<'_>> = Vec::new();
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Html(raw) | Event::InlineHtml(raw) => events.push(Event::Text(raw)),
            Event::InlineMath(math) => events.push(Event::Text(format!("\\({math}\\)").into())),
            Event::DisplayMath(math) => events.push(Event::Text(format!("\\[{math}\\]").into())),
            Event::Start(tag @ (Tag::Link { .. } | Tag::Image { .. })) => {
                let keep = match &tag {
                    Tag::Link { dest_url, .. } => is_safe_url(dest_url),
                    // Anki loads images when a card is shown: only the deck's own media, never
                    // an address elsewhere (a tracking pixel, a request to a private network).
                    Tag::Image { dest_url, .. } => is_local_media(dest_url),
                    _ => false,
                };
                kept_links.push(keep);
                if keep {
                    events.push(Event::Start(tag));
                }
            }
            Event::End(end @ (TagEnd::Link | TagEnd::Image)) => {
                if kept_links.pop().unwrap_or(false) {
                    events.push(Event::End(end));
                }
            }
            other => events.push(other),
        }
    }
    if is_single_paragraph(&events) {
        let inner = events.len().saturating_sub(1);
        events = events.drain(1..inner).collect();
    }
    let mut out = String::with_capacity(markdown.len() + markdown.len() / 2);
    html::push_html(&mut out, events.into_iter());
    out.truncate(out.trim_end().len());
    out
}

/// Whether the events are exactly one top-level paragraph.
fn is_single_paragraph(events: &[Event<'_>]) -> bool {
    if !matches!(events.first(), Some(Event::Start(Tag::Paragraph)))
        || !matches!(events.last(), Some(Event::End(TagEnd::Paragraph)))
    {
        return false;
    }
    let mut depth = 0usize;
    let mut top_level = 0usize;
    for event in events {
        match event {
            Event::Start(_) => {
                if depth == 0 {
                    top_level += 1;
                }
                depth += 1;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {
                if depth == 0 {
                    top_level += 1;
                }
            }
        }
    }
    top_level == 1
}

/// `http`, `https`, `mailto`, or no scheme at all (a relative address or a fragment).
fn is_safe_url(url: &str) -> bool {
    let url = url.trim();
    let scheme_end = url.find(':');
    let path_start = url.find(['/', '?', '#']);
    match (scheme_end, path_start) {
        (None, _) => true,
        (Some(colon), Some(path)) if path < colon => true,
        (Some(colon), _) => {
            let scheme = url[..colon].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto")
        }
    }
}

/// Whether an image address names a file of the deck's media: no scheme, no host.
fn is_local_media(url: &str) -> bool {
    let url = url.trim();
    !url.is_empty()
        && !url.starts_with("//")
        && !url.starts_with('\\')
        && is_safe_url(url)
        && !url[..url.find(['/', '?', '#']).unwrap_or(url.len())].contains(':')
}

/// The text of an HTML field without its tags, with entities decoded (whitespace kept as it is):
/// what Anki sorts notes by and checksums the first field of. `<script>` and `<style>`
/// elements are dropped whole; an `<img>` leaves its `src`, as Anki keeps media file names.
pub(crate) fn strip_html(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let after = &rest[open..];
        let Some(close) = after.find('>') else {
            // A lone `<` is text.
            text.push_str(after);
            rest = "";
            break;
        };
        let tag = &after[1..close];
        rest = &after[close + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if !tag.starts_with('/') && (name == "script" || name == "style") {
            let end = format!("</{name}");
            rest = match rest.to_ascii_lowercase().find(&end) {
                Some(at) => rest[at..].find('>').map_or("", |gt| &rest[at + gt + 1..]),
                None => "",
            };
        } else if name == "img"
            && let Some(src) = attribute(tag, "src")
        {
            text.push(' ');
            text.push_str(src);
            text.push(' ');
        }
    }
    text.push_str(rest);
    decode_entities(&text)
}

/// A field's HTML (as Anki's editor writes it) as Markdown text: line breaks and blocks become
/// new lines, bold, italics and code their Markdown marks, list items `- ` lines; an image (its
/// file is not imported) leaves `[image: name]`; scripts and styles are dropped, other tags
/// leave their text. Characters Markdown would read as marks are escaped (raw HTML in a card is
/// shown as text, so `<` needs no escape), cloze markers
/// (`{{c1::…}}`) kept as they are.
pub(crate) fn from_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        push_text(&mut out, &rest[..open]);
        let after = &rest[open..];
        let Some(close) = after.find('>') else {
            push_text(&mut out, after);
            rest = "";
            break;
        };
        let tag = &after[1..close];
        rest = &after[close + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match name.as_str() {
            "script" | "style" if !closing => {
                let end = format!("</{name}");
                rest = match rest.to_ascii_lowercase().find(&end) {
                    Some(at) => rest[at..].find('>').map_or("", |gt| &rest[at + gt + 1..]),
                    None => "",
                };
            }
            "br" => out.push('\n'),
            "div" | "p" | "ul" | "ol" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "tr"
            | "blockquote" | "pre" => start_line(&mut out),
            "li" if !closing => {
                start_line(&mut out);
                out.push_str("- ");
            }
            "b" | "strong" => out.push_str("**"),
            "i" | "em" => out.push('*'),
            "code" => out.push('`'),
            "img" if !closing => {
                if let Some(src) = attribute(tag, "src") {
                    out.push_str("[image: ");
                    push_text(&mut out, src);
                    out.push(']');
                }
            }
            _ => {}
        }
    }
    push_text(&mut out, rest);
    let mut lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    // No run of more than one blank line, none at the ends.
    lines.dedup_by(|a, b| a.is_empty() && b.is_empty());
    lines.join("\n").trim().to_string()
}

/// Ends the line being written, if one is.
fn start_line(out: &mut String) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

/// Text between tags, entities decoded and Markdown's marks escaped.
fn push_text(out: &mut String, raw: &str) {
    for ch in decode_entities(raw).chars() {
        match ch {
            '\\' | '*' | '_' | '`' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(ch);
            }
            '\u{a0}' => out.push(' '),
            '\n' | '\r' => out.push(' '),
            _ => out.push(ch),
        }
    }
}

/// The value of `name="…"` (or `'…'`) inside a tag's text.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(name) {
        let start = from + found;
        from = start + name.len();
        let before_ok = start == 0 || lower.as_bytes()[start - 1].is_ascii_whitespace();
        let after = lower[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value_at = tag.len() - after.len() + 1;
        let value = tag[value_at..].trim_start();
        let quote = value.chars().next()?;
        if quote == '"' || quote == '\'' {
            let body = &value[1..];
            return body.find(quote).map(|end| &body[..end]);
        }
        let end = value.find(char::is_whitespace).unwrap_or(value.len());
        return Some(&value[..end]);
    }
    None
}

/// Decodes the named entities an HTML writer emits and numeric ones; others stay as they are.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let decoded = after.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let entity = &after[1..semi];
            let ch = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => entity.strip_prefix('#').and_then(|num| {
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => num.parse().ok(),
                    };
                    code.and_then(char::from_u32)
                }),
            };
            ch.map(|ch| (ch, semi))
        });
        match decoded {
            Some((ch, semi)) => {
                out.push(ch);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn single_paragraph_is_unwrapped_and_inline_markup_rendered() {
        assert_eq!(
            to_html("What is **bold** and `code`?"),
            "What is <strong>bold</strong> and <code>code</code>?"
        );
    }

    #[test]
    fn several_blocks_keep_their_paragraphs() {
        let html = to_html("First.\n\n- a\n- b");
        assert!(html.starts_with("<p>First.</p>"), "{html}");
        assert!(
            html.contains("<ul>") && html.contains("<li>a</li>"),
            "{html}"
        );
    }

    #[test]
    fn raw_html_is_escaped_not_interpreted() {
        let html = to_html("<script>alert(1)</script>\n\nand <b>inline</b>");
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;inline&lt;/b&gt;"), "{html}");
    }

    #[test]
    fn math_becomes_mathjax_delimiters() {
        assert_eq!(to_html("Area $\\pi r^2$"), "Area \\(\\pi r^2\\)");
        assert_eq!(to_html("$$a<b$$"), "\\[a&lt;b\\]");
    }

    #[test]
    fn unsafe_link_schemes_leave_only_text() {
        assert_eq!(to_html("[click](javascript:alert(1))"), "click");
        assert_eq!(
            to_html("[site](https://example.com)"),
            "<a href=\"https://example.com\">site</a>"
        );
        assert_eq!(
            to_html("![alt text](data:image/png;base64,AAAA)"),
            "alt text"
        );
    }

    #[test]
    fn only_the_decks_own_images_are_kept_never_remote_ones() {
        assert_eq!(
            to_html("![a cell](cell.png)"),
            "<img src=\"cell.png\" alt=\"a cell\" />"
        );
        for remote in [
            "![pixel](https://tracker.example/p.gif)",
            "![pixel](http://10.0.0.1/admin.png)",
            "![pixel](//tracker.example/p.gif)",
            "![pixel](HTTPS://tracker.example/p.gif)",
        ] {
            assert_eq!(to_html(remote), "pixel", "{remote}");
        }
        // A link is clicked, not fetched: http(s) links stay.
        assert!(to_html("[ref](https://example.com/x)").contains("href"));
    }

    #[test]
    fn anki_html_becomes_markdown_text() {
        assert_eq!(
            from_html("<b>Mitochondria</b> make <i>ATP</i><br>2 &lt; 3 &amp; 4*5"),
            "**Mitochondria** make *ATP*\n2 < 3 & 4\\*5"
        );
        assert_eq!(
            from_html("<div>one</div><div>two</div><ul><li>a</li><li>b</li></ul>"),
            "one\ntwo\n- a\n- b"
        );
        assert_eq!(
            from_html("{{c1::Mitochondria}} see <img src=\"cell.png\">"),
            "{{c1::Mitochondria}} see [image: cell.png]"
        );
        assert_eq!(from_html("x<script>alert(1)</script>y&nbsp;z"), "xy z");
        // Raw HTML in a card's Markdown is shown as text: `<` needs no escape.
        assert_eq!(from_html("a <unclosed"), "a <unclosed");
        // What it makes renders back to the same text.
        assert_eq!(
            strip_html(&to_html(&from_html("<b>a_b</b> [c]"))),
            "a_b [c]"
        );
    }

    #[test]
    fn strip_html_removes_tags_and_decodes_entities() {
        assert_eq!(
            strip_html("<p>a &lt;b&gt; &amp; <strong>c</strong></p>\n<p>d&#39;e&#x21;</p>"),
            "a <b> & c\nd'e!"
        );
        assert_eq!(strip_html("x<script>var a = '<p>';</script>y"), "xy");
        assert_eq!(strip_html("see <img src=\"cat.png\">"), "see  cat.png ");
        assert_eq!(strip_html("1 < 2 &unknown; 3"), "1 < 2 &unknown; 3");
    }
}
