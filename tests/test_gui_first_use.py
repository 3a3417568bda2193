"""What a new user hits in the window (issue 20), offscreen: sliders that say what the result was made with after
a restart, slider keys, what the photo area says, face boxes, the photo list (thumbnails, status, removing), Reset,
and where the public face models are offered. The same, in the real window under Xvfb: test_gui_real_window.py."""

import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from app.gui.compare_view import BOX_COLOUR
from app.gui.main_window import EMPTY_STATE, MainWindow
from app.gui.model_manager import ModelManagerDialog
from app.gui.photo_list import PhotoStatus, has_thumbnail, status_of
from app.gui.settings_store import SettingsStore
from app.gui.worker import SharedRestorer
from app.restorers.catalogue import CATALOGUE
from test_compare_view import grab
from test_gui import WAIT_MS, close_window

SETTLE_MS = 60_000  # how long a result that should follow may take on a busy machine


def _photo(path, size=(96, 64), seed=0):
    """A small faceless photo (opens fast)."""
    pixels = np.random.default_rng(seed).integers(0, 255, (*size[::-1], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _window(qtbot, restorer, **kwargs) -> MainWindow:
    win = MainWindow(SharedRestorer(lambda: restorer), **kwargs)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model_ready is not None, timeout=WAIT_MS)
    return win


def _active(qtbot, win) -> None:
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=WAIT_MS)


# ------------------------------------------------------------------------------------------ item 1
def test_a_photo_opened_before_the_model_is_ready_is_restored_at_the_remembered_sliders(
    qtbot, restorer, blake_photo_path
):
    """`iqpfr-studio photo.jpg` after a restart: the photo is opened before the model is ready (so at the model's
    defaults); once it is, the sliders show last time's values, and the result follows them."""
    store = SettingsStore()
    store.set_quality(0.3)
    store.set_second_slider("IQPFR", 0.4)  # the untrained model's own default is 0.5
    store.sync()
    release = threading.Event()

    def slow_model():
        release.wait(60)
        return restorer

    win = MainWindow(SharedRestorer(slow_model))
    qtbot.addWidget(win)
    win.show()
    win.add_photos([blake_photo_path])  # what start_app does with the photos on the command line
    assert win.model_ready is None
    release.set()
    qtbot.waitUntil(lambda: win.last_restored is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: win.last_restored.fidelity == pytest.approx(0.4), timeout=SETTLE_MS)
    assert win.fidelity == pytest.approx(0.4) and win.last_restored.quality == pytest.approx(0.3)
    assert "target quality 0.30 · fidelity 0.40" in win.compare.after_caption
    close_window(qtbot, win)


# ------------------------------------------------------------------------------------------ item 6
def test_slider_keys_move_both_sliders_alike_and_page_down_stays_on_the_slider(qtbot, restorer, tmp_path):
    win = _window(qtbot, restorer)
    win.add_photos([_photo(tmp_path / "a.png"), _photo(tmp_path / "b.png", seed=1)])
    _active(qtbot, win)
    moves = []
    for slider, read in ((win.fidelity_slider, lambda: win.fidelity), (win.slider, lambda: win.quality)):
        slider.setFocus()
        qtbot.waitUntil(slider.hasFocus, timeout=WAIT_MS)
        before = read()
        qtbot.keyClick(slider, Qt.Key.Key_Left)
        after_arrow = read()
        qtbot.keyClick(slider, Qt.Key.Key_PageDown)
        moves.append((round(before - after_arrow, 2), round(after_arrow - read(), 2)))
    assert moves == [(0.1, 0.3), (0.1, 0.3)]  # an arrow: 0.1 of the range, a page: 0.3, on both sliders
    assert win.photo_list.currentRow() == 0  # Page Down moved the slider, not to the next photo
    win.photo_list.setFocus()
    qtbot.keyClick(win.photo_list, Qt.Key.Key_PageDown)  # elsewhere it still goes to the next photo
    assert win.photo_list.currentRow() == 1
    close_window(qtbot, win)


# ------------------------------------------------------------------------------------------ item 7
def test_the_photo_area_says_which_photo_is_opening(qtbot, restorer, tmp_path):
    win = _window(qtbot, restorer)
    assert win.compare.placeholder == EMPTY_STATE
    win.add_photos([_photo(tmp_path / "holiday.png")])
    assert win.compare.placeholder == "Opening holiday.png…"  # not "Open photos…" while it opens
    qtbot.waitUntil(lambda: win.last_prepared is not None, timeout=WAIT_MS)
    win.remove_photo()  # the last photo taken off: what to do again
    assert win.photo_list.count() == 0 and win.compare.placeholder == EMPTY_STATE and not win.compare.has_before
    close_window(qtbot, win)


def _green(win) -> int:
    pixels = grab(win.compare).astype(int)
    return int((np.abs(pixels - BOX_COLOUR.getRgb()[:3]).sum(axis=2) < 30).sum())


def test_face_boxes_can_be_hidden_and_stay_hidden_after_a_restart(qtbot, restorer, blake_photo_path):
    win = _window(qtbot, restorer)
    assert win.face_boxes_action.isChecked() and win.compare.show_boxes
    win.add_photos([blake_photo_path])
    qtbot.waitUntil(lambda: win.last_prepared is not None, timeout=WAIT_MS)
    shown = _green(win)
    win.face_boxes_action.trigger()
    assert not win.compare.show_boxes and shown > _green(win) + 200  # the two boxes' outlines are gone
    close_window(qtbot, win)
    again = _window(qtbot, restorer)
    assert not again.face_boxes_action.isChecked() and not again.compare.show_boxes
    close_window(qtbot, again)


