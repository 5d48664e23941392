//! The guard around the format parsers ([`crate::formats`]).
//!
//! A parser bug must never take the process down or hold a job forever. The parsers run
//! either in a blocking thread under `catch_unwind` and a timeout (a thread that hangs is
//! abandoned, the job fails), or — what `flashforge serve` and `flashforge worker` use — in a
//! child process (`flashforge extract-pdf --media-type …`) that is killed when it overruns, with the same
//! code on the other side of a pipe. The child is fenced in: it starts with an empty
//! environment (no secret of the server's reaches it), in a process group of its own (killed
//! whole on overrun), under limits on address space and CPU time, and its output is read
//! through a bound.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use flashforge_domain::knowledge::{
    ExtractError, Extracted, ExtractedPage, ExtractionLimits, MediaType, OverLimit, TextExtractor,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::formats::extract_document;

/// What a child process may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildLimits {
    /// Address space (`RLIMIT_AS`), bytes.
    pub memory_bytes: u64,
    /// CPU time (`RLIMIT_CPU`), seconds; the wall-clock timeout usually ends it first.
    pub cpu_secs: u64,
}

impl Default for ChildLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 1024 * 1024 * 1024,
            cpu_secs: 120,
        }
    }
}

/// How the parser is isolated from the process.
#[derive(Debug, Clone)]
pub enum Isolation {
    /// A blocking thread with `catch_unwind`; a hung parse is abandoned after the timeout.
    Thread,
    /// A child process: `program` with `args`, the format's flag (`--media-type docx`) and the
    /// limits' flags (`--max-pages N --max-chars N --max-page-chars N --max-unpacked-bytes N`),
    /// the file on stdin, JSON pages on stdout.
    Process {
        program: PathBuf,
        args: Vec<String>,
        limits: ChildLimits,
    },
}

/// Runs the format parsers, guarded as configured.
#[derive(Debug, Clone)]
pub struct IsolatedExtractor {
    isolation: Isolation,
    timeout: Duration,
}

impl IsolatedExtractor {
    pub fn new(isolation: Isolation, timeout: Duration) -> Self {
        Self { isolation, timeout }
    }
}

/// What the child process prints.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ChildOutput {
    Pages { extracted: WireExtracted },
    Encrypted,
    NoText,
    Malformed { reason: String },
    OverLimit { over: OverLimit },
}

/// A page as the child prints it.
#[derive(Debug, Serialize, Deserialize)]
pub struct WirePage {
    number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    text: String,
}

/// The pages and title as the child prints them.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireExtracted {
    pages: Vec<WirePage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
}

impl From<Extracted> for WireExtracted {
    fn from(extracted: Extracted) -> Self {
        Self {
            pages: extracted
                .pages
                .into_iter()
                .map(|p| WirePage {
                    number: p.number,
                    label: p.label,
                    text: p.text,
                })
                .collect(),
            title: extracted.title,
        }
    }
}

impl From<WireExtracted> for Extracted {
    fn from(wire: WireExtracted) -> Self {
        Self {
            pages: wire
                .pages
                .into_iter()
                .map(|p| ExtractedPage {
                    number: p.number,
                    label: p.label,
                    text: p.text,
                })
                .collect(),
            title: wire.title,
        }
    }
}

impl From<Result<Extracted, ExtractError>> for ChildOutput {
    fn from(result: Result<Extracted, ExtractError>) -> Self {
        match result {
            Ok(extracted) => ChildOutput::Pages {
                extracted: extracted.into(),
            },
            Err(ExtractError::Encrypted) => ChildOutput::Encrypted,
            Err(ExtractError::NoText) => ChildOutput::NoText,
            Err(ExtractError::OverLimit(over)) => ChildOutput::OverLimit { over },
            Err(other) => ChildOutput::Malformed {
                reason: other.to_string(),
            },
        }
    }
}

