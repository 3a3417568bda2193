"""The editing session behind the window: which photo is shown, which requests are still wanted, and the
last prepared and restored results (no Qt).

The GUI thread starts requests here and accepts results here; the restore worker asks here, between its
steps, whether its request is still wanted. Request ids only grow: opening a photo makes every older
request stale, and a new quality/fidelity request makes older settings requests stale, so a burst of
slider moves or of photo clicks leads to one piece of work. Everything the worker reads is behind a lock;
the results (`prepared`, `restored`) are read and written by the GUI thread only. `include` records the faces
the user ticked; a face added by drawing a box around it comes back as a newer `PhotoPrepared` of the same photo
and is ticked. Both are remembered per photo (`PhotoEdits`) while the app runs, so going back to a photo finds its
added faces and its ticks as the user left them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

import numpy as np

from app.photo_io import Photo
from app.pipeline import PreparedPhoto, RestoredFaces, RestoredPhoto
from app.quality import QualityScore

MODEL_REQUEST = 0  # the request id of a failure to load the model
Box = tuple[float, float, float, float]


def scaled_box(box: Box, scale: float) -> Box:
    """A box in photo pixels as a box in the pixels of a preview `scale` times the photo's size."""
    x0, y0, x1, y1 = box
    return x0 * scale, y0 * scale, x1 * scale, y1 * scale


def faces_within(include: Collection[int] | None, count: int) -> frozenset[int] | None:
    """The faces of `include` (None: all) that a photo with `count` faces has."""
    return None if include is None else frozenset(index for index in include if index < count)


@dataclass
class PhotoPrepared:
    """An opened photo: its preview, its faces and their score before restoration."""

    request_id: int
    path: Path
    rgb: np.ndarray  # the preview (8-bit RGB; the whole photo unless it is larger than the screen needs)
    boxes: list[Box]  # face boxes in the preview's pixels
    before_score: QualityScore | None
    notes: list[str]
    seconds: float = 0.0  # detection, alignment and the model's per-photo work
    preview_scale: float = 1.0  # preview pixels per photo pixel
    face_images: list[np.ndarray] = field(default_factory=list)  # the aligned faces, in the boxes' order
    face_scores: list[QualityScore] = field(default_factory=list)  # each face's score (before_score: their mean)

    def photo_box(self, box: Box) -> Box:
        """A box in the preview's pixels (as drawn on it) in the photo's pixels."""
        x0, y0, x1, y1 = (float(value) / self.preview_scale for value in box[:4])
        return x0, y0, x1, y1


@dataclass
class PhotoRestored:
    """A restoration of the open photo at some settings: its preview, and what saving needs."""

    request_id: int
    quality: float
    fidelity: float
    rgb: np.ndarray  # the preview with the included faces pasted back (same size as PhotoPrepared.rgb)
    after_score: QualityScore | None
    face_count: int  # faces pasted back
    seconds: float
    strength: float | None = None  # for models blended by strength (GFPGAN, RestoreFormer)
    prepared: PreparedPhoto | None = None
    faces: RestoredFaces | None = None
    include: frozenset[int] | None = None  # the faces pasted back (None: all)
    face_scores: list[QualityScore] = field(default_factory=list)  # every restored face's score, pasted or not

    @property
    def total_faces(self) -> int:
        """The faces restored, pasted back or left out."""
        return len(self.faces.faces) if self.faces is not None else self.face_count

    def full_photo(self, base: Photo | None = None) -> Photo:
        """The restored photo at full resolution, as saved (pastes the faces again when the preview is smaller);
        into `base` when given (the photo at the output scale, its background enhanced)."""
        return self.full_result(base).photo

    def full_result(self, base: Photo | None = None) -> RestoredPhoto:
        if self.prepared is None or self.faces is None:
            raise ValueError("this result has no photo to save")
        return self.faces.photo(self.prepared, self.include, base)


@dataclass(frozen=True)
class PhotoEdits:
    """What the user changed on a photo's faces: the boxes drawn around missed faces (photo pixels, in the order
    added; they become faces n, n+1, … after the detector's n) and the faces pasted back (None: all)."""

    added_boxes: tuple[Box, ...] = ()
    include: frozenset[int] | None = None


class Failure(Enum):
    """What a failed request was about, as far as the window is concerned."""

    MODEL = "model"  # loading the model
    STALE = "stale"  # a photo the user has left: say nothing
    OPEN = "open"  # opening the shown photo
    RESTORE = "restore"  # restoring the shown photo
    ADD_FACE = "add_face"  # finding a face inside a box the user drew on the shown photo


