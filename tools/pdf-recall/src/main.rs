//! pdf-recall: measure Rust PDF text extractors against pdftotext's output.
//!
//! Subcommands (see README.md):
//!   recall    DIR                 word recall / precision / page attribution / time per file
//!   negatives DIR                 behaviour on encrypted.pdf and image-only.pdf
//!   fuzz      DIR [opts]          robustness over mutated copies (one child process per run)
//!   dump      EXTRACTOR FILE      print extracted pages separated by \f (like pdftotext)
//!   extract   EXTRACTOR FILE      child mode used by `fuzz`; prints one `RESULT\t...` line
//!
//! Extractors: lopdf, pdf-extract, pdfium (pdfium needs --pdfium PATH/libpdfium.so or
//! the PDFIUM_LIB environment variable).

use std::collections::HashMap;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Extractor {
    Lopdf,
    PdfExtract,
    Pdfium,
}

impl Extractor {
    fn name(self) -> &'static str {
        match self {
            Extractor::Lopdf => "lopdf",
            Extractor::PdfExtract => "pdf-extract",
            Extractor::Pdfium => "pdfium",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "lopdf" => Some(Extractor::Lopdf),
            "pdf-extract" => Some(Extractor::PdfExtract),
            "pdfium" => Some(Extractor::Pdfium),
            _ => None,
        }
    }
}

/// Result of one extraction: text per page, plus per-page errors that did not abort the
/// whole document (lopdf reports errors page by page).
struct Extraction {
    pages: Vec<String>,
    page_errors: Vec<String>,
}

// ------------------------------------------------------------------------------------------
// The three extractors. These are the exact production-style API calls being measured.
// ------------------------------------------------------------------------------------------

/// lopdf 0.47: `Document::load_mem(&[u8]) -> Result<Document>`,
/// `Document::get_pages(&self) -> BTreeMap<u32, ObjectId>`,
/// `Document::extract_text(&self, page_numbers: &[u32]) -> Result<String>` (one page at a time).
fn extract_lopdf(bytes: &[u8], password: Option<&str>) -> Result<Extraction, String> {
    let doc = match password {
        None => lopdf::Document::load_mem(bytes),
        Some(pw) => {
            lopdf::Document::load_mem_with_options(bytes, lopdf::LoadOptions::with_password(pw))
        }
    }
    .map_err(|e| format!("load: {e}"))?;
    let mut pages = Vec::new();
    let mut page_errors = Vec::new();
    for (&n, _) in doc.get_pages().iter() {
        match doc.extract_text(&[n]) {
            Ok(t) => pages.push(t),
            Err(e) => {
                page_errors.push(format!("page {n}: {e}"));
                pages.push(String::new());
            }
        }
    }
    Ok(Extraction { pages, page_errors })
}

/// pdf-extract 0.12.1: `pdf_extract::extract_text_from_mem_by_pages(&[u8])
/// -> Result<Vec<String>, OutputError>` (and `..._encrypted(&[u8], &str)`).
fn extract_pdf_extract(bytes: &[u8], password: Option<&str>) -> Result<Extraction, String> {
    let pages = match password {
        None => pdf_extract::extract_text_from_mem_by_pages(bytes),
        Some(pw) => pdf_extract::extract_text_from_mem_by_pages_encrypted(bytes, pw),
    }
    .map_err(|e| format!("{e}"))?;
    Ok(Extraction {
        pages,
        page_errors: Vec::new(),
    })
}

/// pdfium-render 0.9.5 over libpdfium.so (pypdfium2 wheel, PDFium build 8149):
/// `Pdfium::bind_to_library(path)` + `Pdfium::new(bindings)` once per process;
/// `Pdfium::load_pdf_from_byte_slice(&[u8], Option<&str>) -> Result<PdfDocument, PdfiumError>`,
/// `PdfDocument::pages().iter()`, `PdfPage::text() -> Result<PdfPageText, PdfiumError>`,
/// `PdfPageText::all() -> String`.
fn extract_pdfium(
    pdfium: &pdfium_render::prelude::Pdfium,
    bytes: &[u8],
    password: Option<&str>,
) -> Result<Extraction, String> {
    let doc = pdfium
        .load_pdf_from_byte_slice(bytes, password)
        .map_err(|e| format!("load: {e}"))?;
    let mut pages = Vec::new();
    let mut page_errors = Vec::new();
    for (i, page) in doc.pages().iter().enumerate() {
        match page.text() {
            Ok(t) => pages.push(t.all()),
            Err(e) => {
                page_errors.push(format!("page {}: {e}", i + 1));
                pages.push(String::new());
            }
        }
    }
    Ok(Extraction { pages, page_errors })
}

