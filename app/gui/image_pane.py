"""A captioned image view that scales to fit and can outline face boxes."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.gui.convert import rgb_to_qimage


class _Canvas(QWidget):
    def __init__(self, placeholder: str) -> None:
        super().__init__()
        self.placeholder = placeholder
        self.pixmap: QPixmap | None = None
        self.boxes: list[tuple[float, float, float, float]] = []
        self.setMinimumSize(240, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def image_rect(self) -> QRectF:
        if self.pixmap is None:
            return QRectF()
        scale = min(self.width() / self.pixmap.width(), self.height() / self.pixmap.height())
        width, height = self.pixmap.width() * scale, self.pixmap.height() * scale
        return QRectF((self.width() - width) / 2, (self.height() - height) / 2, width, height)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(40, 40, 44))
        if self.pixmap is None:
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        target = self.image_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(target, self.pixmap, QRectF(self.pixmap.rect()))
        scale = target.width() / self.pixmap.width()
        painter.setPen(QPen(QColor(60, 220, 120), 2))
        for x0, y0, x1, y1 in self.boxes:
            painter.drawRect(QRectF(target.x() + x0 * scale, target.y() + y0 * scale,
                                    (x1 - x0) * scale, (y1 - y0) * scale))


class ImagePane(QWidget):
    def __init__(self, title: str, placeholder: str) -> None:
        super().__init__()
        self.title = title
        self.caption = QLabel(title)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setWordWrap(True)
        self.canvas = _Canvas(placeholder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.caption)
        layout.addWidget(self.canvas, 1)

    def set_image(self, rgb: np.ndarray | None, boxes=()) -> None:
        self.canvas.pixmap = None if rgb is None else QPixmap.fromImage(rgb_to_qimage(rgb))
        self.canvas.boxes = list(boxes)
        self.canvas.update()

    def set_caption(self, detail: str) -> None:
        self.caption.setText(f"<b>{self.title}</b><br>{detail}" if detail else f"<b>{self.title}</b>")

    @property
    def has_image(self) -> bool:
        return self.canvas.pixmap is not None

    @property
    def box_count(self) -> int:
        return len(self.canvas.boxes)
