//! The XML of office documents (DOCX, PPTX, ODT, ODP) as a small element tree, for the
//! extractors to walk in document order.
//!
//! Names are written with a fixed prefix per known namespace (`w:p`, `a:t`, `text:p`, …)
//! whatever prefix the file declares, so a file that binds WordprocessingML to `ns0:` reads
//! like one that binds it to `w:`; strict OOXML namespaces map to the same prefixes. Custom
//! entities are never expanded (quick-xml leaves them as references; they are dropped), the
//! nesting depth and the number of nodes are bounded, and subtrees an extractor never reads
//! (run properties, deleted text, …) are skipped while parsing, not stored.

use flashforge_domain::knowledge::ExtractError;
use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::zipfs::{Container, resolve};

/// Deeper nesting is refused: no office document nests this deep, and walks stay shallow.
const MAX_DEPTH: usize = 256;
/// The most XML events (tags, texts) one part may make, skipped ones included: it bounds
/// the time and the memory of the tree (a part is refused as malformed past it).
const MAX_NODES: usize = 3_000_000;

/// Known namespaces and the prefix their names are written with.
const NAMESPACES: &[(&str, &str)] = &[
    (
        "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
        "w",
    ),
    ("http://purl.oclc.org/ooxml/wordprocessingml/main", "w"),
    ("http://schemas.openxmlformats.org/drawingml/2006/main", "a"),
    ("http://purl.oclc.org/ooxml/drawingml/main", "a"),
    (
        "http://schemas.openxmlformats.org/presentationml/2006/main",
        "p",
    ),
    ("http://purl.oclc.org/ooxml/presentationml/main", "p"),
    (
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
        "r",
    ),
    (
        "http://purl.oclc.org/ooxml/officeDocument/relationships",
        "r",
    ),
    (
        "http://schemas.openxmlformats.org/package/2006/relationships",
        "rel",
    ),
    (
        "http://schemas.openxmlformats.org/markup-compatibility/2006",
        "mc",
    ),
    ("http://purl.org/dc/elements/1.1/", "dc"),
    ("urn:oasis:names:tc:opendocument:xmlns:office:1.0", "office"),
    ("urn:oasis:names:tc:opendocument:xmlns:text:1.0", "text"),
    ("urn:oasis:names:tc:opendocument:xmlns:table:1.0", "table"),
    ("urn:oasis:names:tc:opendocument:xmlns:drawing:1.0", "draw"),
    (
        "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
        "presentation",
    ),
    ("urn:oasis:names:tc:opendocument:xmlns:style:1.0", "style"),
    (
        "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
        "fo",
    ),
    (
        "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
        "svg",
    ),
];

/// An XML element: its name, attributes and children in document order.
#[derive(Debug, Default)]
pub struct Element {
    pub name: String,
    attributes: Vec<(String, String)>,
    pub children: Vec<Node>,
}

/// A child of an element.
#[derive(Debug)]
pub enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    /// The value of attribute `name` (`w:val`, `text:style-name`).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the element is named `name`.
    pub fn is(&self, name: &str) -> bool {
        self.name == name
    }

    /// The child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    /// The first child element named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(name))
    }

    /// The child elements named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.elements().filter(move |e| e.is(name))
    }

    /// The first element named `name` at or below this one, depth first.
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.is(name) {
            return Some(self);
        }
        self.elements().find_map(|e| e.find(name))
    }

    /// Whether any element at or below this one satisfies `test`.
    pub fn any(&self, test: &dyn Fn(&Element) -> bool) -> bool {
        test(self) || self.elements().any(|e| e.any(test))
    }

    /// All the text at or below this element, concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.append_text(&mut out);
        out
    }

    fn append_text(&self, out: &mut String) {
        for node in &self.children {
            match node {
                Node::Text(text) => out.push_str(text),
                Node::Element(element) => element.append_text(out),
            }
        }
    }
}

