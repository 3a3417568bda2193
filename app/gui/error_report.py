"""Uncaught exceptions in the desktop app: a short message box instead of a crash or silence.

`app.logging_setup.install_exception_hooks` has already written the traceback to the log; this shows the
sentence it gives on the GUI thread, whichever thread the exception happened on, one box at a time
(the box does not block: the app keeps running).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox

from app import APP_NAME


class UnexpectedErrorReporter(QObject):
    """Create on the GUI thread; `report(message)` may be called from any thread."""

    reported = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.box: QMessageBox | None = None
        self.reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def report(self, message: str) -> None:
        self.reported.emit(message)

    @Slot(str)
    def _show(self, message: str) -> None:
        if self.box is not None and self.box.isVisible():
            return  # one box at a time; every exception is in the log
        self.box = QMessageBox(
            QMessageBox.Icon.Critical,
            APP_NAME,
            f"An unexpected error happened.\n\n{message}",
            QMessageBox.StandardButton.Ok,
            QApplication.activeWindow(),
        )
        self.box.setWindowModality(Qt.WindowModality.WindowModal)
        self.box.open()
