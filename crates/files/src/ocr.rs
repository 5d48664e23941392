//! OCR for scans and pictures: Tesseract reads pictures (PNG, JPEG, TIFF) and the pages of a
//! PDF that have no text layer, which Poppler's `pdftoppm` renders first. Both run as guarded
//! children ([`GuardedCommand`]): an empty environment (no secret of the server's reaches
//! them), their own process group, limits on memory and CPU time, a timeout per page, and the
//! image and the text passed through pipes — no temporary files.
//!
//! Whether OCR can run is found out once, at start-up ([`Ocr::probe`]): the programs, their
//! versions and the configured languages. When it cannot, a document that needs it fails with
//! [`ExtractError::OcrUnavailable`], which says why and how to enable it, and `/health/ready`
//! shows the state.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use flashforge_domain::knowledge::ExtractError;
use serde::Serialize;

use crate::guard::{ChildLimits, GuardedCommand};

/// How OCR is configured.
#[derive(Debug, Clone)]
pub struct OcrSettings {
    pub enabled: bool,
    /// The Tesseract program: a path, or a name looked up on `PATH`.
    pub tesseract: PathBuf,
    /// Poppler's `pdftoppm`: a path, or a name looked up on `PATH`.
    pub pdftoppm: PathBuf,
    /// Tesseract language packs to read with, e.g. `["eng", "deu"]`.
    pub languages: Vec<String>,
    /// The resolution PDF pages are rendered at.
    pub dpi: u32,
    /// The longest one page (render and read) may take.
    pub page_timeout: Duration,
    /// The most pages of one document read by OCR.
    pub max_pages: u32,
    pub resources: ChildLimits,
}

impl Default for OcrSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            tesseract: "tesseract".into(),
            pdftoppm: "pdftoppm".into(),
            languages: vec!["eng".into()],
            dpi: 300,
            page_timeout: Duration::from_secs(60),
            max_pages: 100,
            resources: ChildLimits {
                memory_bytes: 2048 * 1024 * 1024,
                cpu_secs: 120,
            },
        }
    }
}

/// Whether OCR can run, as `/health/ready` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OcrStatus {
    Ready {
        version: String,
        languages: Vec<String>,
    },
    Disabled,
    Unavailable {
        reason: String,
    },
}

/// How to make scanned pages and pictures readable, in the words a failed document shows.
const HOW_TO_ENABLE: &str = "install Tesseract and Poppler (Debian: apt install tesseract-ocr \
tesseract-ocr-eng poppler-utils, plus a tesseract-ocr-<lang> package per language in \
knowledge.ocr_languages) and set knowledge.ocr_enabled = true";

/// The programs found at start-up.
#[derive(Debug, Clone)]
struct Programs {
    tesseract: PathBuf,
    pdftoppm: PathBuf,
}

/// Reads text from pictures and rendered PDF pages.
#[derive(Debug, Clone)]
pub struct Ocr {
    settings: OcrSettings,
    programs: Option<Programs>,
    status: OcrStatus,
}

/// The most bytes of text Tesseract may print for one page, and of PNG `pdftoppm` may print.
const TEXT_BOUND: u64 = 4 * 1024 * 1024;
const IMAGE_BOUND: u64 = 256 * 1024 * 1024;

/// The environment the children get: one thread each (the worker runs several jobs at once).
const CHILD_ENV: &[(&str, &str)] = &[("OMP_THREAD_LIMIT", "1")];

