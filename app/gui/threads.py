"""The one way the window runs work off the GUI thread: a QObject worker moved to its own QThread.

Requests reach the worker through queued signals, results come back through its signals; the worker
stops cooperatively (a cancel flag it checks between steps), so a thread is never terminated.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QThread


def start_worker_thread(worker: QObject, parent: QObject, run: Callable[[], None] | None = None) -> QThread:
    """Move `worker` to a new thread owned by `parent` and start it; `run`, when given, is called on that
    thread as soon as it starts (a one-shot job); otherwise the worker serves its slots until `quit()`."""
    thread = QThread(parent)
    worker.moveToThread(thread)
    if run is not None:
        thread.started.connect(run)
    thread.start()
    return thread


def finish_worker_thread(thread: QThread | None) -> None:
    """End a worker's thread whose work has ended (its last signal received): quit its loop and join it."""
    if thread is not None:
        thread.quit()
        thread.wait()
