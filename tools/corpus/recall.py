#!/usr/bin/env python3
"""Word recall of extracted text against the corpus in tests/fixtures/formats/.

For every X.ext.expected.json in the expected directory, the extracted text of X.ext
comes either from a file X.ext.extracted.json in --extracted DIR, or from running
--command (with {file} replaced by the path of X.ext). Extracted output is JSON
{"pages": [{"label": "...", "text": "..."}, ...]}; a command may also print plain
text instead, whose pages are split at form feeds (\\f, as pdftotext and tesseract do).

Recall of a file = (expected words found) / (expected words), where both sides are
multisets of words: text is NFKC-normalised and lower-cased, and a word is a maximal
run of Unicode letters and digits (punctuation and whitespace separate words). A word
that occurs n times in the expected text must occur n times in the extracted text to
count n times. Pages are pooled per file; per-page recall is shown with --pages.

The probe column says whether the probe sentence (as a word sequence) is on the
extracted page whose label is probe.page_label ("ok"), on some other page
("page?"), or nowhere ("miss"). The forbidden column counts words listed in
must_not_contain (e.g. <script> words of article.html) found in the extraction.

Exit status: 1 when any file is below its min_recall (or missing); with --strict also
when a probe is not on its labelled page or a forbidden word was extracted; 2 on usage
errors. No third-party packages.

  python3 tools/corpus/recall.py --extracted out/
  python3 tools/corpus/recall.py --command 'tesseract {file} -' --only '*.png' --only '*.jpg'
  python3 tools/corpus/recall.py --self-check
"""
from __future__ import annotations

import argparse
import collections
import fnmatch
import json
import re
import shlex
import subprocess
import sys
import unicodedata
from pathlib import Path

DEFAULT_EXPECTED = Path(__file__).resolve().parent.parent.parent / "tests" / "fixtures" / "formats"
WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    return WORD.findall(unicodedata.normalize("NFKC", text).lower())


def recall(expected: list[str], extracted: list[str]) -> float:
    if not expected:
        return 1.0
    have = collections.Counter(extracted)
    want = collections.Counter(expected)
    found = sum(min(n, have[w]) for w, n in want.items())
    return found / len(expected)


