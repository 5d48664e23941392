//! Keyword recall across languages: BM25 over the sparse vectors of
//! `tests/fixtures/multilingual/passages.json`, with the term function keyword search had before
//! (kept below) and with today's, and the cost of encoding chunks.
//!
//! `cargo bench -p flashforge-domain --bench keyword_recall`

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use flashforge_domain::knowledge::{Language, SparseVector, sparse};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    passages: Vec<Passage>,
    queries: Vec<Query>,
}

#[derive(Deserialize)]
struct Passage {
    id: String,
    language: String,
    text: String,
}

#[derive(Deserialize)]
struct Query {
    language: String,
    query: String,
    answer: String,
}

/// The term function before multilingual search: lowercase alphanumeric runs, English stop words.
mod before {
    use std::collections::{BTreeMap, BTreeSet};

    use flashforge_domain::knowledge::{SparseVector, sparse::term_id};

    const STOP_WORDS: &[&str] = &[
        "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "he", "in", "is",
        "it", "its", "of", "on", "or", "that", "the", "to", "was", "were", "will", "with", "this",
        "these", "those", "which", "who", "what",
    ];

    fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(str::to_lowercase)
            .filter(|word| !STOP_WORDS.contains(&word.as_str()))
    }

    pub fn encode_document(text: &str) -> SparseVector {
        let mut counts: BTreeMap<u32, f32> = BTreeMap::new();
        let mut length = 0f32;
        for term in terms(text) {
            *counts.entry(term_id(&term)).or_default() += 1.0;
            length += 1.0;
        }
        let norm = 1.2 * (1.0 - 0.75 + 0.75 * length / 120.0);
        let (indices, values) = counts
            .into_iter()
            .map(|(id, tf)| (id, tf * 2.2 / (tf + norm)))
            .unzip();
        SparseVector { indices, values }
    }

    pub fn encode_query(text: &str) -> SparseVector {
        let ids: BTreeSet<u32> = terms(text).map(|t| term_id(&t)).collect();
        SparseVector {
            values: vec![1.0; ids.len()],
            indices: ids.into_iter().collect(),
        }
    }
}

/// The passages' ids ranked by exact BM25 for a query (idf over the whole fixture, as Qdrant's
/// `idf` modifier and crates/vector's scenario compute it).
fn rank(documents: &[(String, SparseVector)], query: &SparseVector) -> Vec<String> {
    let mut df: HashMap<u32, u64> = HashMap::new();
    for (_, vector) in documents {
        for id in &vector.indices {
            *df.entry(*id).or_default() += 1;
        }
    }
    let total = documents.len() as u64;
    let mut scored: Vec<(f32, &String)> = documents
        .iter()
        .map(|(id, vector)| {
            let score = query
                .indices
                .iter()
                .filter_map(|term| {
                    let at = vector.indices.iter().position(|i| i == term)?;
                    Some(vector.values[at] * sparse::idf(total, df[term]))
                })
                .sum();
            (score, id)
        })
        .filter(|(score, _)| *score > 0.0)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().map(|(_, id)| id.clone()).collect()
}

struct Variant {
    name: &'static str,
    document: Box<dyn Fn(&Passage) -> SparseVector>,
    query: fn(&str) -> SparseVector,
}

/// Per language: (queries, found in the top 5, found first).
fn recall(fixture: &Fixture, variant: &Variant) -> BTreeMap<String, (u32, u32, u32)> {
    let documents: Vec<(String, SparseVector)> = fixture
        .passages
        .iter()
        .map(|p| (p.id.clone(), (variant.document)(p)))
        .collect();
    let mut table: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    for query in &fixture.queries {
        let ranked = rank(&documents, &(variant.query)(&query.query));
        let row = table.entry(query.language.clone()).or_default();
        row.0 += 1;
        if ranked.iter().take(5).any(|id| *id == query.answer) {
            row.1 += 1;
        }
        if ranked.first() == Some(&query.answer) {
            row.2 += 1;
        }
    }
    table
}

fn print_recall(fixture: &Fixture) {
    let language = |p: &Passage| Language::from_code(&p.language);
    let variants = [
        Variant {
            name: "before",
            document: Box::new(|p| before::encode_document(&p.text)),
            query: before::encode_query,
        },
        Variant {
            name: "after (document language given)",
            document: Box::new(move |p| sparse::encode_document_in(&p.text, language(p))),
            query: sparse::encode_query,
        },
        Variant {
            name: "after, Chinese as bigrams",
            document: Box::new(move |p| {
                let language = language(p).filter(|l| *l != Language::CHINESE);
                sparse::encode_document_in(&p.text, language)
            }),
            query: sparse::encode_query,
        },
        Variant {
            name: "after, language detected per chunk",
            document: Box::new(|p| sparse::encode_document(&p.text)),
            query: sparse::encode_query,
        },
        Variant {
            name: "after, all neutral",
            document: Box::new(|p| sparse::encode_document_in(&p.text, None)),
            query: sparse::encode_query,
        },
    ];
    let tables: Vec<_> = variants.iter().map(|v| recall(fixture, v)).collect();
    println!(
        "keyword recall@5 (recall@1), {} passages",
        fixture.passages.len()
    );
    print!("| language |");
    for variant in &variants {
        print!(" {} |", variant.name);
    }
    println!("\n|---|{}", "---|".repeat(variants.len()));
    let mut totals = vec![(0, 0, 0); variants.len()];
    for language in tables[0].keys() {
        print!("| {language} |");
        for (table, total) in tables.iter().zip(&mut totals) {
            let (n, top5, first) = table[language];
            print!(" {top5}/{n} ({first}/{n}) |");
            *total = (total.0 + n, total.1 + top5, total.2 + first);
        }
        println!();
    }
    print!("| all |");
    for (n, top5, first) in totals {
        print!(" {top5}/{n} ({first}/{n}) |");
    }
    println!();
}

