"""Use the real IQPFR Studio window as a new user does (issue 20), under Xvfb: run by test_gui_real_window.py.

    xvfb-run -a -s "-screen 0 1440x900x24" python tests/real_window_scenes.py first|restart OUT [PHOTO …]

The app starts as `iqpfr-studio [PHOTO …]` does (app.gui.main.start_app, the installed default model, the CPU), with
the settings folder of the environment (the test gives it XDG_CONFIG_HOME). Keys go through Qt's shortcut map as
typed keys do (QTest); what the window shows is read back from the X server (screen grabs). What was seen is written
to OUT/SCENE.json, the grabs to OUT/SCENE-*.png; the tests judge them. A step whose wait does not end within
STEP_TIMEOUT_S is listed under "timed_out" and the scene goes on.

- first: the first run, no photo on the command line. The empty window (the hint in the middle of the photo area;
  the note about the public models; the Models menu); F1; two photos added (what the photo area says while the first
  opens; thumbnails and each photo's status); slider keys; the split view's captions; face boxes hidden; Reset;
  Delete; the fidelity set to 0.49 before quitting.
- restart: the next start, with a photo on the command line: the result is made at the remembered fidelity; the note
  is not shown again; the face boxes stay hidden.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

STEP_TIMEOUT_S = float(os.environ.get("SCENE_STEP_TIMEOUT_S", 600))  # the slowest step on a busy machine
POLL_MS = 100


def main() -> int:
    scene, out, photos = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    if app.platformName() != "xcb":
        print(f"not the real window: Qt platform '{app.platformName()}'", file=sys.stderr)
        return 1
    from app.gui.main import parse_args, start_app

    app, window = start_app(parse_args([*(photos if scene == "restart" else []), "--device", "cpu"]))
    seen: dict = {}
    steps = (first_run if scene == "first" else restart)(window, seen, out, photos)
    waiting: list[Callable[[], bool]] = [lambda: True]
    started, count = [time.monotonic()], [0]

    def advance() -> None:
        try:
            if not waiting[0]():
                if time.monotonic() - started[0] <= STEP_TIMEOUT_S:
                    return
                # what the step waited for did not come: say so and go on (the tests judge what was seen)
                seen.setdefault("timed_out", []).append(f"step {count[0]} {describe(window)}")
            waiting[0] = next(steps)
            started[0] = time.monotonic()
            count[0] += 1
        except StopIteration:
            timer.stop()
            window.close()
        except Exception as exc:  # noqa: BLE001 - any failure is the scene's result
            seen["failure"] = f"{type(exc).__name__}: {exc} ({describe(window)})"
            timer.stop()
            window.close()

    timer = QTimer(interval=POLL_MS)
    timer.timeout.connect(advance)
    timer.start()
    app.exec()
    (out / f"{scene}.json").write_text(json.dumps(seen, indent=2))
    return 0


def describe(window) -> str:
    restored = window.last_restored
    return (
        f"photo {window.photo_list.currentRow()} of {window.photo_list.count()}, "
        f"{restored.face_count if restored else 'no'} face(s) restored, busy {window.compare.is_busy}"
    )


# ------------------------------------------------------------------------------------------ what the screen shows
def screen_pixels(widget):
    """The widget's part of the X screen, as it is shown (RGB array)."""
    from PySide6.QtCore import QRect

    from app.gui.convert import qimage_to_rgb

    top_left = widget.mapToGlobal(widget.rect().topLeft())
    shot = widget.screen().grabWindow(0).copy(QRect(top_left, widget.size()))
    return qimage_to_rgb(shot.toImage())


def save_screen(window, path: Path) -> None:
    window.screen().grabWindow(0).save(str(path))


def text_columns(pixels, background) -> list[int]:
    """The columns of `pixels` where something other than `background` (text) is drawn."""
    import numpy as np

    differs = np.abs(pixels.astype(int) - np.array(background)).sum(axis=2) > 60
    return [int(column) for column in np.flatnonzero(differs.any(axis=0))]


def green_pixels(widget) -> int:
    import numpy as np

    from app.gui.compare_view import BOX_COLOUR

    pixels = screen_pixels(widget).astype(int)
    return int((np.abs(pixels - BOX_COLOUR.getRgb()[:3]).sum(axis=2) < 30).sum())


def press(widget, key) -> None:
    from PySide6.QtTest import QTest

    QTest.keyClick(widget, key)


def focus(widget) -> Callable[[], bool]:
    widget.activateWindow()
    widget.setFocus()
    return widget.hasFocus


