"""Restoration off the GUI thread: a QObject living in a QThread.

Requests carry increasing ids; a quality/fidelity request older than the newest one is dropped
before any work, so dragging a slider never queues up stale restorations. Slider changes reuse the
photo's cached encoding (no re-encode).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from app.errors import StudioError
from app.model import ModelInfo
from app.photo_io import Photo, load_photo
from app.pipeline import FaceRestorer, PreparedPhoto
from app.quality import QualityScore, QualityScorer


@dataclass
class PhotoPrepared:
    request_id: int
    path: Path
    rgb: np.ndarray
    boxes: list[tuple[float, float, float, float]]
    before_score: QualityScore | None
    notes: list[str]


@dataclass
class PhotoRestored:
    request_id: int
    quality: float
    fidelity: float
    rgb: np.ndarray
    photo: Photo
    after_score: QualityScore | None
    face_count: int
    seconds: float


class SharedRestorer:
    """Creates the (heavy) FaceRestorer once, on first use, for every thread that asks."""

    def __init__(self, factory: Callable[[], FaceRestorer]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._instance: FaceRestorer | None = None

    def get(self) -> FaceRestorer:
        with self._lock:
            if self._instance is None:
                self._instance = self._factory()
            return self._instance


def mean_score(scorer: QualityScorer, images: list[np.ndarray]) -> QualityScore | None:
    if not images:
        return None
    scores = scorer.score_many(images)
    return QualityScore(scorer.metric, float(np.mean([s.raw for s in scores])),
                        float(np.mean([s.normalized for s in scores])))


@dataclass
class ModelReady:
    info: ModelInfo
    device: str                 # description of the device
    has_fidelity: bool          # False: weights without a fidelity path, the fidelity is ignored
    default_fidelity: float     # stored with the weights (chosen by measurement), else 0.5


class RestoreWorker(QObject):
    model_ready = Signal(object)            # ModelReady
    prepared = Signal(object)               # PhotoPrepared
    restored = Signal(object)               # PhotoRestored
    failed = Signal(int, str)               # request id, message
    busy = Signal(bool)

    def __init__(self, restorer: SharedRestorer, metric: str = "piqe") -> None:
        super().__init__()
        self._restorer = restorer
        self._metric = metric
        self._scorer: QualityScorer | None = None
        self._current: PreparedPhoto | None = None
        self._current_id = -1
        self._announced = False
        self.latest_request = 0   # written by the GUI thread before each request is queued

    def _model(self) -> FaceRestorer:
        from app.device import describe_device

        restorer = self._restorer.get()
        if not self._announced:
            self._announced = True
            self.model_ready.emit(ModelReady(restorer.model_info, describe_device(restorer.device),
                                             restorer.has_fidelity, restorer.default_fidelity))
        return restorer

    def _setup(self) -> tuple[FaceRestorer, QualityScorer]:
        restorer = self._model()
        if self._scorer is None:
            self._scorer = QualityScorer(self._metric, restorer.device)
        return restorer, self._scorer

    @Slot()
    def load_model(self) -> None:
        """Load the model ahead of the first photo, so the window can show it and set up its controls."""
        try:
            self._model()
        except (StudioError, OSError, ValueError, RuntimeError) as exc:
            self.failed.emit(0, str(exc))

    @Slot(int, str, float, object)
    def open_photo(self, request_id: int, path: str, quality: float, fidelity: float | None = None) -> None:
        self.busy.emit(True)
        try:
            restorer, scorer = self._setup()
            photo = load_photo(path)
            prepared = restorer.prepare(photo)
            self._current, self._current_id = prepared, request_id
            crops = [face.aligned.image for face in prepared.faces]
            before = mean_score(scorer, crops) if crops else scorer.score(photo.rgb8())
            self.prepared.emit(PhotoPrepared(request_id, Path(path), photo.rgb8(),
                                             [face.detection.box for face in prepared.faces], before,
                                             list(photo.notes)))
            self._restore(request_id, quality, fidelity)
        except (StudioError, OSError, ValueError, RuntimeError) as exc:
            self._current = None
            self.failed.emit(request_id, str(exc))
        finally:
            self.busy.emit(False)

    @Slot(int, float, object)
    def change_settings(self, request_id: int, quality: float, fidelity: float | None = None) -> None:
        """New quality and/or fidelity for the open photo: Transformer + decoder only."""
        if request_id < self.latest_request or self._current is None:
            return  # superseded by a newer request, or nothing open
        self.busy.emit(True)
        try:
            self._restore(request_id, quality, fidelity)
        except (StudioError, RuntimeError, ValueError) as exc:
            self.failed.emit(request_id, str(exc))
        finally:
            self.busy.emit(False)

    def _restore(self, request_id: int, quality: float, fidelity: float | None) -> None:
        restorer, scorer = self._setup()
        started = time.perf_counter()
        result = restorer.restore_prepared(self._current, quality, fidelity)
        after = mean_score(scorer, result.restored_faces) if result.restored_faces else None
        self.restored.emit(PhotoRestored(request_id, quality, result.fidelity, result.photo.rgb8(), result.photo,
                                         after, len(result.restored_faces), time.perf_counter() - started))
