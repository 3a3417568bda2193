"""The window's whole-photo controls: Upscale 1×/2×/4× and Enhance background beside the sliders, an enhanced
preview made off the GUI thread while the sliders stay live, the full-size estimate, saving at full size with
progress and Cancel, the settings remembered and handed to the batch dialog. A tiny network stands in for
Real-ESRGAN (the `tiny_upscaler` fixture)."""

import shutil

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QDialog, QPushButton

from app.gui.export_dialog import ExportDialog
from app.gui.settings_store import SettingsStore
from app.upscaling.whole_photo import WholePhotoSettings
from test_gui import WAIT_MS, close_window, open_window


def _save_as_png(monkeypatch, folder):
    def user_chooses(dialog):
        widget = dialog.settings_widget
        widget.format_combo.setCurrentIndex(widget.format_combo.findData("png"))
        widget.beside_check.setChecked(False)
        widget.folder_edit.setText(str(folder))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportDialog, "exec", user_chooses)


def test_enhance_and_upscale_give_a_live_preview_and_a_full_size_save(
    qtbot, restorer, tmp_path, blake_photo_path, monkeypatch, tiny_upscaler
):
    source = tmp_path / "portrait.jpg"
    shutil.copy(blake_photo_path, source)
    win = open_window(qtbot, restorer)
    controls = win.controls
    assert controls.upscale_combo.currentData() == 1 and not controls.enhance_check.isChecked()  # the default
    assert "Real-ESRGAN" in controls.enhance_check.toolTip()
    win.add_photos([source])
    qtbot.waitUntil(lambda: win.last_restored is not None, timeout=WAIT_MS)
    plain = win.last_restored.rgb
    assert plain.shape == win.last_prepared.rgb.shape  # 1×: the photo's own size

    controls.upscale_combo.setCurrentIndex(controls.upscale_combo.findData(2))  # as the user picks it
    controls.enhance_check.setChecked(True)
    assert win.whole_photo == WholePhotoSettings(2, "realesrgan")
    qtbot.waitUntil(lambda: win.last_restored.rgb.shape == (928, 1400, 3), timeout=WAIT_MS)  # 2× preview
    qtbot.waitUntil(lambda: "full size: about" in controls.estimate_label.text(), timeout=WAIT_MS)
    assert "CPU" in controls.estimate_label.text()
    assert SettingsStore().whole_photo() == WholePhotoSettings(2, "realesrgan")

    win.slider.setValue(3)  # the sliders stay live: the faces are pasted into the enhanced preview
    qtbot.waitUntil(lambda: win.last_restored.quality == pytest.approx(0.3), timeout=WAIT_MS)
    assert win.last_restored.rgb.shape == (928, 1400, 3)

    _save_as_png(monkeypatch, tmp_path / "out")
    with qtbot.waitSignal(win.full_size_saved, timeout=WAIT_MS) as saved:
        assert win.save_result() is None  # saved off the GUI thread, with a progress dialog
    assert saved.args[0] == tmp_path / "out" / "portrait_restored.png"
    assert Image.open(saved.args[0]).size == (1400, 928)
    assert source.read_bytes() == blake_photo_path.read_bytes()

    dialog = win.open_batch_dialog()  # the batch dialog starts with the window's whole-photo settings
    assert dialog.whole_widget.settings() == WholePhotoSettings(2, "realesrgan")
    dialog.close()
    close_window(qtbot, win)

    again = open_window(qtbot, restorer)  # remembered between runs
    assert again.whole_photo == WholePhotoSettings(2, "realesrgan")
    close_window(qtbot, again)


def test_cancel_stops_a_full_size_save_between_tiles_and_writes_nothing(
    qtbot, restorer, tmp_path, blake_photo_path, monkeypatch, tiny_upscaler
):
    win = open_window(qtbot, restorer)
    win.controls.set_whole_photo(WholePhotoSettings(1, "realesrgan"))
    win.add_photos([blake_photo_path])
    qtbot.waitUntil(lambda: "full size" in win.controls.estimate_label.text(), timeout=WAIT_MS)  # preview made
    cancelled = win.background_worker.cancel_save
    real_run, tiles = tiny_upscaler.run, []

    def first_tile_waits_for_cancel(tile):
        tiles.append(1)
        if len(tiles) == 1:
            cancelled.wait(WAIT_MS / 1000)
        return real_run(tile)

    monkeypatch.setattr(tiny_upscaler, "run", first_tile_waits_for_cancel)
    _save_as_png(monkeypatch, tmp_path / "out")
    saved = []
    win.full_size_saved.connect(saved.append)
    win.save_result()
    qtbot.waitUntil(lambda: bool(tiles) and win._save_progress is not None, timeout=WAIT_MS)
    win._save_progress.findChild(QPushButton).click()  # the user presses Cancel
    qtbot.waitUntil(lambda: win._save_progress is None, timeout=WAIT_MS)
    assert len(tiles) == 1 and not saved and not (tmp_path / "out").exists()
    close_window(qtbot, win)


def test_a_photo_without_faces_is_saved_whole_when_the_whole_photo_changes(qtbot, restorer, tmp_path, monkeypatch):
    wall = tmp_path / "wall.png"
    Image.fromarray(np.full((60, 80, 3), 128, np.uint8)).save(wall)
    win = open_window(qtbot, restorer)
    win.controls.set_whole_photo(WholePhotoSettings(4))
    win.add_photos([wall])
    qtbot.waitUntil(lambda: win.last_restored is not None, timeout=WAIT_MS)
    assert "only the whole photo is made (4×)" in win.banner.text()
    _save_as_png(monkeypatch, tmp_path / "out")
    saved = win.save_result()  # a plain resize: saved at once
    assert saved is not None and Image.open(saved).size == (320, 240)
    close_window(qtbot, win)
