//! BM25 as sparse vectors, in any language. A chunk's vector holds, per term, the BM25
//! term-frequency part `tf·(k1+1) / (tf + k1·(1 − b + b·len/avg_len))`; the index multiplies it
//! by the term's inverse document frequency at query time (Qdrant's `idf` modifier, and the same
//! formula in the exact in-memory index), so the sum over the query's terms is the BM25 score.
//!
//! # Terms
//!
//! Text is cut into words at Unicode (UAX #29) word boundaries, and again at apostrophes and
//! other non-letters ("l'élève" → "l", "élève"). A word is *folded*: compatibility-decomposed,
//! stripped of its Latin/Greek/Cyrillic accents (U+0300–U+036F), lowercased, "ß" → "ss", so
//! "Élève", "eleve" and "ÉLÈVE" are one word and "STRASSE" and "Straße" are too. Runs of Han,
//! Hiragana and Katakana have no spaces: they become overlapping character bigrams ("光合成" →
//! "光合", "合成"; a lone character stays a unigram), Lucene's CJK approach, which needs no
//! dictionary (Japanese dictionary segmentation would mean lindera and a downloaded dictionary).
//! Han variants are unified first (traditional/simplified Z-variants, charabia's normalizer).
//! Thai, also written without spaces, is cut into words by charabia's dictionary segmenter.
//!
//! A document is analyzed in its [`Language`]:
//! - a language with a Snowball stemmer (English, German, French, Spanish, Italian, Portuguese,
//!   Dutch, Russian, …): folded words minus that language's stop words, stemmed ("Zellen" and
//!   "Zelle" → "zell");
//! - Chinese: Han runs segmented into words by jieba (charabia's segmenter), other words folded;
//! - no language (unknown, unreliable, or one without a stemmer such as Japanese): the *neutral*
//!   terms, folded words minus the stop words of every listed language, CJK bigrams.
//!
//! Terms of an analyzed language are tagged with it (`"deu\u{1f}zell"`): each analyzer has its
//! own vocabulary, and neutral terms are untagged. [`encode_document`] detects the language from
//! the chunk's text; [`encode_document_in`] takes the document's language (detected once for the
//! whole document, more reliable than per chunk).
//!
//! # Queries
//!
//! A query is short and its language unknown, while documents of all languages share one index.
//! So [`encode_query`] is the union of the query's terms under every analyzer: the neutral terms
//! and, for each analyzed language, that language's terms (its stop words dropped, its stemmer
//! applied, its tag added). A document holds the terms of one analyzer only, and an analyzer
//! turns a query word into at most one term, so a query word scores a document at most once:
//! BM25 as if the query had been written in the document's language. Untagged, the union would
//! let one word match a document twice (its English stem and its French stem both being words
//! of a French document) and over-weight such documents. In CJK text the terms are the bigrams
//! (or jieba's words), each scoring once, as in any bigram index. The price is a longer query
//! vector, about twenty terms per word, most of which match nothing. Stop words are dropped per
//! language: "die" is no term of a German document, but still one of English documents.
//!
//! # Choices and limits
//!
//! - Chinese documents get jieba's words rather than bigrams: in `benches/keyword_recall.rs`
//!   they put the answer first slightly more often (docs/BENCHMARKS.md, "Keyword recall across
//!   languages"). A traditional-character query still finds simplified text through the neutral
//!   bigrams only when the document was indexed neutral; jieba's dictionary is simplified.
//! - Words are folded before they are stemmed, so "eleve" and "élève" always get one stem; but
//!   suffixes Snowball spells with accents are then not stripped ("ejecución" → "ejecucion",
//!   not "ejecu", so it does not meet "ejecutado"). Stemming first would make a query typed
//!   without accents miss those words instead.
//! - German compounds are not split ("Membran" does not find "Zellmembran"), and "ue" is not "ü".
//! - Length normalization counts terms; a CJK chunk has about one bigram per character, so its
//!   length differs in kind from a chunk of words (within one language it is consistent).
//! - Terms changed with this scheme: vectors stored before need a reindex to be stemmed. Until
//!   then queries still find their unstemmed words through the neutral terms.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use charabia::normalizer::{CharNormalizer, CharOrStr, ChineseNormalizer};
use charabia::segmenter::{ChineseSegmenter, Segmenter, ThaiSegmenter};
use qdrant_rust_stemmers::Stemmer;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use unicode_segmentation::UnicodeSegmentation;

