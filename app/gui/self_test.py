"""`iqpfr-studio --self-test`: start the window, open a photo, wait for the restored faces, save the result, quit.

It checks an install, above all the PyInstaller bundle (packaging/build.sh runs it after each build), the way a
person uses the app: the same start-up as `iqpfr-studio` (`app.gui.main.start_app`) with the installed IQPFR model
on the CPU, then the window's own Save. Exit 0 when a face was restored and the saved photo reads back with the
input's size and changed pixels; 1 with a message otherwise. It prints how long the window took to show and the
restoration to arrive, counted from the start of the process.

Headless unless QT_QPA_PLATFORM says otherwise (offscreen). Nothing of the user's is read or written: settings,
cache, log and the user models folder are temporary folders, and nothing is downloaded.

The default photo is scikit-image's "astronaut" (Eileen Collins, NASA: public domain): the bundle carries it as
self_test/astronaut.png, a source install reads it from scikit-image's data folder.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.paths import ENV_CACHE_DIR, ENV_LOG_DIR, ENV_MODELS_DIR, ENV_OFFLINE, install_root

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow

POLL_MS = 100
BUNDLED_PHOTO = Path("self_test") / "astronaut.png"  # inside the bundle (packaging/iqpfr_studio.spec)
_IMPORTED_AT = time.monotonic()


def seconds_since_process_start() -> float:
    """Seconds since this process started (Linux: from /proc, so a bundle's own start-up counts too);
    elsewhere, since this module was imported."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime, in clock ticks after boot
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic() - _IMPORTED_AT


def default_photo() -> Path | None:
    """The astronaut photo: the bundle's copy, else scikit-image's (a source install); None when neither exists."""
    bundled = install_root() / BUNDLED_PHOTO
    if bundled.is_file():
        return bundled
    spec = importlib.util.find_spec("skimage")
    if spec is not None and spec.origin:
        source = Path(spec.origin).parent / "data" / "astronaut.png"
        if source.is_file():
            return source
    return None


@dataclass
class WindowRun:
    failure: str  # "" when the window showed restored faces and `on_restored` found no fault
    window_shown_s: float | None  # seconds since the process started
    restored_s: float | None
    face_count: int = 0
    seconds: float = 0.0  # the restoration's own time, as the window reports it


def open_and_wait_for_restored(
    gui_args: list[str], timeout_s: float, on_restored: Callable[[MainWindow], str] | None = None
) -> WindowRun:
    """Start the app with `iqpfr-studio` arguments (a photo among them), wait until the window shows the restored
    photo, call `on_restored(window)` (it returns a failure message or ""), close the window.
    The QApplication may exist already (it is reused)."""
    from PySide6.QtCore import QElapsedTimer, QTimer

    from app.gui.main import parse_args, start_app

    app, window = start_app(parse_args(gui_args))
    run = WindowRun(failure="not finished", window_shown_s=None, restored_s=None)
    clock = QElapsedTimer()
    clock.start()

    def window_shown() -> None:  # the first turn of the event loop: the window has been shown
        run.window_shown_s = seconds_since_process_start()

    def finish(failure: str = "") -> None:
        timer.stop()
        run.failure = failure
        window.close()  # the last window: the event loop ends

    def check() -> None:
        restored = window.last_restored
        if restored is not None and restored.face_count:
            run.restored_s = seconds_since_process_start()
            run.face_count, run.seconds = restored.face_count, restored.seconds
            app.processEvents()  # paint the result
            return finish(on_restored(window) if on_restored else "")
        if window.banner.isVisible():
            return finish(f"the window reported: {window.banner.text()}")
        if clock.elapsed() > timeout_s * 1000:
            return finish(f"no restored photo after {timeout_s:.0f} s")

    QTimer.singleShot(0, window_shown)
    timer = QTimer(interval=POLL_MS)
    timer.timeout.connect(check)
    timer.start()
    app.exec()
    if run.failure == "not finished":
        run.failure = "the window closed before a restored photo was shown"
    return run


def check_saved(original: Path, saved: Path) -> str:
    """A failure message, or "" when `saved` reads back with the original's size and some pixels changed."""
    from app.errors import StudioError
    from app.photo_io import load_photo

    try:
        before, after = load_photo(original).pixels, load_photo(saved).pixels
    except StudioError as exc:
        return f"the saved photo does not read back: {exc}"
    if before.shape != after.shape:
        return f"the saved photo is {after.shape[1]}×{after.shape[0]}, the input {before.shape[1]}×{before.shape[0]}"
    changed = np.any(before != after, axis=-1).mean() if before.ndim == 3 else float(np.mean(before != after))
    if changed == 0:
        return "the saved photo is the input unchanged"
    return ""


def _isolate_from_the_user(folder: Path) -> None:
    """Settings, cache, log and user models in `folder`; no downloads; offscreen unless the caller chose a platform."""
    for variable, name in ((ENV_MODELS_DIR, "models"), (ENV_CACHE_DIR, "cache"), (ENV_LOG_DIR, "log")):
        (folder / name).mkdir()
        os.environ[variable] = str(folder / name)
    os.environ[ENV_OFFLINE] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings

    (folder / "settings").mkdir()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder / "settings"))


def run_self_test(photo: Path, output: Path | None, timeout_s: float) -> int:
    with tempfile.TemporaryDirectory(prefix="iqpfr-self-test-") as temp:
        _isolate_from_the_user(Path(temp))
        target = output or Path(temp) / f"{photo.stem}_restored.png"

        def save(window: MainWindow) -> str:
            saved = window.save_result(target)
            return check_saved(photo, saved) if saved else "the window could not save the restored photo"

        run = open_and_wait_for_restored([str(photo), "--model", "iqpfr", "--device", "cpu"], timeout_s, save)
    if run.failure:
        print(f"Self-test failed: {run.failure}", file=sys.stderr)
        return 1
    shown = f"{run.window_shown_s:.1f} s" if run.window_shown_s is not None else "?"
    print(
        f"Self-test passed: window shown {shown} after start; restored {run.face_count} face(s) in "
        f"'{photo.name}' {run.restored_s:.1f} s after start (the restoration itself {run.seconds:.2f} s); "
        f"saved {output or 'and read back'}",
        flush=True,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iqpfr-studio --self-test", description=__doc__.splitlines()[0])
    parser.add_argument("--self-test", action="store_true", help="(this mode)")
    parser.add_argument("--photo", type=Path, help="photo with a face (default: scikit-image's astronaut)")
    parser.add_argument("--output", type=Path, help="keep the restored photo here (default: a temporary file)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the restored photo")
    args = parser.parse_args(argv)
    photo = args.photo or default_photo()
    if photo is None or not photo.is_file():
        print(
            f"Self-test failed: no photo to restore ({photo or BUNDLED_PHOTO} is missing); name one with --photo.",
            file=sys.stderr,
        )
        return 1
    if args.output is not None and args.output.exists():
        print(f"Self-test failed: {args.output} exists already; name a new file.", file=sys.stderr)
        return 1
    return run_self_test(photo, args.output, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