impl From<ChildOutput> for Result<Extracted, ExtractError> {
    fn from(output: ChildOutput) -> Self {
        match output {
            ChildOutput::Pages { extracted } => Ok(extracted.into()),
            ChildOutput::Encrypted => Err(ExtractError::Encrypted),
            ChildOutput::NoText => Err(ExtractError::NoText),
            ChildOutput::Malformed { reason } => Err(ExtractError::Malformed(reason)),
            ChildOutput::OverLimit { over } => Err(ExtractError::OverLimit(over)),
        }
    }
}

#[async_trait]
impl TextExtractor for IsolatedExtractor {
    async fn extract(
        &self,
        media_type: MediaType,
        bytes: Bytes,
        limits: &ExtractionLimits,
    ) -> Result<Extracted, ExtractError> {
        match &self.isolation {
            Isolation::Thread => {
                let limits = *limits;
                let work = tokio::task::spawn_blocking(move || {
                    std::panic::catch_unwind(AssertUnwindSafe(|| {
                        extract_document(media_type, &bytes, &limits)
                    }))
                });
                match tokio::time::timeout(self.timeout, work).await {
                    Err(_) => Err(ExtractError::TimedOut(self.timeout.as_secs())),
                    Ok(Err(_)) | Ok(Ok(Err(_))) => Err(ExtractError::Crashed),
                    Ok(Ok(Ok(result))) => result,
                }
            }
            Isolation::Process {
                program,
                args,
                limits: child_limits,
            } => {
                let mut arguments = args.clone();
                arguments.extend(child_flags(media_type, limits));
                let command = GuardedCommand {
                    program,
                    args: &arguments,
                    env: &[],
                    resources: child_limits,
                    timeout: self.timeout,
                };
                let output = command.run(bytes, output_bound(limits)).await?;
                let parsed: ChildOutput =
                    serde_json::from_slice(&output).map_err(|_| ExtractError::Crashed)?;
                parsed.into()
            }
        }
    }
}

/// The flags that tell a child what to read and within which limits.
fn child_flags(media_type: MediaType, limits: &ExtractionLimits) -> Vec<String> {
    vec![
        "--media-type".to_string(),
        media_type.as_str().to_string(),
        "--max-unpacked-bytes".to_string(),
        limits.max_unpacked_bytes.to_string(),
        "--max-pages".to_string(),
        limits.max_pages.to_string(),
        "--max-chars".to_string(),
        limits.max_chars.to_string(),
        "--max-page-chars".to_string(),
        limits.max_page_chars.to_string(),
    ]
}

/// A program run fenced in: an empty environment but for `env`, a process group of its own
/// (killed whole on overrun or failure), limits on address space and CPU time, a wall-clock
/// timeout, its input on stdin and at most a bound of its output read.
pub(crate) struct GuardedCommand<'a> {
    pub program: &'a PathBuf,
    pub args: &'a [String],
    pub env: &'a [(&'a str, &'a str)],
    pub resources: &'a ChildLimits,
    pub timeout: Duration,
}

impl GuardedCommand<'_> {
    /// Runs it on `input`; its stdout when it exits successfully within everything.
    pub async fn run(&self, input: Bytes, bound: u64) -> Result<Vec<u8>, ExtractError> {
        let mut child = Child::spawn(self.program, self.args, self.env, self.resources)?;
        match tokio::time::timeout(self.timeout, child.run(input, bound)).await {
            Err(_) => {
                child.kill_group();
                Err(ExtractError::TimedOut(self.timeout.as_secs()))
            }
            Ok(Err(error)) => {
                // Nothing it started may outlive a failed run.
                child.kill_group();
                Err(error)
            }
            Ok(Ok(output)) => Ok(output),
        }
    }
}

/// The most bytes of JSON a child may print for text within `limits`: every character at its
/// longest (a `\u` escape), plus the page numbers and the framing.
fn output_bound(limits: &ExtractionLimits) -> u64 {
    limits
        .max_chars
        .saturating_mul(6)
        .saturating_add(u64::from(limits.max_pages).saturating_mul(32))
        .saturating_add(64 * 1024)
}

/// A running extractor process, the leader of its own process group.
struct Child {
    process: tokio::process::Child,
    group: Option<rustix::process::Pid>,
}

