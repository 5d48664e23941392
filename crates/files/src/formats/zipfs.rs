//! A zip container read within bounds: how many entries it may list, and how many bytes its
//! parts may expand to in all (a zip bomb stops at [`ExtractionLimits::max_unpacked_bytes`],
//! however small the file). Only the parts an extractor asks for are inflated.

use std::io::{Cursor, Read};

use flashforge_domain::knowledge::{ExtractError, ExtractionLimits, OverLimit};

/// The most entries a container may list.
const MAX_ENTRIES: usize = 20_000;

/// An opened container and what is left of its unpacking budget.
pub struct Container<'a> {
    archive: zip::ZipArchive<Cursor<&'a [u8]>>,
    budget: u64,
    limit: u64,
}

impl<'a> Container<'a> {
    pub fn open(bytes: &'a [u8], limits: &ExtractionLimits) -> Result<Self, ExtractError> {
        let archive = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| ExtractError::Malformed(format!("not a readable zip container: {e}")))?;
        if archive.len() > MAX_ENTRIES {
            return Err(ExtractError::Malformed(format!(
                "the container lists {} parts; at most {MAX_ENTRIES} are read",
                archive.len()
            )));
        }
        Ok(Self {
            archive,
            budget: limits.max_unpacked_bytes,
            limit: limits.max_unpacked_bytes,
        })
    }

    /// The names of its parts, in the order the container lists them.
    pub fn names(&self) -> Vec<String> {
        self.archive
            .file_names()
            .filter_map(|name| name.ok().map(|n| n.into_owned()))
            .collect()
    }

    /// The bytes of part `name` (a path inside the container, without a leading `/`);
    /// `Ok(None)` when there is no such part. Stops with [`OverLimit::Unpacked`] as soon as
    /// the parts read so far expand past the limit, whatever their headers claim.
    pub fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, ExtractError> {
        let name = name.trim_start_matches('/');
        let mut entry = match self.archive.by_name(name) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(ExtractError::Malformed(format!("part {name}: {e}"))),
        };
        if entry.size() > self.budget {
            return Err(OverLimit::Unpacked { limit: self.limit }.into());
        }
        let mut out = Vec::with_capacity(entry.size().min(16 * 1024 * 1024) as usize);
        (&mut entry)
            .take(self.budget + 1)
            .read_to_end(&mut out)
            .map_err(|e| ExtractError::Malformed(format!("part {name}: {e}")))?;
        if out.len() as u64 > self.budget {
            return Err(OverLimit::Unpacked { limit: self.limit }.into());
        }
        self.budget -= out.len() as u64;
        Ok(Some(out))
    }

    /// Part `name` as text (UTF-8; invalid sequences become U+FFFD).
    pub fn read_text(&mut self, name: &str) -> Result<Option<String>, ExtractError> {
        Ok(self
            .read(name)?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Like [`Self::read_text`], but a missing part is an error naming it.
    pub fn require_text(&mut self, name: &str) -> Result<String, ExtractError> {
        self.read_text(name)?
            .ok_or_else(|| ExtractError::Malformed(format!("the part {name} is missing")))
    }
}

/// `relative` resolved against the folder of part `base` (`ppt/slides/slide1.xml` +
/// `../notesSlides/notesSlide1.xml` → `ppt/notesSlides/notesSlide1.xml`); an absolute target
/// (`/word/x.xml`) is taken from the root. `..` never climbs above the root.
pub fn resolve(base: &str, relative: &str) -> String {
    let mut parts: Vec<&str> = if relative.starts_with('/') {
        Vec::new()
    } else {
        let mut folder: Vec<&str> = base.split('/').collect();
        folder.pop();
        folder
    };
    for segment in relative.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::xml::testing::zip_of;

    #[test]
    fn parts_are_read_by_name_and_missing_ones_are_none() {
        let bytes = zip_of(&[("a/b.xml", b"<x/>"), ("c.txt", b"hello")]);
        let mut container = Container::open(&bytes, &ExtractionLimits::default()).unwrap();
        assert_eq!(container.read_text("/a/b.xml").unwrap().unwrap(), "<x/>");
        assert_eq!(container.read("nope").unwrap(), None);
        assert!(container.require_text("nope").is_err());
        assert_eq!(container.names(), ["a/b.xml", "c.txt"]);
    }

    #[test]
    fn a_part_that_expands_past_the_limit_stops_with_the_limit_named() {
        let big = vec![b' '; 2_000_000];
        let bytes = zip_of(&[("bomb.xml", &big), ("small.xml", b"<x/>")]);
        assert!(bytes.len() < 20_000, "deflate squeezes the spaces");
        let limits = ExtractionLimits {
            max_unpacked_bytes: 1_000_000,
            ..ExtractionLimits::default()
        };
        let mut container = Container::open(&bytes, &limits).unwrap();
        assert_eq!(
            container.read("bomb.xml"),
            Err(ExtractError::OverLimit(OverLimit::Unpacked {
                limit: 1_000_000
            }))
        );
        // The budget is for all parts together.
        let limits = ExtractionLimits {
            max_unpacked_bytes: 2_000_002,
            ..ExtractionLimits::default()
        };
        let mut container = Container::open(&bytes, &limits).unwrap();
        container.read("bomb.xml").unwrap().unwrap();
        assert!(container.read("small.xml").is_err());
    }

    #[test]
    fn garbage_is_malformed() {
        assert!(matches!(
            Container::open(b"PK\x03\x04 not really", &ExtractionLimits::default()),
            Err(ExtractError::Malformed(_))
        ));
    }

    #[test]
    fn relative_targets_resolve_against_their_part() {
        assert_eq!(
            resolve("ppt/slides/slide1.xml", "../notesSlides/notesSlide1.xml"),
            "ppt/notesSlides/notesSlide1.xml"
        );
        assert_eq!(
            resolve("ppt/presentation.xml", "slides/slide2.xml"),
            "ppt/slides/slide2.xml"
        );
        assert_eq!(
            resolve("word/document.xml", "/word/footnotes.xml"),
            "word/footnotes.xml"
        );
        assert_eq!(resolve("a.xml", "../../../etc/passwd"), "etc/passwd");
    }
}
