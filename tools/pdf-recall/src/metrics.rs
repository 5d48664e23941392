//! Metrics: word recall and precision against pdftotext's pages, and page attribution.

use std::collections::HashMap;
use std::path::Path;

use crate::extractors::Extraction;

/// Lowercased alphanumeric tokens (Unicode-aware: `char::is_alphanumeric`).
pub(crate) fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| t.to_lowercase())
        .collect()
}

fn bag(s: &str) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for t in tokens(s) {
        *m.entry(t).or_insert(0) += 1;
    }
    m
}

/// (matched, reference_total, candidate_total) for multiset overlap.
fn overlap(reference: &str, candidate: &str) -> (usize, usize, usize) {
    let r = bag(reference);
    let c = bag(candidate);
    let matched = r.iter().map(|(k, &n)| n.min(*c.get(k).unwrap_or(&0))).sum();
    (matched, r.values().sum(), c.values().sum())
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

fn is_marker(t: &str) -> bool {
    t.len() > 10 && t.starts_with("pagetag") && t[t.len() - 3..].bytes().all(|b| b.is_ascii_digit())
}

pub(crate) struct Score {
    pub(crate) recall: f64,
    pub(crate) precision: f64,
    pub(crate) paged_recall: f64,
    pub(crate) markers_ok: usize,
    pub(crate) markers_total: usize,
    pub(crate) pages_out: usize,
}

pub(crate) fn score(reference_pages: &[String], ex: &Extraction) -> Score {
    let ref_all = reference_pages.join("\n");
    let cand_all = ex.pages.join("\n");
    let (m, rt, ct) = overlap(&ref_all, &cand_all);
    let mut pm = 0;
    let mut pt = 0;
    for (i, rp) in reference_pages.iter().enumerate() {
        let cp = ex.pages.get(i).map(String::as_str).unwrap_or("");
        let (a, b, _) = overlap(rp, cp);
        pm += a;
        pt += b;
    }
    // Page attribution: each reference page's marker must be on the same page of the
    // candidate and on no other page.
    let cand_tokens: Vec<Vec<String>> = ex.pages.iter().map(|p| tokens(p)).collect();
    let mut ok = 0;
    let mut total = 0;
    for (i, rp) in reference_pages.iter().enumerate() {
        for mk in tokens(rp).into_iter().filter(|t| is_marker(t)) {
            total += 1;
            let hits: Vec<usize> = cand_tokens
                .iter()
                .enumerate()
                .filter(|(_, toks)| toks.contains(&mk))
                .map(|(j, _)| j)
                .collect();
            if hits == [i] {
                ok += 1;
            }
        }
    }
    Score {
        recall: ratio(m, rt),
        precision: ratio(m, ct),
        paged_recall: ratio(pm, pt),
        markers_ok: ok,
        markers_total: total,
        pages_out: ex.pages.len(),
    }
}

pub(crate) fn reference_pages(txt: &Path) -> Vec<String> {
    let s = std::fs::read_to_string(txt).expect("read reference .txt");
    // pdftotext terminates every page with \f; drop the empty tail after the last one.
    let mut pages: Vec<String> = s.split('\u{c}').map(str::to_owned).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}
