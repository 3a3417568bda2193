"""Batch export dialog: a folder (with or without its subfolders) or the photos open in the window, run
on a worker thread with a per-file table, progress and time left, cancel, resume and "Open output folder".

Whatever the worker raises ends the job with a message in the log (`finished` is always emitted), so
the dialog never hangs; `job_done` tells the main window when a job has ended (it waits for it on quit).
A batch into a folder that already holds outputs resumes: the same settings are "already done"; when
some were made with other settings, the dialog asks whether to redo them (else they are kept).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.batch import (
    ALREADY_DONE,
    BATCH_EXPORT,
    EXISTS,
    FAILED,
    NO_FACES,
    OTHER_SETTINGS,
    REPORT_NAME,
    RESTORED,
    SKIPPED,
    BatchItem,
    BatchReport,
    existing_outputs,
    run_batch,
    run_files,
)
from app.errors import StudioError, failure_message, printable
from app.export_settings import DEFAULT_SUFFIX, ExportSettings
from app.gui.export_dialog import (
    BATCH_INPUT_FOLDER,
    BATCH_OUTPUT_FOLDER,
    BATCH_SETTINGS_KEY,
    SAVE_SETTINGS_KEY,
    ExportSettingsWidget,
    remember_export_settings,
    remember_folder,
    remembered_export_settings,
    remembered_folder,
)
from app.gui.threads import finish_worker_thread, start_worker_thread
from app.gui.whole_photo_widget import WholePhotoWidget
from app.gui.worker import SharedRestorer
from app.upscaling.whole_photo import WholePhotoSettings

FIDELITY_STEP = 0.05
STATUS_TEXTS = {
    RESTORED: "Restored",
    NO_FACES: "No faces: saved unchanged",
    ALREADY_DONE: "Already done",
    OTHER_SETTINGS: "Kept (other settings)",
    EXISTS: "Not replaced",
    FAILED: "Failed",
    SKIPPED: "Skipped (protects originals)",
}
NO_FACES_WHOLE_PHOTO_TEXT = "No faces: whole photo saved"  # upscaled or enhanced all the same
NOT_PROCESSED_TEXT = "Not processed"
_WORK_STATUSES = (RESTORED, NO_FACES, FAILED)  # photos that were really worked on (for the time left)
log = logging.getLogger(__name__)
BatchJob = Callable[..., BatchReport]  # job(restorer, quality=, progress=, should_cancel=, on_item=, ask_redo=,
#                                        whole=, tile_progress=, …)


def folder_job(input_dir: Path, output_dir: Path, export: ExportSettings, include_subfolders: bool) -> BatchJob:
    def job(restorer, **options) -> BatchReport:
        return run_batch(
            restorer, input_dir, output_dir, export=export, include_subfolders=include_subfolders, **options
        )

    return job


def files_job(files: list[Path], export: ExportSettings, overwrite: bool) -> BatchJob:
    def job(restorer, ask_redo=None, **options) -> BatchReport:
        return run_files(restorer, files, export, overwrite=overwrite, **options)

    return job


class BatchWorker(QObject):
    progress = Signal(int, int, str)
    tile_progress = Signal(int, int)  # tiles of the current photo's enhanced background done, in all
    item_done = Signal(object)  # BatchItem, as each photo is done
    redo_question = Signal(object)  # outputs made with other settings: answer with `answer_redo`
    finished = Signal(object)  # BatchReport, or None on error
    error = Signal(str)

    def __init__(
        self,
        restorer: SharedRestorer,
        job: BatchJob,
        quality: float,
        fidelity: float | None = None,
        whole: WholePhotoSettings | None = None,
    ) -> None:
        super().__init__()
        self._restorer, self._job, self._quality, self._fidelity = restorer, job, quality, fidelity
        self._whole = whole or WholePhotoSettings()
        self.cancel_event = threading.Event()
        self._answered = threading.Event()
        self._redo = False

    @Slot()
    def run(self) -> None:
        report = None
        try:
            restorer = self._restorer.get()
            # the second setting is the strength for GFPGAN/RestoreFormer, else the fidelity
            setting = {"strength" if restorer.has_strength else "fidelity": self._fidelity}
            report = self._job(
                restorer,
                quality=self._quality,
                progress=lambda done, total, path: self.progress.emit(done, total, path.name),
                should_cancel=self.cancel_event.is_set,
                on_item=self.item_done.emit,
                ask_redo=self._ask_redo,
                whole=self._whole,
                tile_progress=self.tile_progress.emit,
                **setting,
            )
        except Exception as exc:  # whatever stops the batch is reported and ends the job
            if not isinstance(exc, StudioError):  # a bug or a fault we did not foresee: keep the details in the log
                log.warning("the batch export stopped", exc_info=True)
            self.error.emit(failure_message(exc, "finish the batch export"))
        finally:
            self.finished.emit(report)

    def _ask_redo(self, outputs: list[str]) -> bool:
        """On the worker thread: ask the dialog, wait for its answer (False if the batch is cancelled)."""
        self._answered.clear()
        self.redo_question.emit(outputs)
        while not self._answered.wait(0.1):
            if self.cancel_event.is_set():
                return False
        return self._redo

    def answer_redo(self, redo: bool) -> None:
        """From the GUI thread: the user's answer to `redo_question`."""
        self._redo = redo
        self._answered.set()


