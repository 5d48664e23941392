//! The three extractors, called exactly as production-style code would (these calls are what is
//! measured), and the context that runs one by name.

use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Extractor {
    Lopdf,
    PdfExtract,
    Pdfium,
}

impl Extractor {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Extractor::Lopdf => "lopdf",
            Extractor::PdfExtract => "pdf-extract",
            Extractor::Pdfium => "pdfium",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Self> {
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
pub(crate) struct Extraction {
    pub(crate) pages: Vec<String>,
    pub(crate) page_errors: Vec<String>,
}

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

pub(crate) fn load_pdfium(lib: &Path) -> Result<pdfium_render::prelude::Pdfium, String> {
    use pdfium_render::prelude::Pdfium;
    let bindings =
        Pdfium::bind_to_library(lib).map_err(|e| format!("bind {}: {e}", lib.display()))?;
    Ok(Pdfium::new(bindings))
}

pub(crate) struct Ctx {
    pub(crate) pdfium: Option<pdfium_render::prelude::Pdfium>,
}

impl Ctx {
    pub(crate) fn run(
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

pub(crate) fn panic_msg(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".into()
    }
}
