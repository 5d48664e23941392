//! `recall DIR`: word recall, precision, page attribution and time per file and extractor.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::extractors::{Ctx, Extractor};
use crate::metrics::{reference_pages, score};

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

pub(crate) fn cmd_recall(ctx: &Ctx, dir: &Path, extractors: &[Extractor], reps: usize) {
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
