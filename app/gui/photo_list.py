"""The list of open photos: each with a thumbnail, its name and what happened to it (opening, restoring, the faces
restored, no faces, failed); a photo is taken off the list with its context menu or the Delete key (the file is
never touched). While it is empty it says how to open some (in the palette's placeholder colour, so it reads in
light and dark themes).

Thumbnails are read off the GUI thread (`ThumbnailReader`, Qt's image reader at a reduced size, EXIF orientation
applied); a photo Qt cannot read gets its thumbnail from the window's own preview once it is opened.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon, QImage, QImageReader, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from app.gui.convert import rgb_to_qimage

EMPTY_LIST_TEXT = "No photos open.\n\nOpen photos or a folder from the File menu, paste an image, or drop files here."
THUMBNAIL = 48  # px, the longer side of a thumbnail
PATH_ROLE = Qt.ItemDataRole.UserRole
STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
THUMBNAIL_ROLE = Qt.ItemDataRole.UserRole + 2  # True once the item shows its photo's thumbnail


class PhotoStatus(Enum):
    """What happened to a photo in the list; the text is shown under its name."""

    NOT_OPENED = ""
    OPENING = "opening…"
    RESTORING = "restoring…"
    RESTORED = "restored"
    NO_FACES = "no faces found"
    FAILED = "failed"


def scaled_thumbnail(image: QImage) -> QImage:
    return image.scaled(
        THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )


def read_thumbnail(path: str) -> QImage:
    """A thumbnail of the photo at `path`, read at a reduced size where the format allows (JPEG); a null image when
    Qt cannot read it."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)  # EXIF orientation, as the photo is shown
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > 4 * THUMBNAIL:
        scale = 4 * THUMBNAIL / max(size.width(), size.height())
        reader.setScaledSize(QSize(max(1, round(size.width() * scale)), max(1, round(size.height() * scale))))
    image = reader.read()
    return scaled_thumbnail(image) if not image.isNull() else image


class ThumbnailReader(QObject):
    """Reads thumbnails on its own thread (app.gui.threads): `read(path)` in, `thumbnail_read(path, image)` out."""

    thumbnail_read = Signal(str, QImage)

    @Slot(str)
    def read(self, path: str) -> None:
        image = read_thumbnail(path)
        if not image.isNull():
            self.thumbnail_read.emit(path, image)


class PhotoList(QListWidget):
    thumbnail_wanted = Signal(str)  # a path whose thumbnail is to be read (the window's ThumbnailReader)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.empty_text = EMPTY_LIST_TEXT
        self.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.setSpacing(1)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)  # the actions added to the list
        self._blank = QPixmap(THUMBNAIL, THUMBNAIL)
        self._blank.fill(Qt.GlobalColor.transparent)

    # ------------------------------------------------------------------ photos
    def add_photo(self, path: Path) -> QListWidgetItem:
        item = QListWidgetItem(QIcon(self._blank), "")
        item.setData(PATH_ROLE, str(path))
        self.addItem(item)
        self.set_status(item, PhotoStatus.NOT_OPENED)
        self.thumbnail_wanted.emit(str(path))
        return item

    def paths(self) -> list[Path]:
        return [path_of(self.item(row)) for row in range(self.count())]

    def remove_current(self) -> Path | None:
        """Take the current photo off the list (the next one, else the one before, becomes current)."""
        item = self.currentItem()
        if item is None:
            return None
        self.takeItem(self.row(item))
        return path_of(item)

    # ------------------------------------------------------------------ what each photo shows
    def set_status(self, item: QListWidgetItem, status: PhotoStatus, detail: str = "") -> None:
        """Show `status` (and `detail`, e.g. '2 faces' or why it failed, in its tooltip) under the photo's name."""
        path = path_of(item)
        shown = f"{status.value} · {detail}" if detail and status is PhotoStatus.RESTORED else status.value
        item.setData(STATUS_ROLE, status)
        item.setText(f"{path.name}\n{shown}" if shown else path.name)
        item.setToolTip("\n".join(filter(None, (str(path), shown if status is not PhotoStatus.FAILED else "", detail))))

    def set_thumbnail(self, path: str, image: QImage) -> None:
        """The thumbnail of every item of `path` (read off the GUI thread, or made from the shown preview)."""
        icon = QIcon(QPixmap.fromImage(image))
        for item in self._items_of(path):
            item.setIcon(icon)
            item.setData(THUMBNAIL_ROLE, True)

    def set_thumbnail_from_rgb(self, path: Path, rgb: np.ndarray) -> None:
        """The thumbnail of `path` from its preview (8-bit RGB), where Qt could not read the file itself."""
        if any(not item.data(THUMBNAIL_ROLE) for item in self._items_of(str(path))):
            self.set_thumbnail(str(path), scaled_thumbnail(rgb_to_qimage(rgb)))

    def _items_of(self, path: str) -> list[QListWidgetItem]:
        return [self.item(row) for row in range(self.count()) if self.item(row).data(PATH_ROLE) == path]

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().paintEvent(event)
        if self.count():
            return
        painter = QPainter(self.viewport())
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(
            self.viewport().rect().adjusted(12, 12, -12, -12),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
            self.empty_text,
        )


def path_of(item: QListWidgetItem) -> Path:
    return Path(item.data(PATH_ROLE))


def status_of(item: QListWidgetItem) -> PhotoStatus:
    status = item.data(STATUS_ROLE)
    return status if isinstance(status, PhotoStatus) else PhotoStatus.NOT_OPENED


def has_thumbnail(item: QListWidgetItem) -> bool:
    """Whether the item shows a thumbnail of its photo (not the blank one it starts with)."""
    return bool(item.data(THUMBNAIL_ROLE))