# ------------------------------------------------------------------------------------------ the scenes
def first_run(window, seen: dict, out: Path, photos: list[str]) -> Iterator[Callable[[], bool]]:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from app.gui.compare_view import BACKGROUND
    from app.gui.help_dialogs import ShortcutsDialog
    from app.gui.photo_list import PhotoStatus, has_thumbnail, status_of

    window.activateWindow()  # Xvfb has no window manager to give it the keyboard
    yield lambda: window.model_ready is not None and window.isActiveWindow()
    # the empty window: the hint in the middle of the photo area, the note about the public models, the Models menu
    save_screen(window, out / "first-empty.png")
    canvas = window.compare.canvas
    columns = text_columns(screen_pixels(canvas), BACKGROUND.getRgb()[:3])
    seen["hint_centre"] = (min(columns) + max(columns)) / 2 / canvas.width() if columns else None
    seen["note_visible"] = window.models_note.isVisible()
    seen["note"] = window.models_note.text()
    models = next((a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Models"), None)
    if models is not None:
        models.aboutToShow.emit()
        seen["models_menu"] = [[action.text(), action.toolTip()] for action in models.actions()]

    # F1: the shortcuts
    press(window, Qt.Key.Key_F1)
    yield lambda: window.findChild(ShortcutsDialog) is not None
    dialog = window.findChild(ShortcutsDialog)
    table = dialog.table
    seen["shortcuts"] = [[table.item(row, column).text() for column in range(3)] for row in range(table.rowCount())]
    dialog.close()

    # two photos: what the photo area says while the first opens; thumbnails and each photo's status
    window.add_photos([Path(photo) for photo in photos])
    seen["placeholder_while_opening"] = window.compare.placeholder
    items = [window.photo_list.item(row) for row in range(window.photo_list.count())]
    yield lambda: status_of(items[0]) is PhotoStatus.NO_FACES and all(has_thumbnail(item) for item in items)
    window.photo_list.setCurrentRow(1)
    yield lambda: window.last_restored is not None and window.last_restored.face_count > 0
    yield lambda: not window.compare.is_busy
    seen["list"] = [item.text() for item in items]
    seen["thumbnails"] = [has_thumbnail(item) for item in items]
    save_screen(window, out / "first-restored.png")

    # slider keys: an arrow and Page Down on the focused fidelity slider
    yield focus(window.fidelity_slider)
    before = window.fidelity
    press(window.fidelity_slider, Qt.Key.Key_Left)
    arrow = window.fidelity
    press(window.fidelity_slider, Qt.Key.Key_PageDown)
    seen["fidelity_keys"] = [before, arrow, window.fidelity]
    seen["row_after_page_down"] = window.photo_list.currentRow()

    # the split view: the captions fit
    window.view_mode_actions["split"].trigger()
    QApplication.processEvents()
    yield lambda: True  # let the window paint
    save_screen(window, out / "first-split.png")
    label = window.compare.after_label
    background = window.palette().window().color().getRgb()[:3]
    columns = text_columns(screen_pixels(label), background)
    seen["after_caption_right_gap"] = label.width() - 1 - max(columns) if columns else None

    # face boxes: shown, then hidden
    window.view_mode_actions["side_by_side"].trigger()
    yield lambda: True
    seen["green_with_boxes"] = green_pixels(window.compare.canvas)
    window.face_boxes_action.trigger()
    yield lambda: True
    seen["green_without_boxes"] = green_pixels(window.compare.canvas)

    # Reset, then Delete on the list
    window.controls.reset_button.click()
    seen["after_reset"] = [window.quality, window.fidelity]
    window.photo_list.setCurrentRow(0)
    yield focus(window.photo_list)
    press(window.photo_list, Qt.Key.Key_Delete)
    seen["list_after_delete"] = [path.name for path in window.photo_list.paths()]
    seen["files_after_delete"] = [Path(photo).is_file() for photo in photos]
    yield lambda: window.last_restored is not None and window.last_restored.face_count > 0

    # the fidelity to remember, set as a drag does
    window.fidelity_slider.setValue(49)
    yield lambda: abs(window.last_restored.fidelity - 0.49) < 1e-9 and not window.compare.is_busy


def restart(window, seen: dict, out: Path, photos: list[str]) -> Iterator[Callable[[], bool]]:
    yield lambda: window.model_ready is not None and window.last_restored is not None
    settle = [time.monotonic()]

    def settled() -> bool:  # nothing more comes for two seconds
        if window.compare.is_busy or window._debounce.isActive():
            settle[0] = time.monotonic()
        return time.monotonic() - settle[0] > 2.0

    yield settled
    save_screen(window, out / "restart.png")
    seen["fidelity_slider"] = window.fidelity
    seen["result_fidelity"] = window.last_restored.fidelity
    seen["after_caption"] = window.compare.after_caption
    seen["note_visible"] = window.models_note.isVisible()
    seen["boxes_shown"] = window.compare.show_boxes
    seen["green"] = green_pixels(window.compare.canvas)


if __name__ == "__main__":
    sys.exit(main())
