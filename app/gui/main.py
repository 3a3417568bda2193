"""`iqpfr-studio`: start the desktop application."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app import APP_NAME, __version__
from app.faces import DETECTOR_NAMES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="iqpfr-studio", description=f"{APP_NAME} desktop application")
    parser.add_argument("photos", nargs="*", type=Path, help="photos to open")
    parser.add_argument("--model", metavar="NAME|FILE",
                        help="face restorer to start with: iqpfr, an installed public model or a model file "
                             "(default: the one chosen last time)")
    parser.add_argument("--weights", help="IQPFR weights file (default: the installed default model)")
    parser.add_argument("--detector", choices=DETECTOR_NAMES, default="mtcnn")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def start_app(args: argparse.Namespace):
    """Create the QApplication and show the main window with the given photos; returns (app, window)."""
    from PySide6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow
    from app.gui.worker import SharedRestorer
    from app.pipeline import FaceRestorer

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    from PySide6.QtGui import QIcon

    from app.paths import resources_dir

    app.setWindowIcon(QIcon(str(resources_dir() / "icon.svg")))
    restorer = SharedRestorer(lambda: FaceRestorer.create(args.weights, args.detector, args.device))

    def make_restorer(model: str) -> FaceRestorer:
        return FaceRestorer.create(args.weights if model == "iqpfr" else None, args.detector, args.device,
                                   model=model)

    window = MainWindow(restorer, make_restorer, args.model or ("iqpfr" if args.weights else None))
    window.show()
    window.add_photos(args.photos)
    return app, window


def main(argv: list[str] | None = None) -> int:
    app, _window = start_app(parse_args(argv))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