# ------------------------------------------------------------------------------------------ item 8
def test_the_photo_list_shows_thumbnails_and_what_happened_to_each_photo(qtbot, restorer, tmp_path, blake_photo_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    plain = _photo(tmp_path / "plain.png")
    win = _window(qtbot, restorer)
    win.add_photos([plain, blake_photo_path, broken])
    items = [win.photo_list.item(row) for row in range(3)]
    assert status_of(items[0]) is PhotoStatus.OPENING and status_of(items[1]) is PhotoStatus.NOT_OPENED
    qtbot.waitUntil(lambda: has_thumbnail(items[0]) and has_thumbnail(items[1]), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: status_of(items[0]) is PhotoStatus.NO_FACES, timeout=WAIT_MS)
    win.photo_list.setCurrentRow(1)
    qtbot.waitUntil(lambda: status_of(items[1]) is PhotoStatus.RESTORED, timeout=WAIT_MS)
    assert items[1].text() == "Blake_Lively.jpg\nrestored · 2 faces"
    win.photo_list.setCurrentRow(2)
    qtbot.waitUntil(lambda: status_of(items[2]) is PhotoStatus.FAILED, timeout=WAIT_MS)
    assert items[2].text() == "broken.png\nfailed" and "broken.png" in items[2].toolTip()
    assert not has_thumbnail(items[2])  # nothing could be read
    close_window(qtbot, win)


def test_delete_or_the_context_menu_takes_a_photo_off_the_list_not_off_the_disk(qtbot, restorer, tmp_path):
    photos = [_photo(tmp_path / f"{name}.png", seed=index) for index, name in enumerate("abc")]
    win = _window(qtbot, restorer)
    win.add_photos(photos)
    _active(qtbot, win)
    assert "Remove from list" in [action.text().replace("&", "") for action in win.photo_list.actions()]
    win.photo_list.setCurrentRow(1)
    win.photo_list.setFocus()
    qtbot.waitUntil(win.photo_list.hasFocus, timeout=WAIT_MS)
    qtbot.keyClick(win.photo_list, Qt.Key.Key_Delete)
    assert win.photo_list.paths() == [photos[0], photos[2]] and all(photo.is_file() for photo in photos)
    assert win.photo_list.currentRow() == 1  # the next photo is shown
    qtbot.waitUntil(lambda: win.last_prepared is not None and win.last_prepared.path == photos[2], timeout=WAIT_MS)
    close_window(qtbot, win)


def test_reset_puts_both_sliders_back_and_restores_again(qtbot, restorer, blake_photo_path):
    win = _window(qtbot, restorer)
    win.add_photos([blake_photo_path])
    qtbot.waitUntil(lambda: win.last_restored is not None, timeout=WAIT_MS)
    win.slider.setValue(2)
    win.fidelity_slider.setValue(80)
    qtbot.waitUntil(lambda: win.last_restored.quality == pytest.approx(0.2), timeout=WAIT_MS)
    win.controls.reset_button.click()
    assert win.quality == pytest.approx(0.9) and win.fidelity == pytest.approx(win.model_ready.default_fidelity)
    qtbot.waitUntil(lambda: win.last_restored.quality == pytest.approx(0.9), timeout=WAIT_MS)
    assert win.last_restored.fidelity == pytest.approx(win.model_ready.default_fidelity)
    close_window(qtbot, win)


# ------------------------------------------------------------------------------------------ item 9
def _menu(win, title):
    return next(a.menu() for a in win.menuBar().actions() if a.text().replace("&", "") == title)


def test_the_public_models_are_offered_in_a_models_menu_and_once_on_the_first_run(qtbot, restorer):
    win = _window(qtbot, restorer, make_restorer=lambda name: restorer)
    note = win.models_note.text()
    assert win.models_note.isVisible()  # the first run
    for architecture in ("GFPGAN", "RestoreFormer", "CodeFormer"):
        assert architecture in note
    for entry in CATALOGUE:
        assert entry.licence in note
    menu = _menu(win, "Models")
    menu.aboutToShow.emit()
    texts = [action.text() for action in menu.actions()]
    assert [f"Get {entry.title}…" for entry in CATALOGUE] == [t for t in texts if t.startswith("Get ")]
    not_commercial = " — not for commercial use"
    assert menu.licences() == [
        f"Licence: {entry.licence}" + ("" if entry.commercial_use else not_commercial) for entry in CATALOGUE
    ]
    get_codeformer = next(action for action in menu.actions() if action.text() == "Get CodeFormer face restorer…")
    get_codeformer.trigger()
    dialog = win.findChild(ModelManagerDialog)
    assert dialog is not None and dialog.isVisible() and dialog.selected_name() == "codeformer"
    assert dialog.download_button.isEnabled() and dialog.add_button.isEnabled()
    dialog.close()
    win.models_note.show_button.click()  # "Show the models…" opens the manager too
    assert len([d for d in win.findChildren(ModelManagerDialog) if d.isVisible()]) == 1
    close_window(qtbot, win)

    again = _window(qtbot, restorer, make_restorer=lambda name: restorer)
    assert not again.models_note.isVisible()  # once only
    close_window(qtbot, again)
