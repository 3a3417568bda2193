"""Synthetic whole photos by face size (app/training/photo_pairs.py), their measures
(app/training/evaluate_sizes.py), the input gate (app/model/input_gate.py) and the training pair mix."""

import numpy as np
import pytest
import torch

from app.model import IQPFR, load_checkpoint, save_checkpoint
from app.model.iqpfr import with_input_gate
from app.training.data import FaceDataset, ScoredFaces
from app.training.degradation import DegradationConfig
from app.training.evaluate_sizes import Method, measure_methods, region_psnr_ssim, summarise
from app.training.photo_pairs import LEVELS, MARGIN, CleanFace, face_region, photo_pairs
from test_model import TINY_FSQ


def _faces(count: int, size: int, seed: int = 0) -> list[CleanFace]:
    rng = np.random.default_rng(seed)
    faces = []
    for i in range(count):
        base = rng.integers(40, 200, (size // 8, size // 8, 3)).astype(np.uint8)
        faces.append(CleanFace(f"face{i}", np.kron(base, np.ones((8, 8, 1), np.uint8))))
    return faces


def test_pairs_place_the_face_square_at_its_size_and_degrade_the_whole_photo():
    pairs = list(photo_pairs(_faces(4, 256), sizes=(64, 256), per_size=3))
    assert [(p.face_size, p.level) for p in pairs] == [
        (64, "mild"),
        (64, "moderate"),
        (64, "severe"),
        (256, "mild"),
        (256, "moderate"),
        (256, "severe"),
    ]
    for pair in pairs:
        side = pair.face_size + 2 * int(round(pair.face_size * MARGIN))
        assert pair.clean.shape == pair.degraded.shape == (side, side, 3)
        assert pair.face_square(pair.clean).shape == (pair.face_size, pair.face_size, 3)
        assert not np.array_equal(pair.clean, pair.degraded)
    grey = [p for p in pairs if p.look == "grey"]
    assert grey and all(np.array_equal(p.degraded[..., 0], p.degraded[..., 2]) for p in grey)  # grey stays grey
    again = list(photo_pairs(_faces(4, 256), sizes=(64, 256), per_size=3))
    assert all(np.array_equal(a.degraded, b.degraded) for a, b in zip(pairs, again, strict=True))


def test_severer_levels_lose_more_of_the_face():
    faces = _faces(1, 256)
    pairs = list(photo_pairs(faces, sizes=(128,), per_size=3))  # one face at each level in turn
    region = face_region(128)
    measured = {p.level: region_psnr_ssim(p.face_square(p.clean), p.face_square(p.degraded), region) for p in pairs}
    assert measured["mild"][0] > measured["moderate"][0]  # (the severe pair is grey: less colour to lose)
    assert measured["mild"][1] > measured["moderate"][1] > measured["severe"][1]


def test_faces_are_used_only_up_to_their_native_size_and_reused_at_the_next_level():
    faces = _faces(2, 128) + _faces(1, 512, seed=1)
    pairs = list(photo_pairs(faces, sizes=(128, 512), per_size=3))
    assert {p.name for p in pairs if p.face_size == 512} == {"face0"}  # the only 512-px face (seed 1's face0)
    assert [p.level for p in pairs if p.face_size == 512] == list(LEVELS)  # the same face at every level


def test_measures_rank_outputs_by_how_close_they_are_to_the_clean_face():
    pairs = list(photo_pairs(_faces(3, 128), sizes=(64, 128), per_size=3))
    by_name = {p.name: p for p in pairs}
    clean_photos = {id(p.degraded): p.clean for p in pairs}

    def half_way(photo: np.ndarray) -> np.ndarray:
        clean = clean_photos[id(photo)]
        return ((photo.astype(np.float32) + clean) / 2).round().astype(np.uint8)

    methods = [Method("input", lambda photo: photo), Method("half way", half_way)]
    results, sheets = measure_methods(pairs, methods, keep_faces=2)
    rows = {(r["face_size"], r["method"]): r for r in summarise(results)}
    for size in (64, 128):
        assert rows[size, "half way"]["psnr"] > rows[size, "input"]["psnr"] + 3
        assert rows[size, "half way"]["ssim"] > rows[size, "input"]["ssim"]
        assert rows[size, "input"]["identity"] is None  # no identity network given
        assert len(sheets[size]) == 2 and len(sheets[size][0]) == 3  # input, half way, clean
    assert by_name


def test_identity_distances_are_reported_per_method():
    class Distances:
        def distances(self, faces, references):
            gaps = np.array([float(np.abs(f.astype(float) - r).mean()) for f, r in zip(faces, references, strict=True)])
            return gaps, gaps / 100

    pairs = list(photo_pairs(_faces(2, 128), sizes=(128,), per_size=2))
    results, _ = measure_methods(pairs, [Method("input", lambda photo: photo)], identity=Distances())
    row = summarise(results)[0]
    assert row["identity"] > 0 and row["landmarks"] == pytest.approx(row["identity"] / 100)


def _tiny_model() -> IQPFR:
    torch.manual_seed(0)
    return IQPFR(TINY_FSQ).eval()


def test_a_new_input_gate_barely_changes_the_model_and_never_acts_at_fidelity_zero(tmp_path):
    model = _tiny_model()
    gated = with_input_gate(model).eval()
    faces = torch.rand(2, 3, 32, 32) * 2 - 1
    for fidelity in (0.0, 1.0):
        before = model.restore(faces, 0.9, fidelity).image
        after = gated.restore(faces, 0.9, fidelity).image
        difference = (before - after).abs().max().item()
        assert difference == 0 if fidelity == 0 else 0 < difference < 0.05
    loaded, _ = load_checkpoint(save_checkpoint(gated, tmp_path / "gated.pt", trained=True))
    assert loaded.input_gate is not None
    assert torch.equal(loaded.restore(faces, 0.9, 1.0).image, gated.restore(faces, 0.9, 1.0).image)


def test_an_open_input_gate_returns_the_input_at_full_fidelity_and_scales_with_it():
    gated = with_input_gate(_tiny_model()).eval()
    assert gated.input_gate is not None
    torch.nn.init.constant_(gated.input_gate.net[-1].bias, 30.0)  # gate fully open
    faces = torch.rand(2, 3, 32, 32) * 2 - 1
    encoded = gated.encode(faces)
    prediction = gated.predict_codes(encoded.features, 0.9)
    codes = gated.fuse_codes(prediction.common_indices, prediction.hq_indices)
    assert torch.allclose(gated.decode(codes, encoded, 1.0, 0.9), faces, atol=1e-5)
    half = gated.decode(codes, encoded, 0.5, 0.9)
    redrawn = gated.keep_input_tone(gated.decoder(codes, encoded.skips, 0.5, None, encoded.images), faces)
    assert torch.allclose(half, (redrawn + faces) / 2, atol=1e-5)


@pytest.mark.parametrize(("clean", "light", "expected_identical"), [(1.0, 0.0, True), (0.0, 1.0, False)])
def test_training_pairs_can_be_clean_or_lightly_degraded(clean, light, expected_identical):
    scored = ScoredFaces([], np.zeros(2, np.float32), np.full(2, 0.5, np.float32))
    dataset = FaceDataset(scored, 64, DegradationConfig(), flip=False, clean_fraction=clean, light_fraction=light)
    dataset.images = [face.image for face in _faces(2, 64)]
    item = dataset[0]
    identical = torch.equal(item["clean"], item["degraded"])
    assert identical == expected_identical
    if not identical:  # light: close to the clean face
        assert (item["clean"] - item["degraded"]).abs().mean().item() < 0.05


def test_a_gate_split_into_bands_starts_as_the_one_band_gate_and_its_bands_add_up():
    from app.model.iqpfr import with_gate_bands

    gated = with_input_gate(_tiny_model()).eval()
    assert gated.input_gate is not None
    torch.nn.init.normal_(gated.input_gate.net[-1].weight, std=0.5)  # a trained-looking gate
    banded = with_gate_bands(gated, (1.0, 3.0)).eval()
    assert banded.input_gate is not None and banded.cfg.input_gate_bands == (1.0, 3.0)
    faces = torch.rand(2, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(banded.restore(faces, 0.9, 1.0).image, gated.restore(faces, 0.9, 1.0).image)
    bands = banded.input_gate.split(faces)
    assert len(bands) == 3
    torch.testing.assert_close(sum(bands), faces)
    assert bands[0].abs().mean() > 0 and bands[2].abs().mean() < faces.abs().mean()


def test_band_gates_keep_the_input_only_in_the_bands_they_open():
    from app.model.iqpfr import with_gate_bands

    banded = with_gate_bands(with_input_gate(_tiny_model()), (1.0, 3.0)).eval()
    assert banded.input_gate is not None
    last = banded.input_gate.net[-1]
    torch.nn.init.constant_(last.bias, -30.0)
    with torch.no_grad():
        last.bias[2] = 30.0  # only the coarsest band open
    faces = torch.rand(2, 3, 32, 32) * 2 - 1
    encoded = banded.encode(faces)
    prediction = banded.predict_codes(encoded.features, 0.9)
    codes = banded.fuse_codes(prediction.common_indices, prediction.hq_indices)
    redrawn = banded.keep_input_tone(banded.decoder(codes, encoded.skips, 1.0, None, encoded.images), faces)
    out = banded.decode(codes, encoded, 1.0, 0.9)
    bands = banded.input_gate.split(faces - redrawn)
    torch.testing.assert_close(out, redrawn + bands[2], atol=1e-5, rtol=0)  # the input's broad structure only
    assert (out - (redrawn + bands[0])).abs().max() > 0.01