def contains_seq(hay: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(hay[i:i + n] == needle for i in range(len(hay) - n + 1))


def parse_output(raw: str) -> list[dict]:
    try:
        doc = json.loads(raw)
        if isinstance(doc, dict) and isinstance(doc.get("pages"), list):
            return [{"label": p.get("label"), "text": p.get("text") or ""} for p in doc["pages"]]
    except ValueError:
        pass
    parts = raw.split("\f")
    if len(parts) > 1 and not parts[-1].strip():
        parts = parts[:-1]
    return [{"label": None, "text": t} for t in parts]


def evaluate(exp: dict, pages: list[dict] | None) -> dict:
    exp_words = [w for p in exp["pages"] for w in words(p["text"])]
    if pages is None:
        return {"missing": True, "expected": len(exp_words), "recall": 0.0, "probe": "-", "forbidden": 0, "per_page": []}
    got_words = [w for p in pages for w in words(p["text"])]
    r = recall(exp_words, got_words)
    probe = exp["probe"]
    seq = words(probe["sentence"])
    labelled = [p for p in pages if p["label"] == probe["page_label"]]
    if not labelled and all(p["label"] is None for p in pages) and len(pages) >= probe["page"]:
        labelled = [pages[probe["page"] - 1]]  # unlabelled output: match by position
    if any(contains_seq(words(p["text"]), seq) for p in labelled):
        probe_state = "ok"
    elif contains_seq(got_words, seq):
        probe_state = "page?"
    else:
        probe_state = "miss"
    forbidden = sum(1 for w in got_words if w in {f.lower() for f in exp.get("must_not_contain", [])})
    per_page = []
    for i, ep in enumerate(exp["pages"]):
        match = [p for p in pages if p["label"] == ep["label"]]
        if not match and all(p["label"] is None for p in pages) and i < len(pages):
            match = [pages[i]]
        per_page.append((ep["label"], recall(words(ep["text"]), [w for p in match for w in words(p["text"])])))
    return {"missing": False, "expected": len(exp_words), "recall": r, "probe": probe_state,
            "forbidden": forbidden, "per_page": per_page}


def load_expected(expected_dir: Path, only: list[str]) -> list[tuple[str, dict]]:
    out = []
    for p in sorted(expected_dir.glob("*.expected.json")):
        name = p.name[: -len(".expected.json")]
        if only and not any(fnmatch.fnmatch(name, g) for g in only):
            continue
        out.append((name, json.loads(p.read_text(encoding="utf-8"))))
    return out


def run(expected, get_pages, strict=False, show_pages=False, out=sys.stdout, summary=True) -> tuple[int, dict]:
    results = {}
    failed = 0
    print(f"{'file':22} {'words':>6} {'recall':>7} {'min':>5}  {'probe':6} {'forbid':>6}  status", file=out)
    for name, exp in expected:
        res = evaluate(exp, get_pages(name))
        results[name] = res
        bad = res["missing"] or res["recall"] < exp.get("min_recall", 0.95)
        if strict and (res["probe"] != "ok" or res["forbidden"]):
            bad = True
        failed += bad
        status = "MISSING" if res["missing"] else ("FAIL" if bad else "ok")
        print(f"{name:22} {res['expected']:6} {res['recall']:7.3f} {exp.get('min_recall', 0.95):5.2f}  "
              f"{res['probe']:6} {res['forbidden']:6}  {status}", file=out)
        if show_pages:
            for label, r in res["per_page"]:
                print(f"    {label!s:40} {r:7.3f}", file=out)
    if summary:
        print(f"{len(expected) - failed} passed, {failed} failed", file=out)
    return failed, results


def self_check(expected_dir: Path) -> int:
    import io

    expected = load_expected(expected_dir, [])
    assert expected, f"no *.expected.json in {expected_dir}"
    by_name = dict(expected)
    buf = io.StringIO()
    failed, res = run(expected, lambda n: by_name[n]["pages"], strict=True, out=buf, summary=False)
    ok = failed == 0 and all(r["recall"] == 1.0 and r["probe"] == "ok" for r in res.values())
    print(buf.getvalue())
    print(f"self-check 1 (expected vs itself): {'ok' if ok else 'BROKEN'}")

    def truncated(n):  # keep the first half of each page's words
        return [{"label": p["label"], "text": " ".join(p["text"].split()[: len(p["text"].split()) // 2])}
                for p in by_name[n]["pages"]]
    buf = io.StringIO()
    failed2, res2 = run(expected, truncated, out=buf, summary=False)
    ok2 = failed2 == len(expected) and all(r["recall"] < 1.0 for r in res2.values())
    print(buf.getvalue())
    print(f"self-check 2 (first half of every page): {'ok' if ok2 else 'BROKEN'}")

    # plain-text output, unlabelled pages split at form feeds
    name, exp = expected[0]
    r3 = evaluate(exp, parse_output("\f".join(p["text"] for p in exp["pages"]) + "\f"))
    ok3 = r3["recall"] == 1.0 and r3["probe"] == "ok"
    print(f"self-check 3 (plain text with form feeds, {name}): {'ok' if ok3 else 'BROKEN'}")
    good = sum((ok, ok2, ok3))
    print(f"self-check: {good} passed, {3 - good} failed")
    return 0 if good == 3 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--expected", type=Path, default=DEFAULT_EXPECTED, help="directory of *.expected.json (default: %(default)s)")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--extracted", type=Path, help="directory of X.ext.extracted.json files")
    src.add_argument("--command", help="command run per file; {file} is replaced by the input path; prints JSON or plain text")
    src.add_argument("--self-check", action="store_true", help="check this script on the expected files themselves")
    ap.add_argument("--only", action="append", default=[], help="glob on file names (repeatable)")
    ap.add_argument("--strict", action="store_true", help="also fail on probe misses and forbidden words")
    ap.add_argument("--pages", action="store_true", help="print per-page recall")
    args = ap.parse_args()

    if args.self_check:
        return self_check(args.expected)
    if not args.extracted and not args.command:
        ap.error("one of --extracted, --command or --self-check is required")
    expected = load_expected(args.expected, args.only)
    if not expected:
        ap.error(f"no matching *.expected.json in {args.expected}")

    def get_pages(name):
        if args.extracted:
            p = args.extracted / f"{name}.extracted.json"
            if not p.exists():
                return None
            return parse_output(p.read_text(encoding="utf-8"))
        cmd = args.command.replace("{file}", shlex.quote(str(args.expected / name)))
        proc = subprocess.run(cmd, shell=True, capture_output=True)
        if proc.returncode != 0:
            print(f"  {name}: command exited {proc.returncode}: {proc.stderr.decode(errors='replace')[:200]}", file=sys.stderr)
            return None
        return parse_output(proc.stdout.decode("utf-8", errors="replace"))

    failed, _ = run(expected, get_pages, strict=args.strict, show_pages=args.pages)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
