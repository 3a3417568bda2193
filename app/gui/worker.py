"""Restoration off the GUI thread: a QObject living in a QThread (see app.gui.threads).

Requests carry ids from the window's `EditingSession`, which the worker asks whether a request is still
wanted: a quality/fidelity request older than the newest one is dropped before any work, so dragging a
slider never queues up stale restorations, and an open of a photo the user has already left is dropped
too (or stopped between its steps, and between chunks of faces). Slider changes reuse the photo's cached
encoding (no re-encode), and the faces are pasted onto a preview no larger than `preview_pixels` (full
resolution only for saving); ticking faces in or out at the same settings only pastes the last restored
faces again (`LastRestoration`), and `add_face` adds a face the detector missed, inside a box the user drew.
Whatever goes wrong in a request is reported through `failed` with a message for the user, and `busy` always
ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from app.errors import FaceNotFoundError, StudioError, failure_message
from app.face_scores import mean_score, photo_face_scores, restored_face_scores, score_face
from app.model import ModelInfo
from app.photo_io import load_photo, to_rgb8
from app.pipeline import (
    DEFAULT_PREVIEW_PIXELS,
    FaceRestorer,
    PreparedPhoto,
    RestoredFaces,
    Stopped,
    compose,
    is_included,
    preview_pixels,
)
from app.quality import QualityScore, QualityScorer
from app.restorers import DEFAULT_STRENGTH, RestorerDescriptor
from app.session import (
    MODEL_REQUEST,
    Box,
    EditingSession,
    PhotoPrepared,
    PhotoRestored,
    faces_within,
    scaled_box,
)

if TYPE_CHECKING:
    from app.gui.background_worker import PreviewBackgroundReady

log = logging.getLogger(__name__)


class SharedRestorer:
    """Creates the (heavy) FaceRestorer once, on first use, for every thread that asks."""

    def __init__(self, factory: Callable[[], FaceRestorer]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._instance: FaceRestorer | None = None
        self.generation = 0  # counts `replace` calls: a worker announces each new model once

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


@dataclass
class LastRestoration:
    """The worker's last restoration of the open photo: ticking faces in or out at the same settings only pastes
    these faces again (no network, no scoring)."""

    restorer: FaceRestorer
    prepared: PreparedPhoto
    faces: RestoredFaces  # with the quality, fidelity and strength they were restored at
    scores: list[QualityScore]  # each restored face's score

    def matches(self, restorer: FaceRestorer, prepared: PreparedPhoto, quality: float, second: float | None) -> bool:
        """Whether these faces are what restoring `prepared` at these settings would give (`second`: the fidelity
        or strength asked for; None, the model's default, is the same as that default asked for by value)."""
        if self.restorer is not restorer or self.prepared is not prepared or self.faces.quality != quality:
            return False
        if restorer.has_strength:
            return self.faces.strength == (DEFAULT_STRENGTH if second is None else second)
        return self.faces.fidelity == (restorer.default_fidelity if second is None else second)


@dataclass
class ModelReady:
    info: ModelInfo
    device: str  # description of the device
    has_fidelity: bool  # False: weights without a fidelity path, the fidelity is ignored
    default_fidelity: float  # stored with the weights (chosen by measurement), else 0.5
    descriptor: RestorerDescriptor | None = None  # what the restorer's sliders mean

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
    model_ready = Signal(object)  # ModelReady
    prepared = Signal(object)  # PhotoPrepared
    restored = Signal(object)  # PhotoRestored
    failed = Signal(int, str)  # request id, message
    busy = Signal(bool)

    def __init__(
        self,
        restorer: SharedRestorer,
        session: EditingSession,
        metric: str = "piqe",
        preview_pixels: int = DEFAULT_PREVIEW_PIXELS,
    ) -> None:
        super().__init__()
        self._restorer = restorer
        self._session = session
        self._metric = metric
        self._preview_pixels = preview_pixels
        self._scorer: QualityScorer | None = None
        self._current: PreparedPhoto | None = None
        self._current_name = ""
        self._current_shown: PhotoPrepared | None = None  # what was sent to the window about `_current`
        self._last: LastRestoration | None = None
        self._announced = -1  # the SharedRestorer generation whose model was announced
        self._background: PreviewBackgroundReady | None = None  # the preview's background at the output scale

    def _model(self) -> FaceRestorer:
        from app.device import describe_device

        restorer = self._restorer.get()
        if self._announced != self._restorer.generation:
            self._announced = self._restorer.generation
            self.model_ready.emit(
                ModelReady(
                    restorer.model_info,
                    describe_device(restorer.device),
                    restorer.has_fidelity,
                    restorer.default_fidelity,
                    restorer.descriptor,
                )
            )
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
        if not self._session.open_wanted(request_id):
            raise Stopped

    @Slot(object)
    def set_preview_background(self, background: PreviewBackgroundReady | None) -> None:
        """The background the open photo's faces are pasted into from now on (the photo at the output scale,
        enhanced, at the preview's size); None: the photo itself. Used only for the photo it was made from."""
        self._background = background

    @Slot(int, str, float, object, object, object)
    def open_photo(
        self,
        request_id: int,
        path: str,
        quality: float,
        fidelity: float | None = None,
        added_boxes: Collection[Box] = (),
        include: Collection[int] | None = None,
    ) -> None:
        """Open, detect, align and restore a photo. `added_boxes` (photo pixels) are faces the user added the last
        time the photo was shown, found again after the detector's; `include`: the faces to paste back (None: all)."""
        if not self._session.open_wanted(request_id):
            return  # the user has already opened another photo: a stale open is dropped
        self.busy.emit(True)
        try:
            self._current = self._current_shown = self._last = None
            restorer, scorer = self._setup()
            self._check_wanted(request_id)
            photo = load_photo(path)
            self._check_wanted(request_id)
            started = time.perf_counter()
            prepared = restorer.prepare(photo)
            notes = list(photo.notes) + list(photo.warnings)
            for box in added_boxes:
                try:
                    prepared = restorer.add_face(prepared, box)
                except FaceNotFoundError:
                    notes.append("A face you added to this photo was not found again.")
            prepare_seconds = time.perf_counter() - started
            self._check_wanted(request_id)
            crops = [face.aligned.image for face in prepared.faces]
            scores = photo_face_scores(scorer, prepared)
            before = mean_score(scores) if crops else scorer.score(photo.rgb8())
            preview, scale = preview_pixels(prepared, self._preview_pixels)
            self._current, self._current_name = prepared, Path(path).name
            boxes = [scaled_box(face.detection.box, scale) for face in prepared.faces]
            self._current_shown = PhotoPrepared(
                request_id,
                Path(path),
                to_rgb8(preview),
                boxes,
                before,
                notes,
                prepare_seconds,
                scale,
                crops,
                scores,
            )
            self.prepared.emit(self._current_shown)
            self._check_wanted(request_id)
            self._restore(request_id, quality, fidelity, faces_within(include, len(prepared.faces)))
        except Stopped:
            pass
        except Exception as exc:  # noqa: BLE001 - every failure reaches the user and ends the request
            name = Path(path).name
            self._fail(request_id, exc, f"{'restore' if self._current is not None else 'open'} '{name}'", name)
        finally:
            self.busy.emit(False)

    @Slot(int, float, object, object)
    def change_settings(
        self, request_id: int, quality: float, fidelity: float | None = None, include: Collection[int] | None = None
    ) -> None:
        """New quality, fidelity or included faces for the open photo: Transformer + decoder only."""
        if self._current is None or not self._session.settings_wanted(request_id):
            return  # superseded by a newer request, nothing open, or the app is closing
        self.busy.emit(True)
        try:
            self._restore(request_id, quality, fidelity, include)
        except Stopped:
            pass
        except Exception as exc:  # noqa: BLE001 - every failure reaches the user and ends the request
            self._fail(request_id, exc, f"restore '{self._current_name}'", self._current_name)
        finally:
            self.busy.emit(False)

    @Slot(int, object, float, object, object)
    def add_face(
        self,
        request_id: int,
        box: Box,
        quality: float,
        fidelity: float | None = None,
        include: Collection[int] | None = None,
    ) -> None:
        """A face the detector missed, inside `box` (x0, y0, x1, y1 in the preview's pixels) of the open photo:
        found, added as the last face, announced (`prepared`) and restored with the faces in `include`."""
        if self._current is None or self._current_shown is None or not self._session.open_wanted(request_id):
            return  # nothing open, another photo opened since, or the app is closing
        self.busy.emit(True)
        try:
            restorer, scorer = self._setup()
            shown = self._current_shown
            added = restorer.add_face(self._current, shown.photo_box(box))
            self._check_wanted(request_id)
            face = added.faces[-1]
            scores = [*shown.face_scores, score_face(scorer, added.photo.rgb8(), face.detection.landmarks)]
            self._current, self._current_shown = (
                added,
                replace(
                    shown,
                    request_id=request_id,
                    boxes=[*shown.boxes, scaled_box(face.detection.box, shown.preview_scale)],
                    face_images=[*shown.face_images, face.aligned.image],
                    face_scores=scores,
                    before_score=mean_score(scores),
                ),
            )
            self.prepared.emit(self._current_shown)
            if self._session.settings_wanted(request_id):  # else a newer request restores it
                included = None if include is None else frozenset(include) | {len(added.faces) - 1}
                self._restore(request_id, quality, fidelity, included)
        except Stopped:
            pass
        except Exception as exc:  # noqa: BLE001 - every failure reaches the user and ends the request
            self._fail(request_id, exc, f"add a face to '{self._current_name}'", self._current_name)
        finally:
            self.busy.emit(False)

    def _restore(
        self, request_id: int, quality: float, fidelity: float | None, include: Collection[int] | None
    ) -> None:
        """Restore the open photo and send the result (`restored`) as soon as it is pasted; a new restoration is sent
        again with its faces' scores once they are measured (so measuring never delays the picture)."""
        restorer, scorer = self._setup()
        prepared = self._current
        if prepared is None:
            raise Stopped  # nothing open
        started = time.perf_counter()
        last = self._last
        scores: list[QualityScore] | None
        if last is not None and last.matches(restorer, prepared, quality, fidelity):
            faces, scores = last.faces, last.scores  # only the included faces changed: paste them again
        else:
            self._last = None
            setting = {"strength" if restorer.has_strength else "fidelity": fidelity}  # the second slider's meaning
            faces = restorer.restore_faces(
                prepared, quality, should_stop=self._session.stop_check(request_id), **setting
            )
            scores = None  # measured after the picture is sent
        included = None if include is None else frozenset(include)
        background = self._background
        if background is not None and background.path == prepared.photo.source_path:
            preview = compose(prepared, faces.faces, included, background=background.pixels)
        else:
            preview = compose(prepared, faces.faces, included, self._preview_pixels)
        if not self._session.settings_wanted(request_id):
            raise Stopped  # superseded or closing
        pasted = [index for index in range(len(faces.faces)) if is_included(index, included)]
        result = PhotoRestored(
            request_id,
            quality,
            faces.fidelity,
            to_rgb8(preview),
            mean_score([scores[index] for index in pasted]) if scores is not None else None,
            len(pasted),
            time.perf_counter() - started,
            faces.strength,
            prepared,
            faces,
            included,
            scores if scores is not None else [],
        )
        self.restored.emit(result)
        if scores is not None:
            return
        # as pasted back, as saved; a newer request stops the measuring between faces
        scores = restored_face_scores(scorer, prepared, faces.faces, self._session.stop_check(request_id))
        self._last = LastRestoration(restorer, prepared, faces, scores)
        if not self._session.settings_wanted(request_id):
            raise Stopped  # superseded or closing: its scores are not shown
        self.restored.emit(
            replace(result, after_score=mean_score([scores[index] for index in pasted]), face_scores=scores)
        )