use super::language::Language;
use super::ports::SparseVector;

const K1: f32 = 1.2;
const B: f32 = 0.75;
/// The average chunk length in terms that length normalization assumes.
const AVERAGE_TERMS: f32 = 120.0;
/// Between a language's code and a term: a control character no word contains.
const TAG_SEPARATOR: &str = "\u{1f}";

/// The neutral search terms of a text (no language: folded words and CJK bigrams, without the
/// stop words of any listed language). Also what drafting compares questions by.
pub fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut found = Vec::new();
    analyze(text, &Analyzer::Neutral, |term| {
        found.push(term.to_string())
    });
    found.into_iter()
}

/// A term's dimension: 32-bit FNV-1a of its UTF-8 bytes.
pub fn term_id(term: &str) -> u32 {
    term_id_of(&[term])
}

/// [`term_id`] of the concatenated parts, without building the string.
fn term_id_of(parts: &[&str]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in parts.iter().flat_map(|part| part.as_bytes()) {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The vector a chunk is stored with, analyzed in the language detected from its own text
/// (neutral terms when detection is not reliable). Prefer [`encode_document_in`] with the
/// document's language.
pub fn encode_document(text: &str) -> SparseVector {
    encode_document_in(text, Language::detect(text))
}

/// The vector a chunk is stored with, analyzed in its document's language (`None`: neutral
/// terms, folded and segmented but not stemmed).
pub fn encode_document_in(text: &str, language: Option<Language>) -> SparseVector {
    let analyzer = Analyzer::for_language(language);
    let mut counts: BTreeMap<u32, f32> = BTreeMap::new();
    let mut length = 0f32;
    analyze(text, &analyzer, |term| {
        *counts.entry(analyzer.id(term)).or_default() += 1.0;
        length += 1.0;
    });
    let norm = K1 * (1.0 - B + B * length / AVERAGE_TERMS);
    let (indices, values) = counts
        .into_iter()
        .map(|(id, tf)| (id, tf * (K1 + 1.0) / (tf + norm)))
        .unzip();
    SparseVector { indices, values }
}

/// The vector a query is searched with: each distinct term once, the query's terms under every
/// analyzer (see the module documentation), so it finds documents in any language.
pub fn encode_query(text: &str) -> SparseVector {
    let mut ids = BTreeSet::new();
    for analyzer in ANALYZERS.iter() {
        analyze(text, analyzer, |term| {
            ids.insert(analyzer.id(term));
        });
    }
    SparseVector {
        values: vec![1.0; ids.len()],
        indices: ids.into_iter().collect(),
    }
}

/// BM25's inverse document frequency, as Qdrant computes it.
pub fn idf(documents: u64, with_term: u64) -> f32 {
    let n = documents as f32;
    let df = with_term as f32;
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// A word folded for matching: compatibility-decomposed (ligatures, full-width forms), without
/// Latin/Greek/Cyrillic accents, lowercased, "ß" as "ss".
pub(crate) fn fold(word: &str) -> String {
    if word.is_ascii() {
        return word.to_ascii_lowercase();
    }
    let mut folded = String::with_capacity(word.len());
    let bare = word
        .nfkd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .nfc();
    for c in bare.flat_map(char::to_lowercase) {
        match c {
            'ß' => folded.push_str("ss"),
            c => folded.push(c),
        }
    }
    folded
}

/// How a text becomes terms.
enum Analyzer {
    Neutral,
    Stemmed(Language, Stemmer),
    Chinese(Language),
}

/// The neutral analyzer and every language's: what a query is analyzed with.
static ANALYZERS: LazyLock<Vec<Analyzer>> = LazyLock::new(|| {
    std::iter::once(Analyzer::Neutral)
        .chain(
            Language::analyzed()
                .iter()
                .map(|language| Analyzer::for_language(Some(*language))),
        )
        .collect()
});

impl Analyzer {
    fn for_language(language: Option<Language>) -> Self {
        match language {
            Some(language) if language.is_chinese() => Self::Chinese(language),
            Some(language) => match language.stemmer() {
                Some(algorithm) => Self::Stemmed(language, Stemmer::create(algorithm)),
                None => Self::Neutral,
            },
            None => Self::Neutral,
        }
    }

    fn id(&self, term: &str) -> u32 {
        match self {
            Self::Neutral => term_id(term),
            Self::Stemmed(language, _) | Self::Chinese(language) => {
                term_id_of(&[language.code(), TAG_SEPARATOR, term])
            }
        }
    }

    /// The term of one (non-CJK) word, if it is not a stop word.
    fn word<'a>(&self, folded: &'a str) -> Option<Cow<'a, str>> {
        match self {
            Self::Neutral => (!Language::is_any_stop_word(folded)).then_some(Cow::Borrowed(folded)),
            Self::Stemmed(language, stemmer) => {
                (!language.is_stop_word(folded)).then(|| stemmer.stem(folded))
            }
            Self::Chinese(_) => Some(Cow::Borrowed(folded)),
        }
    }

    /// The terms of a run of Han, Hiragana and Katakana characters.
    fn cjk(&self, run: &str, emit: &mut impl FnMut(&str)) {
        if matches!(self, Self::Chinese(_)) {
            // jieba's dictionary is in simplified characters: unify after segmenting.
            for word in ChineseSegmenter.segment_str(run) {
                emit(&word.chars().map(unify_han).collect::<String>());
            }
            return;
        }
        let run: String = run.chars().map(unify_han).collect();
        let run = run.as_str();
        let bounds: Vec<usize> = run
            .char_indices()
            .map(|(at, _)| at)
            .chain([run.len()])
            .collect();
        match bounds.len() {
            0 | 1 => {}
            2 => emit(run),
            _ => bounds.windows(3).for_each(|w| emit(&run[w[0]..w[2]])),
        }
    }
}

/// Calls `emit` with each term of `text` under `analyzer`, in order.
fn analyze(text: &str, analyzer: &Analyzer, mut emit: impl FnMut(&str)) {
    let mut start = 0;
    let mut in_cjk = false;
    for (at, c) in text.char_indices() {
        let cjk = is_cjk(c);
        if cjk != in_cjk {
            piece(&text[start..at], in_cjk, analyzer, &mut emit);
            (start, in_cjk) = (at, cjk);
        }
    }
    piece(&text[start..], in_cjk, analyzer, &mut emit);
}

fn piece(text: &str, cjk: bool, analyzer: &Analyzer, emit: &mut impl FnMut(&str)) {
    if text.is_empty() {
        return;
    }
    if cjk {
        let run: String = text.nfkc().collect();
        return analyzer.cjk(&run, emit);
    }
    let parts = text
        .unicode_words()
        .flat_map(|word| word.split(|c: char| !(c.is_alphanumeric() || is_combining_mark(c))))
        .filter(|part| !part.is_empty());
    for part in parts {
        if part.chars().any(|c| ('\u{e00}'..='\u{e7f}').contains(&c)) {
            // Thai has no spaces between words either: charabia's dictionary segmenter.
            for word in ThaiSegmenter.segment_str(part) {
                if let Some(term) = analyzer.word(&fold(word)) {
                    emit(&term);
                }
            }
        } else if let Some(term) = analyzer.word(&fold(part)) {
            emit(&term);
        }
    }
}

/// Han, Hiragana, Katakana (with the prolonged sound mark and half-width forms, without the
/// middle dot "・") and the ideographic iteration mark: scripts written without spaces.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3005}' | '\u{3007}'
        | '\u{3040}'..='\u{30fa}'
        | '\u{30fc}'..='\u{30ff}'
        | '\u{31f0}'..='\u{31ff}'
        | '\u{3400}'..='\u{4dbf}'
        | '\u{4e00}'..='\u{9fff}'
        | '\u{f900}'..='\u{faff}'
        | '\u{ff66}'..='\u{ff9f}'
        | '\u{20000}'..='\u{2ffff}'
    )
}

