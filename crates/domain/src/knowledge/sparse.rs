//! BM25 as sparse vectors. A chunk's vector holds, per term, the BM25 term-frequency part
//! `tf·(k1+1) / (tf + k1·(1 − b + b·len/avg_len))`; the index multiplies it by the term's inverse
//! document frequency at query time (Qdrant's `idf` modifier, and the same formula in the exact
//! in-memory index), so the sum over the query's terms is the BM25 score.

use std::collections::BTreeMap;

use super::ports::SparseVector;

const K1: f32 = 1.2;
const B: f32 = 0.75;
/// The average chunk length in terms that length normalization assumes.
const AVERAGE_TERMS: f32 = 120.0;

/// Common English words that carry no meaning for search.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "he", "in", "is", "it",
    "its", "of", "on", "or", "that", "the", "to", "was", "were", "will", "with", "this", "these",
    "those", "which", "who", "what",
];

/// The search terms of a text: lowercase runs of letters and digits, without stop words.
pub fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .filter(|word| !STOP_WORDS.contains(&word.as_str()))
}

/// A term's dimension: 32-bit FNV-1a of its UTF-8 bytes.
pub fn term_id(term: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in term.as_bytes() {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The vector a chunk is stored with.
pub fn encode_document(text: &str) -> SparseVector {
    let mut counts: BTreeMap<u32, f32> = BTreeMap::new();
    let mut length = 0f32;
    for term in terms(text) {
        *counts.entry(term_id(&term)).or_default() += 1.0;
        length += 1.0;
    }
    let norm = K1 * (1.0 - B + B * length / AVERAGE_TERMS);
    let (indices, values) = counts
        .into_iter()
        .map(|(id, tf)| (id, tf * (K1 + 1.0) / (tf + norm)))
        .unzip();
    SparseVector { indices, values }
}

/// The vector a query is searched with: each distinct term once.
pub fn encode_query(text: &str) -> SparseVector {
    let ids: std::collections::BTreeSet<u32> = terms(text).map(|t| term_id(&t)).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_lowercase_words_without_stop_words() {
        let found: Vec<_> = terms("The Mitochondria is the powerhouse, of the CELL!").collect();
        assert_eq!(found, ["mitochondria", "powerhouse", "cell"]);
    }

    #[test]
    fn repeated_terms_weigh_more_but_saturate() {
        let once = encode_document("photosynthesis light");
        let thrice = encode_document("photosynthesis photosynthesis photosynthesis light");
        let id = term_id("photosynthesis");
        let weight = |v: &SparseVector| v.values[v.indices.iter().position(|i| *i == id).unwrap()];
        assert!(weight(&thrice) > weight(&once));
        assert!(weight(&thrice) < 3.0 * weight(&once));
        assert!(weight(&thrice) < K1 + 1.0);
    }

    #[test]
    fn queries_count_each_term_once() {
        let query = encode_query("cell cell membrane");
        assert_eq!(query.indices.len(), 2);
        assert!(query.values.iter().all(|v| *v == 1.0));
    }

    #[test]
    fn rare_terms_have_a_higher_idf() {
        assert!(idf(1000, 1) > idf(1000, 500));
        assert!(idf(1000, 1000) > 0.0);
    }
}
