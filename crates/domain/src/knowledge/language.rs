//! A text's natural language, as keyword search needs it: detected from a document's text with
//! `whatlang`, named by its ISO 639-3 code ("eng", "deu", "jpn", "cmn", …), and deciding how
//! the document's words become search terms (which Snowball stemmer and stop words apply, or
//! dictionary segmentation for Chinese). See [`super::sparse`] for how the terms are built.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use qdrant_rust_stemmers::Algorithm;

/// How much of a text detection looks at: enough for a reliable guess, bounded in cost.
pub const DETECTION_PREFIX_CHARS: usize = 20_000;

/// A natural language (one of the 69 `whatlang` knows).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Language(whatlang::Lang);

impl Language {
    pub const ENGLISH: Self = Self(whatlang::Lang::Eng);
    pub const GERMAN: Self = Self(whatlang::Lang::Deu);
    pub const FRENCH: Self = Self(whatlang::Lang::Fra);
    pub const SPANISH: Self = Self(whatlang::Lang::Spa);
    pub const ITALIAN: Self = Self(whatlang::Lang::Ita);
    pub const PORTUGUESE: Self = Self(whatlang::Lang::Por);
    pub const DUTCH: Self = Self(whatlang::Lang::Nld);
    pub const JAPANESE: Self = Self(whatlang::Lang::Jpn);
    pub const CHINESE: Self = Self(whatlang::Lang::Cmn);

    /// The language of a text, judged from its first [`DETECTION_PREFIX_CHARS`] characters;
    /// `None` when `whatlang` is not confident (short or mixed texts).
    pub fn detect(text: &str) -> Option<Self> {
        let end = text
            .char_indices()
            .nth(DETECTION_PREFIX_CHARS)
            .map_or(text.len(), |(at, _)| at);
        let info = whatlang::detect(&text[..end])?;
        info.is_reliable().then_some(Self(info.lang()))
    }

    /// The ISO 639-3 code: "eng", "deu", "fra", "jpn", "cmn" (Mandarin), ….
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// The language with this ISO 639-3 code, if `whatlang` knows it.
    pub fn from_code(code: &str) -> Option<Self> {
        whatlang::Lang::from_code(code.trim().to_ascii_lowercase()).map(Self)
    }

    /// The languages whose documents get their own search terms (see [`super::sparse`]): those
    /// with a Snowball stemmer, and Chinese (dictionary segmentation).
    pub fn analyzed() -> &'static [Language] {
        &ANALYZED
    }

    /// The Snowball stemmer for this language, if there is one.
    pub(crate) fn stemmer(self) -> Option<Algorithm> {
        use whatlang::Lang;
        Some(match self.0 {
            Lang::Ara => Algorithm::Arabic,
            Lang::Hye => Algorithm::Armenian,
            Lang::Dan => Algorithm::Danish,
            Lang::Nld => Algorithm::Dutch,
            Lang::Eng => Algorithm::English,
            Lang::Fin => Algorithm::Finnish,
            Lang::Fra => Algorithm::French,
            Lang::Deu => Algorithm::German,
            Lang::Ell => Algorithm::Greek,
            Lang::Hun => Algorithm::Hungarian,
            Lang::Ita => Algorithm::Italian,
            Lang::Nob => Algorithm::Norwegian,
            Lang::Por => Algorithm::Portuguese,
            Lang::Ron => Algorithm::Romanian,
            Lang::Rus => Algorithm::Russian,
            Lang::Spa => Algorithm::Spanish,
            Lang::Swe => Algorithm::Swedish,
            Lang::Tam => Algorithm::Tamil,
            Lang::Tur => Algorithm::Turkish,
            _ => return None,
        })
    }

    /// Whether this language's words are found by dictionary segmentation (jieba) rather than
    /// by spaces: Chinese.
    pub(crate) fn is_chinese(self) -> bool {
        self.0 == whatlang::Lang::Cmn
    }

    /// Whether `folded` (a case- and accent-folded word) is one of this language's stop words.
    pub(crate) fn is_stop_word(self, folded: &str) -> bool {
        STOP_WORDS
            .iter()
            .find(|(lang, _)| *lang == self.0)
            .is_some_and(|(_, words)| words.contains(folded))
    }

    /// Whether `folded` is a stop word in any language that has a list.
    pub(crate) fn is_any_stop_word(folded: &str) -> bool {
        STOP_WORDS.iter().any(|(_, words)| words.contains(folded))
    }
}

impl fmt::Debug for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

static ANALYZED: LazyLock<Vec<Language>> = LazyLock::new(|| {
    whatlang::Lang::all()
        .iter()
        .map(|lang| Language(*lang))
        .filter(|lang| lang.stemmer().is_some() || lang.is_chinese())
        .collect()
});

/// Short stop-word lists (function words only), one file per language, folded like terms are.
static STOP_WORDS: LazyLock<Vec<(whatlang::Lang, HashSet<String>)>> = LazyLock::new(|| {
    use whatlang::Lang;
    [
        (Lang::Eng, include_str!("stop_words/eng.txt")),
        (Lang::Deu, include_str!("stop_words/deu.txt")),
        (Lang::Fra, include_str!("stop_words/fra.txt")),
        (Lang::Spa, include_str!("stop_words/spa.txt")),
        (Lang::Ita, include_str!("stop_words/ita.txt")),
        (Lang::Por, include_str!("stop_words/por.txt")),
        (Lang::Nld, include_str!("stop_words/nld.txt")),
    ]
    .into_iter()
    .map(|(lang, list)| {
        let words = list
            .lines()
            .filter(|line| !line.starts_with('#'))
            .flat_map(str::split_whitespace)
            .map(super::sparse::fold)
            .collect();
        (lang, words)
    })
    .collect()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_reliable_languages_only() {
        let german = "Die Mitochondrien sind die Kraftwerke der Zelle. Sie erzeugen den größten \
                      Teil der Energie, die die Zelle für ihre Arbeit braucht.";
        assert_eq!(Language::detect(german), Some(Language::GERMAN));
        let japanese = "光合成は、植物が光のエネルギーを使って二酸化炭素と水から糖を作る反応です。";
        assert_eq!(Language::detect(japanese), Some(Language::JAPANESE));
        assert_eq!(Language::detect("ok"), None);
        assert_eq!(Language::detect(""), None);
    }

    #[test]
    fn codes_round_trip() {
        for lang in [
            Language::ENGLISH,
            Language::GERMAN,
            Language::JAPANESE,
            Language::CHINESE,
        ] {
            assert_eq!(Language::from_code(lang.code()), Some(lang));
        }
        assert_eq!(Language::CHINESE.code(), "cmn");
        assert_eq!(Language::from_code("DEU"), Some(Language::GERMAN));
        assert_eq!(Language::from_code("xx"), None);
    }

    #[test]
    fn stop_words_are_per_language_and_folded() {
        assert!(Language::GERMAN.is_stop_word("uber"));
        assert!(Language::FRENCH.is_stop_word("etait"));
        assert!(!Language::ENGLISH.is_stop_word("der"));
        assert!(!Language::JAPANESE.is_stop_word("the"));
        assert!(Language::analyzed().contains(&Language::CHINESE));
        assert!(!Language::analyzed().contains(&Language::JAPANESE));
    }
}