fn load_pdfium(lib: &Path) -> Result<pdfium_render::prelude::Pdfium, String> {
    use pdfium_render::prelude::Pdfium;
    let bindings =
        Pdfium::bind_to_library(lib).map_err(|e| format!("bind {}: {e}", lib.display()))?;
    Ok(Pdfium::new(bindings))
}

struct Ctx {
    pdfium: Option<pdfium_render::prelude::Pdfium>,
}

impl Ctx {
    fn run(
        &self,
        ex: Extractor,
        bytes: &[u8],
        password: Option<&str>,
    ) -> Result<Extraction, String> {
        match ex {
            Extractor::Lopdf => extract_lopdf(bytes, password),
            Extractor::PdfExtract => extract_pdf_extract(bytes, password),
            Extractor::Pdfium => match &self.pdfium {
                Some(p) => extract_pdfium(p, bytes, password),
                None => Err("pdfium not loaded (pass --pdfium or set PDFIUM_LIB)".into()),
            },
        }
    }
}

// ------------------------------------------------------------------------------------------
// Metrics
// ------------------------------------------------------------------------------------------

/// Lowercased alphanumeric tokens (Unicode-aware: `char::is_alphanumeric`).
fn tokens(s: &str) -> Vec<String> {
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

struct Score {
    recall: f64,
    precision: f64,
    paged_recall: f64,
    markers_ok: usize,
    markers_total: usize,
    pages_out: usize,
}

fn score(reference_pages: &[String], ex: &Extraction) -> Score {
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

fn reference_pages(txt: &Path) -> Vec<String> {
    let s = std::fs::read_to_string(txt).expect("read reference .txt");
    // pdftotext terminates every page with \f; drop the empty tail after the last one.
    let mut pages: Vec<String> = s.split('\u{c}').map(str::to_owned).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

// ------------------------------------------------------------------------------------------
// Subcommands
// ------------------------------------------------------------------------------------------

fn positives(dir: &Path) -> Vec<(String, PathBuf, PathBuf)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("read fixture dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pdf") && p.with_extension("txt").exists())
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                p.clone(),
                p.with_extension("txt"),
            )
        })
        .collect();
    v.sort();
    v
}

