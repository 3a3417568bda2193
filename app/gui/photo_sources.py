"""Where photos come from besides the Open dialog: a folder's photos, an image or files on the clipboard, and the
File → Open recent menu."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QMimeData, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMenu, QWidget

from app.batch_scan import scan_input
from app.errors import StudioError
from app.fileutil import atomic_target
from app.gui.settings_store import SettingsStore
from app.paths import cache_dir

PASTED_FOLDER = "pasted"
PASTED_KEEP_DAYS = 30  # pasted images older than this are removed from the cache when the next one is pasted
MAX_NAMED_SKIPS = 5  # files named in the message about a folder; the rest are counted


@dataclass
class FolderPhotos:
    photos: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)

    def message(self, folder: Path) -> str:
        """What was left out of the folder, for the user ('' when nothing was)."""
        if not self.skipped:
            return ""
        named = "; ".join(f"{name} ({reason})" for name, reason in self.skipped[:MAX_NAMED_SKIPS])
        more = len(self.skipped) - MAX_NAMED_SKIPS
        count = f"{len(self.skipped)} item{'s' if len(self.skipped) != 1 else ''}"
        return (
            f"Opened {len(self.photos)} photo{'s' if len(self.photos) != 1 else ''} from '{folder.name}'; "
            f"left out {count}: {named}" + (f"; and {more} more." if more > 0 else ".")
        )


def folder_photos(folder: Path) -> FolderPhotos:
    """The supported photos directly in `folder` (sorted, not in its subfolders), and what was left out and why."""
    try:
        scan = scan_input(folder, None, include_subfolders=False)
    except OSError as exc:
        raise StudioError(f"Could not read the folder '{folder.name}': {exc.strerror or exc}.") from exc
    skipped = [(Path(item.path).name, item.reason) for item in scan.not_processed]
    return FolderPhotos(list(scan.photos), skipped)


def clipboard_files(mime: QMimeData | None) -> list[Path]:
    """Local files on the clipboard (copied in a file manager)."""
    if mime is None or not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile() and Path(url.toLocalFile()).is_file()]


def save_pasted_image(image: QImage, now: float | None = None) -> Path:
    """Write a pasted image as 'Pasted image HH-MM-SS.png' in the per-user cache (a new name if that one is
    taken), atomically, and return its path. Pasted images older than PASTED_KEEP_DAYS are removed first, so the
    cache does not grow without end."""
    if image.isNull():
        raise StudioError("The clipboard holds no image to paste.")
    folder = cache_dir() / PASTED_FOLDER
    remove_old_pasted_images(folder, time.time() if now is None else now)
    stamp = time.strftime("%H-%M-%S", time.localtime(now))
    path = folder / f"Pasted image {stamp}.png"
    number = 2
    while path.exists():
        path = folder / f"Pasted image {stamp} ({number}).png"
        number += 1
    try:
        with atomic_target(path) as tmp:
            if not image.save(str(tmp)):  # PNG, from the name
                raise StudioError(f"Could not save the pasted image in {folder}.")
    except OSError as exc:
        raise StudioError(f"Could not save the pasted image in {folder}: {exc.strerror or exc}.") from exc
    return path


def remove_old_pasted_images(folder: Path, now: float, keep_days: float = PASTED_KEEP_DAYS) -> list[Path]:
    """Delete the app's own 'Pasted image ….png' files in `folder` last modified over `keep_days` ago; other files
    are never touched, and a file that cannot be removed is left. Returns what was removed."""
    removed: list[Path] = []
    try:
        candidates = list(folder.glob("Pasted image *.png"))
    except OSError:
        return removed
    for path in candidates:
        try:
            if path.is_file() and now - path.stat().st_mtime > keep_days * 86400:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed


class RecentFilesMenu(QMenu):
    """File → Open recent: the photos opened lately that still exist (newest first), and 'Clear list'."""

    file_chosen = Signal(object)  # Path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Open &recent", parent)
        self.aboutToShow.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.clear()
        recent = SettingsStore().recent_files()
        for index, path in enumerate(recent):
            prefix = f"&{index + 1} " if index < 9 else "1&0 "
            action = self.addAction(prefix + path.name.replace("&", "&&"))
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _checked=False, path=path: self.file_chosen.emit(path))
        if not recent:
            self.addAction("No recent photos").setEnabled(False)
        self.addSeparator()
        clear = self.addAction("&Clear list")
        clear.setEnabled(bool(recent))
        clear.triggered.connect(self._clear)

    def _clear(self) -> None:
        SettingsStore().clear_recent_files()
        self.refresh()
