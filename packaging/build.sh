#!/usr/bin/env bash
# Build the CPU-only desktop bundle into dist/IQPFR Studio/ with PyInstaller, then check it: nothing that it
# should leave out is in it (packaging/bundle_contents.py), and the bundled executable starts headless, restores
# a photo through its window and saves it (`iqpfr-studio --self-test`). Prints the start-up times and the size of
# each part (packaging/README.md has the figures).
# Usage: bash packaging/build.sh           build, then check (run scripts/setup.sh first)
#        bash packaging/build.sh --check   only check the bundle already in dist/
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE="dist/IQPFR Studio"
PYTHON=.venv/bin/python

if [ "${1:-}" != "--check" ]; then
    .venv/bin/pyinstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/iqpfr_studio.spec
fi
if [ ! -x "$BUNDLE/iqpfr-studio" ]; then
    echo "No bundle in '$BUNDLE': build it with: bash packaging/build.sh" >&2
    exit 1
fi

echo "== Contents: nothing that the bundle leaves out is in it"
"$PYTHON" - "$BUNDLE" <<'PY'
import sys
from pathlib import Path

sys.path.insert(0, "packaging")
from bundle_contents import left_in

found = left_in(Path(sys.argv[1]))
if found:
    sys.exit("The bundle holds what it should leave out (packaging/bundle_contents.py): " + ", ".join(found))
print("ok")
PY

echo "== Self-test: the bundle starts headless, restores a photo (scikit-image's astronaut) and saves it"
CHECK_DIR="$(mktemp -d)"
trap 'rm -rf "$CHECK_DIR"' EXIT
OUTPUT="$CHECK_DIR/astronaut_restored.png"
started=$(date +%s.%N)
QT_QPA_PLATFORM=offscreen "$BUNDLE/iqpfr-studio" --self-test --output "$OUTPUT"
ended=$(date +%s.%N)
if [ ! -s "$OUTPUT" ]; then
    echo "The self-test saved no photo at $OUTPUT." >&2
    exit 1
fi
awk -v s="$started" -v e="$ended" 'BEGIN { printf "Self-test run, start to exit: %.1f s\n", e - s }'

echo "== Size of each part"
"$PYTHON" packaging/bundle_sizes.py "$BUNDLE"
echo "Bundle: $BUNDLE/iqpfr-studio"
