import shutil

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.gui.main_window import MainWindow
from app.gui.worker import SharedRestorer
from conftest import shared, WHOLE_PHOTOS

WAIT_MS = 90_000


def close_window(qtbot, win):
    """Close as a user does; the window closes itself once its threads have stopped."""
    win.close()
    qtbot.waitUntil(lambda: win.worker_thread.isFinished() and not win.isVisible(), timeout=WAIT_MS)


@pytest.fixture
def window(qtbot, restorer):
    win = MainWindow(SharedRestorer(lambda: restorer))
    qtbot.addWidget(win)
    win.show()
    yield win
    close_window(qtbot, win)


def _open_and_wait(qtbot, window, path):
    window.add_photos([path])
    qtbot.waitUntil(lambda: window.last_restored is not None or window.banner.isVisible(), timeout=WAIT_MS)


def test_window_opens_and_shows_before_after_with_scores(qtbot, window, blake_photo_path):
    assert window.isVisible() and window.windowTitle() == "IQPFR Studio"
    _open_and_wait(qtbot, window, blake_photo_path)
    assert window.before_pane.has_image and window.after_pane.has_image
    assert window.before_pane.box_count == 2
    assert "2 face(s) found" in window.before_pane.caption.text()
    assert "PIQE" in window.before_pane.caption.text() and "PIQE" in window.after_pane.caption.text()
    assert "UNTRAINED" in window.model_label.text() and "not a real restoration" in window.model_label.text()
    assert "not a real restoration" in window.model_label.toolTip()
    assert window.last_restored.rgb.shape == window.last_prepared.rgb.shape


def test_slider_triggers_a_new_restoration_off_the_gui_thread(qtbot, window, blake_photo_path):
    _open_and_wait(qtbot, window, blake_photo_path)
    first = window.last_restored
    assert window.worker.thread() is window.worker_thread is not window.thread()  # restores run off the GUI thread
    for value in (10, 20, 30, 40):  # a burst of moves coalesces into the latest value
        window.slider.setValue(value)
    qtbot.waitUntil(lambda: window.last_restored.quality == pytest.approx(0.40), timeout=WAIT_MS)
    assert not np.array_equal(first.rgb, window.last_restored.rgb)
    assert "0.40" in window.slider_label.text()


def _window_for(qtbot, restorer, model, info):
    from app.pipeline import FaceRestorer

    win = MainWindow(SharedRestorer(lambda: FaceRestorer(model, info, restorer.detector, "cpu")))
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.model_ready is not None, timeout=WAIT_MS)  # loaded before any photo
    return win


def test_fidelity_slider_is_labelled_and_starts_at_the_models_default(qtbot, restorer):
    from app.model import ModelInfo

    win = _window_for(qtbot, restorer, restorer.model, ModelInfo("test", False, {"default_fidelity": 0.35}))
    assert win.fidelity_left.text() == "More restoration" and win.fidelity_right.text() == "Closer to original"
    assert win.fidelity_slider.isEnabled() and "Closer to original" in win.fidelity_slider.toolTip()
    assert win.fidelity_slider.value() == 35 and win.fidelity == pytest.approx(0.35)
    assert win.fidelity_label.text() == "0.35 (default)"
    close_window(qtbot, win)


def test_fidelity_burst_gives_exactly_one_restoration_without_re_encoding(qtbot, window, blake_photo_path,
                                                                         monkeypatch):
    _open_and_wait(qtbot, window, blake_photo_path)
    assert window.last_restored.fidelity == pytest.approx(0.5)
    restorer = window.restorer.get()
    restorations, encodes = [], []
    real_restore, real_encode = restorer.restore_prepared, restorer.model.encode
    monkeypatch.setattr(restorer, "restore_prepared",
                        lambda *a, **k: restorations.append(a[1:]) or real_restore(*a, **k))
    monkeypatch.setattr(restorer.model, "encode", lambda *a: encodes.append(a) or real_encode(*a))
    requests = []
    window.settings_requested.connect(lambda *args: requests.append(args))
    for value in (10, 25, 40, 55, 70):  # a burst of moves
        window.fidelity_slider.setValue(value)
    assert window.fidelity_label.text() == "0.70"  # the label follows at once
    qtbot.waitUntil(lambda: window.last_restored.fidelity == pytest.approx(0.70), timeout=WAIT_MS)
    qtbot.wait(3 * 120)  # nothing else is on its way
    assert len(requests) == 1  # debounced: one request for the burst
    assert restorations == [(window.quality, pytest.approx(0.70))] and encodes == []
    assert "fidelity 0.70" in window.after_pane.caption.text()


