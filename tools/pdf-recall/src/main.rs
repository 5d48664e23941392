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

mod extractors;
mod fuzz;
mod metrics;
mod negatives;
mod recall;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use extractors::{Ctx, Extractor, load_pdfium};
use fuzz::{FuzzOpts, cmd_extract, cmd_fuzz};
use negatives::cmd_negatives;
use recall::cmd_recall;

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
