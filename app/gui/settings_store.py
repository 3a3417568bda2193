"""What the app remembers between runs, in one place: window geometry and splitters, slider values, the chosen
model, the output scale and background enhancement, whether face boxes are shown, whether the first-run note was
shown, recent files, the folders last used, and small JSON values (export settings).

Every read checks what it gets (a hand-edited or stale file never breaks the app: a bad value reads as absent),
and paths that no longer exist are dropped. All of it goes through `open_settings()`, an INI file in the
per-user configuration folder (e.g. `~/.config/IQPFR Studio/IQPFR Studio.ini`); tests point QSettings' INI
user path at a temporary folder (tests/conftest.py), so they never touch a user's settings.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from app import APP_NAME
from app.errors import StudioError
from app.upscaling.whole_photo import WholePhotoSettings

MAX_RECENT_FILES = 10

OPEN_FOLDER = "open"  # where Open photos / Open folder start
EXPORT_FOLDER = "export"  # where Save / Export last wrote

_GEOMETRY = "window/geometry"
_WINDOW_STATE = "window/state"
_SPLITTER = "window/splitter/{}"
_QUALITY = "sliders/quality"
_SECOND_SLIDER = "sliders/second/{}"  # per architecture: fidelity (IQPFR, CodeFormer) or strength (GFPGAN …)
_MODEL = "restorer/model"
_WHOLE_PHOTO = "output/whole_photo"  # output scale and background enhancement
_RECENT = "files/recent"
_FACE_BOXES = "view/face_boxes"
_MODELS_NOTE = "intro/public_models_note_shown"
_FOLDER = "folders/{}"


def open_settings() -> QSettings:
    """The one QSettings object the app reads and writes (an INI file in the per-user config folder)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, APP_NAME, APP_NAME)


def _bool(value: object, default: bool) -> bool:
    """A stored yes/no (INI files hold 'true'/'false'), or `default` for anything else."""
    if value in (True, "true"):
        return True
    if value in (False, "false"):
        return False
    return default


def _unit_float(value: object) -> float | None:
    """A stored number in 0..1, or None for anything else."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and 0.0 <= number <= 1.0 else None


class SettingsStore:
    """Typed getters and setters over `open_settings()`; a fresh store reads what an earlier one wrote."""

    def __init__(self) -> None:
        self._settings = open_settings()

    def sync(self) -> None:
        """Write to disk now (QSettings also writes by itself, later)."""
        self._settings.sync()

    # ------------------------------------------------------------------ window
    def _bytes(self, key: str) -> QByteArray | None:
        value = self._settings.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def geometry(self) -> QByteArray | None:
        return self._bytes(_GEOMETRY)

    def set_geometry(self, data: QByteArray) -> None:
        self._settings.setValue(_GEOMETRY, data)

    def window_state(self) -> QByteArray | None:
        """Toolbars and docks (QMainWindow.saveState)."""
        return self._bytes(_WINDOW_STATE)

    def set_window_state(self, data: QByteArray) -> None:
        self._settings.setValue(_WINDOW_STATE, data)

    def splitter_state(self, name: str) -> QByteArray | None:
        return self._bytes(_SPLITTER.format(name))

    def set_splitter_state(self, name: str, data: QByteArray) -> None:
        self._settings.setValue(_SPLITTER.format(name), data)

    # ------------------------------------------------------------------ sliders and model
    def quality(self) -> float | None:
        """The quality slider's value last time (0..1), or None."""
        return _unit_float(self._settings.value(_QUALITY))

    def set_quality(self, value: float) -> None:
        self._settings.setValue(_QUALITY, float(value))

    def second_slider(self, architecture: str) -> float | None:
        """The fidelity or strength last set for this architecture (0..1), or None."""
        return _unit_float(self._settings.value(_SECOND_SLIDER.format(architecture)))

    def set_second_slider(self, architecture: str, value: float) -> None:
        self._settings.setValue(_SECOND_SLIDER.format(architecture), float(value))

    def whole_photo(self) -> WholePhotoSettings | None:
        """The output scale and background enhancement chosen last time, or None."""
        value = self.json_value(_WHOLE_PHOTO)
        try:
            return WholePhotoSettings(**value) if isinstance(value, dict) else None
        except (StudioError, TypeError):
            return None

    def set_whole_photo(self, settings: WholePhotoSettings) -> None:
        self.set_json_value(_WHOLE_PHOTO, {"upscale": settings.upscale, "background": settings.background})

    def model(self) -> str | None:
        """The restorer chosen last time (a name; whether it is still installed is the model picker's to say)."""
        value = self._settings.value(_MODEL)
        return value if isinstance(value, str) and value else None

    def set_model(self, name: str) -> None:
        self._settings.setValue(_MODEL, name)

    # ------------------------------------------------------------------ view and first run
    def face_boxes_shown(self) -> bool:
        """Whether the face boxes are drawn on the before (yes until the user hides them)."""
        return _bool(self._settings.value(_FACE_BOXES), True)

    def set_face_boxes_shown(self, shown: bool) -> None:
        self._settings.setValue(_FACE_BOXES, bool(shown))

    def public_models_note_shown(self) -> bool:
        """Whether the note about the public face models was shown (it is shown on the first run only)."""
        return _bool(self._settings.value(_MODELS_NOTE), False)

    def set_public_models_note_shown(self) -> None:
        self._settings.setValue(_MODELS_NOTE, True)

    # ------------------------------------------------------------------ files and folders
    def recent_files(self) -> list[Path]:
        """Photos opened lately, newest first: at most MAX_RECENT_FILES, only those that still exist."""
        try:
            stored = json.loads(str(self._settings.value(_RECENT, "[]")))
        except ValueError:
            return []
        if not isinstance(stored, list):
            return []
        paths = [Path(item) for item in stored if isinstance(item, str) and item]
        return [path for path in paths if path.is_file()][:MAX_RECENT_FILES]

    def add_recent_file(self, path: Path) -> None:
        """Put `path` first in the recent files (once)."""
        path = Path(path).absolute()
        others = [item for item in self.recent_files() if item != path]
        self._write_recent([path, *others])

    def remove_recent_file(self, path: Path) -> None:
        self._write_recent([item for item in self.recent_files() if item != Path(path).absolute()])

    def clear_recent_files(self) -> None:
        self._write_recent([])

    def _write_recent(self, paths: list[Path]) -> None:
        self._settings.setValue(_RECENT, json.dumps([str(path) for path in paths[:MAX_RECENT_FILES]]))

    def folder(self, purpose: str) -> Path | None:
        """The folder last used for `purpose` (OPEN_FOLDER, EXPORT_FOLDER, …) if it still exists."""
        value = self._settings.value(_FOLDER.format(purpose))
        return Path(value) if isinstance(value, str) and value and Path(value).is_dir() else None

    def set_folder(self, purpose: str, path: str | Path) -> None:
        self._settings.setValue(_FOLDER.format(purpose), str(path))

    # ------------------------------------------------------------------ small structured values
    def json_value(self, key: str) -> object:
        """A value stored with `set_json_value` (None when absent or unreadable)."""
        try:
            return json.loads(str(self._settings.value(key, "null")))
        except ValueError:
            return None

    def set_json_value(self, key: str, value: object) -> None:
        self._settings.setValue(key, json.dumps(value))
