"""No-reference image-quality scores via pyiqa, normalised to 0..1 where higher is better.

Every score is shown in one wording (`QualityScore.label`): "measured quality 0.68 (0 worst … 1 best; PIQE 32.3)".
It is the measured quality of pixels, not the target quality the IQPFR slider asks the model for. Faces are
measured by `app.face_scores` (the window and `iqpfr score` alike).

The default metric, PIQE, needs no weights (raw score 0..100, lower is better).
Any other pyiqa no-reference metric can be named; if its weights are not already on
this machine and downloads are off, a QualityMetricError says so instead of hanging.
"""

from __future__ import annotations

import contextlib
import re
import socket
from dataclasses import dataclass

import numpy as np
import torch

from app.errors import PhotoTooSmallError, QualityMetricError
from app.image_tensors import UNIT_RANGE, images_to_tensor
from app.paths import offline_mode

DEFAULT_METRIC = "piqe"
MIN_SIDE = 32  # PIQE and friends need a few 16 px blocks: smaller images are upscaled to this
MAX_SIDE = 1024  # bigger images are downscaled before scoring (speed)
MIN_SCORED_SIDE = 8  # below this there is too little image to score, even upscaled
MAX_ASPECT = MAX_SIDE  # longer side / shorter side: a thinner strip would need too many pixels at MIN_SIDE
DOWNLOAD_TIMEOUT_S = 20
MEASURED = "measured quality"  # what a score is called wherever it is shown (never "quality" alone: the target)
SCALE = "0 worst … 1 best"  # which way is better, said wherever a score is shown


@dataclass(frozen=True)
class QualityScore:
    metric: str
    raw: float
    normalized: float  # 0..1, higher is better

    def label(self) -> str:
        """'measured quality 0.68 (0 worst … 1 best; PIQE 32.3)'."""
        return f"{MEASURED} {self.normalized:.2f} ({SCALE}; {self.metric.upper()} {self.raw:.1f})"


def _parse_range(text: str) -> tuple[float, float]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", text)]
    if len(numbers) != 2 or numbers[0] == numbers[1]:
        raise ValueError(text)
    return numbers[0], numbers[1]


class QualityScorer:
    """Scores RGB uint8 images with one pyiqa no-reference metric."""

    def __init__(self, metric: str = DEFAULT_METRIC, device: str | torch.device = "cpu") -> None:
        import pyiqa
        from pyiqa.default_model_configs import DEFAULT_CONFIGS

        name = metric.lower()
        config = DEFAULT_CONFIGS.get(name)
        if config is None:
            offered = ", ".join(sorted(n for n, c in DEFAULT_CONFIGS.items() if c.get("metric_mode") == "NR"))
            raise QualityMetricError(f"Unknown quality metric '{metric}'. pyiqa offers: {offered}.")
        if config.get("metric_mode") != "NR":
            raise QualityMetricError(f"'{metric}' needs a reference image; choose a no-reference (NR) metric.")
        try:
            self.low, self.high = _parse_range(str(config.get("score_range", "")))
        except ValueError as exc:
            raise QualityMetricError(f"'{metric}' has no known score range, so it cannot be normalised.") from exc
        self.metric = name
        self.lower_better = bool(config.get("lower_better", False))
        self.device = torch.device(device)
        with _weights_download_guard(name), tensors_only_loading(name):
            self._metric = pyiqa.create_metric(name, device=self.device, as_loss=False)

    def normalize(self, raw: float) -> float:
        unit = (raw - self.low) / (self.high - self.low)
        unit = 1.0 - unit if self.lower_better else unit
        return float(np.clip(unit, 0.0, 1.0))

    def score(self, rgb: np.ndarray) -> QualityScore:
        tensor = _to_tensor(rgb).to(self.device)
        with torch.no_grad():
            raw = float(self._metric(tensor).reshape(-1)[0])
        if not np.isfinite(raw):
            raise QualityMetricError(f"{self.metric} could not score this image (flat or too small).")
        return QualityScore(self.metric, raw, self.normalize(raw))

    def score_many(self, images: list[np.ndarray]) -> list[QualityScore]:
        return [self.score(image) for image in images]


def _to_tensor(rgb: np.ndarray) -> torch.Tensor:
    import cv2

    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise QualityMetricError("quality scoring expects an 8-bit RGB image")
    height, width = rgb.shape[:2]
    longest, shortest = max(height, width), min(height, width)
    if shortest < MIN_SCORED_SIDE or longest > shortest * MAX_ASPECT:
        raise PhotoTooSmallError(
            f"The image is {width}×{height} pixels: too small or too thin to score (it needs at "
            f"least {MIN_SCORED_SIDE} pixels each way, and at most {MAX_ASPECT}:1 between "
            f"its sides)."
        )
    # Longer side down to MAX_SIDE, but the shorter side never below MIN_SIDE (at most MAX_SIDE² pixels).
    scale = max(min(1.0, MAX_SIDE / longest), MIN_SIDE / shortest)
    if scale != 1.0:
        rgb = cv2.resize(
            rgb,
            (round(width * scale), round(height * scale)),
            interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC,
        )
    return images_to_tensor([rgb], "cpu", UNIT_RANGE)


@contextlib.contextmanager
def _weights_download_guard(metric: str):
    """Turn pyiqa's weight download into a clear error when offline, and bound it by a timeout otherwise."""
    import pyiqa.utils.download_util as download_util

    original = download_util.download_url_to_file

    def refuse(url, destination, *args, **kwargs):
        raise QualityMetricError(
            f"The '{metric}' metric needs weights that are not on this machine "
            f"({url.rsplit('/', 1)[-1]}); downloads are off. Put the file at {destination} "
            f"or use the weight-free default '{DEFAULT_METRIC}'."
        )

    previous_timeout = socket.getdefaulttimeout()
    if offline_mode():
        download_util.download_url_to_file = refuse
    else:
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        yield
    except QualityMetricError:
        raise
    except (OSError, RuntimeError) as exc:
        raise QualityMetricError(f"The '{metric}' metric could not be loaded: {str(exc)[:200]}") from exc
    finally:
        download_util.download_url_to_file = original
        socket.setdefaulttimeout(previous_timeout)


@contextlib.contextmanager
def tensors_only_loading(metric: str):
    """While pyiqa builds a metric, every `torch.load` reads tensors and plain values only
    (`weights_only=True`): pyiqa's own loaders ask for full unpickling, which would run whatever code a
    file in its cache carries. A file that needs more is refused with a clear error."""
    import pickle

    original = torch.load

    def load_tensors_only(*args, **kwargs):
        kwargs["weights_only"] = True
        try:
            return original(*args, **kwargs)
        except pickle.UnpicklingError as exc:
            raise QualityMetricError(
                f"The '{metric}' metric's weights file holds more than tensors and was not "
                "loaded (it could run code). Delete it from pyiqa's cache to fetch a clean "
                "copy."
            ) from exc

    torch.load = load_tensors_only
    try:
        yield
    finally:
        torch.load = original
