"""The controls under the photos: the model picker, the target-quality slider and the second slider (fidelity
for IQPFR and CodeFormer, strength for GFPGAN/RestoreFormer), each with what its ends mean and its value.

The quality slider has one step per quality bin of the model: IQPFR turns the score s into bin floor(bins·s)
and the Transformer (and the decoder's fusion) see only the bin, so scores within a bin give the same result.
Each step is the lowest score of its bin (0.0, 0.1 … 0.9 for 10 bins). A click on a slider's track moves the
handle there (not a page at a time).

Keys, the same on both sliders: an arrow moves by KEY_STEP of the range, Page Up/Down by PAGE_STEP, Home/End to the
ends; a focused slider keeps these keys (Page Down does not go to the next photo then). Reset puts both back to
their defaults.

Below the sliders, the whole photo: the output scale (1×, 2×, 4×) and "Enhance background" (Real-ESRGAN for
everything that is not a face), with the estimated time a full-size result takes when that is slow.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QProxyStyle, QPushButton, QSlider, QStyle, QWidget

from app.gui.model_picker import SliderTexts, second_slider_texts
from app.gui.whole_photo_widget import WholePhotoWidget
from app.gui.worker import ModelReady
from app.model import IQPFRConfig
from app.model.checkpoint import DEFAULT_FIDELITY
from app.model.transformer import quality_to_bin
from app.pipeline import DEFAULT_QUALITY
from app.upscaling.whole_photo import WholePhotoSettings

DEFAULT_QUALITY_BINS = IQPFRConfig().quality_bins  # until the model says how many it has
SECOND_SLIDER_STEPS = 100
KEY_STEP = 0.1  # of a slider's range, per arrow key (one quality level of IQPFR's ten)
PAGE_STEP = 0.3  # of a slider's range, per Page Up/Down
SLIDER_KEYS = frozenset(
    {Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down}
    | {Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End}
)
QUALITY_TITLE = "Target quality"
QUALITY_ENDS = ("Lower", "Higher")
FIDELITY_TEXTS = SliderTexts(
    "Fidelity",
    "More restoration",
    "Closer to original",
    'How closely the result keeps the photo\'s own face: towards "More restoration" the model redraws it from '
    'what it learned (0), towards "Closer to original" it keeps the photo\'s structure and identity (1).',
)
NO_FIDELITY_TOOLTIP = (
    "This model's weights have no fidelity control (an older weights format), so the fidelity has no effect."
)
WHOLE_PHOTO_TITLE = "Whole photo"
_QUALITY_WORDS = ((0.2, "very low"), (0.4, "low"), (0.6, "medium"), (0.8, "high"), (1.01, "very high"))


def quality_for_step(step: int, bins: int) -> float:
    """The score a slider step sends: the lowest score the model puts in bin `step` (k / bins; nudged up by a
    hair where float32 rounding would put k / bins in the bin below)."""
    for value in (step / bins, (step + 1e-3) / bins):
        if int(quality_to_bin(value, bins)) == step:
            return value
    raise ValueError(f"no score maps to bin {step} of {bins}")


def step_for_quality(quality: float, bins: int) -> int:
    """The slider step (= the model's bin) of a score."""
    return int(quality_to_bin(quality, bins))


def quality_words(quality: float) -> str:
    """'0.90 · very high quality target'."""
    words = next(words for limit, words in _QUALITY_WORDS if quality < limit)
    return f"{quality:.2f} · {words} quality target"


def quality_tooltip(bins: int) -> str:
    return (
        f"The target quality score (0 = worst, 1 = best) that the IQPFR Transformer is conditioned on: it "
        f"predicts the face it learned for faces rated at that quality. The model tells {bins} levels apart "
        f"(steps of {1 / bins:.2f}: every score from {quality_for_step(bins - 1, bins):.2f} to 1 gives the same "
        "result), so the slider has one step per level."
    )


class _JumpStyle(QProxyStyle):
    """The application's style, except that a left click on a slider's track moves the handle there."""

    def styleHint(self, hint, option=None, widget=None, return_data=None):  # noqa: N802 - Qt naming
        if hint == QStyle.StyleHint.SH_Slider_AbsoluteSetButtons:
            return Qt.MouseButton.LeftButton.value
        return super().styleHint(hint, option, widget, return_data)


class JumpSlider(QSlider):
    """A horizontal QSlider that jumps to where its track is clicked (and can be dragged from there), and that keeps
    its keys while it has the focus, before the window's shortcuts (Page Down: next photo) see them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self._style = _JumpStyle()  # kept: a widget does not own the style it is given
        self._style.setParent(self)
        self.setStyle(self._style)

    def set_steps(self, positions: int) -> None:
        """Key steps for a slider of `positions` steps from end to end: KEY_STEP and PAGE_STEP of it, at least 1."""
        self.setSingleStep(max(1, round(KEY_STEP * positions)))
        self.setPageStep(max(1, round(PAGE_STEP * positions)))

    def event(self, event) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and event.key() in SLIDER_KEYS
            and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        ):
            event.accept()  # the key comes to the slider as a key press
            return True
        return super().event(event)


def _label(text: str = "", width_of: str = "") -> QLabel:
    label = QLabel(text)
    if width_of:  # the value labels keep their width, so the sliders do not jump as the text changes
        label.setMinimumWidth(label.fontMetrics().horizontalAdvance(width_of) + 4)
    return label


class ControlsPanel(QWidget):
    """Model picker (when there is one), target quality and fidelity/strength; `settings_changed` fires on every
    move of either slider by the user (the window debounces it)."""

    settings_changed = Signal()
    whole_photo_changed = Signal()  # the output scale or the background enhancement, changed by the user

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ready: ModelReady | None = None
        self._bins = DEFAULT_QUALITY_BINS

        self.quality_title = _label(QUALITY_TITLE)
        self.quality_low, self.quality_high = _label(QUALITY_ENDS[0]), _label(QUALITY_ENDS[1])
        self.quality_slider = JumpSlider()
        self.quality_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.quality_slider.setTickInterval(1)
        self.quality_label = _label(width_of=quality_words(0.0))
        self._set_bins(DEFAULT_QUALITY_BINS, DEFAULT_QUALITY)
        self.quality_slider.valueChanged.connect(self._on_quality_moved)

        self.fidelity_title = _label(FIDELITY_TEXTS.title)
        self.fidelity_left, self.fidelity_right = _label(FIDELITY_TEXTS.left), _label(FIDELITY_TEXTS.right)
        self.fidelity_slider = JumpSlider()
        self.fidelity_slider.setRange(0, SECOND_SLIDER_STEPS)
        self.fidelity_slider.set_steps(SECOND_SLIDER_STEPS)
        self.fidelity_slider.setValue(round(DEFAULT_FIDELITY * SECOND_SLIDER_STEPS))
        self.fidelity_slider.valueChanged.connect(self._on_second_moved)
        self.fidelity_label = _label(width_of="0.00 (default)")
        for widget in self._second_widgets():
            widget.setToolTip("Loading the model…")
            widget.setEnabled(False)  # until the model says whether it has a fidelity path

        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Put both sliders back to their defaults for this model")
        self.reset_button.clicked.connect(self.reset)
        self.whole_title = _label(WHOLE_PHOTO_TITLE)
        self.whole_widget = WholePhotoWidget()
        self.upscale_combo, self.enhance_check = self.whole_widget.upscale_combo, self.whole_widget.enhance_check
        self.estimate_label = _label()
        self.whole_widget.changed.connect(self._on_whole_photo_changed)
        whole_row = QHBoxLayout()
        whole_row.setContentsMargins(0, 0, 0, 0)
        whole_row.addWidget(self.whole_widget)
        whole_row.addWidget(self.estimate_label)
        whole_row.addStretch(1)

        self.model_title = _label("Model")
        self.model_title.hide()
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(4, 2, 4, 2)
        self._grid.setColumnStretch(2, 1)
        self._grid.addWidget(self.model_title, 0, 0)
        for row, widgets in ((1, self._quality_widgets()), (2, self._second_widgets())):
            for column, widget in enumerate(widgets):
                self._grid.addWidget(widget, row, column)
        self._grid.addWidget(self.reset_button, 1, 5, 2, 1, Qt.AlignmentFlag.AlignVCenter)
        self._grid.addWidget(self.whole_title, 3, 0)
        self._grid.addLayout(whole_row, 3, 1, 1, 4)
        for label in (self.quality_low, self.fidelity_left):
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._update_quality_label()
        self._update_second_label()

    def _quality_widgets(self) -> tuple[QWidget, ...]:
        return self.quality_title, self.quality_low, self.quality_slider, self.quality_high, self.quality_label

    def _second_widgets(self) -> tuple[QWidget, ...]:
        return self.fidelity_title, self.fidelity_left, self.fidelity_slider, self.fidelity_right, self.fidelity_label

    def set_model_picker(self, picker: QWidget) -> None:
        """Show the model picker above the sliders."""
        self.model_title.show()
        self._grid.addWidget(picker, 0, 1, 1, 2, Qt.AlignmentFlag.AlignLeft)

    # ------------------------------------------------------------------ values
    @property
    def quality_bins(self) -> int:
        return self._bins

    @property
    def quality(self) -> float:
        return quality_for_step(self.quality_slider.value(), self._bins)

    def set_quality(self, quality: float) -> None:
        """Put the slider on the step of `quality` (a programme's change: `settings_changed` is not emitted)."""
        self.quality_slider.blockSignals(True)
        self.quality_slider.setValue(step_for_quality(quality, self._bins))
        self.quality_slider.blockSignals(False)
        self._update_quality_label()

    @property
    def second_value(self) -> float:
        """The fidelity (IQPFR, CodeFormer) or strength (GFPGAN, RestoreFormer) slider's value, 0..1."""
        return self.fidelity_slider.value() / SECOND_SLIDER_STEPS

    def set_second_value(self, value: float) -> None:
        self.fidelity_slider.blockSignals(True)
        self.fidelity_slider.setValue(round(value * SECOND_SLIDER_STEPS))
        self.fidelity_slider.blockSignals(False)
        self._update_second_label()

    def _set_bins(self, bins: int, quality: float) -> None:
        self._bins = bins
        self.quality_slider.blockSignals(True)
        self.quality_slider.setRange(0, bins - 1)
        self.quality_slider.set_steps(bins)
        self.quality_slider.setValue(step_for_quality(quality, bins))
        self.quality_slider.blockSignals(False)
        for widget in self._quality_widgets():
            widget.setToolTip(quality_tooltip(bins))

    # ------------------------------------------------------------------ the model
    def show_model(self, ready: ModelReady, remembered_second: float | None = None) -> None:
        """Set the sliders up for what they mean with this model: IQPFR's quality steps and fidelity (disabled for
        weights without a fidelity path), or a public model's own second slider (its quality slider disabled).
        The second slider starts at `remembered_second` when given, else at the model's default."""
        self._ready = ready
        descriptor = ready.descriptor
        texts = second_slider_texts(descriptor)
        has_quality = texts is None
        if descriptor is not None and descriptor.quality_bins:
            self._set_bins(descriptor.quality_bins, self.quality)
        for widget in self._quality_widgets():
            widget.setEnabled(has_quality)
            if not has_quality:
                name = descriptor.architecture if descriptor is not None else "This model"
                widget.setToolTip(f"{name} has no quality score; this slider is for IQPFR.")
        if texts is None:
            texts = (
                FIDELITY_TEXTS
                if ready.has_fidelity
                else SliderTexts(FIDELITY_TEXTS.title, FIDELITY_TEXTS.left, FIDELITY_TEXTS.right, NO_FIDELITY_TOOLTIP)
            )
        start = remembered_second if remembered_second is not None and ready.has_second_slider else None
        self.set_second_value(ready.second_slider_default if start is None else start)
        for widget, text in (
            (self.fidelity_title, texts.title),
            (self.fidelity_left, texts.left),
            (self.fidelity_right, texts.right),
        ):
            widget.setText(text)
        for widget in self._second_widgets():
            widget.setToolTip(texts.tooltip)
            widget.setEnabled(ready.has_second_slider)
        self._update_quality_label()
        self._update_second_label()

    def reset(self) -> None:
        """Both sliders back to their defaults (the model's own second setting), as a move by the user."""
        self.set_quality(DEFAULT_QUALITY)
        ready = self._ready
        self.set_second_value(ready.second_slider_default if ready is not None else DEFAULT_FIDELITY)
        self.settings_changed.emit()

    # ------------------------------------------------------------------ the whole photo
    @property
    def whole_photo(self) -> WholePhotoSettings:
        return self.whole_widget.settings()

    def set_whole_photo(self, settings: WholePhotoSettings) -> None:
        """Show `settings` (a programme's change: `whole_photo_changed` is not emitted)."""
        self.whole_widget.set_settings(settings)
        self.show_estimate("")

    def show_estimate(self, text: str) -> None:
        """What the full-size result will cost ('full size: about 4 min on this CPU'), or '' to say nothing."""
        self.estimate_label.setText(text)

    def _on_whole_photo_changed(self) -> None:
        self.show_estimate("")
        self.whole_photo_changed.emit()

    # ------------------------------------------------------------------ moves and labels
    def _on_quality_moved(self, _value: int) -> None:
        self._update_quality_label()
        self.settings_changed.emit()

    def _on_second_moved(self, _value: int) -> None:
        self._update_second_label()
        self.settings_changed.emit()

    def _update_quality_label(self) -> None:
        self.quality_label.setText(quality_words(self.quality))

    def _update_second_label(self) -> None:
        ready = self._ready
        if ready is not None and not ready.has_second_slider:
            self.fidelity_label.setText("n/a")
            return
        is_default = (
            ready is not None
            and round(ready.second_slider_default * SECOND_SLIDER_STEPS) == self.fidelity_slider.value()
        )
        self.fidelity_label.setText(f"{self.second_value:.2f}" + (" (default)" if is_default else ""))
