"""The whole-photo settings in the window, the batch dialog and Export all: the output scale (1×, 2×, 4×) and
"Enhance background" (Real-ESRGAN for everything that is not a face)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QWidget

from app.upscaling.whole_photo import NO_BACKGROUND, REALESRGAN, SCALES, WholePhotoSettings

UPSCALE_TOOLTIP = (
    "Size of the result: 1, 2 or 4 times the photo's. The faces are restored as always and pasted at that size; "
    "without Enhance background the rest is enlarged plainly (bicubic)."
)
ENHANCE_TOOLTIP = (
    "Clean everything that is not a face (print grain, blur, JPEG blocks in hair, clothes and background) with "
    "Real-ESRGAN x4plus, also at 1×. The window's preview is enhanced from a screen-sized copy first; saving and "
    "exporting enhance the full-size photo, which takes minutes per megapixel on a CPU."
)


class WholePhotoWidget(QWidget):
    """An Upscale 1×/2×/4× choice and an Enhance background switch; `changed` fires on the user's changes."""

    changed = Signal()

    def __init__(self, settings: WholePhotoSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.upscale_combo = QComboBox()
        for scale in SCALES:
            self.upscale_combo.addItem(f"Upscale {scale}×", scale)
        self.enhance_check = QCheckBox("Enhance background")
        self.upscale_combo.setToolTip(UPSCALE_TOOLTIP)
        self.enhance_check.setToolTip(ENHANCE_TOOLTIP)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.upscale_combo)
        layout.addWidget(self.enhance_check)
        self.set_settings(settings or WholePhotoSettings())
        self.upscale_combo.currentIndexChanged.connect(self.changed)
        self.enhance_check.toggled.connect(self.changed)

    def settings(self) -> WholePhotoSettings:
        background = REALESRGAN if self.enhance_check.isChecked() else NO_BACKGROUND
        return WholePhotoSettings(self.upscale_combo.currentData(), background)

    def set_settings(self, settings: WholePhotoSettings) -> None:
        """Show `settings` (a programme's change: `changed` is not emitted)."""
        for widget in (self.upscale_combo, self.enhance_check):
            widget.blockSignals(True)
        self.upscale_combo.setCurrentIndex(SCALES.index(settings.upscale))
        self.enhance_check.setChecked(settings.enhanced)
        for widget in (self.upscale_combo, self.enhance_check):
            widget.blockSignals(False)
