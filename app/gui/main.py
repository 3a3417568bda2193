"""`iqpfr-studio`: start the desktop application."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app import APP_NAME, __version__
from app.logging_setup import install_exception_hooks, setup_logging
from app.restorer_options import restorer_options

MODEL_HELP = (
    "face restorer to start with: iqpfr, an installed public model or a model file (default: the one chosen last time)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iqpfr-studio", description=f"{APP_NAME} desktop application", parents=[restorer_options(MODEL_HELP)]
    )
    parser.add_argument("photos", nargs="*", type=Path, help="photos to open")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def start_app(args: argparse.Namespace):
    """Create the QApplication and show the main window with the given photos; returns (app, window)."""
    from PySide6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow
    from app.gui.worker import SharedRestorer
    from app.pipeline import FaceRestorer

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    from PySide6.QtGui import QIcon

    from app.paths import resources_dir

    app.setWindowIcon(QIcon(str(resources_dir() / "icon.svg")))
    restorer = SharedRestorer(lambda: FaceRestorer.create(args.weights, args.detector, args.device))

    def make_restorer(model: str) -> FaceRestorer:
        return FaceRestorer.create(args.weights if model == "iqpfr" else None, args.detector, args.device, model=model)

    window = MainWindow(restorer, make_restorer, args.model or ("iqpfr" if args.weights else None))
    window.show()
    window.add_photos(args.photos)
    return app, window


def _print_to_terminal(message: str) -> None:
    if sys.stderr is not None:  # none in a windowed build: the log has it
        print(f"error: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    setup_logging("iqpfr-studio")
    install_exception_hooks(_print_to_terminal)  # until the window exists to show it
    app, _window = start_app(parse_args(argv))
    from app.gui.error_report import UnexpectedErrorReporter

    reporter = UnexpectedErrorReporter()
    install_exception_hooks(reporter.report)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