/// A short reason for a part that is not well-formed XML.
fn malformed(part: &str, reason: impl std::fmt::Display) -> ExtractError {
    let reason: String = reason.to_string().chars().take(160).collect();
    ExtractError::Malformed(format!("{part}: {reason}"))
}

fn canonical(resolved: ResolveResult<'_>, local: &[u8]) -> String {
    let local = String::from_utf8_lossy(local);
    match resolved {
        ResolveResult::Bound(namespace) => {
            let uri = String::from_utf8_lossy(namespace.0);
            match NAMESPACES.iter().find(|(known, _)| *known == uri) {
                Some((_, prefix)) => format!("{prefix}:{local}"),
                None => format!("?:{local}"),
            }
        }
        ResolveResult::Unbound => local.into_owned(),
        // An undeclared prefix: kept as written.
        ResolveResult::Unknown(prefix) => format!("{}:{local}", String::from_utf8_lossy(&prefix)),
    }
}

fn element_of(reader: &NsReader<&[u8]>, start: &BytesStart<'_>) -> Element {
    let (resolved, local) = reader.resolve_element(start.name());
    let name = canonical(resolved, local.as_ref());
    let mut attributes = Vec::new();
    for attribute in start.attributes().with_checks(false).flatten() {
        let key = attribute.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        let (resolved, local) = reader.resolve_attribute(key);
        let value = match attribute.unescape_value() {
            Ok(value) => value.into_owned(),
            Err(_) => String::from_utf8_lossy(&attribute.value).into_owned(),
        };
        attributes.push((canonical(resolved, local.as_ref()), value));
    }
    Element {
        name,
        attributes,
        children: Vec::new(),
    }
}

fn push_text(stack: &mut [Element], text: &str) {
    let Some(parent) = stack.last_mut() else {
        return;
    };
    if let Some(Node::Text(last)) = parent.children.last_mut() {
        last.push_str(text);
    } else {
        parent.children.push(Node::Text(text.to_string()));
    }
}

/// Parses `xml` (part `part`, named in errors) into its root element, leaving out the
/// subtrees of elements named in `skip`.
pub fn parse(part: &str, xml: &str, skip: &[&str]) -> Result<Element, ExtractError> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut skipping = 0usize;
    let mut nodes = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| malformed(part, e))?;
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(malformed(part, "too many XML nodes"));
        }
        match event {
            Event::Start(start) => {
                if skipping > 0 {
                    skipping += 1;
                    continue;
                }
                let element = element_of(&reader, &start);
                if skip.contains(&element.name.as_str()) {
                    skipping = 1;
                } else if stack.len() >= MAX_DEPTH {
                    return Err(malformed(part, "the XML nests too deep"));
                } else {
                    stack.push(element);
                }
            }
            Event::Empty(start) => {
                if skipping > 0 {
                    continue;
                }
                let element = element_of(&reader, &start);
                if skip.contains(&element.name.as_str()) {
                    continue;
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(element)),
                    None => return Ok(element),
                }
            }
            Event::End(_) => {
                if skipping > 0 {
                    skipping -= 1;
                    continue;
                }
                let Some(element) = stack.pop() else {
                    return Err(malformed(part, "an end tag without a start"));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(element)),
                    None => return Ok(element),
                }
            }
            Event::Text(text) if skipping == 0 => {
                let text = text.decode().map_err(|e| malformed(part, e))?;
                push_text(&mut stack, &text);
            }
            Event::CData(data) if skipping == 0 => {
                push_text(&mut stack, &String::from_utf8_lossy(&data));
            }
            Event::GeneralRef(reference) if skipping == 0 => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    Ok(None) => match &*reference as &[u8] {
                        b"amp" => Some('&'),
                        b"lt" => Some('<'),
                        b"gt" => Some('>'),
                        b"quot" => Some('"'),
                        b"apos" => Some('\''),
                        // Custom entities are never expanded.
                        _ => None,
                    },
                    Err(_) => None,
                };
                if let Some(c) = resolved {
                    push_text(&mut stack, c.encode_utf8(&mut [0; 4]));
                }
            }
            Event::Eof => {
                return Err(malformed(
                    part,
                    if stack.is_empty() {
                        "no root element"
                    } else {
                        "the XML ends inside an element"
                    },
                ));
            }
            _ => {}
        }
    }
}