class EditingSession:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_id = MODEL_REQUEST
        self._latest_open = MODEL_REQUEST  # the newest open: older opens and restorations are stale
        self._latest_settings = MODEL_REQUEST  # the newest request of any kind: older settings requests are stale
        self._closing = threading.Event()
        self._latest_background = MODEL_REQUEST  # the newest request for a preview's background
        self.shown_photo_id = -1
        self.prepared: PhotoPrepared | None = None  # GUI thread only
        self.restored: PhotoRestored | None = None  # GUI thread only
        self.include: frozenset[int] | None = None  # the faces to paste back (None: all); GUI thread only
        self.shown_path: Path | None = None  # GUI thread only
        self._edits: dict[Path, PhotoEdits] = {}  # GUI thread only
        self._add_face_requests: dict[int, Box | None] = {}  # request id -> the box drawn (photo pixels); GUI thread

    # ------------------------------------------------------------------ GUI thread: requests
    def begin_open(self, path: Path | None = None) -> int:
        """A photo is being opened: forget the shown one; every older request becomes stale. The faces to paste
        back are the ones ticked when the photo was last shown (see `edits`)."""
        with self._lock:
            self._last_id += 1
            self._latest_open = self._latest_settings = self._last_id
        self.shown_photo_id = self._last_id
        self.shown_path = path
        self.prepared = self.restored = None
        self.include = self.edits(path).include if path is not None else None
        self._add_face_requests.clear()
        return self._last_id

    def edits(self, path: Path) -> PhotoEdits:
        """The user's changes to the faces of `path` since the app started (none: an empty PhotoEdits)."""
        return self._edits.get(path, PhotoEdits())

    def _remember(self, **changes) -> None:
        if self.shown_path is not None:
            self._edits[self.shown_path] = replace(self.edits(self.shown_path), **changes)

    def begin_settings(self) -> int | None:
        """New settings (quality, fidelity, faces) for the shown photo; None when no photo is ready."""
        if self.prepared is None:
            return None
        with self._lock:
            self._last_id += 1
            self._latest_settings = self._last_id
        return self._last_id

    def begin_add_face(self, box: Box | None = None) -> int | None:
        """A face to add to the shown photo, inside `box` (drawn by the user, in the preview's pixels); None when no
        photo is ready. Like new settings, it makes older settings requests stale (a restoration with the face
        follows it). The box is remembered for the photo once the face is found."""
        request_id = self.begin_settings()
        if request_id is not None:
            drawn = self.prepared.photo_box(box) if box is not None and self.prepared is not None else None
            self._add_face_requests[request_id] = drawn
        return request_id

    def include_faces(self, ticked: Collection[int]) -> None:
        """The faces the user ticked are the ones to paste back (all of the photo's faces: None)."""
        ticked = frozenset(ticked)
        count = len(self.prepared.boxes) if self.prepared is not None else 0
        self.include = None if ticked >= frozenset(range(count)) else ticked
        self._remember(include=self.include)

    def begin_background(self) -> int:
        """A new background for the shown photo's preview (another photo, or other whole-photo settings): older
        background requests are stale from now on."""
        with self._lock:
            self._last_id += 1
            self._latest_background = self._last_id
        return self._last_id

    def background_wanted(self, request_id: int) -> bool:
        with self._lock:
            return not self._closing.is_set() and request_id >= self._latest_background

    def close(self) -> None:
        """The app is closing: every request is stale from now on."""
        self._closing.set()

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    # ------------------------------------------------------------------ worker thread: still wanted?
    def open_wanted(self, request_id: int) -> bool:
        with self._lock:
            return not self._closing.is_set() and request_id >= self._latest_open

    def settings_wanted(self, request_id: int) -> bool:
        with self._lock:
            return not self._closing.is_set() and request_id >= self._latest_settings

    def stop_check(self, request_id: int) -> Callable[[], bool]:
        """For the pipeline: True once a restoration for `request_id` is no longer wanted."""
        return lambda: not self.open_wanted(request_id) or not self.settings_wanted(request_id)

    # ------------------------------------------------------------------ GUI thread: results
    def accept_prepared(self, result: PhotoPrepared) -> bool:
        """Keep the prepared photo if it is the one shown, opened or with a face added (never one older than the
        one kept); False: stale, ignore it. An added face is included when some faces are left out."""
        if result.request_id < self.shown_photo_id:
            return False
        if self.prepared is not None and result.request_id < self.prepared.request_id:
            return False
        if result.request_id != self.shown_photo_id:  # a face added
            if self.prepared is None:
                return False
            if self.include is not None:
                self.include |= frozenset(range(len(self.prepared.boxes), len(result.boxes)))
            drawn = self._add_face_requests.get(result.request_id)
            if drawn is not None and self.shown_path is not None:
                self._remember(added_boxes=(*self.edits(self.shown_path).added_boxes, drawn), include=self.include)
        else:  # reopened: faces that were not found again cannot be ticked
            self.include = faces_within(self.include, len(result.boxes))
        self.prepared = result
        return True

    def accept_restored(self, result: PhotoRestored) -> bool:
        """Keep a restoration of the shown photo (never one older than the one kept); False: ignore it."""
        if result.request_id < self.shown_photo_id or self.prepared is None:
            return False
        if self.restored is not None and result.request_id < self.restored.request_id:
            return False
        self.restored = result
        return True

    def classify_failure(self, request_id: int) -> Failure:
        if request_id == MODEL_REQUEST:
            return Failure.MODEL
        if request_id < self.shown_photo_id:
            return Failure.STALE
        if request_id in self._add_face_requests:
            return Failure.ADD_FACE
        return Failure.OPEN if self.prepared is None else Failure.RESTORE
