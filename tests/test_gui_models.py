"""The model picker and the model manager in the GUI. A stand-in public model (a FaceNetwork that inverts
faces, instantly) keeps these fast; the real architectures are tested in test_plugin_restorers.py."""

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QMessageBox
from shiboken6 import isValid

from app.gui.main_window import MainWindow
from app.gui.settings_store import SettingsStore
from app.gui.worker import SharedRestorer
from app.restorers import NetworkOutput, RestorerDescriptor, Slider
from app.restorers.network import FaceNetwork
from app.restorers.plugin import PluginInfo
from conftest import TEST_DATA, shared
from test_model_downloads import server, test_entry  # noqa: F401 (fixtures used below)

ADDED = "stand-in.pth"  # a file in the user models folder, so the picker lists it
ONE_FACE_PHOTO = TEST_DATA / "codeformer-inputs" / "whole_imgs" / "04.jpg"  # small: 225×225, one face
WAIT_MS = 600_000  # waits end as soon as the window is ready; generous for a busy 2-core machine


class InvertingNetwork(FaceNetwork):
    """A public model stand-in with a strength slider: 'restores' by inverting the face."""

    def __init__(self) -> None:
        self.descriptor = RestorerDescriptor("StandIn", 128, Slider.STRENGTH, has_strength=True)
        self.module = torch.nn.Identity()
        self.info = PluginInfo(ADDED, trained=True, architecture="StandIn")

    def encode(self, faces):
        return -faces

    def restore(self, encoded, faces, quality, fidelity):
        return NetworkOutput(encoded)


@pytest.fixture
def make_window(qtbot, restorer, isolated_model_dirs):
    from app.pipeline import FaceRestorer

    (isolated_model_dirs / ADDED).write_bytes(b"stand-in")
    made = []

    def make_restorer(name):
        made.append(name)
        return restorer if name == "iqpfr" else FaceRestorer(InvertingNetwork(), None, restorer.detector, "cpu")

    windows = []

    def make(initial=None):
        win = MainWindow(SharedRestorer(lambda: restorer), make_restorer, initial)
        qtbot.addWidget(win)
        win.show()
        windows.append(win)
        qtbot.waitUntil(lambda: win.model_ready is not None, timeout=WAIT_MS)
        return win

    make.made = made
    yield make
    for win in windows:  # as test_gui.close_window, with this module's wait
        if isValid(win):
            win.close()
        qtbot.waitUntil(
            lambda win=win: not isValid(win) or (win.worker_thread.isFinished() and not win.isVisible()),
            timeout=WAIT_MS,
        )


def _pick(window, name):
    index = window.model_picker.findData(name)
    assert index >= 0, f"{name} not in the picker"
    window.model_picker.setCurrentIndex(index)
    window.model_picker.activated.emit(index)


def test_picking_a_public_model_relabels_the_sliders_and_restores_with_it(qtbot, make_window):
    window = make_window()
    assert window.model_ready.descriptor.architecture == "IQPFR" and window.slider.isEnabled()
    window.add_photos([shared(ONE_FACE_PHOTO)])
    qtbot.waitUntil(lambda: window.last_restored is not None, timeout=WAIT_MS)
    iqpfr_result = window.last_restored.rgb

    _pick(window, ADDED)
    qtbot.waitUntil(lambda: window.model_ready is not None and window.last_restored is not None, timeout=WAIT_MS)
    assert window.model_ready.descriptor.architecture == "StandIn"
    assert (window.fidelity_title.text(), window.fidelity_left.text(), window.fidelity_right.text()) == (
        "Strength",
        "Original",
        "Fully restored",
    )
    assert not window.slider.isEnabled() and window.fidelity_slider.isEnabled()
    assert window.fidelity_slider.value() == 100 and "(default)" in window.fidelity_label.text()
    full = window.last_restored
    assert full.strength == 1.0 and "StandIn · strength 1.00" in window.compare.after_caption
    assert not np.array_equal(full.rgb, iqpfr_result)  # the photo was restored again, by the chosen model

    window.fidelity_slider.setValue(30)
    qtbot.waitUntil(lambda: window.last_restored.strength == pytest.approx(0.30), timeout=WAIT_MS)
    assert "strength 0.30" in window.compare.after_caption
    assert not np.array_equal(full.rgb, window.last_restored.rgb)

    _pick(window, "iqpfr")
    qtbot.waitUntil(lambda: window.model_ready is not None and window.last_restored is not None, timeout=WAIT_MS)
    assert window.model_ready.descriptor.architecture == "IQPFR"
    assert window.slider.isEnabled() and window.fidelity_title.text() == "Fidelity"
    assert "quality" in window.compare.after_caption


