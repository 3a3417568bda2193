"""Main window: photo list, before/after panes with quality scores, the quality and fidelity sliders."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QThread, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QFormLayout, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMainWindow,
                               QMessageBox, QSlider, QSplitter, QToolBar, QVBoxLayout, QWidget)

from app import APP_NAME
from app.errors import StudioError
from app.gui.batch_dialog import BatchDialog
from app.gui.image_pane import ImagePane
from app.gui.model_picker import ModelPicker, SliderTexts, saved_model, second_slider_texts, slow_on_cpu_hint
from app.gui.worker import MODEL_REQUEST, ModelReady, PhotoPrepared, PhotoRestored, RestoreWorker, SharedRestorer
from app.photo_io import SUPPORTED_SUFFIXES, is_supported_image, save_photo
from app.model.checkpoint import DEFAULT_FIDELITY
from app.pipeline import DEFAULT_QUALITY
from app.restorers.store import IQPFR_NAME

SLIDER_STEPS = 100
SLIDER_DEBOUNCE_MS = 120
IDLE_THREAD_STOP_MS = 500   # how long closing waits at once for an idle worker thread before waiting without blocking
IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in sorted(SUPPORTED_SUFFIXES)) + ")"
FIDELITY_TOOLTIP = ("How closely the result keeps the photo's own face: towards \"More restoration\" the "
                    "model redraws it from what it learned (0), towards \"Closer to original\" it keeps the "
                    "photo's structure and identity (1).")
NO_FIDELITY_TOOLTIP = ("This model's weights have no fidelity control (an older weights format), "
                       "so the fidelity has no effect.")


class MainWindow(QMainWindow):
    open_requested = Signal(int, str, float, object)      # request id, path, quality, fidelity (None: default)
    settings_requested = Signal(int, float, object)       # request id, quality, fidelity (None: default)
    load_model_requested = Signal()

    def __init__(self, restorer: SharedRestorer, make_restorer=None, initial_model: str | None = None) -> None:
        """`make_restorer(model_name)` → FaceRestorer, when given, adds the model picker; it starts on
        `initial_model`, else on the model chosen last time."""
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.resize(1280, 760)
        self.setAcceptDrops(True)
        self.restorer = restorer
        self._request_id = 0
        self._shown_photo_id = -1
        self.last_prepared: PhotoPrepared | None = None
        self.last_restored: PhotoRestored | None = None
        self.model_ready: ModelReady | None = None
        self.closing = False   # the user has asked to quit: work is being stopped
        self._closed = False

        self._build_widgets()
        self._build_actions()
        self._make_restorer = make_restorer
        self.model_picker: ModelPicker | None = None
        if make_restorer is not None:
            self._build_model_picker(initial_model or saved_model())
        self._start_worker()
        self.load_model_requested.emit()

    # ------------------------------------------------------------------ construction
    def _build_widgets(self) -> None:
        self.photo_list = QListWidget()
        self.photo_list.setMaximumWidth(240)
        self.photo_list.currentItemChanged.connect(self._on_photo_selected)
        self.before_pane = ImagePane("Before", "Open photos (Ctrl+O) or drop them here")
        self.after_pane = ImagePane("After", "The restored photo appears here")

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setValue(round(DEFAULT_QUALITY * SLIDER_STEPS))
        self.slider.setToolTip("Target quality score that conditions the IQPFR Transformer")
        self.slider.valueChanged.connect(self._on_slider_moved)
        self.slider_label = QLabel()
        self._update_slider_label()

        self.fidelity_slider = QSlider(Qt.Orientation.Horizontal)
        self.fidelity_slider.setRange(0, SLIDER_STEPS)
        self.fidelity_slider.setValue(round(DEFAULT_FIDELITY * SLIDER_STEPS))
        self.fidelity_slider.setToolTip("Loading the model…")
        self.fidelity_slider.valueChanged.connect(self._on_fidelity_moved)
        self.fidelity_label = QLabel()
        self.fidelity_label.setMinimumWidth(self.fidelity_label.fontMetrics().horizontalAdvance("0.00 (default)"))
        self.fidelity_left = QLabel("More restoration")
        self.fidelity_right = QLabel("Closer to original")
        self._update_fidelity_label()

        # one timer for both sliders: a burst of moves of either gives one restoration
        self._debounce = QTimer(self, singleShot=True, interval=SLIDER_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._request_restoration)

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background:#5a1d1d; color:white; padding:6px;")
        self.banner.hide()
        self.model_label = QLabel("Loading model…")

        panes = QSplitter()
        panes.addWidget(self.before_pane)
        panes.addWidget(self.after_pane)
        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("Quality"))
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.slider_label)
        slider_row.addSpacing(24)
        self.fidelity_title = QLabel("Fidelity")
        for widget, stretch in ((self.fidelity_title, 0), (self.fidelity_left, 0), (self.fidelity_slider, 1),
                                (self.fidelity_right, 0), (self.fidelity_label, 0)):
            slider_row.addWidget(widget, stretch)
            widget.setEnabled(False)  # until the model says whether it has a fidelity path
        right = QVBoxLayout()
        right.addWidget(self.banner)
        right.addWidget(panes, 1)
        right.addLayout(slider_row)
        body = QHBoxLayout()
        body.addWidget(self.photo_list)
        body.addLayout(right, 1)
        central = QWidget()
        central.setLayout(body)
        self.setCentralWidget(central)
        self.statusBar().addPermanentWidget(self.model_label)

    def _build_actions(self) -> None:
        menu = self.menuBar().addMenu("&File")
        toolbar = self.addToolBar("Main")
        for text, shortcut, handler in (("&Open photos…", QKeySequence.StandardKey.Open, self.choose_photos),
                                        ("&Save result as…", QKeySequence.StandardKey.Save, self.save_result),
                                        ("&Batch export…", "Ctrl+B", self.open_batch_dialog)):
            action = QAction(text, self)
            action.setShortcut(shortcut)
            action.triggered.connect(handler)
            menu.addAction(action)
            toolbar.addAction(action)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        menu.addAction(quit_action)

    def _start_worker(self) -> None:
        self.worker_thread = QThread(self)
        self.worker = RestoreWorker(self.restorer)
        self.worker.moveToThread(self.worker_thread)
        self.open_requested.connect(self.worker.open_photo)
        self.settings_requested.connect(self.worker.change_settings)
        self.load_model_requested.connect(self.worker.load_model)
        self.worker.prepared.connect(self._on_prepared)
        self.worker.restored.connect(self._on_restored)
        self.worker.failed.connect(self._on_failed)
        self.worker.busy.connect(self._on_busy)
        self.worker.model_ready.connect(self._on_model_ready)
        self.worker_thread.start()

    # ------------------------------------------------------------------ photos
    @property
    def quality(self) -> float:
        return self.slider.value() / SLIDER_STEPS

    @property
    def fidelity(self) -> float | None:
        """The fidelity slider's value; None (= the model's default) until the model is known."""
        return self.fidelity_slider.value() / SLIDER_STEPS if self.model_ready is not None else None

    def _next_request(self) -> int:
        self._request_id += 1
        self.worker.latest_request = self._request_id
        return self._request_id

    def choose_photos(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open photos", "", IMAGE_FILTER)
        self.add_photos([Path(p) for p in paths])

    def add_photos(self, paths: list[Path]) -> None:
        """Add photos to the list and show the first one added."""
        first_item = None
        for path in paths:
            if not is_supported_image(path):
                supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
                self.show_error(f"'{path.name}' is not a supported image type ({supported}).")
                continue
            item = QListWidgetItem(path.name)
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            self.photo_list.addItem(item)
            first_item = first_item or item
        if first_item is not None:
            self.photo_list.setCurrentItem(first_item)

    def _on_photo_selected(self, current: QListWidgetItem | None, _previous=None) -> None:
        if current is None:
            return
        self.banner.hide()
        self.last_prepared = self.last_restored = None
        self.before_pane.set_image(None)
        self.after_pane.set_image(None)
        self.before_pane.set_caption("detecting faces…")
        self.after_pane.set_caption("")
        self._shown_photo_id = self.worker.latest_open = self._next_request()  # older opens are now stale
        self.open_requested.emit(self._shown_photo_id, current.data(Qt.ItemDataRole.UserRole), self.quality,
                                 self.fidelity)

    def _on_slider_moved(self, _value: int) -> None:
        self._update_slider_label()
        self._debounce.start()

    def _update_slider_label(self) -> None:
        self.slider_label.setText(f"{self.quality:.2f} (bin {min(int(self.quality * 10), 9)})")

    def _on_fidelity_moved(self, _value: int) -> None:
        self._update_fidelity_label()
        self._debounce.start()

    def _update_fidelity_label(self) -> None:
        value = self.fidelity_slider.value() / SLIDER_STEPS
        ready = self.model_ready
        if ready is not None and not ready.has_second_slider:
            self.fidelity_label.setText("n/a")
            return
        is_default = (ready is not None
                      and round(ready.second_slider_default * SLIDER_STEPS) == self.fidelity_slider.value())
        self.fidelity_label.setText(f"{value:.2f}" + (" (default)" if is_default else ""))

    def _request_restoration(self) -> None:
        if self.last_prepared is not None:
            self.settings_requested.emit(self._next_request(), self.quality, self.fidelity)

    # ------------------------------------------------------------------ worker results
    def _on_model_ready(self, ready: ModelReady) -> None:
        self.model_ready = ready
        info, device = ready.info, ready.device
        self.fidelity_slider.blockSignals(True)  # setting the initial value is not a user's move
        self.fidelity_slider.setValue(round(ready.default_fidelity * SLIDER_STEPS))
        self.fidelity_slider.blockSignals(False)
        tooltip = FIDELITY_TOOLTIP if ready.has_fidelity else NO_FIDELITY_TOOLTIP
        for widget in (self.fidelity_title, self.fidelity_left, self.fidelity_slider, self.fidelity_right,
                       self.fidelity_label):
            widget.setEnabled(ready.has_fidelity)
            widget.setToolTip(tooltip)
        self._show_slider_meaning(ready)
        self._update_fidelity_label()
        caveat = ("" if info.trained and not info.note
                  else " · ⚠ not a real restoration yet (hover for details)" if not info.trained
                  else " · ⚠ early model: see its limits (hover for details)")
        self.model_label.setText(f"{info.name()} · {device}{caveat}")
        if caveat:
            colour = "#c0392b" if not info.trained else "#b9770e"
            self.model_label.setStyleSheet(f"color:{colour}; font-weight:bold;")
        self.model_label.setToolTip(f"{info.describe()}\n\nHow this model was trained and measured: "
                                    "models/MODEL_CARD.md")

    def _on_prepared(self, result: PhotoPrepared) -> None:
        if result.request_id != self._shown_photo_id:
            return
        self.last_prepared = result
        self.before_pane.set_image(result.rgb, result.boxes)
        faces = len(result.boxes)
        score = result.before_score.label() if result.before_score else "no score"
        where = "faces" if faces else "whole photo"
        self.before_pane.set_caption(f"{faces} face(s) found · {where}: {score}")
        if not faces:
            self.show_error(f"No faces found in {result.path.name}; nothing to restore.")
        for note in result.notes:
            self.statusBar().showMessage(note, 8000)
        if faces and self.model_ready is not None:
            hint = slow_on_cpu_hint(self.model_ready.descriptor, self.model_ready.device, result.seconds / faces)
            if hint:
                self.statusBar().showMessage(hint, 15000)

    def _on_restored(self, result: PhotoRestored) -> None:
        if result.request_id < self._shown_photo_id or self.last_prepared is None:
            return
        self.last_restored = result
        self.after_pane.set_image(result.rgb)
        score = result.after_score.label() if result.after_score else "no faces restored"
        fidelity = (f" · fidelity {result.fidelity:.2f}"
                    if self.model_ready is not None and self.model_ready.has_fidelity else "")
        settings = f"quality {result.quality:.2f}{fidelity}"
        descriptor = self.model_ready.descriptor if self.model_ready is not None else None
        if descriptor is not None and not descriptor.has_quality_score:   # a public model: its own setting
            settings = (f"{descriptor.architecture} · " +
                        (f"strength {result.strength:.2f}" if result.strength is not None
                         else f"fidelity w {result.fidelity:.2f}"))
        self.after_pane.set_caption(f"{settings} · faces: {score} · {result.seconds:.2f} s")

    def _on_failed(self, request_id: int, message: str) -> None:
        if request_id == MODEL_REQUEST:
            self.model_label.setText("No model loaded")
        elif request_id < self._shown_photo_id:
            return  # about a photo the user has left
        elif self.last_prepared is None:
            self.before_pane.set_caption("could not open this photo")
        else:
            self.after_pane.set_caption("could not restore this photo")
        self.show_error(message)

    def _on_busy(self, busy: bool) -> None:
        if not self.closing:
            self.statusBar().showMessage("Working…" if busy else "Ready")

    def show_error(self, message: str) -> None:
        self.banner.setText(message)
        self.banner.show()

    # ------------------------------------------------------------------ saving and batch
    def suggested_output_path(self) -> Path | None:
        if self.last_prepared is None:
            return None
        source = self.last_prepared.path
        return source.with_name(f"{source.stem}_restored{source.suffix}")

    def save_result(self, path: str | Path | None = None) -> Path | None:
        if self.last_restored is None or not self.last_restored.face_count:
            self.show_error("Nothing to save yet: open a photo with faces first.")
            return None
        if not path:
            suggestion = self.suggested_output_path()
            path, _ = QFileDialog.getSaveFileName(self, "Save restored photo", str(suggestion), IMAGE_FILTER)
            if not path:
                return None
        try:
            saved = save_photo(self.last_restored.photo, path, overwrite=Path(path).exists())
        except StudioError as exc:
            self.show_error(str(exc))
            return None
        self.statusBar().showMessage(f"Saved {saved}", 8000)
        return saved

    def open_batch_dialog(self, input_dir: str = "") -> BatchDialog:
        has_fidelity = self.model_ready is None or self.model_ready.has_fidelity
        dialog = BatchDialog(self.restorer, self.quality, input_dir or "", self, fidelity=self.fidelity,
                             fidelity_enabled=has_fidelity)
        texts = second_slider_texts(self.model_ready.descriptor if self.model_ready is not None else None)
        if texts is not None:   # a public model: no quality score; the second setting is its own
            dialog.quality_spin.setEnabled(False)
            dialog.fidelity_spin.setEnabled(True)
            dialog.fidelity_spin.setToolTip(texts.tooltip)
            dialog.findChild(QFormLayout).labelForField(dialog.fidelity_spin).setText(texts.title)
        dialog.show()
        return dialog

    # ------------------------------------------------------------------ models
    def _build_model_picker(self, model: str) -> None:
        self.model_picker = ModelPicker(model, self)
        self.model_picker.model_chosen.connect(self.choose_model)
        self.model_picker.manage_requested.connect(self.open_model_manager)
        self.findChild(QToolBar).addWidget(self.model_picker)
        if model != IQPFR_NAME:   # another model asked for, or chosen last time
            self.restorer.replace(lambda: self._make_restorer(model))

    def choose_model(self, model: str) -> None:
        """Restore with another model from now on: load it, then open the current photo again with it."""
        self.restorer.replace(lambda: self._make_restorer(model))
        self.model_ready = None
        self.model_label.setText(f"Loading {model}…")
        self.load_model_requested.emit()
        self._on_photo_selected(self.photo_list.currentItem())

    def open_model_manager(self):
        from app.gui.model_manager import ModelManagerDialog

        dialog = ModelManagerDialog(self)
        if self.model_picker is not None:
            dialog.models_changed.connect(self.model_picker.refresh)
        dialog.show()
        return dialog

    def _show_slider_meaning(self, ready: ModelReady) -> None:
        """Label and enable the sliders for what they mean with this model (IQPFR: quality and fidelity)."""
        texts = second_slider_texts(ready.descriptor)
        self.slider.setEnabled(texts is None)
        self.slider_label.setEnabled(texts is None)
        if texts is None:
            self.slider.setToolTip("Target quality score that conditions the IQPFR Transformer")
            texts = SliderTexts("Fidelity", "More restoration", "Closer to original", self.fidelity_slider.toolTip())
        else:
            self.slider.setToolTip(f"{ready.descriptor.architecture} has no quality score; this slider is for IQPFR.")
            self.fidelity_slider.blockSignals(True)
            self.fidelity_slider.setValue(round(ready.second_slider_default * SLIDER_STEPS))
            self.fidelity_slider.blockSignals(False)
        for widget, text in ((self.fidelity_title, texts.title), (self.fidelity_left, texts.left),
                             (self.fidelity_right, texts.right)):
            widget.setText(text)
        for widget in (self.fidelity_title, self.fidelity_left, self.fidelity_slider, self.fidelity_right,
                       self.fidelity_label):
            widget.setToolTip(texts.tooltip)
            widget.setEnabled(ready.has_second_slider)
        hint = slow_on_cpu_hint(ready.descriptor, ready.device, None)
        if hint:
            self.statusBar().showMessage(hint, 15000)

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        folders = [p for p in paths if p.is_dir()]
        if folders:
            self.open_batch_dialog(str(folders[0]))
        self.add_photos([p for p in paths if p.is_file()])
        event.acceptProposedAction()

    # ------------------------------------------------------------------ quitting
    def _running_batches(self) -> list[BatchDialog]:
        return [dialog for dialog in self.findChildren(BatchDialog) if dialog.running]

    def _work_stopped(self) -> bool:
        return self.worker_thread.isFinished() and not self._running_batches()

    def _confirm_stop_batches(self, count: int) -> bool:
        answer = QMessageBox.question(
            self, "Quit while exporting?",
            ("A batch export is running." if count == 1 else f"{count} batch exports are running.")
            + " Stop after the current photo and quit? Photos already exported are kept and the report lists "
            "them; a later batch into the same folder goes on where this one stopped.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event) -> None:  # noqa: N802
        """Stop the work cooperatively (asking first if a batch is exporting), then close once threads end.

        Never blocks for long and never leaves a thread running: the window stays open, disabled, with a
        message, until the current step of each worker has ended, then closes itself."""
        if not self.closing:
            batches = self._running_batches()
            if batches and not self._confirm_stop_batches(len(batches)):
                event.ignore()
                return
            self.closing = True
            self._stop_model_downloads()
            self.worker.cancel_event.set()
            self.worker_thread.quit()
            for dialog in self.findChildren(BatchDialog):
                if dialog.running:
                    dialog.cancel("The app is closing. ")
                    dialog.job_done.connect(self._close_when_stopped)
                else:
                    dialog.reject()  # an idle dialog closes with the window (no new batch while quitting)
            self.worker_thread.finished.connect(self._close_when_stopped)
            self.worker_thread.wait(IDLE_THREAD_STOP_MS)
        if not self._work_stopped():
            event.ignore()
            for part in (self.centralWidget(), self.menuBar(), *self.findChildren(QToolBar)):
                part.setEnabled(False)
            self.statusBar().showMessage("Stopping… the window closes when the current step is done.")
            return
        self._closed = True
        super().closeEvent(event)

    def _stop_model_downloads(self) -> None:
        """A download in the model manager stops at its next chunk (its part kept for resuming)."""
        from app.gui.model_manager import ModelManagerDialog

        for dialog in self.findChildren(ModelManagerDialog):
            dialog.close()

    def _close_when_stopped(self) -> None:
        if self._work_stopped() and not self._closed:
            self.close()
