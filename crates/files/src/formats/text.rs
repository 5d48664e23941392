//! Text files in any common encoding: a byte order mark decides first (UTF-8, UTF-16), then
//! valid UTF-8 is UTF-8, then UTF-16 without a mark by its NUL bytes, and anything else goes to
//! a charset detector (`chardetng`, the one Firefox uses) and is decoded with `encoding_rs`.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE};
use flashforge_domain::knowledge::{ExtractError, Extracted, ExtractionLimits, bounded_text_pages};

/// The encoding of `bytes`, and how many leading bytes are its byte order mark.
pub fn detect(bytes: &[u8]) -> (&'static Encoding, usize) {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        return (encoding, bom);
    }
    // NUL is valid UTF-8, but text with NULs is UTF-16 (or not text).
    if !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok() {
        return (encoding_rs::UTF_8, 0);
    }
    if let Some(utf16) = utf16_without_bom(bytes) {
        return (utf16, 0);
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    (detector.guess(None, true), 0)
}

/// UTF-16 whose NUL bytes sit on one side of most units (Latin text).
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    if bytes.len() < 2 || !bytes.len().is_multiple_of(2) {
        return None;
    }
    let sample = &bytes[..bytes.len().min(64 * 1024)];
    let units = sample.len() / 2;
    let even = sample.iter().step_by(2).filter(|b| **b == 0).count();
    let odd = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|b| **b == 0)
        .count();
    if odd * 10 >= units * 3 && even * 50 <= units {
        Some(UTF_16LE)
    } else if even * 10 >= units * 3 && odd * 50 <= units {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// `bytes` as text, whatever their encoding; malformed sequences become U+FFFD.
pub fn decode(bytes: &[u8]) -> String {
    let (encoding, bom) = detect(bytes);
    let (text, _) = encoding.decode_without_bom_handling(&bytes[bom..]);
    text.into_owned()
}

/// A text or Markdown file's pages (form-feed separated parts) within `limits`.
pub fn extract(bytes: &[u8], limits: &ExtractionLimits) -> Result<Extracted, ExtractError> {
    let text = decode(bytes);
    Ok(Extracted::pages(bounded_text_pages(&text, limits)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_encoding_is_recognised_and_decoded() {
        let text = "Grüße aus Köln — “Zellteilung” kostet 5 €, señor, élève";
        let mut utf8_bom = vec![0xef, 0xbb, 0xbf];
        utf8_bom.extend_from_slice(text.as_bytes());
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let mut le_bom = vec![0xff, 0xfe];
        le_bom.extend_from_slice(&le);
        let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        for (name, bytes) in [
            ("utf-8", text.as_bytes().to_vec()),
            ("utf-8 with a bom", utf8_bom),
            ("utf-16le", le),
            ("utf-16be", be),
            ("utf-16le with a bom", le_bom),
            ("windows-1252", cp1252.into_owned()),
        ] {
            assert_eq!(decode(&bytes), text, "{name}");
        }
    }

    #[test]
    fn a_cyrillic_legacy_page_is_detected_too() {
        let text = "Клетка — основная структурная и функциональная единица жизни. \
                    Митохондрии производят энергию для клетки.";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        assert_eq!(decode(&bytes), text);
    }

    #[test]
    fn pages_are_parts_between_form_feeds() {
        let bytes = "one\u{c}two"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<_>>();
        let extracted = extract(&bytes, &ExtractionLimits::default()).unwrap();
        assert_eq!(extracted.pages.len(), 2);
        assert_eq!(extracted.pages[1].text, "two");
    }
}
