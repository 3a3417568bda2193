"""Whole-photo work off the GUI thread, beside the restore worker (so the sliders stay live while it runs): the
background of the shown photo's preview at the chosen output scale (enhanced from a small copy first, with the
network's measured speed for the full-size estimate), and the full-size photo for saving, tile by tile, with
progress and cancel between tiles.

Each request is stopped between tiles once it is no longer wanted: a newer background request (another photo,
other settings), Cancel on a save, or the app closing.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from app.errors import Stopped, StudioError, failure_message
from app.export_settings import ExportSettings, export_photo
from app.gui.worker import SharedRestorer
from app.photo_io import load_photo
from app.session import EditingSession, PhotoRestored
from app.upscaling.whole_photo import WholePhotoSettings

log = logging.getLogger(__name__)
PREVIEW_NETWORK_PIXELS = {"cpu": 120_000, "cuda": 2_000_000}  # the small copy the preview is enhanced from


@dataclass(frozen=True)
class PreviewBackgroundReady:
    request_id: int
    path: Path
    whole: WholePhotoSettings
    pixels: np.ndarray  # the preview's background (the photo's dtype)
    scale: float  # preview pixels per photo pixel
    full_size_seconds: float | None  # estimated time to enhance the full-size photo (None: no network ran)


@dataclass(frozen=True)
class SaveRequest:
    restored: PhotoRestored
    whole: WholePhotoSettings
    target: Path
    export: ExportSettings


class BackgroundWorker(QObject):
    preview_ready = Signal(object)  # PreviewBackgroundReady
    tile_progress = Signal(int, int, int)  # request id, tiles done, tiles in all (0: a save)
    saved = Signal(object, object)  # the file written, the photo's warnings (a list)
    save_ended = Signal()  # a save finished, failed or was cancelled
    failed = Signal(int, str)  # request id (0: a save), message

    def __init__(self, restorer: SharedRestorer, session: EditingSession, preview_pixels: int) -> None:
        super().__init__()
        self._restorer, self._session, self._preview_pixels = restorer, session, preview_pixels
        self.cancel_save = threading.Event()

    @Slot(int, str, object)
    def make_preview(self, request_id: int, path: str, whole: WholePhotoSettings) -> None:
        """The background of the preview of `path` at `whole`'s output scale."""
        if not self._session.background_wanted(request_id):
            return
        try:
            enhancer = self._restorer.get().background
            photo = load_photo(path)
            if not self._session.background_wanted(request_id):
                return
            budget = PREVIEW_NETWORK_PIXELS["cuda" if enhancer.device.type == "cuda" else "cpu"]
            preview = enhancer.preview(
                photo.pixels,
                whole,
                self._preview_pixels,
                budget,
                photo.grayscale,
                progress=lambda done, total: self.tile_progress.emit(request_id, done, total),
                should_stop=lambda: not self._session.background_wanted(request_id),
            )
            estimate = (
                None
                if preview.seconds_per_network_pixel is None
                else enhancer.estimate_seconds(photo.height, photo.width, preview.seconds_per_network_pixel)
            )
            self.preview_ready.emit(
                PreviewBackgroundReady(request_id, Path(path), whole, preview.pixels, preview.scale, estimate)
            )
        except Stopped:
            pass
        except Exception as exc:  # every failure reaches the user
            if not isinstance(exc, StudioError):
                log.warning("could not enhance the preview's background", exc_info=exc)
            self.failed.emit(request_id, failure_message(exc, "enhance the background", Path(path).name))

    @Slot(object)
    def save(self, request: SaveRequest) -> None:
        """The restored photo at full size, its background made at `request.whole`, written to the target."""
        self.cancel_save.clear()
        started = time.perf_counter()
        try:
            restored = request.restored
            if restored.prepared is None:
                raise StudioError("Nothing to save yet: the photo is still being restored.")
            base = self._restorer.get().output_photo(
                restored.prepared.photo,
                request.whole,
                progress=lambda done, total: self.tile_progress.emit(0, done, total),
                should_stop=lambda: self.cancel_save.is_set() or self._session.closing,
            )
            photo = restored.full_photo(base)
            saved = export_photo(photo, request.target, request.export, overwrite=request.target.exists())
            log.info("saved %s at %s in %.0f s", saved, request.whole.describe(), time.perf_counter() - started)
            self.saved.emit(saved, list(photo.warnings))
        except Stopped:
            pass
        except Exception as exc:  # every failure reaches the user
            if not isinstance(exc, StudioError):
                log.warning("could not save the full-size photo", exc_info=exc)
            self.failed.emit(0, failure_message(exc, f"save '{request.target.name}'"))
        finally:
            self.save_ended.emit()
