#!/usr/bin/env bash
# Every check CI runs: lint, formatting, types, import architecture, then the tests. Each one runs even when
# an earlier one failed (one run shows every problem); the exit status is non-zero if any failed.
# Usage: bash scripts/check.sh [pytest arguments]     (the tools are configured in pyproject.toml)
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
FAILED=()
step() {
    local name="$1"
    shift
    echo "== $name"
    "$@" || FAILED+=("$name")
}
step "ruff check" "$BIN/ruff" check
step "ruff format --check" "$BIN/ruff" format --check
step "mypy" "$BIN/mypy"
step "lint-imports" "$BIN/lint-imports"
step "pytest" "$BIN/python" -m pytest --durations=15 "$@"  # the total time and the 15 slowest tests
if [ "${#FAILED[@]}" -gt 0 ]; then
    (IFS=","; echo "Failed: ${FAILED[*]}" >&2)
    exit 1
fi
