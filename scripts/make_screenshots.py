"""Make the README's screenshots of the real window from a public-domain photo.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/make_screenshots.py [--out docs/screenshots]
                                                                                  [--only whole-photo]

The photo is scikit-image's astronaut (Eileen Collins, NASA; public domain), shrunk, blurred and saved as a
low-quality JPEG so there is something to restore; scikit-image's coffee cup (public domain) is the photo without
faces in the list; nothing from ../shared is used. The window goes through
the same start-up as `iqpfr-studio` with the installed default model on the CPU (views are chosen through
the window's own menu actions), and settings go to a
temporary folder (the user's own settings are neither read nor changed). Each screenshot is the window (or a
dialog, or the open Models menu) rendered by Qt: the empty window (first run), side by side (the photo list with
its thumbnails and each photo's status), the split view, the face zoomed in, the batch dialog, the Models menu,
and a whole old photo at 2× with its background enhanced (`old_print_astronaut`: the astronaut at 256 px, aged to
look like a small old print: sepia, soft, grainy, JPEG; Real-ESRGAN on the CPU takes about a minute for it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

POLL_MS = 200
WINDOW_SIZE = (1400, 860)


def degraded_astronaut(folder: Path) -> Path:
    """The astronaut photo, made worse the way old web photos are: blurred, noisy, JPEG quality 30."""
    import cv2
    import numpy as np
    from PIL import Image
    from skimage import data

    blurred = cv2.GaussianBlur(data.astronaut(), (0, 0), 1.6)
    noisy = np.clip(blurred + np.random.default_rng(7).normal(0, 5, blurred.shape), 0, 255).astype(np.uint8)
    path = folder / "astronaut.jpg"
    Image.fromarray(noisy).save(path, quality=30)
    return path


def faceless_photo(folder: Path) -> Path:
    """scikit-image's coffee cup: a photo in which no face is found."""
    from PIL import Image
    from skimage import data

    path = folder / "coffee.jpg"
    Image.fromarray(data.coffee()).save(path, quality=90)
    return path


def old_print_astronaut(folder: Path) -> Path:
    """The astronaut photo as a small old print: 256 px, sepia, slightly soft, film grain, JPEG quality 40."""
    import cv2
    import numpy as np
    from PIL import Image
    from skimage import data

    small = cv2.resize(data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA).astype(np.float32)
    grey = small @ np.array([0.299, 0.587, 0.114], np.float32)
    sepia = np.clip(grey[..., None] * np.array([1.07, 0.94, 0.72], np.float32) + 18.0, 0, 255)
    soft = cv2.GaussianBlur(sepia, (0, 0), 0.9)
    grain = np.random.default_rng(11).normal(0, 9, (*soft.shape[:2], 1)).astype(np.float32)
    path = folder / "old_print.jpg"
    Image.fromarray(np.clip(np.round(soft + grain), 0, 255).astype(np.uint8)).save(path, quality=40)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the restored photo")
    parser.add_argument("--only", choices=["whole-photo"], help="make only this screenshot")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="iqpfr-screenshots-"))
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    os.environ["IQPFR_CACHE_DIR"] = str(work / "cache")

    from PySide6.QtCore import QElapsedTimer, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(work / "settings"))
    app = QApplication(sys.argv[:1])
    from app.gui.main import parse_args, start_app

    photo = degraded_astronaut(work)
    faceless = faceless_photo(work)
    app, window = start_app(parse_args(["--device", "cpu", "--model", "iqpfr"]))
    window.resize(*WINDOW_SIZE)
    clock = QElapsedTimer()
    clock.start()
    failures: list[str] = []

    def shoot(widget, name: str) -> None:
        app.processEvents()
        path = args.out / name
        if not widget.grab().save(str(path)):
            failures.append(f"could not save {path}")
        print(f"Screenshot: {path}", flush=True)

    def listed() -> bool:  # the photo without faces was opened; both thumbnails are read
        from app.gui.photo_list import PhotoStatus, has_thumbnail, status_of

        items = [window.photo_list.item(row) for row in range(window.photo_list.count())]
        return status_of(items[0]) is PhotoStatus.NO_FACES and all(has_thumbnail(item) for item in items)

    def restored() -> bool:  # the astronaut restored, its scores measured (they follow the picture)
        result = window.last_restored
        measured = result is not None and result.face_count > 0 and result.after_score is not None
        return measured and not window.compare.is_busy

    def trigger(text: str) -> None:
        from PySide6.QtGui import QAction

        matching = [a for a in window.findChildren(QAction) if a.text().replace("&", "").startswith(text)]
        if not matching:
            failures.append(f"no menu action '{text}'")
            return
        matching[0].trigger()

    def face_box():
        return window.last_prepared.boxes[0]

    def empty_window() -> None:
        shoot(window, "empty-window.png")  # with the first run's note about the public face models
        window.models_note.close_button.click()
        window.add_photos([faceless, photo])

    def show_the_astronaut() -> None:
        window.photo_list.setCurrentRow(1)

    def side_by_side() -> None:
        trigger("Side by side")
        shoot(window, "side-by-side.png")

    def split_view() -> None:
        trigger("Split")
        window.compare.set_divider(0.5)
        shoot(window, "split-view.png")

    def face_zoomed() -> None:
        window.compare.zoom_to_box(face_box())
        shoot(window, "face-zoomed.png")

    def batch_dialog() -> None:
        dialog = window.open_batch_dialog(str(work))
        shoot(dialog, "batch-dialog.png")
        dialog.close()

    def models_menu() -> None:
        trigger("Side by side")
        menu = window.models_menu
        menu.popup(window.mapToGlobal(window.menuBar().geometry().bottomLeft()))
        shoot(menu, "models-menu.png")
        menu.close()

    def open_old_print() -> None:
        from app.upscaling.whole_photo import WholePhotoSettings

        trigger("Side by side")
        window.compare.zoom_fit()
        window.controls.set_whole_photo(WholePhotoSettings(2, "realesrgan"))
        window.add_photos([old_print_astronaut(work)])

    def enhanced_at_2x() -> bool:
        result, prepared = window.last_restored, window.last_prepared
        return (
            result is not None
            and prepared is not None
            and prepared.path.name == "old_print.jpg"
            and result.rgb.shape[0] == 2 * prepared.rgb.shape[0]
            and "full size" in window.controls.estimate_label.text()
        )

    def whole_photo() -> None:
        shoot(window, "whole-photo-2x.png")

    always: Callable[[], bool] = lambda: True  # noqa: E731 - a step that waits for nothing
    steps: list[tuple[Callable[[], bool], Callable[[], None]]] = [
        (lambda: window.model_ready is not None, empty_window),
        (listed, show_the_astronaut),
        (restored, side_by_side),
        (always, split_view),
        (always, face_zoomed),
        (always, batch_dialog),
        (always, models_menu),
    ]
    if args.only == "whole-photo":
        steps = [(lambda: window.model_ready is not None, lambda: None)]
    steps += [(always, open_old_print), (enhanced_at_2x, whole_photo)]

    def advance() -> None:
        if not steps:
            timer.stop()
            window.close()  # idle dialogs close with it
            return
        ready, act = steps[0]
        if ready():
            steps.pop(0)
            act()
        elif clock.elapsed() > args.timeout * 1000:
            failures.append(f"timed out waiting for step {len(steps)} from the end")
            steps.clear()

    timer = QTimer(interval=POLL_MS)
    timer.timeout.connect(advance)
    timer.start()
    app.exec()
    for failure in failures:
        print(f"Screenshots failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