def format_time_left(seconds: float) -> str:
    if seconds < 60:
        return f"about {max(1, round(seconds))} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


class TimeLeft:
    """Time left from the photos really worked on so far (those already done take no time)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started: float | None = None
        self._spent, self._worked = 0.0, 0

    def photo_started(self) -> None:
        self._started = self._clock()

    def photo_done(self, status: str) -> None:
        if self._started is not None and status in _WORK_STATUSES:
            self._spent += self._clock() - self._started
            self._worked += 1
        self._started = None

    def text(self, remaining: int) -> str:
        if remaining <= 0:
            return ""
        if not self._worked:
            return "estimating the time left…"
        return format_time_left(self._spent / self._worked * remaining)


def _folder_row(parent: QWidget, line: QLineEdit, caption: str) -> QHBoxLayout:
    row = QHBoxLayout()
    browse = QPushButton("Browse…")
    browse.clicked.connect(
        lambda: line.setText(QFileDialog.getExistingDirectory(parent, caption, line.text()) or line.text())
    )
    row.addWidget(line, 1)
    row.addWidget(browse)
    return row


def folder_not_opened_message(parent: QWidget, folder: str) -> QMessageBox:
    """'The folder could not be opened', with its path to select or copy (the box is not shown yet)."""
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Could not open the folder",
        "No file manager is set up on this system to open folders, so the output folder could not be shown.\n\n"
        f"The exported photos are in:\n{folder}",
        QMessageBox.StandardButton.Close,
        parent,
    )
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    copy = box.addButton("Copy path", QMessageBox.ButtonRole.ActionRole)
    copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(folder))
    return box


class BatchDialog(QDialog):
    """A folder batch, or with `files` the photos open in the window ("Export all open photos")."""

    job_done = Signal()  # a started batch has ended (finished, cancelled or stopped by an error)

    def __init__(
        self,
        restorer: SharedRestorer,
        quality: float,
        input_dir: str = "",
        parent=None,
        fidelity: float | None = None,
        fidelity_enabled: bool = True,
        files: list[Path] | None = None,
        whole: WholePhotoSettings | None = None,
    ) -> None:
        super().__init__(parent)
        self.files = [Path(path) for path in files] if files is not None else None
        self.setWindowTitle("Export all open photos" if self.files is not None else "Batch export")
        self.resize(760, 640)
        self._restorer = restorer
        self._thread: QThread | None = None
        self._worker: BatchWorker | None = None
        self._input_dir: Path | None = None
        self._output_folder: Path | None = None
        self._time_left = TimeLeft()
        self._run_whole = WholePhotoSettings()  # what the running (or last) batch makes of each photo
        self.report: BatchReport | None = None

        output_dir = ""
        if not input_dir and self.files is None:  # the folders used last time
            input_dir, output_dir = remembered_folder(BATCH_INPUT_FOLDER), remembered_folder(BATCH_OUTPUT_FOLDER)
        if input_dir and not output_dir:
            output_dir = str(Path(input_dir).with_name(Path(input_dir).name + "_restored"))
        self.input_edit = QLineEdit(input_dir)
        self.output_edit = QLineEdit(output_dir)
        self.subfolders_check = QCheckBox("Include subfolders (the output keeps the folder tree)")
        self.subfolders_check.setChecked(True)
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
        self.fidelity_spin.setToolTip(
            "0 = more restoration, 1 = closer to the original"
            if fidelity_enabled
            else "This model has no fidelity control (older weights format)."
        )
        self.fidelity_spin.setEnabled(fidelity_enabled)
        self.fidelity_title = QLabel("Fidelity")
        form = QFormLayout()
        if self.files is None:
            form.addRow("Photos folder", _folder_row(self, self.input_edit, "Folder with photos"))
            form.addRow("", self.subfolders_check)
            form.addRow("Export to", _folder_row(self, self.output_edit, "Export folder"))
            export = remembered_export_settings(BATCH_SETTINGS_KEY, BATCH_EXPORT)
        else:
            form.addRow("Photos", QLabel(f"{len(self.files)} photo(s) open in the window"))
            export = remembered_export_settings(SAVE_SETTINGS_KEY, ExportSettings())
        form.addRow("Target quality", self.quality_spin)
        form.addRow(self.fidelity_title, self.fidelity_spin)
        self.whole_widget = WholePhotoWidget(whole)
        form.addRow("Whole photo", self.whole_widget)
        self.export_widget = ExportSettingsWidget(export, show_folder=self.files is not None)
        if self.files is None:
            self.export_widget.suffix_edit.setPlaceholderText(f"(none: the photos' names; e.g. {DEFAULT_SUFFIX})")
        export_box = QGroupBox("Output files")
        QVBoxLayout(export_box).addWidget(self.export_widget)

        self.progress_bar = QProgressBar()
        self.time_label = QLabel()
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["File", "Status", "Reason"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(0, 220)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumHeight(90)
        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton("Start", QDialogButtonBox.ButtonRole.AcceptRole)
        self.open_folder_button = self.buttons.addButton("Open output folder", QDialogButtonBox.ButtonRole.ActionRole)
        self.open_folder_button.setEnabled(False)
        self.folder_message: QMessageBox | None = None  # says where the output is when no file manager opens it
        self.cancel_button = self.buttons.addButton("Close", QDialogButtonBox.ButtonRole.RejectRole)
        self.start_button.clicked.connect(self.start)
        self.open_folder_button.clicked.connect(self.open_output_folder)
        self.cancel_button.clicked.connect(self.cancel_or_close)

        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.time_label)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(export_box)
        layout.addLayout(progress_row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.log)
        layout.addWidget(self.buttons)

    @property
    def fidelity(self) -> float | None:
        """None = the model's stored default."""
        return None if self.fidelity_spin.value() < 0 else self.fidelity_spin.value()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def set_second_setting_texts(self, title: str, tooltip: str) -> None:
        """A public model: no quality score; the second setting is its own (strength, or CodeFormer's w)."""
        self.quality_spin.setEnabled(False)
        self.fidelity_spin.setEnabled(True)
        self.fidelity_spin.setToolTip(tooltip)
        self.fidelity_title.setText(title)

    # ------------------------------------------------------------------ starting
    def start(self) -> None:
        try:
            export = self.export_widget.settings()
        except StudioError as exc:
            self.log.appendPlainText(str(exc))
            return
        job = self._folder_job(export) if self.files is None else self._files_job(export)
        if job is None:
            return
        fidelity = "model default" if self.fidelity is None else f"{self.fidelity:.2f}"
        whole = self._run_whole = self.whole_widget.settings()
        self.log.appendPlainText(
            f"Exporting at quality {self.quality_spin.value():.2f}"
            + (f", fidelity {fidelity}" if self.fidelity_spin.isEnabled() else "")
            + (f"; whole photos {whole.describe()}" if whole.changes_photo else "")
        )
        self.table.setRowCount(0)
        self.progress_bar.setValue(0)
        self.time_label.clear()
        self._time_left = TimeLeft()
        self.open_folder_button.setEnabled(False)
        self.start_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self._worker = BatchWorker(self._restorer, job, self.quality_spin.value(), self.fidelity, whole)
        self._worker.progress.connect(self._on_progress)
        self._worker.tile_progress.connect(self._on_tile_progress)
        self._worker.item_done.connect(self._on_item)
        self._worker.redo_question.connect(self._on_redo_question)
        self._worker.error.connect(self._on_error)
        self._worker.finished.connect(self._on_finished)
        self._thread = start_worker_thread(self._worker, self, self._worker.run)

    def _folder_job(self, export: ExportSettings) -> BatchJob | None:
        input_dir, output_dir = Path(self.input_edit.text().strip()), Path(self.output_edit.text().strip())
        if not self.input_edit.text().strip() or not input_dir.is_dir():
            self.log.appendPlainText("Choose an existing photos folder.")
            return None
        if not self.output_edit.text().strip():
            self.log.appendPlainText("Choose an export folder.")
            return None
        remember_folder(BATCH_INPUT_FOLDER, input_dir)
        remember_folder(BATCH_OUTPUT_FOLDER, output_dir)
        remember_export_settings(BATCH_SETTINGS_KEY, export)
        self._input_dir, self._output_folder = input_dir, output_dir
        self.log.appendPlainText(f"{input_dir} → {output_dir}")
        if (output_dir / REPORT_NAME).is_file():
            self.log.appendPlainText(
                "This folder holds an earlier batch: photos done with the same settings are kept (the batch resumes)."
            )
        return folder_job(input_dir, output_dir, export, self.subfolders_check.isChecked())

    def _files_job(self, export: ExportSettings) -> BatchJob | None:
        if not self.files:
            self.log.appendPlainText("No photos are open: open photos first.")
            return None
        existing = existing_outputs(self.files, export)
        overwrite = False
        if existing:
            answer = QMessageBox.question(
                self,
                "Replace files?",
                f"{len(existing)} of the files to export already exist (e.g. '{existing[0]}'). Replace them? "
                "No keeps them and exports the others.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.No,
            )
            if answer == QMessageBox.StandardButton.Cancel:
                return None
            overwrite = answer == QMessageBox.StandardButton.Yes
        remember_export_settings(SAVE_SETTINGS_KEY, export)
        parents = {path.parent for path in self.files}
        self._input_dir = None
        self._output_folder = export.folder or (parents.pop() if len(parents) == 1 else None)
        return files_job(self.files, export, overwrite)

    # ------------------------------------------------------------------ while it runs
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
            self._time_left.photo_started()
        self.time_label.setText(
            f"{done} of {total}" + (f" · {self._time_left.text(total - done)}" if done < total else "")
        )

    def _on_tile_progress(self, done: int, total: int) -> None:
        shown = self.time_label.text().split(" · tile ")[0]
        self.time_label.setText(f"{shown} · tile {done} of {total}" if done < total else shown)

    def _on_item(self, item: BatchItem) -> None:
        self._time_left.photo_done(item.status)
        status = STATUS_TEXTS.get(item.status, item.status)
        if item.status == NO_FACES and self._run_whole.changes_photo:
            status = NO_FACES_WHOLE_PHOTO_TEXT
        if item.status == RESTORED:
            status += f" ({item.faces} face{'s' if item.faces != 1 else ''})"
        self._add_row(Path(item.source), status, item.message)

    def _add_row(self, path: Path, status: str, reason: str) -> None:
        shown = path.name
        if self._input_dir is not None and path.is_relative_to(self._input_dir):
            shown = path.relative_to(self._input_dir).as_posix()
        row = self.table.rowCount()
        self.table.insertRow(row)
        for column, text in enumerate((printable(shown), status, reason)):  # a name's non-UTF-8 bytes as \xNN
            cell = QTableWidgetItem(text)
            cell.setToolTip(printable(str(path)) if column == 0 else text)
            self.table.setItem(row, column, cell)
        self.table.scrollToBottom()

    def _on_redo_question(self, outputs: list[str]) -> None:
        answer = QMessageBox.question(
            self,
            "Redo with these settings?",
            f"{len(outputs)} photo(s) in this folder were restored by an earlier batch with other settings "
            f"(e.g. '{Path(outputs[0]).name}').\n\nRedo them with these settings, replacing those files? No keeps "
            "them as they are. Photos done with the same settings are kept either way.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        redo = answer == QMessageBox.StandardButton.Yes
        self.log.appendPlainText(
            f"{len(outputs)} made earlier with other settings: "
            + ("redone with these settings." if redo else "kept as they are.")
        )
        if self._worker is not None:
            self._worker.answer_redo(redo)

    def _on_finished(self, report: BatchReport | None) -> None:
        self.report = report
        if report is not None:
            for item in report.items:
                if item.status == FAILED:
                    self.log.appendPlainText(f"Failed {printable(Path(item.source).name)}: {item.message}")
            for left_out in report.not_processed:
                self._add_row(Path(left_out.path), NOT_PROCESSED_TEXT, left_out.reason)
            self.log.appendPlainText(report.summary())
            self.time_label.setText("Cancelled" if report.cancelled else "Done")
        else:
            self.log.appendPlainText("The batch export stopped; photos already exported are kept.")
            self.time_label.setText("Stopped")
        finish_worker_thread(self._thread)
        self._thread = None
        self._worker = None
        self.open_folder_button.setEnabled(self._output_folder is not None and self._output_folder.is_dir())
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Close")
        self.job_done.emit()

    # ------------------------------------------------------------------ at the end
    def output_folder_url(self) -> QUrl | None:
        return QUrl.fromLocalFile(str(self._output_folder)) if self._output_folder is not None else None

    def open_output_folder(self) -> None:
        """Show the output folder in the file manager; where none can open it, say so and where the folder is."""
        url = self.output_folder_url()
        if url is not None and not QDesktopServices.openUrl(url):
            self.folder_message = folder_not_opened_message(self, str(self._output_folder))
            self.folder_message.open()

    def reject(self) -> None:
        if self.running:
            self.cancel_or_close()
            return
        super().reject()