def test_fidelity_slider_is_disabled_for_a_model_without_fidelity_path(qtbot, restorer):
    from app.model import IQPFRConfig, untrained_model

    win = _window_for(qtbot, restorer, *untrained_model(IQPFRConfig(fidelity_scales=())))
    assert not win.fidelity_slider.isEnabled() and not win.fidelity_right.isEnabled()
    assert "no fidelity control" in win.fidelity_slider.toolTip()
    close_window(qtbot, win)


def test_bad_file_shows_a_message_and_keeps_running(qtbot, window, tmp_path, blake_photo_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    window.add_photos([broken])
    qtbot.waitUntil(window.banner.isVisible, timeout=WAIT_MS)
    assert "broken.jpg" in window.banner.text()
    _open_and_wait(qtbot, window, blake_photo_path)
    qtbot.waitUntil(lambda: window.last_restored is not None, timeout=WAIT_MS)
    assert window.before_pane.box_count == 2


def test_unsupported_type_and_no_faces_are_explained(qtbot, window, tmp_path):
    window.add_photos([tmp_path / "notes.txt"])
    assert "not a supported image type" in window.banner.text()
    wall = tmp_path / "wall.png"
    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(wall)
    window.add_photos([wall])
    qtbot.waitUntil(lambda: "No faces found" in window.banner.text(), timeout=WAIT_MS)


def test_save_result_next_to_original_without_overwriting(qtbot, window, tmp_path, blake_photo_path):
    source = tmp_path / "portrait.jpg"
    shutil.copy(blake_photo_path, source)
    _open_and_wait(qtbot, window, source)
    suggestion = window.suggested_output_path()
    assert suggestion == tmp_path / "portrait_restored.jpg"
    assert window.save_result(suggestion) == suggestion and suggestion.is_file()
    assert window.save_result(source) is None and "original" in window.banner.text()
    assert source.read_bytes() == blake_photo_path.read_bytes()


def test_drop_files_opens_them(qtbot, window, blake_photo_path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(blake_photo_path)), QUrl.fromLocalFile(str(shared(WHOLE_PHOTOS / "00.jpg")))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.photo_list.count() == 2
    qtbot.waitUntil(lambda: window.last_restored is not None, timeout=WAIT_MS)


def test_batch_dialog_exports_with_progress(qtbot, window, tmp_path, blake_photo_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(blake_photo_path, folder / "a.jpg")
    (folder / "b.jpg").write_bytes(b"corrupt")
    dialog = window.open_batch_dialog(str(folder))
    assert dialog.fidelity == window.fidelity
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.start()
    assert dialog.running
    qtbot.waitUntil(lambda: not dialog.running, timeout=WAIT_MS)
    assert dialog.report.counts() == {"restored": 1, "failed": 1}
    assert dialog.progress_bar.value() == dialog.progress_bar.maximum() == 2
    assert (tmp_path / "out" / "a.jpg").is_file()
    assert "b.jpg" in dialog.log.toPlainText()
    dialog.close()


def test_batch_dialog_cancel_stops_early(qtbot, window, tmp_path, blake_photo_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(6):
        shutil.copy(blake_photo_path, folder / f"p{index}.jpg")
    dialog = window.open_batch_dialog(str(folder))
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.start()
    qtbot.waitUntil(lambda: dialog.progress_bar.value() >= 1, timeout=WAIT_MS)
    dialog.cancel_or_close()
    qtbot.waitUntil(lambda: not dialog.running, timeout=WAIT_MS)
    assert dialog.report.cancelled and len(dialog.report.items) < 6
    dialog.close()
