"""`iqpfr --help`, `iqpfr models list` and argument errors answer without loading torch, OpenCV or NumPy.

Each command runs in a fresh interpreter (this test process has torch loaded already) and reports which of the
heavy packages it imported. Speed itself is measured in scripts/benchmark.py (`--cli`), not here.
"""

import importlib
import json
import subprocess
import sys

import pytest

from conftest import REPO

HEAVY = ("torch", "cv2", "numpy")

_RUN_AND_REPORT = f"""
import json, sys
from app.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({{"code": code, "heavy": [name for name in {HEAVY!r} if name in sys.modules]}}))
"""


def _run(*args: str) -> tuple[int, list[str], str]:
    result = subprocess.run(
        [sys.executable, "-c", _RUN_AND_REPORT, *args], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["code"], report["heavy"], result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "expected_code", "expected_text"),
    [
        (("--help",), 0, "restore"),
        (("batch", "--help"), 0, "--upscale"),
        (("train", "--help"), 0, "codebook"),
        (("models", "list"), 0, "iqpfr"),
        (("restore",), 2, "the following arguments are required"),
        (("batch", "in", "out", "--quality", "2"), 2, "quality must be between 0 and 1"),
    ],
)
def test_cli_answers_without_heavy_imports(args, expected_code, expected_text):
    code, heavy, output = _run(*args)
    assert code == expected_code and expected_text in output
    assert heavy == [], f"`iqpfr {' '.join(args)}` imported {heavy}"


@pytest.mark.parametrize("package", ["app.faces", "app.restorers"])
def test_lazily_exported_names_resolve(package):
    module = importlib.import_module(package)
    assert module.__all__ and all(getattr(module, name) is not None for name in module.__all__)
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        module.missing  # noqa: B018
