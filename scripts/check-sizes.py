#!/usr/bin/env python3
"""Fails when a Rust source file outside the tests is over 800 lines or a function is over 120.

A file's lines are counted up to its inline `#[cfg(test)] mod …` (unit tests do not count);
`tests/` folders, `target/` and the fuzz corpus are left out. Functions are measured from their
`fn` line to their closing brace. Run: `scripts/check-sizes.py [DIR]` (default: the repository).
"""
import os
import re
import sys

MAX_FILE_LINES = 800
MAX_FN_LINES = 120
SKIP = ("/target", "/.git", "/node_modules", "/tests", "/fuzz/corpus")
FN = re.compile(r"\s*(pub(\([^)]*\))?\s+)?(async\s+)?(const\s+)?fn\s+(\w+)")


def code_lines(path):
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    for i, line in enumerate(lines):
        if line.strip() == "#[cfg(test)]" and i + 1 < len(lines) and re.match(r"\s*mod \w+", lines[i + 1]):
            return lines[:i]
    return lines


def function_end(lines, start):
    """The index of the line that closes the function opened at `start`, or None for a declaration."""
    depth, opened = 0, False
    for j in range(start, len(lines)):
        text = re.sub(r'"(\\.|[^"\\])*"', '""', lines[j])
        text = re.sub(r"'(\\.|[^'\\])'", "''", text).split("//")[0]
        for ch in text:
            if ch == "{":
                depth, opened = depth + 1, True
            elif ch == "}":
                depth -= 1
            elif ch == ";" and not opened and depth == 0:
                return None
        if opened and depth == 0:
            return j
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    problems = []
    for folder, _, files in os.walk(root):
        if any(part in folder for part in SKIP):
            continue
        for name in sorted(files):
            if not name.endswith(".rs"):
                continue
            path = os.path.relpath(os.path.join(folder, name), root)
            lines = code_lines(os.path.join(folder, name))
            if len(lines) > MAX_FILE_LINES:
                problems.append(f"{path}: {len(lines)} lines (at most {MAX_FILE_LINES})")
            i = 0
            while i < len(lines):
                found = FN.match(lines[i])
                end = function_end(lines, i) if found else None
                if end is None:
                    i += 1
                    continue
                if end - i + 1 > MAX_FN_LINES:
                    problems.append(
                        f"{path}:{i + 1}: fn {found.group(5)} is {end - i + 1} lines (at most {MAX_FN_LINES})"
                    )
                i = end + 1
    for problem in problems:
        print(problem)
    if problems:
        print("split the file by concern, or the function into named steps")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