impl Child {
    fn spawn(
        program: &PathBuf,
        args: &[String],
        env: &[(&str, &str)],
        resources: &ChildLimits,
    ) -> Result<Self, ExtractError> {
        let process = tokio::process::Command::new(program)
            .args(args)
            // Nothing of the server's environment (database URL, JWT secret, API keys).
            .env_clear()
            .envs(env.iter().copied())
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                tracing::error!(program = %program.display(), error = %e, "cannot start the file extractor");
                ExtractError::Crashed
            })?;
        let group = process
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32));
        let child = Self { process, group };
        // The child waits for its input before it does anything, so limits set now hold for
        // all of its work.
        if let Some(pid) = child.group {
            for (resource, value) in [
                (rustix::process::Resource::As, resources.memory_bytes),
                (rustix::process::Resource::Cpu, resources.cpu_secs),
            ] {
                let limit = rustix::process::Rlimit {
                    current: Some(value),
                    maximum: Some(value),
                };
                if let Err(error) = rustix::process::prlimit(Some(pid), resource, limit) {
                    tracing::error!(%error, ?resource, "cannot limit the file extractor; not running it");
                    return Err(ExtractError::Crashed);
                }
            }
        }
        Ok(child)
    }

    /// Feeds it the file and reads at most `bound` bytes of its answer.
    async fn run(&mut self, bytes: Bytes, bound: u64) -> Result<Vec<u8>, ExtractError> {
        let mut stdin = self.process.stdin.take().ok_or(ExtractError::Crashed)?;
        let stdout = self.process.stdout.take().ok_or(ExtractError::Crashed)?;
        let writer = async move {
            let _ = stdin.write_all(&bytes).await;
            drop(stdin);
        };
        let reader = async move {
            let mut output = Vec::new();
            stdout
                .take(bound + 1)
                .read_to_end(&mut output)
                .await
                .map(|_| output)
        };
        let ((), output) = tokio::join!(writer, reader);
        let output = output.map_err(|_| ExtractError::Crashed)?;
        if output.len() as u64 > bound {
            tracing::warn!(
                bound,
                "the file extractor printed more than its bound; killed"
            );
            return Err(ExtractError::Crashed);
        }
        let status = self
            .process
            .wait()
            .await
            .map_err(|_| ExtractError::Crashed)?;
        if !status.success() {
            tracing::warn!(?status, "the file extractor process failed");
            return Err(ExtractError::Crashed);
        }
        Ok(output)
    }

    /// Kills the whole group: the child and anything it started.
    fn kill_group(&mut self) {
        if let Some(group) = self.group.take() {
            // ESRCH: the group is already gone, which is the usual case.
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
}

/// The child's side: reads a file of `media_type` from stdin, prints [`ChildOutput`] JSON on
/// stdout.
pub fn run_extractor_child(
    media_type: MediaType,
    limits: &ExtractionLimits,
) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes)?;
    let output = match std::panic::catch_unwind(|| extract_document(media_type, &bytes, limits)) {
        Ok(result) => ChildOutput::from(result),
        Err(_) => ChildOutput::Malformed {
            reason: "the file reader failed on this file".into(),
        },
    };
    let json = serde_json::to_vec(&output).map_err(std::io::Error::other)?;
    std::io::stdout().write_all(&json)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ExtractionLimits = ExtractionLimits {
        max_pages: 5_000,
        max_chars: 5_000_000,
        max_page_chars: 500_000,
        max_chunks: 10_000,
        max_unpacked_bytes: 1 << 27,
    };

    /// A child process running `script` under `sh`.
    fn shell(script: &str, timeout: Duration) -> IsolatedExtractor {
        IsolatedExtractor::new(
            Isolation::Process {
                program: "/bin/sh".into(),
                args: vec!["-c".into(), script.into()],
                limits: ChildLimits::default(),
            },
            timeout,
        )
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/pdf/");
        std::fs::read(format!("{path}{name}")).unwrap()
    }

    /// Deterministic mutations: truncations and byte flips of every corpus file. Each must end
    /// in text or an error — never a panic past the guard or a hang.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mutated_pdfs_end_in_text_or_an_error() {
        let extractor = IsolatedExtractor::new(Isolation::Thread, Duration::from_secs(10));
        let names = [
            "single-column",
            "two-column-gs",
            "unicode",
            "table",
            "groff",
            "headings",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut ok, mut failed) = (0, 0);
        for i in 0..120 {
            let mut bytes = fixture(&format!("{}.pdf", names[i % names.len()]));
            match i % 3 {
                0 => bytes.truncate((next() as usize) % bytes.len()),
                1 => {
                    for _ in 0..(1 + next() % 16) {
                        let at = (next() as usize) % bytes.len();
                        bytes[at] = next() as u8;
                    }
                }
                _ => {
                    let at = (next() as usize) % bytes.len();
                    bytes.truncate(at.max(16));
                    let flip = (next() as usize) % bytes.len();
                    bytes[flip] ^= 0xff;
                }
            }
            let started = std::time::Instant::now();
            match extractor
                .extract(MediaType::Pdf, Bytes::from(bytes), &LIMITS)
                .await
            {
                Ok(extracted) => {
                    assert!(!extracted.pages.is_empty());
                    ok += 1;
                }
                Err(ExtractError::TimedOut(_)) => panic!("mutant {i} hung"),
                Err(_) => failed += 1,
            }
            assert!(started.elapsed() < Duration::from_secs(10));
        }
        assert_eq!(ok + failed, 120);
        println!("mutants: {ok} gave text, {failed} failed cleanly");
    }

    #[tokio::test]
    async fn a_child_process_that_fails_or_hangs_is_an_error_not_a_crash() {
        let crashing = IsolatedExtractor::new(
            Isolation::Process {
                program: "/bin/sh".into(),
                args: vec!["-c".into(), "cat >/dev/null; exit 3".into()],
                limits: ChildLimits::default(),
            },
            Duration::from_secs(5),
        );
        assert_eq!(
            crashing
                .extract(MediaType::Pdf, Bytes::from_static(b"%PDF-1.4"), &LIMITS)
                .await,
            Err(ExtractError::Crashed)
        );
        let hanging = IsolatedExtractor::new(
            Isolation::Process {
                program: "/bin/sh".into(),
                args: vec!["-c".into(), "sleep 30".into()],
                limits: ChildLimits::default(),
            },
            Duration::from_millis(300),
        );
        let started = std::time::Instant::now();
        assert_eq!(
            hanging
                .extract(MediaType::Pdf, Bytes::from_static(b"%PDF-1.4"), &LIMITS)
                .await,
            Err(ExtractError::TimedOut(0))
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        let echoing = IsolatedExtractor::new(
            Isolation::Process {
                program: "/bin/sh".into(),
                args: vec![
                    "-c".into(),
                    r#"cat >/dev/null; printf '{"outcome":"pages","extracted":{"pages":[{"number":1,"text":"hello"}]}}'"#.into(),
                ],
                limits: ChildLimits::default(),
            },
            Duration::from_secs(5),
        );
        assert_eq!(
            echoing
                .extract(MediaType::Pdf, Bytes::from_static(b"%PDF-1.4"), &LIMITS)
                .await,
            Ok(Extracted::pages(vec![
                flashforge_domain::knowledge::ExtractedPage::new(1, "hello")
            ]))
        );
    }

    #[test]
    fn a_pdf_over_a_limit_stops_with_the_limit_named() {
        let pdf = fixture("long-100.pdf");
        let few_pages = ExtractionLimits {
            max_pages: 99,
            ..LIMITS
        };
        assert_eq!(
            crate::formats::pdf::extract_pages(&pdf, &few_pages),
            Err(ExtractError::OverLimit(OverLimit::Pages {
                count: 100,
                limit: 99
            }))
        );
        let few_chars = ExtractionLimits {
            max_chars: 5_000,
            ..LIMITS
        };
        let Err(ExtractError::OverLimit(OverLimit::Chars { more: true, .. })) =
            crate::formats::pdf::extract_pages(&pdf, &few_chars)
        else {
            panic!("the character limit was not applied");
        };
        let short_pages = ExtractionLimits {
            max_page_chars: 100,
            ..LIMITS
        };
        let Err(ExtractError::OverLimit(OverLimit::PageChars { page: 1, .. })) =
            crate::formats::pdf::extract_pages(&pdf, &short_pages)
        else {
            panic!("the per-page limit was not applied");
        };
    }

    #[tokio::test]
    async fn the_child_gets_no_environment_its_limits_and_the_limits_flags() {
        // Reported back through the page text: the environment, `ulimit -v` (KiB), `ulimit -t`
        // and the arguments after the script.
        let extractor = shell(
            r#"cat >/dev/null; printf '{"outcome":"pages","extracted":{"pages":[{"number":1,"text":"%s|%s|%s|%s"}]}}' "$(env | grep -v '^PWD=\|^SHLVL=\|^_=' | tr '\n' ' ')" "$(ulimit -v)" "$(ulimit -t)" "$*""#,
            Duration::from_secs(5),
        );
        let pages = extractor
            .extract(MediaType::Pdf, Bytes::from_static(b"%PDF-1.4"), &LIMITS)
            .await
            .unwrap();
        let report: Vec<&str> = pages.pages[0].text.split('|').collect();
        assert_eq!(report[0].trim(), "", "the child inherited: {}", report[0]);
        assert_eq!(report[1], (1024 * 1024).to_string(), "address space, KiB");
        assert_eq!(report[2], "120", "CPU seconds");
        assert_eq!(
            report[3],
            "pdf --max-unpacked-bytes 134217728 --max-pages 5000 --max-chars 5000000 --max-page-chars 500000",
            "sh takes the first argument after the script (--media-type) as $0"
        );
    }

    #[tokio::test]
    async fn a_child_that_prints_past_its_bound_is_cut_off() {
        let extractor = shell(
            "cat >/dev/null; head -c 100000000 /dev/zero",
            Duration::from_secs(20),
        );
        let tiny = ExtractionLimits {
            max_chars: 10,
            max_pages: 1,
            ..LIMITS
        };
        assert_eq!(
            extractor
                .extract(MediaType::Pdf, Bytes::from_static(b"%PDF-1.4"), &tiny)
                .await,
            Err(ExtractError::Crashed)
        );
    }

    #[tokio::test]
    async fn a_child_over_its_memory_limit_fails_instead_of_growing() {
        let extractor = IsolatedExtractor::new(
            Isolation::Process {
                program: "/bin/sh".into(),
                // Pages come back only if the shell could hold 200 MB in a variable.
                args: vec![
                    "-c".into(),
                    r#"cat >/dev/null; x=$(head -c 200000000 /dev/zero | tr '\0' a) && printf '{"outcome":"pages","extracted":{"pages":[{"number":1,"text":"%s"}]}}' ${#x}"#
                        .into(),
                ],
                limits: ChildLimits {
                    memory_bytes: 64 * 1024 * 1024,
                    cpu_secs: 30,
                },
            },
            Duration::from_secs(30),
        );
        assert_eq!(
            extractor
                .extract(MediaType::Pdf, Bytes::from_static(b"%PDF-1.4"), &LIMITS)
                .await,
            Err(ExtractError::Crashed)
        );
    }

    #[tokio::test]
    async fn an_overrun_kills_what_the_child_started_too() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild.pid");
        let script = format!(
            "cat >/dev/null; sleep 60 & echo $! > {}; wait",
            marker.display()
        );
        let started = std::time::Instant::now();
        assert_eq!(
            shell(&script, Duration::from_millis(500))
                .extract(MediaType::Pdf, Bytes::from_static(b"%PDF-1.4"), &LIMITS)
                .await,
            Err(ExtractError::TimedOut(0))
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid = std::fs::read_to_string(&marker).unwrap();
        let alive = || std::path::Path::new(&format!("/proc/{}", pid.trim())).exists();
        for _ in 0..50 {
            if !alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // A zombie (killed, not yet reaped by init) has no command line left.
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap_or_default();
        assert!(
            status.contains("State:\tZ") || status.is_empty(),
            "the grandchild {} still runs: {status}",
            pid.trim()
        );
    }
}