/// Reads and parses part `name`; `Ok(None)` when the container has no such part.
pub fn read_part(
    zip: &mut Container<'_>,
    name: &str,
    skip: &[&str],
) -> Result<Option<Element>, ExtractError> {
    match zip.read_text(name)? {
        Some(text) => parse(name, &text, skip).map(Some),
        None => Ok(None),
    }
}

/// Reads and parses part `name`, which the document cannot do without.
pub fn require_part(
    zip: &mut Container<'_>,
    name: &str,
    skip: &[&str],
) -> Result<Element, ExtractError> {
    let text = zip.require_text(name)?;
    parse(name, &text, skip)
}

/// Reads an optional part: a missing or malformed one is `None` (the document reads without
/// it); a part past the unpacking budget still stops the reading.
pub fn optional_part(
    zip: &mut Container<'_>,
    name: &str,
    skip: &[&str],
) -> Result<Option<Element>, ExtractError> {
    match read_part(zip, name, skip) {
        Ok(part) => Ok(part),
        Err(ExtractError::Malformed(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// A relationship of an OPC part (DOCX, PPTX): its id, type and target part.
#[derive(Debug, Clone)]
pub struct Relationship {
    pub id: String,
    pub kind: String,
    /// The target resolved to a part name; external targets are left out.
    pub target: String,
}

/// The relationships of part `part` (from `folder/_rels/name.rels`); missing or malformed
/// relationship parts give none.
pub fn relationships(
    zip: &mut Container<'_>,
    part: &str,
) -> Result<Vec<Relationship>, ExtractError> {
    let (folder, name) = match part.rsplit_once('/') {
        Some((folder, name)) => (format!("{folder}/"), name),
        None => (String::new(), part),
    };
    let rels = format!("{folder}_rels/{name}.rels");
    let Some(root) = optional_part(zip, &rels, &[])? else {
        return Ok(Vec::new());
    };
    Ok(root
        .elements()
        .filter(|e| e.name.ends_with("Relationship"))
        .filter(|e| e.attr("TargetMode") != Some("External"))
        .filter_map(|e| {
            Some(Relationship {
                id: e.attr("Id")?.to_string(),
                kind: e.attr("Type")?.to_string(),
                target: resolve(part, e.attr("Target")?),
            })
        })
        .collect())
}

/// The target of the first relationship whose type ends with `/suffix`.
pub fn target_of(relationships: &[Relationship], suffix: &str) -> Option<String> {
    relationships
        .iter()
        .find(|r| r.kind.rsplit('/').next() == Some(suffix))
        .map(|r| r.target.clone())
}

/// The main part of an OPC package, from its root relationships, else `default`.
pub fn main_part(zip: &mut Container<'_>, default: &str) -> Result<String, ExtractError> {
    let root = relationships(zip, "")?;
    Ok(target_of(&root, "officeDocument").unwrap_or_else(|| default.to_string()))
}

/// `dc:title` of a core-properties (OOXML) or meta (ODF) part, if the part has one.
pub fn dc_title(zip: &mut Container<'_>, part: &str) -> Result<Option<String>, ExtractError> {
    Ok(optional_part(zip, part, &[])?
        .and_then(|root| root.find("dc:title").map(Element::text))
        .map(|title| super::render::squash(&title))
        .filter(|title| !title.is_empty()))
}

#[cfg(test)]
pub(crate) mod testing {
    //! Building containers in tests, and a mutation loop that must never panic.

    use std::io::{Cursor, Write};

    use flashforge_domain::knowledge::{ExtractError, Extracted, ExtractionLimits};

    pub fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in parts {
            writer.start_file(*name, options).unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap();
        out.into_inner()
    }

    /// A zip of text parts.
    pub fn zip_text(parts: &[(&str, &str)]) -> Vec<u8> {
        let parts: Vec<(&str, &[u8])> = parts.iter().map(|(n, t)| (*n, t.as_bytes())).collect();
        zip_of(&parts)
    }

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n.max(1) as u64) as usize
        }
    }

    fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
        match rng.below(3) {
            0 => bytes.truncate(rng.below(bytes.len())),
            1 => {
                for _ in 0..=rng.below(8) {
                    let at = rng.below(bytes.len());
                    if let Some(b) = bytes.get_mut(at) {
                        *b ^= 1 << rng.below(8);
                    }
                }
            }
            _ => {
                let at = rng.below(bytes.len());
                let junk = [b'<', b'>', b'&', b'/', b'"', 0xff];
                bytes.insert(at.min(bytes.len()), junk[rng.below(junk.len())]);
            }
        }
    }

    /// 200 mutations of the container and of its parts; each must end in `Ok` or `Err`.
    /// Truncations, bit flips and overwritten runs of `base`, 200 rounds: each ends in text or
    /// an error, never a panic.
    pub fn survives_byte_mutations(
        base: &[u8],
        extract: fn(&[u8], &ExtractionLimits) -> Result<Extracted, ExtractError>,
    ) {
        let limits = ExtractionLimits::default();
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..200 {
            let mut bytes = base.to_vec();
            mutate(&mut rng, &mut bytes);
            let _ = extract(&bytes, &limits);
        }
    }

    pub fn survives_mutations(
        parts: &[(&str, &str)],
        extract: fn(&[u8], &ExtractionLimits) -> Result<Extracted, ExtractError>,
    ) {
        let limits = ExtractionLimits::default();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let whole = zip_text(parts);
        for round in 0..200 {
            let bytes = if round % 2 == 0 {
                let mut bytes = whole.clone();
                mutate(&mut rng, &mut bytes);
                bytes
            } else {
                let mut owned: Vec<(&str, Vec<u8>)> = parts
                    .iter()
                    .map(|(n, t)| (*n, t.as_bytes().to_vec()))
                    .collect();
                let which = rng.below(owned.len());
                mutate(&mut rng, &mut owned[which].1);
                let refs: Vec<(&str, &[u8])> =
                    owned.iter().map(|(n, b)| (*n, b.as_slice())).collect();
                zip_of(&refs)
            };
            let _ = extract(&bytes, &limits);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_take_the_known_prefix_whatever_the_file_declares() {
        let xml = r#"<x:document xmlns:x="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><x:p x:val="1">a &amp; &#66;<x:t>c&custom;</x:t></x:p></x:document>"#;
        let root = parse("doc", xml, &[]).unwrap();
        assert_eq!(root.name, "w:document");
        let p = root.child("w:p").unwrap();
        assert_eq!(p.attr("w:val"), Some("1"));
        assert_eq!(root.text(), "a & Bc");
    }

    #[test]
    fn skipped_subtrees_are_not_stored_and_bad_xml_is_malformed() {
        let root = parse("d", "<a><b><c>x</c></b><d>y</d></a>", &["b"]).unwrap();
        assert_eq!(root.text(), "y");
        assert!(matches!(
            parse("d", "<a><b></a>", &[]),
            Err(ExtractError::Malformed(_))
        ));
        assert!(matches!(
            parse("d", "<a>", &[]),
            Err(ExtractError::Malformed(_))
        ));
        assert!(matches!(
            parse("d", "", &[]),
            Err(ExtractError::Malformed(_))
        ));
        let deep = format!("{}{}", "<a>".repeat(300), "</a>".repeat(300));
        assert!(matches!(
            parse("d", &deep, &[]),
            Err(ExtractError::Malformed(_))
        ));
    }
}
