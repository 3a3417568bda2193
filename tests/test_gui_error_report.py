"""Uncaught exceptions in the desktop app: logged with their traceback, shown in one short, non-blocking box;
and the GUI takes the same restorer options as the CLI."""

import threading

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.cli import build_parser
from app.gui.error_report import UnexpectedErrorReporter
from app.gui.main import build_parser as build_gui_parser
from app.logging_setup import install_exception_hooks, setup_logging

RESTORER_OPTIONS = ["--model", "codeformer", "--weights", "w.pt", "--detector", "retinaface", "--device", "cpu"]


def _defined(parser):
    """Help, default and choices of --weights, --detector and --device (--model's help says what the default is)."""
    return {
        option: (action.help, action.default, action.choices)
        for action in parser._actions
        for option in action.option_strings
        if option in ("--weights", "--detector", "--device")
    }


def test_gui_and_cli_share_the_restorer_options():
    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    gui = build_gui_parser().parse_args(["a.jpg", *RESTORER_OPTIONS])
    cli = commands["restore"].parse_args(["a.jpg", "b.jpg", *RESTORER_OPTIONS])
    assert all(getattr(gui, name) == getattr(cli, name) for name in ("model", "weights", "detector", "device"))
    defined = _defined(build_gui_parser())
    assert defined == _defined(commands["restore"]) == _defined(commands["batch"]) and len(defined) == 3


def test_an_exception_in_a_slot_is_logged_and_shown_and_the_app_goes_on(qtbot, isolated_log):
    log_file = setup_logging("iqpfr-studio")
    reporter = UnexpectedErrorReporter()
    install_exception_hooks(reporter.report)

    def slot_that_fails():
        raise IndexError("list index out of range")

    QTimer.singleShot(0, slot_that_fails)
    qtbot.waitUntil(lambda: reporter.box is not None and reporter.box.isVisible(), timeout=5000)
    assert reporter.box.text() == (
        "An unexpected error happened.\n\nCould not finish what was asked: unexpected "
        f"error (IndexError: list index out of range). Details are in {log_file}."
    )
    assert "in slot_that_fails" in log_file.read_text(encoding="utf-8")
    first = reporter.box
    thread = threading.Thread(target=slot_that_fails)  # another thread, while the box is still open
    thread.start()
    thread.join()
    qtbot.wait(50)
    assert reporter.box is first and log_file.read_text(encoding="utf-8").count("IndexError: list index") == 2
    first.close()
    thread = threading.Thread(target=slot_that_fails)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: reporter.box is not first and reporter.box.isVisible(), timeout=5000)
    reporter.box.close()
    assert QApplication.instance() is not None


def test_the_desktop_app_starts_its_log_and_shows_uncaught_errors(qtbot, isolated_log, monkeypatch):
    import sys

    from PySide6.QtWidgets import QMessageBox

    import app.gui.main as gui_main

    shown = []

    class RunningApp:
        def exec(self):
            try:
                raise KeyError("missing")
            except KeyError:
                sys.excepthook(*sys.exc_info())  # what Qt does with an exception a slot raises
            QApplication.processEvents()
            boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
            shown.extend(box.text() for box in boxes)
            for box in boxes:
                box.close()
            return 0

    monkeypatch.setattr(gui_main, "start_app", lambda args: (RunningApp(), None))
    assert gui_main.main(["--device", "cpu"]) == 0
    assert len(shown) == 1 and "unexpected error (KeyError: 'missing')" in shown[0]
    log = (isolated_log / "iqpfr-studio.log").read_text(encoding="utf-8")
    assert "iqpfr-studio 0.1.0 started" in log and "raise KeyError" in log