/// `program` as a path: as given when it names a folder, else the first match on `PATH`.
fn locate(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

impl Ocr {
    /// Finds the programs and checks the languages; never fails, the status says what is wrong.
    pub async fn probe(settings: OcrSettings) -> Self {
        if !settings.enabled {
            return Self {
                settings,
                programs: None,
                status: OcrStatus::Disabled,
            };
        }
        match Self::check(&settings).await {
            Ok((programs, version)) => Self {
                status: OcrStatus::Ready {
                    version,
                    languages: settings.languages.clone(),
                },
                settings,
                programs: Some(programs),
            },
            Err(reason) => {
                tracing::warn!(%reason, "OCR is not available: scans and pictures will fail");
                Self {
                    settings,
                    programs: None,
                    status: OcrStatus::Unavailable { reason },
                }
            }
        }
    }

    async fn check(settings: &OcrSettings) -> Result<(Programs, String), String> {
        let tesseract = locate(&settings.tesseract)
            .ok_or_else(|| format!("Tesseract ({}) was not found", settings.tesseract.display()))?;
        let pdftoppm = locate(&settings.pdftoppm).ok_or_else(|| {
            format!(
                "pdftoppm ({}, from poppler-utils) was not found",
                settings.pdftoppm.display()
            )
        })?;
        let probe = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let tesseract = tesseract.clone();
            let resources = settings.resources;
            async move {
                GuardedCommand {
                    program: &tesseract,
                    args: &args,
                    env: CHILD_ENV,
                    resources: &resources,
                    timeout: Duration::from_secs(20),
                }
                .run(Bytes::new(), TEXT_BOUND)
                .await
                .map(|out| String::from_utf8_lossy(&out).into_owned())
                .map_err(|e| format!("Tesseract did not run: {e}"))
            }
        };
        let version = probe(&["--version"]).await?;
        let version = version
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let listed = probe(&["--list-langs"]).await?;
        let installed: Vec<&str> = listed.lines().skip(1).map(str::trim).collect();
        let missing: Vec<&str> = settings
            .languages
            .iter()
            .map(String::as_str)
            .filter(|lang| !installed.contains(lang))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the Tesseract language data {} is not installed (Debian: tesseract-ocr-{})",
                missing.join(", "),
                missing.join(" tesseract-ocr-")
            ));
        }
        Ok((
            Programs {
                tesseract,
                pdftoppm,
            },
            version,
        ))
    }

    pub fn status(&self) -> &OcrStatus {
        &self.status
    }

    /// The most pages of one document read by OCR.
    pub fn max_pages(&self) -> u32 {
        self.settings.max_pages
    }

    fn programs(&self) -> Result<&Programs, ExtractError> {
        match (&self.programs, &self.status) {
            (Some(programs), _) => Ok(programs),
            (None, OcrStatus::Unavailable { reason }) => Err(ExtractError::OcrUnavailable(
                format!("{reason}; to read such files, {HOW_TO_ENABLE}"),
            )),
            (None, _) => Err(ExtractError::OcrUnavailable(format!(
                "OCR is switched off (knowledge.ocr_enabled = false); to read such files, \
                 {HOW_TO_ENABLE}"
            ))),
        }
    }

    /// The text of a picture, page by page (a TIFF may hold several).
    pub async fn read_image(&self, image: Bytes) -> Result<Vec<String>, ExtractError> {
        let programs = self.programs()?;
        let text = self.tesseract(programs, image).await.map_err(|e| match e {
            ExtractError::Crashed => {
                ExtractError::Malformed("Tesseract could not read the picture".into())
            }
            other => other,
        })?;
        let mut pages: Vec<String> = text.split('\u{c}').map(str::to_string).collect();
        // Tesseract ends every page with a form feed.
        if pages.len() > 1 && pages.last().is_some_and(|p| p.trim().is_empty()) {
            pages.pop();
        }
        Ok(pages)
    }

    /// The text of page `number` (1-based) of a PDF, rendered and read.
    pub async fn read_pdf_page(&self, pdf: Bytes, number: u32) -> Result<String, ExtractError> {
        let programs = self.programs()?;
        let page = number.to_string();
        let dpi = self.settings.dpi.to_string();
        let args: Vec<String> = [
            "-r",
            &dpi,
            "-gray",
            "-png",
            "-f",
            &page,
            "-l",
            &page,
            "-singlefile",
            "-",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        let image = GuardedCommand {
            program: &programs.pdftoppm,
            args: &args,
            env: CHILD_ENV,
            resources: &self.settings.resources,
            timeout: self.settings.page_timeout,
        }
        .run(pdf, IMAGE_BOUND)
        .await?;
        let text = self.tesseract(programs, Bytes::from(image)).await?;
        Ok(text.trim_end_matches(['\u{c}', '\n', ' ']).to_string())
    }

    async fn tesseract(&self, programs: &Programs, image: Bytes) -> Result<String, ExtractError> {
        let languages = self.settings.languages.join("+");
        let args: Vec<String> = ["stdin", "stdout", "-l", &languages, "--psm", "3"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        let output = GuardedCommand {
            program: &programs.tesseract,
            args: &args,
            env: CHILD_ENV,
            resources: &self.settings.resources,
            timeout: self.settings.page_timeout,
        }
        .run(image, TEXT_BOUND)
        .await?;
        Ok(String::from_utf8_lossy(&output).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_programs_or_languages_make_it_unavailable_with_a_reason() {
        let missing = Ocr::probe(OcrSettings {
            tesseract: "/nonexistent/tesseract".into(),
            ..OcrSettings::default()
        })
        .await;
        let OcrStatus::Unavailable { reason } = missing.status() else {
            panic!("{:?}", missing.status());
        };
        assert!(reason.contains("Tesseract"), "{reason}");
        let error = missing
            .read_image(Bytes::from_static(b"x"))
            .await
            .unwrap_err();
        assert!(matches!(error, ExtractError::OcrUnavailable(_)));
        assert!(
            error.to_string().contains("apt install tesseract-ocr"),
            "{error}"
        );

        let off = Ocr::probe(OcrSettings {
            enabled: false,
            ..OcrSettings::default()
        })
        .await;
        assert_eq!(off.status(), &OcrStatus::Disabled);
        assert!(matches!(
            off.read_pdf_page(Bytes::new(), 1).await,
            Err(ExtractError::OcrUnavailable(_))
        ));
    }

    #[tokio::test]
    async fn a_language_that_is_not_installed_is_named() {
        if locate(Path::new("tesseract")).is_none() {
            eprintln!("tesseract is not installed: skipped");
            return;
        }
        let ocr = Ocr::probe(OcrSettings {
            languages: vec!["eng".into(), "xyz".into()],
            ..OcrSettings::default()
        })
        .await;
        let OcrStatus::Unavailable { reason } = ocr.status() else {
            panic!("{:?}", ocr.status());
        };
        assert!(
            reason.contains("xyz") && reason.contains("tesseract-ocr-xyz"),
            "{reason}"
        );
    }

    #[test]
    fn programs_are_found_on_the_path_or_by_their_own_path() {
        assert_eq!(
            locate(Path::new("sh")).is_some(),
            Path::new("/bin/sh").exists() || Path::new("/usr/bin/sh").exists()
        );
        assert_eq!(locate(Path::new("/bin/sh")), Some(PathBuf::from("/bin/sh")));
        assert_eq!(locate(Path::new("/nonexistent/x")), None);
        assert_eq!(locate(Path::new("no-such-program-here")), None);
    }
}
