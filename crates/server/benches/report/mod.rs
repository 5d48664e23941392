//! The load benchmark's table and ratios.

use std::time::Duration;

use crate::crud::PEER;
use crate::tools::{CONNECTIONS, Run, SECONDS};
use crate::{CARDS, CHUNKS, median, ms};

/// Everything the table reports.
pub struct Measured {
    pub cores: usize,
    pub seeded: Duration,
    pub results: Vec<(&'static str, Run)>,
    /// pgbench's transactions per second and the driver's queries per second, same select.
    pub tps: f64,
    pub driver: f64,
    /// pgbench's transactions per second inserting one card row.
    pub insert_tps: f64,
    /// The FastAPI template's runs (`PEER_URL`).
    pub peer: Vec<(&'static str, Run)>,
    /// Round trips to Postgres per request, by endpoint.
    pub trips: Vec<(&'static str, f64)>,
    /// Resident memory in MiB: idle, the peak under load, after load.
    pub rss: (f64, f64, f64),
    /// Search, ingestion and the probe (not with `LOAD_CRUD_ONLY`).
    pub rest: Option<Rest>,
}

/// What the knowledge-base part measured.
pub struct Rest {
    pub ingestion: Duration,
    pub http_semantic: Duration,
    pub http_hybrid: Duration,
    pub raw_semantic: Vec<Duration>,
    pub raw_hybrid: Vec<Duration>,
    pub extract_embed: Duration,
    /// `GET /me` (p50, p99), one request at a time: idle, and while the PDF is ingested.
    pub me: ((Duration, Duration), (Duration, Duration)),
}

/// The table.
pub fn report(m: &Measured) {
    let (cores, tps, driver) = (m.cores, m.tps, m.driver);
    let (idle_rss, peak_rss, busy_rss) = m.rss;
    println!(
        "Load: release `flashforge serve` on Postgres 15, {cores} cores shared with wrk (2 threads, {CONNECTIONS} connections, {SECONDS} s per scenario)"
    );
    println!(
        "seeded {} chunks and {CARDS} cards in {:.0} s",
        if m.rest.is_some() { CHUNKS } else { 0 },
        m.seeded.as_secs_f64()
    );
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>8}",
        "scenario", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for (name, run) in m.results.iter().chain(&m.peer) {
        let name = if m.peer.iter().any(|(n, _)| n == name) {
            format!("peer: {name}")
        } else {
            (*name).to_string()
        };
        println!(
            "{:<28} {:>10.0} {:>10.2} {:>10.2} {:>8}",
            name, run.rps, run.p50_ms, run.p99_ms, run.errors
        );
    }
    if let Some(rest) = &m.rest {
        println!(
            "{:<28} {:>10} {:>10.0} s",
            "upload + ingest 100-page PDF",
            "",
            rest.ingestion.as_secs_f64()
        );
    }
    let get = |n: &str| {
        m.results
            .iter()
            .find(|(name, _)| *name == n)
            .unwrap()
            .1
            .clone()
    };
    println!("ratios (same run):");
    println!(
        "  GET card {:.0} req/s / pgbench select by id {:.0} tps = {:.2} (target >= 0.5)",
        get("get card").rps,
        tps,
        get("get card").rps / tps
    );
    println!(
        "    where it goes: the same select through sea-orm/sqlx alone (no HTTP) {driver:.0} q/s = {:.2} of pgbench; an authenticated answer without the database (GET /models) {:.0} req/s",
        driver / tps,
        get("GET /models (no database)").rps
    );
    println!(
        "  list 50 cards {:.0} req/s / GET card {:.0} req/s = {:.2} (target >= 0.5)",
        get("list cards, first page").rps,
        get("get card").rps,
        get("list cards, first page").rps / get("get card").rps
    );
    println!(
        "  create card {:.0} req/s / pgbench single-row insert {:.0} tps = {:.2} (target >= 0.3)",
        get("create card").rps,
        m.insert_tps,
        get("create card").rps / m.insert_tps
    );
    println!(
        "  list 90% deep p50 / first page p50 = {:.2} (target <= 1.2)",
        get("list cards, 90% deep").p50_ms / get("list cards, first page").p50_ms
    );
    for (ours, theirs) in PEER {
        let Some((_, peer)) = m.peer.iter().find(|(n, _)| *n == theirs) else {
            continue;
        };
        let ours = (ours, get(ours));
        println!(
            "  {} / peer {}: {:.1}x the requests/s (target >= 10), p99 {:.2} ms / {:.2} ms = {:.3} (target <= 0.1)",
            ours.0,
            theirs,
            ours.1.rps / peer.rps,
            ours.1.p99_ms,
            peer.p99_ms,
            ours.1.p99_ms / peer.p99_ms
        );
    }
    println!(
        "  round trips to Postgres per request (statements, pings, BEGIN/COMMIT): {}",
        m.trips
            .iter()
            .map(|(name, n)| format!("{name} {n:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(rest) = &m.rest {
        report_rest(rest);
    }
    println!(
        "resident memory: idle {idle_rss:.0} MiB (after start-up{}), peak under load {peak_rss:.0} MiB, after load {busy_rss:.0} MiB",
        if m.rest.is_some() {
            format!(", index of {CHUNKS} chunks open")
        } else {
            String::new()
        }
    );
}

/// The knowledge base's ratios.
fn report_rest(m: &Rest) {
    let (http_semantic, http_hybrid) = (m.http_semantic, m.http_hybrid);
    let (ingestion, extract_embed) = (m.ingestion, m.extract_embed);
    println!(
        "  search semantic through HTTP p50 {:.2} ms / embedding + index query {:.2} ms = {:.2} (target <= 2.0)",
        ms(http_semantic),
        ms(median(m.raw_semantic.clone())),
        ms(http_semantic) / ms(median(m.raw_semantic.clone()))
    );
    println!(
        "  search hybrid through HTTP p50 {:.2} ms / embedding + dense + BM25 queries {:.2} ms = {:.2} (target <= 2.0)",
        ms(http_hybrid),
        ms(median(m.raw_hybrid.clone())),
        ms(http_hybrid) / ms(median(m.raw_hybrid.clone()))
    );
    println!(
        "  ingestion {:.1} s / extraction + embedding alone {:.1} s = {:.2} (target <= 1.2)",
        ingestion.as_secs_f64(),
        extract_embed.as_secs_f64(),
        ingestion.as_secs_f64() / extract_embed.as_secs_f64()
    );
    let ((idle_50, idle_99), (busy_50, busy_99)) = m.me;
    println!(
        "  GET /me one at a time: idle p50 {:.2} ms p99 {:.2} ms; during the ingestion p50 {:.2} ms p99 {:.2} ms; p99 ratio {:.2} (target <= 2.0)",
        ms(idle_50),
        ms(idle_99),
        ms(busy_50),
        ms(busy_99),
        ms(busy_99) / ms(idle_99)
    );
    println!(
        "(wrk repeats one search query, so its embedding comes from the cache; the search ratios use 60 new queries, one at a time)"
    );
}
