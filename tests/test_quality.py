import numpy as np
import pytest

from app.errors import QualityMetricError
from app.quality import QualityScorer
from conftest import CodeInPickle


@pytest.fixture(scope="module")
def piqe():
    return QualityScorer("piqe")


def test_piqe_is_normalised_with_higher_is_better(piqe, face_photo_rgb):
    score = piqe.score(face_photo_rgb)
    assert 0.0 < score.raw < 100.0
    assert score.normalized == pytest.approx(1 - score.raw / 100, abs=1e-6)  # PIQE: 0..100, lower better
    assert (piqe.normalize(-3.0), piqe.normalize(130.0)) == (1.0, 0.0)  # raw scores beyond the range saturate


def test_heavy_noise_lowers_the_normalised_score(piqe, face_photo_rgb):
    noisy = np.clip(face_photo_rgb + np.random.default_rng(0).normal(0, 40, face_photo_rgb.shape), 0, 255)
    assert piqe.score(noisy.astype(np.uint8)).normalized < piqe.score(face_photo_rgb).normalized


def test_entropy_metric_by_name(face_photo_rgb):
    entropy = QualityScorer("entropy")
    score = entropy.score(face_photo_rgb)
    assert not entropy.lower_better and 0 < score.normalized <= 1
    assert score.normalized == pytest.approx(score.raw / 8, abs=1e-6)


def _sizes_reaching_the_metric(scorer, monkeypatch) -> list[tuple[int, ...]]:
    """Run the real metric, recording the shape of every tensor it is given."""
    shapes, metric = [], scorer._metric
    monkeypatch.setattr(scorer, "_metric", lambda tensor: shapes.append(tuple(tensor.shape)) or metric(tensor))
    return shapes


@pytest.mark.parametrize(
    "height, width, scored",
    [
        (12, 20, (32, 53)),  # shorter side up to MIN_SIDE, aspect kept
        (1500, 2100, (731, 1024)),  # longer side down to MAX_SIDE
        (300, 400, (300, 400)),  # in between: as it is
    ],
)
def test_tiny_and_huge_images_are_resized_for_scoring(piqe, monkeypatch, height, width, scored):
    shapes = _sizes_reaching_the_metric(piqe, monkeypatch)
    score = piqe.score(np.random.default_rng(1).integers(0, 255, (height, width, 3), dtype=np.uint8))
    assert shapes == [(1, 3, *scored)] and np.isfinite(score.raw)


def test_unknown_metric():
    with pytest.raises(QualityMetricError, match="Unknown quality metric"):
        QualityScorer("sharpness-o-meter")


def test_full_reference_metric_is_refused():
    with pytest.raises(QualityMetricError, match="no-reference"):
        QualityScorer("psnr")


def test_metric_whose_weights_are_absent_fails_fast_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    import pyiqa.utils.download_util as download_util

    monkeypatch.setattr(download_util, "DEFAULT_CACHE_DIR", str(tmp_path / "pyiqa"))
    with pytest.raises(QualityMetricError, match="not on this machine"):
        QualityScorer("brisque")


@pytest.mark.parametrize("height, width", [(1, 1), (7, 300), (3, 100_000), (100_000, 3), (10, 20_000)])
def test_images_too_small_or_thin_to_score_say_so(piqe, height, width):
    from app.errors import PhotoTooSmallError

    with pytest.raises(PhotoTooSmallError, match=f"{width}×{height} pixels: too small or too thin to score"):
        piqe.score(np.full((height, width, 3), 128, np.uint8))


@pytest.mark.parametrize("height, width, scored", [(40, 5000, (32, 4000)), (5000, 40, (4000, 32)), (11, 11, (32, 32))])
def test_thin_strips_are_scored(piqe, monkeypatch, height, width, scored):
    """The shorter side reaches MIN_SIDE even when the longer side then exceeds MAX_SIDE."""
    shapes = _sizes_reaching_the_metric(piqe, monkeypatch)
    rgb = np.random.default_rng(2).integers(0, 255, (height, width, 3), dtype=np.uint8)
    assert np.isfinite(piqe.score(rgb).raw) and shapes == [(1, 3, *scored)]


def test_pyiqa_weights_are_loaded_as_tensors_only(tmp_path, monkeypatch):
    """pyiqa's loader asks torch for full unpickling; a cached file carrying code must not run."""
    import pyiqa
    import torch
    from pyiqa.archs.arch_util import load_pretrained_network

    from app.quality import QualityScorer

    path = tmp_path / "metric.pth"
    torch.save({"params": CodeInPickle()}, path)

    def create_metric(name, **kwargs):
        load_pretrained_network(torch.nn.Linear(1, 1), str(path))

    monkeypatch.setattr(pyiqa, "create_metric", create_metric)
    with pytest.raises(QualityMetricError, match="holds more than tensors"):
        QualityScorer("musiq")
    assert not CodeInPickle.ran
    assert torch.load is not None and "load_tensors_only" not in torch.load.__name__  # restored afterwards
