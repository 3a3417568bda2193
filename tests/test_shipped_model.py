"""The default model in models/: present, small, fully trained, and described by its model card."""

import re

from app.model import DEFAULT_WEIGHTS_FILE, load_checkpoint, load_model
from app.paths import bundled_models_dir

MAX_BYTES = 50 * 1024 * 1024


def test_default_weights_ship_and_load_as_a_trained_model_with_a_fidelity_path():
    path = bundled_models_dir() / DEFAULT_WEIGHTS_FILE
    assert path.is_file(), "models/iqpfr_default.pt is missing"
    assert path.stat().st_size < MAX_BYTES
    model, info = load_checkpoint(path)
    assert info.trained and info.metadata["stage"] in ("II", "III")
    assert model.has_fidelity and 0.0 <= info.default_fidelity <= 1.0
    assert load_model()[1].source == str(path)  # the app picks it up by default


def test_model_card_reports_the_shipped_files_training():
    _, info = load_checkpoint(bundled_models_dir() / DEFAULT_WEIGHTS_FILE)
    card = (bundled_models_dir() / "MODEL_CARD.md").read_text(encoding="utf-8")
    keys = ["stage_I_iterations", "stage_II_iterations", "stage_III_iterations", "train_faces", "held_out_faces"]
    for key in [k for k in keys if k in info.metadata]:
        value = info.metadata[key]
        assert re.search(rf"\b({value}|{value:,})\b", card), f"card does not state {key}={value}"
    for licence_word in ("CC BY-NC-SA 4.0", "non-commercial"):
        assert licence_word in card
    assert f"default fidelity {info.default_fidelity:g}" in card.lower()
