"""The model manager: the catalogue of public face models with size, licence and state; download one
(its licence shown first; progress, cancel, resume), add a file the user has, remove one.

Downloads and checks run on a worker thread; nothing is downloaded unless the user asks for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.errors import DownloadCancelled, failure_message
from app.gui.threads import finish_worker_thread, start_worker_thread
from app.paths import user_models_dir
from app.restorers import catalogue
from app.restorers.catalogue import CatalogueEntry
from app.restorers.store import (
    MODEL_SUFFIXES,
    add_model,
    download_model,
    installed_models,
    partial_download,
    remove_model,
)

log = logging.getLogger(__name__)
COLUMNS = ("Model", "File", "Size", "Licence", "State")


class ModelJob(QObject):
    """One download or add, run on a worker thread; `finished` is always emitted."""

    progress = Signal(object, object)  # bytes done, total bytes (None: unknown); ints may exceed 2³¹
    finished = Signal(str, bool)  # message for the user, success

    def __init__(self, work: Callable[[ModelJob], str]) -> None:
        super().__init__()
        self._work = work
        self.cancel_event = threading.Event()

    @Slot()
    def run(self) -> None:
        try:
            self.finished.emit(self._work(self), True)
        except DownloadCancelled as exc:
            self.finished.emit(str(exc), False)
        except Exception as exc:  # whatever stops the job is shown to the user
            log.warning("model job failed", exc_info=True)
            self.finished.emit(failure_message(exc, "finish"), False)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


class ModelManagerDialog(QDialog):
    models_changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Face restorer models")
        self.resize(860, 360)
        self._thread: QThread | None = None
        self._job: ModelJob | None = None

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        folder = QLabel(f"Models folder: {user_models_dir()}")
        folder.setWordWrap(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.hide()

        self.download_button = QPushButton("Download…")
        self.download_button.clicked.connect(self.download_selected)
        self.add_button = QPushButton("Add a file I have…")
        self.add_button.clicked.connect(self.choose_file_to_add)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        for button in (self.download_button, self.add_button, self.remove_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(folder)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.refresh()

    # ------------------------------------------------------------------ table
    def refresh(self) -> None:
        installed = {model.name: model for model in installed_models()}
        rows: list[tuple[str, str, str, str, str]] = []
        for entry in catalogue.CATALOGUE:
            model = installed.pop(entry.name, None)
            if model is not None:
                state = "installed"
            elif partial_download(entry):
                state = f"partly downloaded ({_megabytes(partial_download(entry))}); Download resumes"
            else:
                state = "not installed"
            rows.append((entry.name, entry.file_name, _megabytes(entry.size), entry.licence, state))
        for model in installed.values():
            if model.path.suffix.lower() in MODEL_SUFFIXES and model.removable:
                rows.append(
                    (model.name, model.path.name, _megabytes(model.path.stat().st_size), "see its source", "added")
                )
        self.table.setRowCount(len(rows))
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self._update_buttons()

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self._cell_text(rows[0].row(), 0) if rows else None

    def select(self, name: str) -> None:
        for row in range(self.table.rowCount()):
            if self._cell_text(row, 0) == name:
                self.table.selectRow(row)

    def _cell_text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def _entry(self, name: str | None) -> CatalogueEntry | None:
        return next((entry for entry in catalogue.CATALOGUE if entry.name == name), None)

    def _update_buttons(self) -> None:
        busy = self._job is not None
        name = self.selected_name()
        row_state = self._cell_text(self.table.currentRow(), 4) if name and self.table.currentRow() >= 0 else ""
        self.download_button.setEnabled(not busy and self._entry(name) is not None and row_state != "installed")
        self.remove_button.setEnabled(not busy and name is not None and row_state != "not installed")
        self.add_button.setEnabled(not busy)

    # ------------------------------------------------------------------ actions
    def confirm_licence(self, entry: CatalogueEntry) -> bool:
        """Show the licence before anything is downloaded; True if the user accepts it."""
        note = "" if entry.commercial_use else "\n\nIts licence does not allow (all) commercial use."
        answer = QMessageBox.question(
            self,
            "Download model?",
            f"{entry.description}\n\nFile: {entry.file_name} ({_megabytes(entry.size)})\nFrom: {entry.url}\n"
            f"Licence: {entry.licence}{note}\n\nDownload it under this licence?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def download_selected(self) -> None:
        entry = self._entry(self.selected_name())
        if entry is None or not self.confirm_licence(entry):
            return

        def work(job: ModelJob) -> str:
            model = download_model(
                entry.name,
                progress=lambda done, total: job.progress.emit(done, total),
                should_cancel=job.cancel_event.is_set,
            )
            return f"Downloaded and verified {model.path.name}."

        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self._start(work, f"Downloading {entry.file_name}…", cancellable=True)

    def choose_file_to_add(self) -> None:
        pattern = " ".join(f"*{suffix}" for suffix in MODEL_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Add a face model file", "", f"Model files ({pattern})")
        if path:
            self.add_file(path)

    def add_file(self, path: str) -> None:
        def work(_job: ModelJob) -> str:
            model = add_model(Path(path))
            return f"Added {model.path.name}; choose it as '{model.name}' in the main window."

        self.progress.setRange(0, 0)  # busy: loading the file to check it
        self._start(work, f"Checking {path}…", cancellable=False)

    def remove_selected(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        answer = QMessageBox.question(
            self,
            "Remove model?",
            f"Delete '{name}' from {user_models_dir()}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            removed = remove_model(name)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.status.setText(failure_message(exc, f"remove '{name}'"))
            return
        self.status.setText(f"Removed {removed.name}.")
        self.refresh()
        self.models_changed.emit()

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel_event.set()
            self.status.setText("Cancelling… the part already downloaded is kept for next time.")

    @property
    def running(self) -> bool:
        return self._job is not None

    # ------------------------------------------------------------------ worker thread
    def _start(self, work: Callable[[ModelJob], str], message: str, cancellable: bool) -> None:
        self._job = ModelJob(work)
        self._job.progress.connect(self._on_progress)
        self._job.finished.connect(self._on_finished)
        self.status.setText(message)
        self.progress.show()
        self.cancel_button.setVisible(cancellable)
        self._update_buttons()
        self._thread = start_worker_thread(self._job, self, self._job.run)

    def _on_progress(self, done: int, total: int | None) -> None:
        if total:
            self.progress.setValue(round(1000 * done / total))
            self.progress.setFormat(f"{_megabytes(done)} of {_megabytes(total)}")

    def _on_finished(self, message: str, success: bool) -> None:
        self.status.setText(message)
        finish_worker_thread(self._thread)
        self._thread = self._job = None
        self.progress.hide()
        self.cancel_button.hide()
        self.refresh()
        if success:
            self.models_changed.emit()

    def closeEvent(self, event) -> None:  # noqa: N802
        if self._job is not None:  # a download stops at its next chunk and keeps its part
            self.cancel()
            finish_worker_thread(self._thread)
        super().closeEvent(event)