fn cmd_recall(ctx: &Ctx, dir: &Path, extractors: &[Extractor], reps: usize) {
    println!(
        "| file | pages | extractor | recall | precision | paged recall | page markers | pages out | median ms | page errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut sums: HashMap<&str, (f64, f64, usize)> = HashMap::new();
    for (name, pdf, txt) in positives(dir) {
        let bytes = std::fs::read(&pdf).expect("read pdf");
        let refp = reference_pages(&txt);
        for &ex in extractors {
            let mut times = Vec::new();
            let mut last = None;
            for _ in 0..reps.max(1) {
                let t0 = Instant::now();
                let r = catch_unwind(AssertUnwindSafe(|| ctx.run(ex, &bytes, None)));
                times.push(t0.elapsed());
                last = Some(r);
            }
            times.sort();
            let ms = times[times.len() / 2].as_secs_f64() * 1e3;
            match last.unwrap() {
                Ok(Ok(e)) => {
                    let s = score(&refp, &e);
                    let ent = sums.entry(ex.name()).or_insert((0.0, 0.0, 0));
                    ent.0 += s.recall;
                    ent.1 += ms;
                    ent.2 += 1;
                    println!(
                        "| {name} | {} | {} | {:.3} | {:.3} | {:.3} | {}/{} | {} | {:.1} | {} |",
                        refp.len(),
                        ex.name(),
                        s.recall,
                        s.precision,
                        s.paged_recall,
                        s.markers_ok,
                        s.markers_total,
                        s.pages_out,
                        ms,
                        e.page_errors.len()
                    );
                    if !e.page_errors.is_empty() {
                        eprintln!("{name}/{}: {}", ex.name(), e.page_errors.join("; "));
                    }
                }
                Ok(Err(e)) => {
                    println!(
                        "| {name} | {} | {} | ERROR: {e} | | | | | {ms:.1} | |",
                        refp.len(),
                        ex.name()
                    )
                }
                Err(_) => println!(
                    "| {name} | {} | {} | PANIC | | | | | {ms:.1} | |",
                    refp.len(),
                    ex.name()
                ),
            }
        }
    }
    println!();
    println!("| extractor | mean recall | total median ms |");
    println!("|---|---|---|");
    for &ex in extractors {
        if let Some((r, ms, n)) = sums.get(ex.name()) {
            println!(
                "| {} | {:.3} (over {n} files) | {:.1} |",
                ex.name(),
                r / *n as f64,
                ms
            );
        }
    }
}

fn describe(r: std::thread::Result<Result<Extraction, String>>) -> String {
    match r {
        Ok(Ok(e)) => {
            let chars: usize = e.pages.iter().map(|p| p.trim().chars().count()).sum();
            let words: usize = e.pages.iter().map(|p| tokens(p).len()).sum();
            format!(
                "Ok: {} pages, {chars} non-space chars, {words} words, {} page errors{}",
                e.pages.len(),
                e.page_errors.len(),
                if e.page_errors.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", e.page_errors[0])
                }
            )
        }
        Ok(Err(e)) => format!(
            "Err: {}",
            e.split_whitespace().collect::<Vec<_>>().join(" ")
        ),
        Err(p) => format!("PANIC: {}", panic_msg(&p)),
    }
}

fn cmd_negatives(ctx: &Ctx, dir: &Path, extractors: &[Extractor]) {
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap_or_default();
    let pw = if manifest.contains("flashforge-user") {
        "flashforge-user"
    } else {
        ""
    };
    let enc = std::fs::read(dir.join("encrypted.pdf")).expect("encrypted.pdf");
    let img = std::fs::read(dir.join("image-only.pdf")).expect("image-only.pdf");
    let sc_ref = reference_pages(&dir.join("single-column.txt"));
    for &ex in extractors {
        println!("{}:", ex.name());
        let r = catch_unwind(AssertUnwindSafe(|| ctx.run(ex, &enc, None)));
        println!("  encrypted.pdf, no password   -> {}", describe(r));
        let r = catch_unwind(AssertUnwindSafe(|| {
            ctx.run(ex, &enc, Some("wrong-password"))
        }));
        println!("  encrypted.pdf, wrong password -> {}", describe(r));
        let r = catch_unwind(AssertUnwindSafe(|| ctx.run(ex, &enc, Some(pw))));
        let extra = match &r {
            Ok(Ok(e)) => format!(
                " [recall vs single-column.txt {:.3}]",
                score(&sc_ref, e).recall
            ),
            _ => String::new(),
        };
        println!("  encrypted.pdf, user password  -> {}{extra}", describe(r));
        let r = catch_unwind(AssertUnwindSafe(|| ctx.run(ex, &img, None)));
        println!("  image-only.pdf               -> {}", describe(r));
        match ex {
            Extractor::Lopdf => {
                // How production code can tell "encrypted, no password" from "no text".
                match lopdf::Document::load_mem(&enc) {
                    Ok(d) => println!(
                        "  probe: load_mem(encrypted) -> Ok, is_encrypted()={}, was_encrypted()={}, get_pages().len()={}",
                        d.is_encrypted(),
                        d.was_encrypted(),
                        d.get_pages().len()
                    ),
                    Err(e) => println!("  probe: load_mem(encrypted) -> Err({e})"),
                }
            }
            Extractor::PdfExtract => {
                let r = pdf_extract::extract_text_from_mem_encrypted(&enc, pw);
                match r {
                    Ok(t) => println!(
                        "  probe: extract_text_from_mem_encrypted(user password) -> Ok, {} words, recall {:.3}",
                        tokens(&t).len(),
                        score(
                            &sc_ref,
                            &Extraction {
                                pages: vec![t],
                                page_errors: vec![]
                            }
                        )
                        .recall
                    ),
                    Err(e) => println!(
                        "  probe: extract_text_from_mem_encrypted(user password) -> Err({e})"
                    ),
                }
            }
            Extractor::Pdfium => {}
        }
    }
}

