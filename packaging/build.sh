#!/usr/bin/env bash
# Build the desktop bundle into dist/ with PyInstaller (run scripts/setup.sh first).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pyinstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/iqpfr_studio.spec
echo "Bundle: dist/IQPFR Studio/iqpfr-studio"