/// One Han character for all its variants (traditional and simplified forms, …).
fn unify_han(c: char) -> char {
    match ChineseNormalizer.normalize_char(c) {
        Some(CharOrStr::Char(unified)) => unified,
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The BM25 score without idf: the document's weights of the query's terms.
    fn score(query: &SparseVector, document: &SparseVector) -> f32 {
        query
            .indices
            .iter()
            .filter_map(|id| document.indices.iter().position(|d| d == id))
            .map(|at| document.values[at])
            .sum()
    }

    fn shared(query: &SparseVector, document: &SparseVector) -> usize {
        query
            .indices
            .iter()
            .filter(|id| document.indices.contains(id))
            .count()
    }

    fn finds(query: &str, document: &str, language: Option<Language>) -> bool {
        score(
            &encode_query(query),
            &encode_document_in(document, language),
        ) > 0.0
    }

    #[test]
    fn terms_are_lowercase_words_without_stop_words() {
        let found: Vec<_> = terms("The Mitochondria is the powerhouse, of the CELL!").collect();
        assert_eq!(found, ["mitochondria", "powerhouse", "cell"]);
    }

    #[test]
    fn folding_removes_case_and_accents() {
        assert_eq!(fold("STRASSE"), fold("Straße"));
        assert_eq!(fold("Élève"), "eleve");
        assert_eq!(fold("ÜBER"), "uber");
        assert_eq!(fold("ﬁnal"), "final");
        assert_eq!(fold("ＡＢＣ"), "abc");
        let found: Vec<_> = terms("l'élève, L’ÉLÈVE").collect();
        assert_eq!(found, ["eleve", "eleve"]);
    }

    #[test]
    fn repeated_terms_weigh_more_but_saturate() {
        for language in [None, Some(Language::ENGLISH)] {
            let once = encode_document_in("photosynthesis light", language);
            let thrice = encode_document_in(
                "photosynthesis photosynthesis photosynthesis light",
                language,
            );
            let query = encode_query("photosynthesis");
            assert!(score(&query, &thrice) > score(&query, &once));
            assert!(score(&query, &thrice) < 3.0 * score(&query, &once));
            assert!(score(&query, &thrice) < K1 + 1.0);
        }
    }

    #[test]
    fn english_documents_are_detected_and_stemmed() {
        let text = "Plants convert light energy into chemical energy during photosynthesis. \
                    The chloroplasts of leaf cells absorb the light.";
        assert_eq!(Language::detect(text), Some(Language::ENGLISH));
        assert_eq!(
            encode_document(text),
            encode_document_in(text, Some(Language::ENGLISH))
        );
        assert!(score(&encode_query("leaf cell absorbs"), &encode_document(text)) > 0.0);
        let longer = format!("{text} Photosynthesis needs light.");
        let query = encode_query("photosynthesis");
        assert!(score(&query, &encode_document(&longer)) > score(&query, &encode_document(text)));
    }

    #[test]
    fn queries_count_each_term_once() {
        let query = encode_query("cell cell membrane");
        assert_eq!(
            query.indices.len(),
            encode_query("cell membrane").indices.len()
        );
        assert!(query.values.iter().all(|v| *v == 1.0));
        let document = encode_document_in("the cell membrane", Some(Language::ENGLISH));
        assert_eq!(shared(&query, &document), 2);
    }

    #[test]
    fn german_inflections_share_a_stem() {
        let de = Some(Language::GERMAN);
        assert!(finds("zelle", "Die Zellen teilen sich in der Mitose.", de));
        assert!(finds(
            "Blatt",
            "Die grünen Blätter enthalten Chlorophyll.",
            de
        ));
        assert!(finds(
            "GRÜNE",
            "Die grünen Blätter enthalten Chlorophyll.",
            de
        ));
        assert!(finds(
            "grun",
            "Die grünen Blätter enthalten Chlorophyll.",
            de
        ));
        // The "ue" transliteration of "ü" is another word.
        assert!(!finds(
            "gruen",
            "Die grünen Blätter enthalten Chlorophyll.",
            de
        ));
        // Latin plurals are beyond Snowball: "-ien" and "-ium" keep different stems.
        assert!(!finds(
            "Mitochondrien",
            "Das Mitochondrium erzeugt ATP.",
            de
        ));
        assert!(finds(
            "Mitochondrien",
            "In den Mitochondrien entsteht ATP.",
            de
        ));
        // Compounds are not split: "Membran" does not find "Zellmembran".
        assert!(!finds("Membran", "Die Zellmembran ist durchlässig.", de));
        // "die" is a German stop word, not a term of German documents.
        assert!(!finds("die", "Die Zellen teilen sich.", de));
    }

    #[test]
    fn french_accents_fold_both_ways() {
        let fr = Some(Language::FRENCH);
        assert!(finds("eleve", "Chaque élève révise ses leçons.", fr));
        assert!(finds("élèves", "Chaque eleve revise ses lecons.", fr));
        assert!(finds("LEÇON", "Chaque élève révise ses leçons.", fr));
        assert!(finds("l'élève", "Les élèves travaillent.", fr));
    }

    #[test]
    fn spanish_plurals_and_accents() {
        let es = Some(Language::SPANISH);
        assert!(finds("celula", "Las células producen energía.", es));
        assert!(finds("energias", "Las células producen energía.", es));
        assert!(!finds("las", "Las células producen energía.", es));
    }

    #[test]
    fn japanese_is_found_by_bigrams() {
        let text = "植物は光合成によって二酸化炭素から糖を作ります。";
        for language in [Some(Language::JAPANESE), None] {
            let document = encode_document_in(text, language);
            let query = encode_query("光合成");
            assert_eq!(shared(&query, &document), 2, "光合 and 合成");
            assert!(
                score(&encode_query("糖"), &document) == 0.0,
                "a lone character is a unigram"
            );
            assert!(score(&encode_query("二酸化炭素"), &document) > score(&query, &document));
        }
        // Half-width katakana is the full-width word.
        assert!(finds("ｴﾈﾙｷﾞｰ", "光のエネルギーを使う。", None));
    }

    #[test]
    fn thai_is_segmented() {
        let found: Vec<_> = terms("การสังเคราะห์ด้วยแสง").collect();
        assert!(found.len() > 1, "{found:?}");
        assert!(finds("แสง", "การสังเคราะห์ด้วยแสงของพืช", None));
    }

    #[test]
    fn chinese_is_segmented_and_variants_unified() {
        let text = "光合作用是植物利用光能把二氧化碳和水转化为有机物的过程。";
        assert_eq!(Language::detect(text), Some(Language::CHINESE));
        for language in [Some(Language::CHINESE), None] {
            assert!(finds("光合作用", text, language));
            assert!(finds("二氧化碳", text, language));
        }
        // Traditional characters find the simplified text through bigrams; jieba's dictionary
        // is simplified, it cuts "轉化" into two characters.
        assert!(finds("轉化", text, None));
        assert!(!finds("轉化", text, Some(Language::CHINESE)));
    }

    #[test]
    fn documents_find_themselves() {
        let texts = [
            (
                Some(Language::ENGLISH),
                "Enzymes are proteins that speed up reactions.",
            ),
            (
                Some(Language::GERMAN),
                "Enzyme beschleunigen chemische Reaktionen.",
            ),
            (
                Some(Language::FRENCH),
                "Les enzymes accélèrent les réactions chimiques.",
            ),
            (
                Some(Language::SPANISH),
                "Las enzimas aceleran las reacciones químicas.",
            ),
            (Some(Language::CHINESE), "酶能加快化学反应的速度。"),
            (Some(Language::JAPANESE), "酵素は化学反応を速める。"),
            (None, "Enzymes 酵素 Reaktionen réactions"),
        ];
        for (language, text) in texts {
            let document = encode_document_in(text, language);
            let query = encode_query(text);
            assert!(!document.indices.is_empty());
            assert!(
                document.indices.iter().all(|id| query.indices.contains(id)),
                "{language:?}: {text}"
            );
        }
    }

    #[test]
    fn a_query_word_scores_a_document_at_most_once() {
        let texts = [
            "Cells divide; the dividing cell doubles its organelles. Running runners ran.",
            "Die Zellen teilen sich; die Zelle verdoppelt ihre Organellen. Läufer laufen.",
            "Les cellules se divisent ; la cellule double ses organites. Les coureurs courent.",
            "Las células se dividen; la célula duplica sus orgánulos. Los corredores corren.",
            "细胞分裂时，细胞会复制它的细胞器。",
        ];
        let words = [
            "cells",
            "cell",
            "Zellen",
            "zelle",
            "cellules",
            "células",
            "dividing",
            "divide",
            "teilen",
            "organelles",
            "Organellen",
            "running",
            "laufen",
            "corren",
            "die",
            "la",
            "细胞",
        ];
        for text in texts {
            let mut languages: Vec<_> = Language::analyzed().iter().copied().map(Some).collect();
            languages.push(None);
            for language in languages {
                let document = encode_document_in(text, language);
                for word in words {
                    let matched = shared(&encode_query(word), &document);
                    assert!(
                        matched <= 1,
                        "{word} matched {matched} terms of {language:?}: {text}"
                    );
                }
            }
        }
    }

    #[test]
    fn rare_terms_have_a_higher_idf() {
        assert!(idf(1000, 1) > idf(1000, 500));
        assert!(idf(1000, 1000) > 0.0);
    }
}
