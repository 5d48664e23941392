//! The guarded parser child, `flashforge extract-pdf --media-type …`, as the worker runs it: a
//! file on stdin, its pages as JSON on stdout, within the limits given as flags.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::BIN;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../tests/fixtures/formats/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Runs the child with `args` on `input`, with an empty environment as the worker does.
fn child(args: &[&str], input: &[u8]) -> Value {
    let mut process = Command::new(BIN)
        .arg("extract-pdf")
        .args(args)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    process.stdin.take().unwrap().write_all(input).unwrap();
    let output = process.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_child_reads_slides_in_presentation_order_with_their_labels() {
    let out = child(&["--media-type", "pptx"], &fixture("lecture.pptx"));
    assert_eq!(out["outcome"], "pages", "{out}");
    let pages = out["extracted"]["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 5);
    for (i, page) in pages.iter().enumerate() {
        assert_eq!(page["number"], i + 1);
        assert_eq!(page["label"], format!("slide {}", i + 1));
    }
    assert_eq!(out["extracted"]["title"], "The Industrial Revolution");
}

#[test]
fn the_child_stops_a_zip_bomb_at_the_unpacking_limit() {
    let out = child(
        &["--media-type", "docx", "--max-unpacked-bytes", "10000000"],
        &fixture("zipbomb.docx"),
    );
    assert_eq!(out["outcome"], "over_limit", "{out}");
    assert_eq!(out["over"]["over"], "unpacked", "{out}");
}

#[test]
fn the_child_refuses_a_format_it_does_not_know() {
    let output = Command::new(BIN)
        .args(["extract-pdf", "--media-type", "xlsx"])
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown media type xlsx"));
}
