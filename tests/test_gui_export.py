"""Export settings, Export all open photos and the batch dialog's options in the window (issue 10, items 4–6),
offscreen. Batch runs use the fast fake restorer; settings live in a temporary folder (tests/conftest.py)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMessageBox

from app.batch import REPORT_NAME
from app.export_settings import ExportSettings
from app.gui.batch_dialog import BatchDialog, TimeLeft, format_time_left
from app.gui.export_dialog import ExportDialog, ExportSettingsWidget
from app.gui.worker import SharedRestorer
from batch_fakes import FakeRestorer
from test_gui import WAIT_MS, close_window, open_window


def _photo(path, value=90):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((30, 40, 3), value, np.uint8)).save(path)
    return path


def _rows(dialog):
    table = dialog.table
    return [tuple(table.item(row, column).text() for column in range(3)) for row in range(table.rowCount())]


def _answer(monkeypatch, answer):
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: asked.append(args[2]) or answer)
    return asked


def _run(qtbot, dialog):
    with qtbot.waitSignal(dialog.job_done, timeout=WAIT_MS):
        dialog.start()
    assert not dialog.running


@pytest.fixture
def batch_dialog(qtbot, tmp_path):
    folder = tmp_path / "in"
    _photo(folder / "a.png", 40)
    _photo(folder / "sub" / "b.png", 80)
    (folder / "broken.jpg").write_bytes(b"not a photo")
    dialog = BatchDialog(SharedRestorer(FakeRestorer), 0.9, str(folder))
    qtbot.addWidget(dialog)
    dialog.output_edit.setText(str(tmp_path / "out"))
    return dialog


# ------------------------------------------------------------------ the export settings widget and dialog


def test_export_widget_shows_and_returns_the_settings(qtbot, tmp_path):
    widget = ExportSettingsWidget(ExportSettings("png", 80, "_x", False, tmp_path))
    qtbot.addWidget(widget)
    assert widget.settings() == ExportSettings("png", 80, "_x", False, tmp_path)
    assert not widget.quality_spin.isEnabled()  # JPEG quality only for JPEG
    widget.format_combo.setCurrentIndex(widget.format_combo.findData("jpeg"))
    assert widget.quality_spin.isEnabled()
    widget.beside_check.setChecked(True)
    assert not widget.folder_edit.isEnabled() and widget.settings().folder is None
    widget.beside_check.setChecked(False)
    widget.folder_edit.setText("")
    assert "folder is empty" in widget.problem()
    widget.set_settings(ExportSettings("webp", 60, "-r", True, None))
    assert widget.settings() == ExportSettings("webp", 60, "-r", True, None) and not widget.quality_spin.isEnabled()


def test_export_dialog_names_the_file_and_refuses_a_bad_suffix(qtbot, tmp_path):
    dialog = ExportDialog(tmp_path / "portrait.jpg", ExportSettings("webp"))
    qtbot.addWidget(dialog)
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    assert dialog.target_label.text() == f"Saves as {tmp_path / 'portrait_restored.webp'}" and save.isEnabled()
    dialog.settings_widget.suffix_edit.setText("../x")
    assert "cannot hold a folder" in dialog.target_label.text() and not save.isEnabled()
    dialog.settings_widget.suffix_edit.setText("")
    dialog.settings_widget.format_combo.setCurrentIndex(0)  # same format, no suffix, beside it: the original
    assert "would replace the original" in dialog.target_label.text() and not save.isEnabled()


# ------------------------------------------------------------------ the batch dialog


def test_batch_dialog_without_subfolders_in_another_format_fills_the_table(qtbot, batch_dialog, tmp_path):
    out = tmp_path / "out"
    batch_dialog.subfolders_check.setChecked(False)
    widget = batch_dialog.export_widget
    assert not widget.folder_row.isVisibleTo(batch_dialog)  # a batch writes into its own folder
    widget.format_combo.setCurrentIndex(widget.format_combo.findData("webp"))
    widget.suffix_edit.setText("_r")
    _run(qtbot, batch_dialog)
    assert sorted(p.name for p in out.iterdir()) == ["a_r.webp", REPORT_NAME]
    assert Image.open(out / "a_r.webp").format == "WEBP"
    rows = _rows(batch_dialog)
    assert rows[0] == ("a.png", "Restored (1 face)", "")
    assert rows[1][:2] == ("broken.jpg", "Failed") and "not an image" in rows[1][2]
    assert rows[2] == ("sub", "Not processed", "subfolder: not searched (subfolders are not included)")
    assert batch_dialog.progress_bar.value() == batch_dialog.progress_bar.maximum() == 2
    assert batch_dialog.time_label.text() == "Done"

    batch_dialog.subfolders_check.setChecked(True)  # again, with the subfolders: resumes, keeps the tree
    _run(qtbot, batch_dialog)
    assert (out / "sub" / "b_r.webp").is_file()
    assert [row[:2] for row in _rows(batch_dialog)] == [
        ("a.png", "Already done"),
        ("broken.jpg", "Failed"),
        ("sub/b.png", "Restored (1 face)"),
    ]
    assert "the batch resumes" in batch_dialog.log.toPlainText()


def test_batch_dialog_shows_a_name_that_is_not_utf8_readably_and_a_failure_as_failed(qtbot, batch_dialog, tmp_path):
    """Qt drops a name's non-UTF-8 bytes ('caf\\xe9.png' showed as 'caf.png'); the log said 'Skipped' for a photo
    that failed (issue 17)."""
    import os

    _photo(Path(os.fsdecode(os.fsencode(tmp_path / "in") + b"/caf\xe9.png")))
    _run(qtbot, batch_dialog)
    assert [row[:2] for row in _rows(batch_dialog)] == [
        ("a.png", "Restored (1 face)"),
        ("broken.jpg", "Failed"),
        ("caf\\xe9.png", "Restored (1 face)"),
        ("sub/b.png", "Restored (1 face)"),
    ]
    log = batch_dialog.log.toPlainText()
    assert "Failed broken.jpg: " in log and "Skipped broken.jpg" not in log


def test_batch_dialog_asks_before_redoing_what_other_settings_made(qtbot, batch_dialog, tmp_path, monkeypatch):
    out = tmp_path / "out"
    batch_dialog.quality_spin.setValue(0.5)
    _run(qtbot, batch_dialog)
    made = (out / "a.png").stat().st_mtime_ns
    batch_dialog.quality_spin.setValue(0.8)
    asked = _answer(monkeypatch, QMessageBox.StandardButton.No)
    _run(qtbot, batch_dialog)
    assert len(asked) == 1 and "2 photo(s) in this folder were restored by an earlier batch with other" in asked[0]
    assert [row[1] for row in _rows(batch_dialog)][:3] == ["Kept (other settings)", "Failed", "Kept (other settings)"]
    assert "quality 0.50 → 0.80" in _rows(batch_dialog)[0][2] and (out / "a.png").stat().st_mtime_ns == made

    _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    _run(qtbot, batch_dialog)
    assert [row[1] for row in _rows(batch_dialog)][:3] == ["Restored (1 face)", "Failed", "Restored (1 face)"]
    report = json.loads((out / REPORT_NAME).read_text())
    assert [run["quality"] for run in report["runs"]] == [0.5, 0.8, 0.8]  # the history is kept


def test_open_output_folder_opens_the_export_folder_at_the_end(qtbot, batch_dialog, tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    assert not batch_dialog.open_folder_button.isEnabled()
    _run(qtbot, batch_dialog)
    assert batch_dialog.open_folder_button.isEnabled()
    batch_dialog.open_folder_button.click()
    assert opened == [QUrl.fromLocalFile(str(tmp_path / "out"))]


def test_open_output_folder_says_where_the_folder_is_when_no_file_manager_opens_it(
    qtbot, batch_dialog, tmp_path, monkeypatch
):
    """Issue 20, item 4: where no file manager is registered, the click is not silently lost."""
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)  # what Qt answers then
    _run(qtbot, batch_dialog)
    batch_dialog.open_folder_button.click()
    message = batch_dialog.folder_message
    assert message is not None and message.isVisible()
    assert str(tmp_path / "out") in message.text() and "file manager" in message.text()
    copy = next(button for button in message.buttons() if button.text() == "Copy path")
    copy.click()
    assert QGuiApplication.clipboard().text() == str(tmp_path / "out")


def test_time_left_counts_only_photos_really_worked_on():
    now = [0.0]
    estimate = TimeLeft(lambda: now[0])
    assert estimate.text(5) == "estimating the time left…"
    estimate.photo_started()
    estimate.photo_done("already_done")  # instant: not a measure of the work
    estimate.photo_started()
    now[0] += 30.0
    estimate.photo_done("restored")
    assert estimate.text(4) == "about 2 min left" and estimate.text(0) == ""
    assert format_time_left(42) == "about 42 s left" and format_time_left(5400) == "about 1.5 h left"


def test_batch_folders_and_format_are_remembered_for_the_next_dialog(qtbot, batch_dialog, tmp_path):
    batch_dialog.export_widget.format_combo.setCurrentIndex(batch_dialog.export_widget.format_combo.findData("png"))
    _run(qtbot, batch_dialog)
    again = BatchDialog(SharedRestorer(FakeRestorer), 0.9)
    qtbot.addWidget(again)
    assert again.input_edit.text() == str(tmp_path / "in") and again.output_edit.text() == str(tmp_path / "out")
    assert again.export_widget.settings().format == "png"


# ------------------------------------------------------------------ in the window: Save result, Export all, drop


def _open(qtbot, win, path):
    win.add_photos([path])
    qtbot.waitUntil(lambda: win.last_restored is not None and win.last_prepared.path == path, timeout=WAIT_MS)


def test_save_result_uses_the_export_settings_and_the_folder_is_remembered_by_the_next_window(
    qtbot, restorer, tmp_path, blake_photo_path, monkeypatch
):
    source = tmp_path / "portrait.jpg"
    shutil.copy(blake_photo_path, source)
    folder = tmp_path / "exports"
    folder.mkdir()
    win = open_window(qtbot, restorer)
    _open(qtbot, win, source)
    assert win.suggested_output_path() == tmp_path / "portrait_restored.jpg"

    def user_chooses(dialog):
        widget = dialog.settings_widget
        assert widget.settings() == ExportSettings()  # nothing remembered yet: the defaults
        widget.format_combo.setCurrentIndex(widget.format_combo.findData("png"))
        widget.suffix_edit.setText("_v1")
        widget.beside_check.setChecked(False)
        widget.folder_edit.setText(str(folder))
        widget.metadata_check.setChecked(False)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportDialog, "exec", user_chooses)
    saved = win.save_result()
    assert saved == folder / "portrait_v1.png" and Image.open(saved).format == "PNG"
    assert Image.open(saved).size == Image.open(source).size  # the full photo, not the preview
    assert source.read_bytes() == blake_photo_path.read_bytes()
    made = saved.stat().st_mtime_ns
    monkeypatch.setattr(ExportDialog, "exec", lambda dialog: QDialog.DialogCode.Accepted)
    asked = _answer(monkeypatch, QMessageBox.StandardButton.No)
    assert win.save_result() is None and "already exists. Replace it?" in asked[0]
    assert saved.stat().st_mtime_ns == made
    close_window(qtbot, win)

    again = open_window(qtbot, restorer)  # the window re-created, as after a restart
    shown = []
    monkeypatch.setattr(
        ExportDialog,
        "exec",
        lambda dialog: shown.append(dialog.settings_widget.settings()) or QDialog.DialogCode.Rejected,
    )
    _open(qtbot, again, source)
    assert again.suggested_output_path() == folder / "portrait_v1.png"
    assert again.save_result() is None
    assert shown == [ExportSettings("png", 95, "_v1", False, folder)]
    close_window(qtbot, again)


def test_export_all_open_photos_restores_each_and_saves_it_with_the_export_settings(
    qtbot, restorer, tmp_path, blake_photo_path, monkeypatch
):
    face = tmp_path / "x" / "a.jpg"
    face.parent.mkdir()
    shutil.copy(blake_photo_path, face)
    wall = _photo(tmp_path / "y" / "b.png")
    win = open_window(qtbot, restorer)
    assert win.export_all_photos() is None and "No photos are open" in win.banner.text()
    win.add_photos([face, wall])
    win.slider.setValue(7)  # quality 0.70: the quality slider has one step per quality bin
    dialog = win.export_all_photos()
    assert dialog.windowTitle() == "Export all open photos" and dialog.files == [face, wall]
    assert dialog.quality_spin.value() == pytest.approx(0.70)  # the window's current settings
    assert dialog.export_widget.folder_row.isVisibleTo(dialog)
    widget = dialog.export_widget
    widget.format_combo.setCurrentIndex(widget.format_combo.findData("webp"))
    _run(qtbot, dialog)
    assert _rows(dialog) == [
        ("a.jpg", "Restored (2 faces)", ""),
        ("b.png", "No faces: saved unchanged", "no faces found; saved unchanged as WebP"),
    ]
    for output in (tmp_path / "x" / "a_restored.webp", tmp_path / "y" / "b_restored.webp"):
        assert Image.open(output).format == "WEBP"
    restored = np.asarray(Image.open(tmp_path / "x" / "a_restored.webp").convert("RGB")).astype(int)
    assert np.abs(restored - np.asarray(Image.open(face).convert("RGB")).astype(int)).mean() > 0.5

    asked = _answer(monkeypatch, QMessageBox.StandardButton.No)  # again: the files exist; keep them
    _run(qtbot, dialog)
    assert "2 of the files to export already exist" in asked[0]
    assert [row[1] for row in _rows(dialog)] == ["Not replaced", "Not replaced"]
    dialog.close()
    close_window(qtbot, win)


def test_a_folder_dropped_on_the_window_offers_a_batch_of_it(qtbot, restorer, tmp_path):
    folder = tmp_path / "dropped"
    _photo(folder / "a.png")
    win = open_window(qtbot, restorer)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    win.dropEvent(
        QDropEvent(
            QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
        )
    )
    [dialog] = [child for child in win.findChildren(BatchDialog) if child.isVisible()]
    assert dialog.input_edit.text() == str(folder) and dialog.output_edit.text() == str(tmp_path / "dropped_restored")
    assert dialog.subfolders_check.isChecked()
    dialog.close()
    close_window(qtbot, win)
