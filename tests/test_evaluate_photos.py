"""`iqpfr evaluate-photos`: whole-photo figures at 2× for the input, the classical baseline and the app's path, on
aged public-domain photos and on a folder of old photos (here a tiny random upscaler stands in for Real-ESRGAN)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.errors import StudioError
from app.training.evaluate_photos import (
    CLASSICAL,
    INPUT,
    UPSCALER_ONLY,
    WHOLE,
    age_photo,
    evaluate_photos,
    markdown_tables,
    public_domain_photo,
)


def _old_photo(folder, name="old.png", size=(120, 100)):
    folder.mkdir(exist_ok=True)
    pixels = np.random.default_rng(6).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / name)
    return folder / name


def test_aged_photos_are_half_size_and_worse_than_their_clean_target():
    clean = public_domain_photo("astronaut", 256)
    aged = age_photo(clean, np.random.default_rng(0))
    assert clean.shape == (256, 256, 3) and aged.shape == (128, 128, 3)
    enlarged = np.asarray(Image.fromarray(aged).resize((256, 256), Image.Resampling.BICUBIC), float)
    assert 5 < np.abs(enlarged - clean).mean() < 40  # degraded, still the same photo


def test_every_method_is_scored_on_both_sets(tmp_path, restorer, tiny_upscaler):
    old = tmp_path / "old"
    _old_photo(old)
    sheet = tmp_path / "sheet.png"
    result = evaluate_photos(restorer, old, size=128, contact_sheet_path=sheet, max_photos=1, progress=lambda _: None)
    synthetic = {row["method"]: row for row in result["synthetic_pairs"]}
    assert list(synthetic) == [INPUT, CLASSICAL, UPSCALER_ONLY, WHOLE]
    assert all(row["photos"] == 1 and row["psnr"] > 5 for row in synthetic.values())
    # the random stand-in upscaler gives another photo than the bicubic input, and it is measured as such
    assert synthetic[UPSCALER_ONLY]["psnr"] != pytest.approx(synthetic[INPUT]["psnr"], abs=0.01)
    real = {row["method"]: row for row in result["real_old_photos"]}
    assert list(real) == [INPUT, CLASSICAL, WHOLE]
    assert all(row["niqe"] is not None and 0 <= row["piqe_quality"] <= 1 for row in real.values())
    assert sheet.is_file()
    tables = markdown_tables(result)
    assert "Real old photos (2×, no reference)" in tables and WHOLE in tables


def test_given_outputs_must_be_the_old_photos_at_twice_their_size(tmp_path, restorer, tiny_upscaler):
    old, restored = tmp_path / "old", tmp_path / "restored"
    _old_photo(old)
    _old_photo(restored, size=(120, 100))  # 1×, not 2×
    with pytest.raises(StudioError, match=r"is not a 2× output of 'old\.png'"):
        evaluate_photos(restorer, old, size=128, restored_dir=restored, max_photos=1, progress=lambda _: None)
