"""Start the real IQPFR Studio window once on X11 (Qt's "xcb" plugin), open a photo, wait for the
restored result, take a screenshot of the X screen, quit.

    xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python scripts/smoke_real_window.py PHOTO \\
        [--screenshot FILE] [--timeout SECONDS]

It goes through the same start-up as `iqpfr-studio` (app.gui.main.start_app) with the installed default
model. Exit 0 when the window showed the restored photo and closed; 1 with a message otherwise. If Qt
cannot load its xcb plugin (missing system libraries) Qt itself aborts, which is a failure too.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", type=Path)
    parser.add_argument("--screenshot", type=Path, help="save a PNG of the whole X screen here")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the restored photo")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])  # before the heavy imports: a platform plugin that cannot load fails fast
    platform = app.platformName()
    print(f"Qt platform: {platform}", flush=True)
    if platform != "xcb":
        print(
            f"The window ran on Qt's '{platform}' platform, not on X11 (xcb); set QT_QPA_PLATFORM=xcb.", file=sys.stderr
        )
        return 1

    from app.gui.self_test import open_and_wait_for_restored

    def screenshot(window) -> str:
        print(
            f"Restored {window.last_restored.face_count} face(s) in {window.last_restored.seconds:.1f} s; "
            f"window caption: {window.compare.after_caption!r}",
            flush=True,
        )
        if not args.screenshot:
            return ""
        shot = window.screen().grabWindow(0)  # read back from the X server, not re-rendered by Qt
        if shot.isNull() or not shot.save(str(args.screenshot)):
            return f"could not take a screenshot into {args.screenshot}"
        print(f"Screenshot: {args.screenshot} ({shot.width()}×{shot.height()})", flush=True)
        return ""

    run = open_and_wait_for_restored([str(args.photo), "--device", "cpu"], args.timeout, screenshot)
    if run.failure:
        print(f"Smoke test failed: {run.failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
