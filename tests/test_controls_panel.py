"""The controls panel: the quality slider's steps are the model's quality bins, a click on a track jumps there, and
the labels say what the sliders do in words."""

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QStyle, QStyleOptionSlider

from app.gui.controls_panel import ControlsPanel, quality_for_step, step_for_quality
from app.gui.worker import ModelReady
from app.model import ModelInfo
from app.model.transformer import quality_to_bin
from app.restorers import RestorerDescriptor, Slider


def _ready(bins=10, has_fidelity=True, default_fidelity=1.0, slider=Slider.QUALITY, strength=False):
    descriptor = RestorerDescriptor(
        "IQPFR" if slider is Slider.QUALITY else "StandIn",
        128,
        slider,
        quality_bins=bins if slider is Slider.QUALITY else None,
        has_fidelity=has_fidelity,
        has_strength=strength,
    )
    return ModelReady(ModelInfo("test", True), "CPU", has_fidelity, default_fidelity, descriptor)


@pytest.fixture
def panel(qtbot):
    widget = ControlsPanel()
    qtbot.addWidget(widget)
    widget.resize(900, 120)
    widget.show()
    return widget


@pytest.mark.parametrize("bins", [10, 3, 7, 23, 41, 100])
def test_each_step_is_one_bin_of_the_model(bins):
    """Every step's score lands in its own bin (as the model bins it), and a score's step is its bin."""
    for step in range(bins):
        quality = quality_for_step(step, bins)
        assert int(quality_to_bin(quality, bins)) == step
        assert step_for_quality(quality, bins) == step
    if bins == 10:  # the lowest score of each bin: the values the CLI and the model card use
        assert [quality_for_step(step, 10) for step in range(10)] == [step / 10 for step in range(10)]


def test_the_quality_slider_has_one_step_per_bin_of_the_loaded_model(panel):
    panel.show_model(_ready(bins=10))
    assert (panel.quality_slider.minimum(), panel.quality_slider.maximum()) == (0, 9)
    seen = set()
    for step in range(10):
        panel.quality_slider.setValue(step)
        seen.add(int(quality_to_bin(panel.quality, 10)))
    assert seen == set(range(10))  # no two steps the model cannot tell apart, none of its bins out of reach
    panel.set_quality(0.9)
    panel.show_model(_ready(bins=5))  # another model with 5 bins: 5 steps, the score kept in its bin
    assert panel.quality_slider.maximum() == 4 and panel.quality == pytest.approx(0.8)


def _track_point(slider, fraction):
    """The point on the slider's groove at `fraction` of its length."""
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    groove = slider.style().subControlRect(
        QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderGroove, slider
    )
    return QPoint(round(groove.left() + fraction * groove.width()), groove.center().y())


def test_a_click_on_the_track_jumps_there(qtbot, panel):
    panel.show_model(_ready())
    moves = []
    panel.settings_changed.connect(lambda: moves.append(panel.quality))
    panel.quality_slider.setValue(0)
    moves.clear()
    qtbot.mouseClick(panel.quality_slider, Qt.MouseButton.LeftButton, pos=_track_point(panel.quality_slider, 0.95))
    assert panel.quality_slider.value() == 9 and moves and moves[-1] == pytest.approx(0.9)
    qtbot.mouseClick(panel.fidelity_slider, Qt.MouseButton.LeftButton, pos=_track_point(panel.fidelity_slider, 0.3))
    assert panel.fidelity_slider.value() == pytest.approx(30, abs=3)  # not one page (10) from where it was


def test_labels_say_what_the_sliders_do(panel):
    assert panel.quality_label.text() == "0.90 · very high quality target"  # before the model is known
    panel.show_model(_ready(default_fidelity=0.35))
    assert (panel.quality_title.text(), panel.quality_low.text(), panel.quality_high.text()) == (
        "Target quality",
        "Lower",
        "Higher",
    )
    assert "conditioned on" in panel.quality_slider.toolTip() and "10 levels" in panel.quality_slider.toolTip()
    panel.quality_slider.setValue(0)
    assert panel.quality_label.text() == "0.00 · very low quality target"
    panel.quality_slider.setValue(5)
    assert panel.quality_label.text() == "0.50 · medium quality target"
    assert "bin" not in panel.quality_label.text()
    assert (panel.fidelity_left.text(), panel.fidelity_right.text()) == ("More restoration", "Closer to original")
    assert panel.fidelity_label.text() == "0.35 (default)" and panel.fidelity_slider.isEnabled()


def test_a_public_model_disables_quality_and_names_its_own_slider(panel):
    panel.show_model(_ready(slider=Slider.STRENGTH, has_fidelity=False, strength=True), remembered_second=0.4)
    assert not panel.quality_slider.isEnabled() and not panel.quality_high.isEnabled()
    assert "no quality score" in panel.quality_slider.toolTip()
    assert (panel.fidelity_title.text(), panel.fidelity_left.text(), panel.fidelity_right.text()) == (
        "Strength",
        "Original",
        "Fully restored",
    )
    assert panel.fidelity_slider.isEnabled() and panel.second_value == pytest.approx(0.4)  # the remembered value
    panel.show_model(_ready(has_fidelity=False), remembered_second=0.4)  # IQPFR weights without fidelity path
    assert not panel.fidelity_slider.isEnabled() and panel.fidelity_label.text() == "n/a"
    assert "no fidelity control" in panel.fidelity_slider.toolTip()
