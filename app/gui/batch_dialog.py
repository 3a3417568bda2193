"""Batch export dialog: pick folders, run on a worker thread, show progress, cancel.

Whatever the worker raises ends the job with a message in the log (`finished` is always emitted), so
the dialog never hangs; `job_done` tells the main window when a job has ended (it waits for it on quit).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLineEdit, QPlainTextEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from app.batch import FAILED, BatchReport, run_batch
from app.errors import StudioError
from app.gui.worker import SharedRestorer, failure_message

FIDELITY_STEP = 0.05
log = logging.getLogger(__name__)


class BatchWorker(QObject):
    progress = Signal(int, int, str)
    finished = Signal(object)   # BatchReport, or None on error
    error = Signal(str)

    def __init__(self, restorer: SharedRestorer, input_dir: Path, output_dir: Path, quality: float,
                 fidelity: float | None = None) -> None:
        super().__init__()
        self._restorer, self._input, self._output, self._quality = restorer, input_dir, output_dir, quality
        self._fidelity = fidelity
        self.cancel_event = threading.Event()

    @Slot()
    def run(self) -> None:
        report = None
        try:
            restorer = self._restorer.get()
            # the second setting is the strength for GFPGAN/RestoreFormer, else the fidelity
            setting = {"strength" if restorer.has_strength else "fidelity": self._fidelity}
            report = run_batch(restorer, self._input, self._output, self._quality,
                               progress=lambda done, total, path: self.progress.emit(done, total, path.name),
                               should_cancel=self.cancel_event.is_set, **setting)
        except Exception as exc:  # noqa: BLE001 - whatever stops the batch is reported and ends the job
            if not isinstance(exc, StudioError):  # a bug or a fault we did not foresee: keep the details in the log
                log.warning("the batch export stopped", exc_info=True)
            self.error.emit(failure_message(exc, "finish the batch export"))
        finally:
            self.finished.emit(report)


def _folder_row(parent: QWidget, line: QLineEdit, caption: str) -> QHBoxLayout:
    row = QHBoxLayout()
    browse = QPushButton("Browse…")
    browse.clicked.connect(lambda: line.setText(QFileDialog.getExistingDirectory(parent, caption) or line.text()))
    row.addWidget(line, 1)
    row.addWidget(browse)
    return row


class BatchDialog(QDialog):
    job_done = Signal()   # a started batch has ended (finished, cancelled or stopped by an error)

    def __init__(self, restorer: SharedRestorer, quality: float, input_dir: str = "", parent=None,
                 fidelity: float | None = None, fidelity_enabled: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch export")
        self.resize(560, 380)
        self._restorer = restorer
        self._thread: QThread | None = None
        self._worker: BatchWorker | None = None
        self.report: BatchReport | None = None

        self.input_edit = QLineEdit(input_dir)
        self.output_edit = QLineEdit(str(Path(input_dir).with_name(Path(input_dir).name + "_restored"))
                                     if input_dir else "")
        self.quality_spin = QDoubleSpinBox()
        self.quality_spin.setRange(0.0, 1.0)
        self.quality_spin.setSingleStep(0.05)
        self.quality_spin.setValue(quality)
        # Fidelity 0..1; the step below 0 reads "model default" (the weights' stored value).
        self.fidelity_spin = QDoubleSpinBox()
        self.fidelity_spin.setRange(-FIDELITY_STEP, 1.0)
        self.fidelity_spin.setSingleStep(FIDELITY_STEP)
        self.fidelity_spin.setSpecialValueText("model default")
        self.fidelity_spin.setValue(-FIDELITY_STEP if fidelity is None else fidelity)
        self.fidelity_spin.setToolTip("0 = more restoration, 1 = closer to the original" if fidelity_enabled else
                                      "This model has no fidelity control (older weights format).")
        self.fidelity_spin.setEnabled(fidelity_enabled)
        form = QFormLayout()
        form.addRow("Photos folder", _folder_row(self, self.input_edit, "Folder with photos"))
        form.addRow("Export to", _folder_row(self, self.output_edit, "Export folder"))
        form.addRow("Target quality", self.quality_spin)
        form.addRow("Fidelity", self.fidelity_spin)

        self.progress_bar = QProgressBar()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton("Start", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton("Close", QDialogButtonBox.ButtonRole.RejectRole)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel_or_close)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.log, 1)
        layout.addWidget(self.buttons)

    @property
    def fidelity(self) -> float | None:
        """None = the model's stored default."""
        return None if self.fidelity_spin.value() < 0 else self.fidelity_spin.value()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        input_dir, output_dir = Path(self.input_edit.text().strip()), Path(self.output_edit.text().strip())
        if not self.input_edit.text().strip() or not input_dir.is_dir():
            self.log.appendPlainText("Choose an existing photos folder.")
            return
        if not self.output_edit.text().strip():
            self.log.appendPlainText("Choose an export folder.")
            return
        fidelity = "model default" if self.fidelity is None else f"{self.fidelity:.2f}"
        self.log.appendPlainText(f"Exporting {input_dir} → {output_dir} at quality {self.quality_spin.value():.2f}"
                                 + (f", fidelity {fidelity}" if self.fidelity_spin.isEnabled() else ""))
        self.start_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self._thread = QThread(self)
        self._worker = BatchWorker(self._restorer, input_dir, output_dir, self.quality_spin.value(), self.fidelity)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.error.connect(self._on_error)
        self._worker.finished.connect(self._on_finished)
        self._thread.start()

    def cancel_or_close(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.reject()

    def cancel(self, reason: str = "") -> None:
        """Ask the running batch to stop after the current photo (the report lists what was done)."""
        if self._worker is None or self._worker.cancel_event.is_set():
            return
        self._worker.cancel_event.set()
        self.cancel_button.setEnabled(False)
        self.log.appendPlainText(f"{reason}Cancelling after the current photo…")

    def _on_error(self, message: str) -> None:
        self.log.appendPlainText(f"Error: {message}")

    def _on_progress(self, done: int, total: int, name: str) -> None:
        self.progress_bar.setMaximum(max(total, 1))
        self.progress_bar.setValue(done)
        if done < total:
            self.log.appendPlainText(f"[{done + 1}/{total}] {name}")

    def _on_finished(self, report: BatchReport | None) -> None:
        self.report = report
        if report is not None:
            for item in report.items:
                if item.status == FAILED:
                    self.log.appendPlainText(f"Skipped {Path(item.source).name}: {item.message}")
            self.log.appendPlainText(report.summary())
        else:
            self.log.appendPlainText("The batch export stopped; photos already exported are kept.")
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait()
            self._thread = None
        self._worker = None
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Close")
        self.job_done.emit()

    def reject(self) -> None:
        if self.running:
            self.cancel_or_close()
            return
        super().reject()