def test_the_choice_is_remembered(qtbot, make_window):
    window = make_window()
    _pick(window, ADDED)
    qtbot.waitUntil(
        lambda: window.model_ready is not None and window.model_ready.descriptor.architecture == "StandIn",
        timeout=WAIT_MS,
    )
    assert SettingsStore().model() == ADDED
    again = make_window()  # next start: the remembered model is loaded, not IQPFR
    assert again.model_picker.current_model == ADDED and make_window.made[-1] == ADDED
    assert again.model_ready.descriptor.architecture == "StandIn"
    assert make_window("iqpfr").model_ready.descriptor.architecture == "IQPFR"  # --model/--weights win


def test_model_manager_shows_licences_and_downloads_only_when_confirmed(
    qtbot, make_window, server, test_entry, monkeypatch
):
    window = make_window()
    dialog = window.open_model_manager()
    qtbot.addWidget(dialog)
    assert dialog.table.item(0, 0).text() == "test-model" and "non-commercial" in dialog.table.item(0, 3).text()
    dialog.select("test-model")
    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda parent, title, text, *a: asked.append(text) or QMessageBox.StandardButton.No
    )
    dialog.download_selected()
    assert "Test licence 1.0" in asked[0] and server.ranges_asked == []  # declined: nothing fetched

    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    dialog.download_selected()
    qtbot.waitUntil(lambda: not dialog.running, timeout=WAIT_MS)
    assert "Downloaded and verified" in dialog.status.text() and dialog.table.item(0, 4).text() == "installed"
    assert window.model_picker.findData("test-model") >= 0  # the picker offers it now


def test_model_manager_cancel_keeps_the_part_for_later(
    qtbot, make_window, server, test_entry, monkeypatch, isolated_model_dirs
):
    from app.downloads import partial_path

    server.delay_s = 0.2
    window = make_window()
    dialog = window.open_model_manager()
    qtbot.addWidget(dialog)
    dialog.select("test-model")
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    dialog.download_selected()
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=WAIT_MS)
    dialog.cancel()
    qtbot.waitUntil(lambda: not dialog.running, timeout=WAIT_MS)
    assert "cancelled" in dialog.status.text()
    assert partial_path(isolated_model_dirs / "TestModel.pth").exists()
    assert not (isolated_model_dirs / "TestModel.pth").exists()
    assert "partly downloaded" in dialog.table.item(0, 4).text()


def test_model_manager_add_checks_the_file_first(qtbot, make_window, tmp_path, isolated_model_dirs):
    from spandrel.architectures.ESRGAN import ESRGAN

    window = make_window()
    dialog = window.open_model_manager()
    qtbot.addWidget(dialog)
    upscaler = tmp_path / "x2.pth"
    torch.save({"params_ema": ESRGAN(num_filters=8, num_blocks=1, scale=2).state_dict()}, upscaler)
    dialog.add_file(str(upscaler))
    qtbot.waitUntil(lambda: not dialog.running, timeout=WAIT_MS)
    assert "not a face restorer" in dialog.status.text()
    assert sorted(p.name for p in isolated_model_dirs.iterdir()) == [ADDED]  # nothing copied


def test_closing_the_window_stops_a_model_download_cleanly(qtbot, make_window):
    import threading

    window = make_window()
    dialog = window.open_model_manager()
    started = threading.Event()

    def endless_download(job):
        started.set()
        while not job.cancel_event.wait(0.05):
            pass
        return "stopped"

    dialog._start(endless_download, "Downloading…", cancellable=True)
    assert started.wait(10)
    thread = dialog._thread
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
    assert thread.isFinished()


def test_an_installed_public_model_is_chosen_from_the_models_menu(qtbot, make_window, isolated_model_dirs):
    """Issue 20, item 9: the Models menu uses an installed public model (as the picker does) and offers the rest."""
    (isolated_model_dirs / "codeformer.pth").write_bytes(b"stand-in")  # listed by its catalogue name
    window = make_window()
    menu = window.models_menu
    menu.aboutToShow.emit()
    use = next(action for action in menu.actions() if action.text() == "Use CodeFormer face restorer (installed)")
    assert "Get RestoreFormer face restorer…" in [action.text() for action in menu.actions()]
    use.trigger()
    qtbot.waitUntil(
        lambda: window.model_ready is not None and window.model_ready.descriptor.architecture == "StandIn",
        timeout=WAIT_MS,
    )
    assert window.model_picker.current_model == "codeformer" and make_window.made[-1] == "codeformer"
    assert window.model_picker.currentData() == "codeformer" and SettingsStore().model() == "codeformer"
