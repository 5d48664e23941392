//! `negatives DIR`: how each extractor behaves on `encrypted.pdf` and `image-only.pdf`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use crate::extractors::{Ctx, Extraction, Extractor, panic_msg};
use crate::metrics::{reference_pages, score, tokens};

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

pub(crate) fn cmd_negatives(ctx: &Ctx, dir: &Path, extractors: &[Extractor]) {
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
