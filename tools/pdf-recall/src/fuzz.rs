//! `fuzz DIR`: robustness over mutated copies, each extraction in a child process (`extract`)
//! under a time and memory limit.

use std::collections::HashMap;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::extractors::{Ctx, Extractor, panic_msg};

/// Child mode: extract one file, print exactly one `RESULT\t<kind>\t<detail>` line.
pub(crate) fn cmd_extract(ctx: &Ctx, ex: Extractor, file: &Path) {
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

pub(crate) struct FuzzOpts {
    pub(crate) count: usize,
    pub(crate) seed: u64,
    pub(crate) timeout: Duration,
    pub(crate) mem_limit_kb: u64,
    pub(crate) out: PathBuf,
}

pub(crate) fn cmd_fuzz(dir: &Path, extractors: &[Extractor], o: &FuzzOpts, pdfium: Option<&Path>) {
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
