"""The log file, and the last-resort hooks that put any exception nothing else caught into it (no Qt).

`setup_logging` (called first by `iqpfr` and `iqpfr-studio`) sends the app's records from INFO up, and
other libraries' from WARNING up, to `iqpfr-studio.log` in the per-user log folder (`app.paths.log_dir`;
rotated at 1 MB, three old files kept); errors also go to the terminal, as one line each.
`install_exception_hooks` writes an uncaught exception (main thread or any other) with its traceback to
the log and tells the person in one sentence that says where the details are, so a frozen build without
a terminal still leaves a trace.
"""

from __future__ import annotations

import logging
import platform
import sys
import threading
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path

from app import __version__
from app.errors import failure_message
from app.paths import log_dir

LOG_FILE_NAME = "iqpfr-studio.log"
MAX_LOG_BYTES = 1_000_000
LOG_BACKUPS = 3
_FILE_FORMAT = "%(asctime)s %(process)d %(threadName)s %(levelname)s %(name)s: %(message)s"
_FILE_ONLY = "file_only"  # a record with this attribute set is not repeated on the terminal

log = logging.getLogger("app")
_handlers: list[logging.Handler] = []
_log_file: Path | None = None


class _TerminalHandler(logging.StreamHandler):
    """One line per record (no traceback) on whatever sys.stderr is when it is written (none in a windowed build)."""

    def __init__(self) -> None:
        super().__init__()
        self.setLevel(logging.ERROR)
        self.addFilter(lambda record: not getattr(record, _FILE_ONLY, False))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler assigns it; the current sys.stderr is always used
        pass

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname}: {record.getMessage()}"

    def emit(self, record: logging.LogRecord) -> None:
        if sys.stderr is not None:
            super().emit(record)


def setup_logging(program: str) -> Path | None:
    """Log to the per-user log file and errors to the terminal (again from scratch on each call).
    Returns the log file, or None when it cannot be written (the program goes on without it)."""
    global _log_file
    shutdown_logging()
    root = logging.getLogger()
    _add(root, _TerminalHandler())
    path = log_dir() / LOG_FILE_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = RotatingFileHandler(path, maxBytes=MAX_LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
    except OSError as exc:
        _log_file = None
        log.error("No log file: %s", failure_message(exc, f"write the log in '{path.parent}'"))
    else:
        file_handler.setLevel(logging.INFO)
        file_handler.setFormatter(logging.Formatter(_FILE_FORMAT))
        _add(root, file_handler)
        _log_file = path
    root.setLevel(logging.WARNING)
    log.setLevel(logging.INFO)
    log.info("%s %s started (Python %s on %s)", program, __version__, platform.python_version(), platform.platform())
    return _log_file


def shutdown_logging() -> None:
    """Remove and close the handlers `setup_logging` added."""
    root = logging.getLogger()
    while _handlers:
        handler = _handlers.pop()
        root.removeHandler(handler)
        handler.close()


def _add(root: logging.Logger, handler: logging.Handler) -> None:
    root.addHandler(handler)
    _handlers.append(handler)


def unexpected_error_message(exc: BaseException) -> str:
    """The sentence shown for an exception nothing else caught, saying where its details are."""
    where = f" Details are in {_log_file}." if _log_file is not None else ""
    return f"{failure_message(exc, 'finish what was asked')}{where}"


def install_exception_hooks(report: Callable[[str], None]) -> None:
    """Uncaught exceptions, on the main thread or any other: traceback to the log, one sentence to `report`."""

    def handle(exc_type: type[BaseException], exc: BaseException | None, traceback, thread: str = "") -> None:
        error = exc if exc is not None else RuntimeError(exc_type.__name__)  # a thread's hook may get no value
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, error, traceback)
            return
        log.critical(
            "Uncaught exception%s",
            f" in thread {thread}" if thread else "",
            exc_info=(type(error), error, traceback),
            extra={_FILE_ONLY: True},
        )
        try:
            report(unexpected_error_message(error))
        except Exception:  # the hook itself must never raise
            log.exception("Could not report an uncaught exception", extra={_FILE_ONLY: True})

    def handle_thread(args: threading.ExceptHookArgs) -> None:
        if not issubclass(args.exc_type, SystemExit):  # a thread's SystemExit ends only that thread
            handle(args.exc_type, args.exc_value, args.exc_traceback, args.thread.name if args.thread else "?")

    sys.excepthook = handle
    threading.excepthook = handle_thread