fn panic_msg(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".into()
    }
}

/// Child mode: extract one file, print exactly one `RESULT\t<kind>\t<detail>` line.
fn cmd_extract(ctx: &Ctx, ex: Extractor, file: &Path) {
    let bytes = std::fs::read(file).expect("read file");
    std::panic::set_hook(Box::new(|_| {})); // keep stderr quiet; the payload is reported below
    let r = catch_unwind(AssertUnwindSafe(|| ctx.run(ex, &bytes, None)));
    let line = match r {
        Ok(Ok(e)) => {
            let chars: usize = e.pages.iter().map(|p| p.trim().chars().count()).sum();
            let kind = if chars > 0 { "text" } else { "empty" };
            format!(
                "{kind}\tpages={} chars={chars} page_errors={}",
                e.pages.len(),
                e.page_errors.len()
            )
        }
        Ok(Err(e)) => format!("error\t{}", e.replace(['\n', '\t'], " ")),
        Err(p) => format!("panic\t{}", panic_msg(&p).replace(['\n', '\t'], " ")),
    };
    println!("RESULT\t{line}");
}

/// xorshift64*: tiny deterministic PRNG so the mutants depend only on --seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mutate(rng: &mut Rng, src: &[u8], i: usize) -> (Vec<u8>, String) {
    let mut v = src.to_vec();
    match i % 4 {
        0 => {
            let at = rng.below(v.len());
            v.truncate(at);
            (v, format!("truncate@{at}"))
        }
        1 => {
            let n = 1 + rng.below(8);
            for _ in 0..n {
                let at = rng.below(v.len());
                v[at] = rng.next() as u8;
            }
            (v, format!("flip{n}"))
        }
        2 => {
            let n = 20 + rng.below(200);
            for _ in 0..n {
                let at = rng.below(v.len());
                v[at] = rng.next() as u8;
            }
            (v, format!("flip{n}"))
        }
        _ => {
            // Truncate and flip: broken xref plus damaged objects.
            let at = v.len() / 4 + rng.below(v.len() * 3 / 4);
            v.truncate(at);
            let n = 1 + rng.below(16);
            for _ in 0..n {
                let p = rng.below(v.len());
                v[p] = rng.next() as u8;
            }
            (v, format!("truncate@{at}+flip{n}"))
        }
    }
}

struct FuzzOpts {
    count: usize,
    seed: u64,
    timeout: Duration,
    mem_limit_kb: u64,
    out: PathBuf,
}

