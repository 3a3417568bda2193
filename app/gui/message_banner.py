"""The window's message strip above the photos: what went wrong, in words, until it no longer applies.

Two kinds of message: about the photo on show (a failed open, no faces), which go when another photo is shown,
and lasting ones (files that could not be added), which stay until the next files are added or the user closes
the strip, so that selecting the first added photo does not hide why the others were left out.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget


class MessageBanner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lasting: list[str] = []
        self._photo: list[str] = []
        self.setObjectName("messageBanner")
        # dark red with white text reads the same in light and dark palettes
        self.setStyleSheet(
            "#messageBanner { background:#5a1d1d; } #messageBanner QLabel { color:white; } "
            "#messageBanner QToolButton { color:white; border:none; font-weight:bold; }"
        )
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Close this message")
        self.close_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button)
        self.hide()

    def text(self) -> str:
        return self.label.text()

    def show_message(self, message: str, lasting: bool = False) -> None:
        """Show `message` below those already shown; a `lasting` one outlives the photo on show."""
        (self._lasting if lasting else self._photo).append(message)
        self._refresh()

    def clear_photo_messages(self) -> None:
        """Another photo is shown: messages about the last one go; lasting ones stay."""
        self._photo.clear()
        self._refresh()

    def clear_lasting_messages(self) -> None:
        """New files are being added: what was said about earlier ones goes."""
        self._lasting.clear()
        self._refresh()

    def dismiss(self) -> None:
        self._lasting.clear()
        self._photo.clear()
        self._refresh()

    def _refresh(self) -> None:
        messages = self._lasting + self._photo
        self.label.setText("\n".join(messages))
        self.setVisible(bool(messages))
