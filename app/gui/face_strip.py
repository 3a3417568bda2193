"""The face strip under the compare view: one card per face of the open photo, with its aligned face before and
after restoration, its measured quality before → after (app.face_scores: the restored face as pasted back, the
numbers `iqpfr score` prints), and a tick box that includes it in the result (or leaves it out,
as for bystanders in a crowd photo). Clicking a card asks to zoom to that face; "Add a missed face…" asks the
window to let the user draw a box around a face the detector did not find.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGraphicsOpacityEffect,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.gui.convert import rgb_to_qimage
from app.pipeline import is_included
from app.quality import MEASURED, SCALE, QualityScore
from app.session import PhotoPrepared, PhotoRestored

THUMB = 64  # screen pixels per thumbnail side
LEFT_OUT_OPACITY = 0.3  # the after thumbnail of a face left out is drawn faded
NO_FACES_TEXT = (
    'No faces found. If the photo has one the detector missed, use "Add a missed face…" and drag a box around it.'
)
ADD_FACE_TOOLTIP = "Drag a box around a face the detector missed; its eyes, nose and mouth are found inside the box."


def thumbnail(rgb: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(rgb_to_qimage(rgb)).scaled(
        THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )


def score_text(before: QualityScore | None, after: QualityScore | None) -> str:
    """ "0.31 → 0.58": the measured qualities before → after (0 worst … 1 best); "…" for one not known yet."""

    def value(score: QualityScore | None) -> str:
        return f"{score.normalized:.2f}" if score is not None else "…"

    return f"{value(before)} → {value(after)}"


class FaceCard(QFrame):
    """One face: before and after thumbnails, its scores, and whether it is included."""

    toggled = Signal(int, bool)  # face index, included
    activated = Signal(int)  # face index: clicked

    def __init__(
        self,
        index: int,
        before: np.ndarray,
        before_score: QualityScore | None,
        included: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.index = index
        self.before_score = before_score
        self.after_score: QualityScore | None = None
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)  # no taller than its contents

        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click to zoom to this face")
        self.before_thumb, self.after_thumb = QLabel(), QLabel()
        for label in (self.before_thumb, self.after_thumb):
            label.setFixedSize(THUMB, THUMB)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setStyleSheet("background:#28282c;")
        self.before_thumb.setPixmap(thumbnail(before))
        self.after_thumb.setText("…")
        self._fade = QGraphicsOpacityEffect(self.after_thumb)
        self.after_thumb.setGraphicsEffect(self._fade)
        self.include_box = QCheckBox(f"Face {index + 1}")
        self.include_box.setToolTip(
            "Ticked: this face's restoration goes into the result; unticked: it stays as in the original photo"
        )
        self.include_box.setChecked(included)
        self.include_box.toggled.connect(self._on_toggled)
        self.score_label = QLabel()
        self.score_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        thumbs = QHBoxLayout()
        thumbs.setSpacing(2)
        thumbs.addWidget(self.before_thumb)
        thumbs.addWidget(self.after_thumb)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(thumbs)
        layout.addWidget(self.include_box)
        layout.addWidget(self.score_label)
        self._show_state()

    @property
    def included(self) -> bool:
        return self.include_box.isChecked()

    def set_included(self, included: bool) -> None:
        """Tick or untick without telling anyone (the window's own record changed)."""
        self.include_box.blockSignals(True)
        self.include_box.setChecked(included)
        self.include_box.blockSignals(False)
        self._show_state()

    def set_after(self, face: np.ndarray | None, score: QualityScore | None) -> None:
        self.after_score = score
        if face is None:
            self.after_thumb.setPixmap(QPixmap())
            self.after_thumb.setText("…")
        else:
            self.after_thumb.setPixmap(thumbnail(face))
        self._show_state()

    def _on_toggled(self, included: bool) -> None:
        self._show_state()
        self.toggled.emit(self.index, included)

    def _show_state(self) -> None:
        self._fade.setOpacity(1.0 if self.included else LEFT_OUT_OPACITY)
        self.score_label.setText(score_text(self.before_score, self.after_score))
        labels = [score.label() for score in (self.before_score, self.after_score) if score is not None]
        state = "included in the result" if self.included else "left out: kept as in the original"
        self.score_label.setToolTip(
            f"Face {self.index + 1}, {state}\n"
            + "\n".join(f"{when}: {label}" for when, label in zip(("before", "after"), labels, strict=False))
        )

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.activated.emit(self.index)
        super().mouseReleaseEvent(event)


class FaceStrip(QWidget):
    """A row of FaceCards for the open photo (hidden while no photo is open)."""

    include_changed = Signal(object)  # frozenset[int]: the faces ticked
    face_activated = Signal(int)  # a face clicked: zoom to it
    add_face_requested = Signal()  # the user wants to draw a box around a missed face

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cards: list[FaceCard] = []
        self.summary = QLabel()
        self.add_button = QPushButton("Add a missed face…")
        self.add_button.setToolTip(ADD_FACE_TOOLTIP)
        self.add_button.clicked.connect(self.add_face_requested)
        self.empty_label = QLabel(NO_FACES_TEXT)
        self.empty_label.setWordWrap(True)
        self._row = QHBoxLayout()
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.addStretch(1)
        row_widget = QWidget()
        row_widget.setLayout(self._row)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidget(row_widget)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(QLabel("<b>Faces</b>"))
        header.addSpacing(8)
        header.addWidget(self.summary, 1)
        header.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.scroll_area)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.show_prepared(None)

    # ------------------------------------------------------------------ filling
    def show_prepared(self, result: PhotoPrepared | None, include: frozenset[int] | None = None) -> None:
        """A card per face of the opened photo (after thumbnails to come); None: no photo, the strip hides."""
        for card in self.cards:
            self._row.removeWidget(card)
            card.setParent(None)
            card.deleteLater()
        self.cards = []
        if result is None:
            self.hide()
            return
        for index, face in enumerate(result.face_images):
            score = result.face_scores[index] if index < len(result.face_scores) else None
            card = FaceCard(index, face, score, is_included(index, include))
            card.toggled.connect(self._on_card_toggled)
            card.activated.connect(self.face_activated)
            self._row.insertWidget(index, card)
            self.cards.append(card)
        self.empty_label.setVisible(not self.cards)
        self.scroll_area.setVisible(bool(self.cards))
        if self.cards:  # tall enough for a card and the scroll bar: the strip never scrolls up and down
            self.scroll_area.setFixedHeight(
                self.cards[0].sizeHint().height() + self.scroll_area.horizontalScrollBar().sizeHint().height() + 4
            )
        self._update_summary()
        self.show()

    def show_restored(self, result: PhotoRestored) -> None:
        """The restored faces and their scores (faces added since keep "…" until their restoration comes)."""
        faces = result.faces.faces if result.faces is not None else []
        for card in self.cards:
            index = card.index
            card.set_after(
                faces[index] if index < len(faces) else None,
                result.face_scores[index] if index < len(result.face_scores) else None,
            )

    def set_include(self, include: frozenset[int] | None) -> None:
        """Tick the faces in `include` (None: all), without emitting include_changed."""
        for card in self.cards:
            card.set_included(is_included(card.index, include))
        self._update_summary()

    @property
    def included(self) -> frozenset[int]:
        return frozenset(card.index for card in self.cards if card.included)

    def _on_card_toggled(self, _index: int, _included: bool) -> None:
        self._update_summary()
        self.include_changed.emit(self.included)

    def _update_summary(self) -> None:
        total = len(self.cards)
        if not total:
            self.summary.setText("")
            return
        ticked = len(self.included)
        self.summary.setText(
            f"{ticked} of {total} included · tick a face to include it, click it to zoom · "
            f"{MEASURED} before → after ({SCALE})"
        )
