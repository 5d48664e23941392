//! How much of a reference text an extraction got: multiset word recall, the measure the format
//! corpus (`tests/fixtures/formats/`) and the PDF corpus are held to.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

/// The words of a text (runs of letters and digits after NFKC), lowercased, counted.
pub fn words(text: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    let normalized: String = text.nfkc().collect();
    for word in normalized
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    counts
}

/// The share of `reference`'s words, with their counts, that `got` has (1.0 for an empty
/// reference).
pub fn word_recall(reference: &str, got: &str) -> f64 {
    let want = words(reference);
    let have = words(got);
    let total: usize = want.values().sum();
    if total == 0 {
        return 1.0;
    }
    let hit: usize = want
        .iter()
        .map(|(w, n)| (*n).min(have.get(w).copied().unwrap_or(0)))
        .sum();
    hit as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_counts_each_word_as_often_as_the_reference_has_it() {
        assert_eq!(word_recall("the cell, the CELL", "The cell"), 0.5);
        assert_eq!(word_recall("ﬁsh", "fish"), 1.0, "ligatures are expanded");
        assert_eq!(word_recall("", "anything"), 1.0);
        assert_eq!(word_recall("mitosis", ""), 0.0);
    }
}