fn cmd_fuzz(dir: &Path, extractors: &[Extractor], o: &FuzzOpts, pdfium: Option<&Path>) {
    let mut srcs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read fixture dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    srcs.sort();
    std::fs::create_dir_all(&o.out).expect("create mutant dir");
    let exe = std::env::current_exe().expect("current exe");
    let mut rng = Rng(o.seed.max(1));
    let mut counts: HashMap<(&str, &str), usize> = HashMap::new();
    let mut by_mutation: HashMap<(&str, &str, &str), usize> = HashMap::new();
    let classes = [
        "truncate",
        "flip 1-8 bytes",
        "flip 20-219 bytes",
        "truncate+flip",
    ];
    let mut notes: Vec<String> = Vec::new();
    let mut slowest: HashMap<&str, (Duration, String)> = HashMap::new();
    for i in 0..o.count {
        let src = &srcs[i % srcs.len()];
        let bytes = std::fs::read(src).expect("read pdf");
        let (m, desc) = mutate(&mut rng, &bytes, i / srcs.len());
        let stem = src.file_stem().unwrap().to_string_lossy();
        let path = o.out.join(format!("{i:04}-{stem}.pdf"));
        std::fs::write(&path, &m).expect("write mutant");
        for &ex in extractors {
            let t0 = Instant::now();
            let (kind, detail) = run_child(&exe, ex, &path, o, pdfium);
            let dt = t0.elapsed();
            let slot = slowest
                .entry(ex.name())
                .or_insert((Duration::ZERO, String::new()));
            if dt > slot.0 {
                *slot = (dt, path.display().to_string());
            }
            *counts.entry((ex.name(), kind)).or_insert(0) += 1;
            *by_mutation
                .entry((ex.name(), classes[(i / srcs.len()) % 4], kind))
                .or_insert(0) += 1;
            if matches!(kind, "panic" | "hang" | "crash") {
                notes.push(format!(
                    "{} {kind} on {} ({desc}): {detail}",
                    ex.name(),
                    path.display()
                ));
            }
        }
    }
    let kinds = ["text", "empty", "error", "panic", "hang", "crash"];
    println!(
        "fuzz: {} mutants of {} files, seed {}, timeout {:?}, mutants kept in {}",
        o.count,
        srcs.len(),
        o.seed,
        o.timeout,
        o.out.display()
    );
    println!("| extractor | {} |", kinds.join(" | "));
    println!("|---|{}", "---|".repeat(kinds.len()));
    for &ex in extractors {
        let row: Vec<String> = kinds
            .iter()
            .map(|k| {
                counts
                    .get(&(ex.name(), *k))
                    .copied()
                    .unwrap_or(0)
                    .to_string()
            })
            .collect();
        println!("| {} | {} |", ex.name(), row.join(" | "));
    }
    for &ex in extractors {
        if let Some((d, p)) = slowest.get(ex.name()) {
            println!(
                "slowest {} child (incl. process start): {:.0} ms on {p}",
                ex.name(),
                d.as_secs_f64() * 1e3
            );
        }
    }
    println!();
    println!("by mutation class (text/empty/error/panic/hang/crash):");
    println!("| extractor | {} |", classes.join(" | "));
    println!("|---|{}", "---|".repeat(classes.len()));
    for &ex in extractors {
        let row: Vec<String> = classes
            .iter()
            .map(|c| {
                kinds
                    .iter()
                    .map(|k| {
                        by_mutation
                            .get(&(ex.name(), *c, *k))
                            .copied()
                            .unwrap_or(0)
                            .to_string()
                    })
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        println!("| {} | {} |", ex.name(), row.join(" | "));
    }
    println!();
    for n in notes {
        println!("  {n}");
    }
}

fn run_child(
    exe: &Path,
    ex: Extractor,
    file: &Path,
    o: &FuzzOpts,
    pdfium: Option<&Path>,
) -> (&'static str, String) {
    // A memory ceiling for the pure-Rust children, so a bogus length cannot eat the
    // machine; pdfium reserves large virtual ranges up front and is left unlimited.
    let limit = if ex == Extractor::Pdfium {
        "unlimited".to_string()
    } else {
        o.mem_limit_kb.to_string()
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {limit}; exec \"$0\" \"$@\""))
        .arg(exe)
        .arg("extract")
        .arg(ex.name())
        .arg(file);
    if let Some(p) = pdfium {
        cmd.arg("--pdfium").arg(p);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if t0.elapsed() > o.timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut out = String::new();
    if let Some(mut so) = child.stdout.take() {
        let _ = so.read_to_string(&mut out);
    }
    let Some(status) = status else {
        return ("hang", format!("killed after {:?}", o.timeout));
    };
    if let Some(line) = out.lines().find(|l| l.starts_with("RESULT\t")) {
        let mut parts = line.splitn(3, '\t').skip(1);
        let kind = match parts.next().unwrap_or("") {
            "text" => "text",
            "empty" => "empty",
            "error" => "error",
            "panic" => "panic",
            _ => "crash",
        };
        return (kind, parts.next().unwrap_or("").to_string());
    }
    ("crash", format!("no result line; exit status {status}"))
}

// ------------------------------------------------------------------------------------------

fn usage() -> ! {
    eprintln!(
        "usage:\n  pdf-recall recall DIR [--pdfium LIB] [--extractors a,b,c] [--reps N]\n  \
         pdf-recall negatives DIR [--pdfium LIB] [--extractors a,b,c]\n  \
         pdf-recall fuzz DIR [--pdfium LIB] [--extractors a,b] [--count N] [--seed S] [--timeout SECS] \
         [--mem-limit-mb MB] [--out DIR]\n  pdf-recall dump EXTRACTOR FILE [--pdfium LIB] [--password PW]\n  \
         pdf-recall extract EXTRACTOR FILE [--pdfium LIB]"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut pos = Vec::new();
    let mut flags: HashMap<String, String> = HashMap::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if let Some(k) = a.strip_prefix("--") {
            flags.insert(k.to_string(), it.next().unwrap_or_else(|| usage()));
        } else {
            pos.push(a);
        }
    }
    let pdfium_path: Option<PathBuf> = flags
        .get("pdfium")
        .cloned()
        .or_else(|| std::env::var("PDFIUM_LIB").ok())
        .map(PathBuf::from);
    let extractors: Vec<Extractor> = match flags.get("extractors") {
        Some(s) => s
            .split(',')
            .map(|x| Extractor::parse(x).unwrap_or_else(|| usage()))
            .collect(),
        None if pdfium_path.is_some() => {
            vec![Extractor::Lopdf, Extractor::PdfExtract, Extractor::Pdfium]
        }
        None => vec![Extractor::Lopdf, Extractor::PdfExtract],
    };
    let wants_pdfium = match pos.first().map(String::as_str) {
        Some("extract" | "dump") => pos.get(1).map(String::as_str) == Some("pdfium"),
        Some("fuzz") => false, // children load it themselves
        _ => extractors.contains(&Extractor::Pdfium),
    };
    let pdfium = if wants_pdfium {
        let p = pdfium_path.clone().unwrap_or_else(|| {
            eprintln!("pdfium needs --pdfium PATH/libpdfium.so or PDFIUM_LIB");
            std::process::exit(2)
        });
        Some(load_pdfium(&p).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        }))
    } else {
        None
    };
    let ctx = Ctx { pdfium };
    match pos.first().map(String::as_str) {
        Some("recall") if pos.len() == 2 => {
            let reps = flags
                .get("reps")
                .map(|s| s.parse().expect("--reps N"))
                .unwrap_or(5);
            cmd_recall(&ctx, Path::new(&pos[1]), &extractors, reps)
        }
        Some("negatives") if pos.len() == 2 => cmd_negatives(&ctx, Path::new(&pos[1]), &extractors),
        Some("fuzz") if pos.len() == 2 => {
            let o = FuzzOpts {
                count: flags
                    .get("count")
                    .map(|s| s.parse().expect("--count N"))
                    .unwrap_or(120),
                seed: flags
                    .get("seed")
                    .map(|s| s.parse().expect("--seed S"))
                    .unwrap_or(20240601),
                timeout: Duration::from_secs_f64(
                    flags
                        .get("timeout")
                        .map(|s| s.parse().expect("--timeout SECS"))
                        .unwrap_or(10.0),
                ),
                mem_limit_kb: flags
                    .get("mem-limit-mb")
                    .map(|s| s.parse().expect("--mem-limit-mb MB"))
                    .unwrap_or(4096)
                    * 1024,
                out: flags
                    .get("out")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("/tmp/pdf-recall-mutants")),
            };
            let fx: Vec<Extractor> = match flags.get("extractors") {
                Some(_) => extractors.clone(),
                None => vec![Extractor::Lopdf, Extractor::PdfExtract],
            };
            cmd_fuzz(Path::new(&pos[1]), &fx, &o, pdfium_path.as_deref())
        }
        Some("dump") if pos.len() == 3 => {
            // Print the extracted pages separated by form feeds, like `pdftotext FILE -`.
            let ex = Extractor::parse(&pos[1]).unwrap_or_else(|| usage());
            let bytes = std::fs::read(&pos[2]).expect("read file");
            match ctx.run(ex, &bytes, flags.get("password").map(String::as_str)) {
                Ok(e) => {
                    for p in e.pages {
                        print!("{p}\u{c}");
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::exit(1)
                }
            }
        }
        Some("extract") if pos.len() == 3 => {
            let ex = Extractor::parse(&pos[1]).unwrap_or_else(|| usage());
            cmd_extract(&ctx, ex, Path::new(&pos[2]))
        }
        _ => usage(),
    }
}
