#!/usr/bin/env bash
# Create .venv and install IQPFR Studio with everything it needs, in the order that works.
# Usage: bash scripts/setup.sh            (runtime + test tools)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

# Qt needs a few system libraries; new machines have them, install only if missing (root + apt).
if ! ldconfig -p 2>/dev/null | grep -q 'libEGL.so.1' && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 >/dev/null
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" -r requirements/torch.txt
"${PIP[@]}" -r requirements/base.txt
"${PIP[@]}" --no-deps -r requirements/no-deps.txt
"${PIP[@]}" -r requirements/dev.txt
"${PIP[@]}" --no-deps --no-build-isolation -e .
echo "IQPFR Studio installed in .venv — run: .venv/bin/iqpfr-studio"
