"""Restoration off the GUI thread: a QObject living in a QThread.

Requests carry increasing ids; a quality/fidelity request older than the newest one is dropped
before any work, so dragging a slider never queues up stale restorations, and an open of a photo the
user has already left is dropped too (or stopped between its steps). Slider changes reuse the
photo's cached encoding (no re-encode). Whatever goes wrong in a request is reported through
`failed` with a message for the user, and `busy` always ends. `cancel_event` (set when the app
closes) stops the current request between its steps.
"""

from __future__ import annotations

import logging
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
from app.restorers import DEFAULT_STRENGTH, RestorerDescriptor
from app.quality import QualityScore, QualityScorer

MODEL_REQUEST = 0   # the request id of load_model's failures
log = logging.getLogger(__name__)


def failure_message(exc: BaseException, doing: str, name: str = "") -> str:
    """What went wrong while trying to `doing` ("open 'a.jpg'"), as a sentence for the user (no traceback).

    `name`: the photo's file name, put in front of a message that does not say which photo it is about."""
    if isinstance(exc, StudioError):
        return str(exc) if name in str(exc) else f"{name}: {exc}"
    if isinstance(exc, MemoryError):
        return f"Not enough memory to {doing}; close other programs or try a smaller photo."
    if isinstance(exc, OSError) and exc.strerror:
        return f"Could not {doing}: {exc.strerror}."
    first_line = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"Could not {doing}: unexpected error ({type(exc).__name__}: {first_line})."


class _Stopped(Exception):
    """The request was superseded by a newer one, or the app is closing: stop without a message."""


@dataclass
class PhotoPrepared:
    request_id: int
    path: Path
    rgb: np.ndarray
    boxes: list[tuple[float, float, float, float]]
    before_score: QualityScore | None
    notes: list[str]
    seconds: float = 0.0        # detection, alignment and the model's per-photo work

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
    strength: float | None = None   # for models blended by strength (GFPGAN, RestoreFormer)


class SharedRestorer:
    """Creates the (heavy) FaceRestorer once, on first use, for every thread that asks."""

    def __init__(self, factory: Callable[[], FaceRestorer]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._instance: FaceRestorer | None = None
        self.generation = 0   # counts `replace` calls: a worker announces each new model once

    def get(self) -> FaceRestorer:
        with self._lock:
            if self._instance is None:
                self._instance = self._factory()
            return self._instance

    def replace(self, factory: Callable[[], FaceRestorer]) -> None:
        """Use another restorer from now on (another model chosen); it is made on first use."""
        with self._lock:
            self._factory, self._instance = factory, None
            self.generation += 1


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
    descriptor: RestorerDescriptor | None = None   # what the restorer's sliders mean

    @property
    def has_second_slider(self) -> bool:
        """The window's second slider sets the fidelity or, for GFPGAN/RestoreFormer, the strength."""
        return self.has_fidelity or (self.descriptor is not None and self.descriptor.has_strength)

    @property
    def second_slider_default(self) -> float:
        if self.descriptor is not None and self.descriptor.has_strength:
            return DEFAULT_STRENGTH
        return self.default_fidelity


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
        self._current_name = ""
        self._announced = -1      # the SharedRestorer generation whose model was announced
        self.latest_request = 0   # written by the GUI thread before each request is queued
        self.latest_open = 0      # the newest open_photo request (written by the GUI thread)
        self.cancel_event = threading.Event()   # set by the GUI thread when the app closes

    def _model(self) -> FaceRestorer:
        from app.device import describe_device

        restorer = self._restorer.get()
        if self._announced != self._restorer.generation:
            self._announced = self._restorer.generation
            self.model_ready.emit(ModelReady(restorer.model_info, describe_device(restorer.device),
                                             restorer.has_fidelity, restorer.default_fidelity, restorer.descriptor))
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
        except Exception as exc:  # noqa: BLE001 - every failure reaches the user
            self._fail(MODEL_REQUEST, exc, "load the model")

    def _fail(self, request_id: int, exc: Exception, doing: str, name: str = "") -> None:
        if not isinstance(exc, StudioError):  # a bug or a fault we did not foresee: keep the details in the log
            log.warning("could not %s", doing, exc_info=exc)
        self.failed.emit(request_id, failure_message(exc, doing, name))

    def _check_wanted(self, request_id: int) -> None:
        """Between steps: stop if the app is closing or the user has opened another photo since."""
        if self.cancel_event.is_set() or request_id < self.latest_open:
            raise _Stopped

    @Slot(int, str, float, object)
    def open_photo(self, request_id: int, path: str, quality: float, fidelity: float | None = None) -> None:
        if request_id < self.latest_open or self.cancel_event.is_set():
            return  # the user has already opened another photo: a stale open is dropped
        self.busy.emit(True)
        try:
            self._current = None
            restorer, scorer = self._setup()
            self._check_wanted(request_id)
            photo = load_photo(path)
            self._check_wanted(request_id)
            started = time.perf_counter()
            prepared = restorer.prepare(photo)
            prepare_seconds = time.perf_counter() - started
            self._check_wanted(request_id)
            crops = [face.aligned.image for face in prepared.faces]
            before = mean_score(scorer, crops) if crops else scorer.score(photo.rgb8())
            self._current, self._current_id, self._current_name = prepared, request_id, Path(path).name
            self.prepared.emit(PhotoPrepared(request_id, Path(path), photo.rgb8(),
                                             [face.detection.box for face in prepared.faces], before,
                                             list(photo.notes) + list(photo.warnings), prepare_seconds))
            self._check_wanted(request_id)
            self._restore(request_id, quality, fidelity)
        except _Stopped:
            pass
        except Exception as exc:  # noqa: BLE001 - every failure reaches the user and ends the request
            name = Path(path).name
            self._fail(request_id, exc, f"{'restore' if self._current is not None else 'open'} '{name}'", name)
        finally:
            self.busy.emit(False)

    @Slot(int, float, object)
    def change_settings(self, request_id: int, quality: float, fidelity: float | None = None) -> None:
        """New quality and/or fidelity for the open photo: Transformer + decoder only."""
        if request_id < self.latest_request or self._current is None or self.cancel_event.is_set():
            return  # superseded by a newer request, nothing open, or the app is closing
        self.busy.emit(True)
        try:
            self._restore(request_id, quality, fidelity)
        except _Stopped:
            pass
        except Exception as exc:  # noqa: BLE001 - every failure reaches the user and ends the request
            self._fail(request_id, exc, f"restore '{self._current_name}'", self._current_name)
        finally:
            self.busy.emit(False)

    def _restore(self, request_id: int, quality: float, fidelity: float | None) -> None:
        restorer, scorer = self._setup()
        started = time.perf_counter()
        if restorer.has_strength:   # the window's second slider is the strength for these models
            result = restorer.restore_prepared(self._current, quality, strength=fidelity)
        else:
            result = restorer.restore_prepared(self._current, quality, fidelity)
        if self.cancel_event.is_set():
            raise _Stopped  # the app is closing: no scoring
        after = mean_score(scorer, result.restored_faces) if result.restored_faces else None
        self.restored.emit(PhotoRestored(request_id, quality, result.fidelity, result.photo.rgb8(), result.photo,
                                         after, len(result.restored_faces), time.perf_counter() - started,
                                         result.strength))