/// 1000 chunks of 200 words, cut from the fixture's passages of all languages (CJK passages
/// count 200 characters as a chunk).
fn chunks(fixture: &Fixture) -> Vec<String> {
    let mut chunks = Vec::new();
    for (n, passage) in fixture.passages.iter().cycle().take(1000).enumerate() {
        let next = &fixture.passages[(n * 7 + 3) % fixture.passages.len()];
        let words: Vec<&str> = passage.text.split_whitespace().collect();
        let chunk = if words.len() > 5 {
            let same: Vec<&str> = fixture
                .passages
                .iter()
                .filter(|p| p.language == passage.language)
                .flat_map(|p| p.text.split_whitespace())
                .collect();
            same.iter()
                .cycle()
                .skip(n)
                .take(200)
                .copied()
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            let text = format!("{}{}", passage.text, next.text);
            text.chars().cycle().take(200).collect()
        };
        chunks.push(chunk);
    }
    chunks
}

fn time(chunks: &[String], mut encode: impl FnMut(&str) -> SparseVector) -> Duration {
    let started = Instant::now();
    let mut terms = 0;
    for chunk in chunks {
        terms += encode(chunk).indices.len();
    }
    std::hint::black_box(terms);
    started.elapsed()
}

fn print_cost(fixture: &Fixture) {
    let chinese = "光合作用在植物的叶绿体中进行。叶绿素吸收阳光。";
    let started = Instant::now();
    sparse::encode_document_in(chinese, Some(Language::CHINESE));
    let cold = started.elapsed();
    let started = Instant::now();
    sparse::encode_document_in(chinese, Some(Language::CHINESE));
    let warm = started.elapsed();
    println!("\nfirst Chinese (jieba) encoding: {cold:?} (dictionary load), then {warm:?}");
    let started = Instant::now();
    sparse::encode_query("first query");
    println!(
        "first query (analyzers, stop words): {:?}",
        started.elapsed()
    );

    let chunks = chunks(fixture);
    let detected: Vec<_> = chunks.iter().map(|c| Language::detect(c)).collect();
    println!(
        "\nencoding {} chunks of ~200 words (all six languages):",
        chunks.len()
    );
    println!("| encoding | time | per chunk |");
    println!("|---|---|---|");
    let row = |name: &str, elapsed: Duration| {
        let per = elapsed / chunks.len() as u32;
        println!("| {name} | {elapsed:.1?} | {per:.1?} |");
    };
    row(
        "before: `encode_document`",
        time(&chunks, before::encode_document),
    );
    row(
        "after: `encode_document` (detects)",
        time(&chunks, sparse::encode_document),
    );
    let mut at = 0;
    let given = time(&chunks, |c| {
        at += 1;
        sparse::encode_document_in(c, detected[(at - 1) % detected.len()])
    });
    row("after: `encode_document_in` (language given)", given);
    row(
        "after: `encode_document_in(_, None)`",
        time(&chunks, |c| sparse::encode_document_in(c, None)),
    );
    row("`Language::detect` alone", {
        let started = Instant::now();
        for chunk in &chunks {
            std::hint::black_box(Language::detect(chunk));
        }
        started.elapsed()
    });
    let queries: Vec<_> = fixture.queries.iter().map(|q| q.query.as_str()).collect();
    let started = Instant::now();
    let mut before_terms = 0;
    for query in &queries {
        before_terms += before::encode_query(query).indices.len();
    }
    let before_time = started.elapsed();
    let started = Instant::now();
    let mut after_terms = 0;
    for query in &queries {
        after_terms += sparse::encode_query(query).indices.len();
    }
    let after_time = started.elapsed();
    println!(
        "\n{} queries: before {before_time:.1?} ({before_terms} terms), after {after_time:.1?} \
         ({after_terms} terms)",
        queries.len()
    );
}

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/multilingual/passages.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let fixture: Fixture = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    // Cost first, so the first Chinese encoding really is the cold one.
    print_cost(&fixture);
    println!();
    print_recall(&fixture);
}
