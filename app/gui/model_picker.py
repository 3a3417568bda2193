"""The restorer picker of the main window: IQPFR or an installed public model (remembered in the settings store)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox

from app.gui.settings_store import SettingsStore
from app.model import DEFAULT_WEIGHTS_FILE
from app.restorers import RestorerDescriptor, Slider
from app.restorers.store import IQPFR_NAME, installed_models

_MANAGE = "\x00manage"  # the "Manage models…" entry (no model has this name)


@dataclass(frozen=True)
class SliderTexts:
    title: str
    left: str
    right: str
    tooltip: str


STRENGTH_TEXTS = SliderTexts(
    "Strength",
    "Original",
    "Fully restored",
    "How much of the restored face replaces the photo's own face: 0 = the original, 1 = fully restored. "
    "The model ran once when the photo was opened; moving this only blends.",
)
CODEFORMER_TEXTS = SliderTexts(
    "Fidelity (w)",
    "More restoration",
    "Closer to original",
    "CodeFormer's fidelity weight w: towards 0 it redraws the face from its codebook, towards 1 it keeps the "
    "photo's structure and identity. Each change runs the model again.",
)


def second_slider_texts(descriptor: RestorerDescriptor | None) -> SliderTexts | None:
    """What the window's second slider means for a public model; None for IQPFR (the window's own texts)."""
    if descriptor is None or descriptor.slider is Slider.QUALITY:
        return None
    return STRENGTH_TEXTS if descriptor.has_strength else CODEFORMER_TEXTS


def slow_on_cpu_hint(descriptor: RestorerDescriptor | None, device: str, seconds_per_face: float | None) -> str:
    """'GFPGAN is slow on the CPU (~4 s per face)' for a public model running without a GPU, else ''."""
    if descriptor is None or descriptor.slider is Slider.QUALITY or not device.startswith("CPU"):
        return ""
    cost = f"~{seconds_per_face:.0f} s per face here" if seconds_per_face else "several seconds per face"
    return f"{descriptor.architecture} is slow on the CPU ({cost}); a GPU makes it fast."


def saved_model() -> str:
    """The model chosen last time, if it is still installed; else IQPFR."""
    value = SettingsStore().model() or IQPFR_NAME
    names = {model.name for model in installed_models()}
    return value if value == IQPFR_NAME or value in names else IQPFR_NAME


class ModelPicker(QComboBox):
    model_chosen = Signal(str)  # IQPFR_NAME, a catalogue name or a file name in the models folders
    manage_requested = Signal()

    def __init__(self, current: str = IQPFR_NAME, parent=None) -> None:
        super().__init__(parent)
        self.setToolTip(
            "Face restorer: IQPFR, or a public model you have added or downloaded (compare them on the same photo)"
        )
        self._current = current
        self.refresh()
        self.activated.connect(self._on_activated)

    @property
    def current_model(self) -> str:
        return self._current

    def refresh(self) -> None:
        """Rebuild the list from the models folders (after the model manager changed them)."""
        self.blockSignals(True)
        self.clear()
        self.addItem("IQPFR (this app's model)", IQPFR_NAME)
        for model in installed_models():
            if model.path.name == DEFAULT_WEIGHTS_FILE:
                continue
            label = model.entry.title if model.entry else f"{model.name} (added file)"
            self.addItem(label, model.name)
        if self.findData(self._current) < 0:  # a model file given by path
            self.addItem(f"{Path(self._current).name} (file)", self._current)
        self.insertSeparator(self.count())
        self.addItem("Manage models…", _MANAGE)
        index = self.findData(self._current)
        self.setCurrentIndex(index if index >= 0 else 0)
        self.blockSignals(False)

    def _on_activated(self, index: int) -> None:
        chosen = self.itemData(index)
        if chosen == _MANAGE:
            self.setCurrentIndex(max(self.findData(self._current), 0))
            self.manage_requested.emit()
            return
        if chosen:
            self.choose(chosen)

    def choose(self, model: str) -> None:
        """Restore with `model` (an installed one) from now on, as if the user picked it here (remembered)."""
        if model == self._current:
            return
        self._current = model
        self.refresh()
        SettingsStore().set_model(model)
        self.model_chosen.emit(model)
