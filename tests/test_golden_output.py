"""Golden-output regression for the shipped weights: the astronaut's face (scikit-image, public
domain) at two slider values must match what `scripts/refresh_golden.py` saved for these very
weights. A change to the model, the restore path or the colour step shows up here; refresh the
golden files deliberately (and look at them) when the model is meant to change."""

import json

import numpy as np
import pytest
from PIL import Image

from app.model import DEFAULT_WEIGHTS_FILE, load_checkpoint
from app.paths import bundled_models_dir, install_root

GOLDEN_DIR = install_root() / "tests" / "golden"
MEAN_TOLERANCE = 0.5  # mean absolute difference, 0..255 scale (float noise across CPUs is far below)
MAX_TOLERANCE = 12


def _golden():
    from scripts.refresh_golden import golden_outputs, weights_digest

    return golden_outputs, weights_digest


def test_golden_files_belong_to_the_shipped_weights():
    _, weights_digest = _golden()
    recorded = json.loads((GOLDEN_DIR / "golden.json").read_text())
    assert recorded["weights_sha256"] == weights_digest(bundled_models_dir() / DEFAULT_WEIGHTS_FILE), (
        "models/iqpfr_default.pt changed: run `python scripts/refresh_golden.py`, look at tests/golden/, commit"
    )


@pytest.mark.parametrize("quality", [0.1, 0.9])
def test_shipped_model_reproduces_its_golden_output(quality):
    golden_outputs, _ = _golden()
    model, info = load_checkpoint(bundled_models_dir() / DEFAULT_WEIGHTS_FILE)
    face = np.asarray(Image.open(GOLDEN_DIR / "astronaut_face.png").convert("RGB"))
    output = golden_outputs(model, info, face)[quality].astype(np.int16)
    golden = np.asarray(Image.open(GOLDEN_DIR / f"astronaut_quality_{quality:g}.png").convert("RGB")).astype(np.int16)
    difference = np.abs(output - golden)
    assert difference.mean() < MEAN_TOLERANCE and difference.max() <= MAX_TOLERANCE, (
        f"quality {quality}: mean {difference.mean():.3f}, max {difference.max()} away from the golden output"
    )
