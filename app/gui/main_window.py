"""Main window: photo list, before/after panes with quality scores, the quality and fidelity sliders."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.errors import StudioError
from app.export_settings import ExportSettings, export_photo, name_output, output_path
from app.gui.background_worker import BackgroundWorker, PreviewBackgroundReady, SaveRequest
from app.gui.batch_dialog import BatchDialog, format_time_left
from app.gui.compare_view import CompareView
from app.gui.controls_panel import ControlsPanel
from app.gui.export_dialog import SAVE_SETTINGS_KEY, ExportDialog, remember_export_settings, remembered_export_settings
from app.gui.face_strip import FaceStrip
from app.gui.help_dialogs import AboutDialog, ShortcutsDialog, add_key_hint
from app.gui.message_banner import MessageBanner
from app.gui.model_picker import ModelPicker, saved_model, second_slider_texts, slow_on_cpu_hint
from app.gui.models_menu import ModelsMenu, PublicModelsNote
from app.gui.photo_list import PhotoList, PhotoStatus, ThumbnailReader, path_of
from app.gui.photo_sources import RecentFilesMenu, clipboard_files, folder_photos, save_pasted_image
from app.gui.settings_store import OPEN_FOLDER, SettingsStore
from app.gui.threads import start_worker_thread
from app.gui.worker import ModelReady, RestoreWorker, SharedRestorer
from app.photo_io import SUPPORTED_SUFFIXES, is_supported_image
from app.pipeline import DEFAULT_PREVIEW_PIXELS
from app.quality import QualityScore
from app.restorers.store import IQPFR_NAME
from app.session import EditingSession, Failure, PhotoPrepared, PhotoRestored
from app.upscaling.whole_photo import WholePhotoSettings

SLIDER_DEBOUNCE_MS = 120
IDLE_THREAD_STOP_MS = 500  # how long closing waits at once for an idle worker thread before waiting without blocking
IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in sorted(SUPPORTED_SUFFIXES)) + ")"
EMPTY_STATE = (
    "Open photos (Ctrl+O) or a folder (Ctrl+Shift+O), paste an image (Ctrl+V), or drop photos here.\n"
    "Each face found is restored; move the sliders below to change the result."
)
OPENING = "Opening {name}…"  # what the photo area says until the photo is on show
SPLITTER = "photos"  # the splitter between the photo list and the rest, in the settings store


def preview_pixels_for_screen() -> int:
    """How many pixels the preview of a photo may have: enough to show the photo filling the screen at
    200 % (twice the screen's width and height in device pixels), and never less than the default."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return DEFAULT_PREVIEW_PIXELS
    size, ratio = screen.size(), screen.devicePixelRatio()
    return max(DEFAULT_PREVIEW_PIXELS, round(4 * size.width() * size.height() * ratio * ratio))


class MainWindow(QMainWindow):
    open_requested = Signal(int, str, float, object, object, object)  # request id, path, quality, fidelity (None:
    # default), the faces the user added to the photo before (boxes in photo pixels), the faces to paste (None: all)
    settings_requested = Signal(int, float, object, object)  # request id, quality, fidelity, faces (None: all)
    load_model_requested = Signal()
    add_face_requested = Signal(int, object, float, object, object)  # request id, box (preview px), quality,
    #                                                                    fidelity, faces (None: all)
    preview_background_requested = Signal(int, str, object)  # request id, path, WholePhotoSettings
    preview_background_set = Signal(object)  # PreviewBackgroundReady, or None: paste into the photo itself
    save_requested = Signal(object)  # SaveRequest: a full-size save with an enhanced background
    full_size_saved = Signal(object)  # the file a full-size save with an enhanced background wrote

    def __init__(self, restorer: SharedRestorer, make_restorer=None, initial_model: str | None = None) -> None:
        """`make_restorer(model_name)` → FaceRestorer, when given, adds the model picker; it starts on
        `initial_model`, else on the model chosen last time."""
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.resize(1280, 760)
        self.setAcceptDrops(True)
        self.restorer = restorer
        self.session = EditingSession()
        self.model_ready: ModelReady | None = None
        self.closing = False  # the user has asked to quit: work is being stopped
        self._closed = False

        self._build_widgets()
        self._build_actions()
        self._build_view_menu()
        self._make_restorer = make_restorer
        self.model_picker: ModelPicker | None = None
        if make_restorer is not None:
            self._build_model_picker(initial_model or saved_model())
            self._show_public_models_note_once()
        self._build_help_menu()  # last, so that Help is the last menu
        self._restore_settings()
        self._start_worker()
        self.load_model_requested.emit()

    # ------------------------------------------------------------------ construction
    def _build_widgets(self) -> None:
        self.photo_list = PhotoList()  # thumbnails, each photo's status; remove with Delete or its context menu
        self.photo_list.currentItemChanged.connect(self._on_photo_selected)
        self.compare = CompareView()  # before and after: side by side or split, shared zoom and pan
        self.compare.set_placeholder(EMPTY_STATE)
        self.face_strip = FaceStrip()  # the faces found: tick to include, click to zoom, add a missed one
        self.face_strip.include_changed.connect(self._on_faces_ticked)
        self.face_strip.face_activated.connect(self.zoom_to_face)
        self.face_strip.add_face_requested.connect(self.start_adding_face)
        self.compare.face_clicked.connect(self.zoom_to_face)
        self.compare.box_drawn.connect(self._add_face_in_box)
        self.compare.box_drawing_cancelled.connect(lambda: self.statusBar().clearMessage())

        # one timer for both sliders: a burst of moves of either gives one restoration
        self._debounce = QTimer(self, singleShot=True, interval=SLIDER_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._request_restoration)
        self.controls = ControlsPanel()
        self.controls.settings_changed.connect(lambda: self._debounce.start())
        self.controls.whole_photo_changed.connect(self._on_whole_photo_changed)
        self._save_progress: QProgressDialog | None = None
        # the panel's widgets, under the names the window and its tests use
        self.slider, self.slider_label = self.controls.quality_slider, self.controls.quality_label
        self.fidelity_slider, self.fidelity_label = self.controls.fidelity_slider, self.controls.fidelity_label
        self.fidelity_title = self.controls.fidelity_title
        self.fidelity_left, self.fidelity_right = self.controls.fidelity_left, self.controls.fidelity_right

        self.banner = MessageBanner()
        self.models_note = PublicModelsNote()  # shown once, on the first run (when there is a model picker)
        self.models_note.show_models.connect(self.open_model_manager)
        self.model_label = QLabel("Loading the model in the background…")

        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.banner)
        right.addWidget(self.models_note)
        right.addWidget(self.compare, 1)
        right.addWidget(self.face_strip)
        right.addWidget(self.controls)
        main_area = QWidget()
        main_area.setLayout(right)
        self.splitter = QSplitter()  # photo list | photos and controls (its position is remembered)
        self.splitter.addWidget(self.photo_list)
        self.splitter.addWidget(main_area)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([240, 1040])
        self.setCentralWidget(self.splitter)
        self.statusBar().addPermanentWidget(self.model_label)

    def _build_actions(self) -> None:
        menu = self.menuBar().addMenu("&File")
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")  # named, so that saveState() can remember it
        self._action("&Open photos…", QKeySequence.StandardKey.Open, self.choose_photos, menu, toolbar)
        self._action("Open &folder…", "Ctrl+Shift+O", self.choose_folder, menu)
        self.recent_menu = RecentFilesMenu(self)
        self.recent_menu.file_chosen.connect(self.open_recent)
        menu.addMenu(self.recent_menu)
        self._action("&Paste image", QKeySequence.StandardKey.Paste, self.paste_image, menu)
        menu.addSeparator()
        for text, shortcut, handler in (
            ("&Save result as…", QKeySequence.StandardKey.Save, self.save_result),
            ("&Batch export…", "Ctrl+B", self.open_batch_dialog),
        ):
            self._action(text, shortcut, handler, menu, toolbar)
        self.export_all_action = QAction("&Export all open photos…", self)
        self.export_all_action.setShortcut("Ctrl+Shift+E")
        self.export_all_action.triggered.connect(self.export_all_photos)
        menu.addAction(self.export_all_action)
        menu.addSeparator()
        self._action("&Quit", "Ctrl+Q", self.close, menu)  # StandardKey.Quit is empty on some platforms
        photos = self.menuBar().addMenu("&Photos")
        self.next_photo_action = self._action("&Next photo", "PgDown", lambda: self.select_photo(1), photos)
        self.next_photo_action.setShortcuts([QKeySequence("PgDown"), QKeySequence("Alt+Right")])
        self.previous_photo_action = self._action("&Previous photo", "PgUp", lambda: self.select_photo(-1), photos)
        self.previous_photo_action.setShortcuts([QKeySequence("PgUp"), QKeySequence("Alt+Left")])
        photos.addSeparator()
        # Delete takes the photo off the list while the list has the focus (also its context menu); never the file
        self.remove_photo_action = self._action(
            "&Remove from list", QKeySequence.StandardKey.Delete, self.remove_photo, photos
        )
        self.remove_photo_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.photo_list.addAction(self.remove_photo_action)
        photos.addSeparator()
        self._action("Re&set sliders", "", self.controls.reset, photos)

    def _build_view_menu(self) -> None:
        """View: side by side or split (also on the toolbar), zoom; Space held shows the before in place of the
        after, also while the photo list or the sliders have the keyboard focus."""
        menu = self.menuBar().addMenu("&View")
        toolbar = self.findChild(QToolBar, "mainToolbar")  # made by _build_actions
        places = (menu, toolbar) if toolbar is not None else (menu,)
        if toolbar is not None:
            toolbar.addSeparator()
        modes = QActionGroup(self)
        self.view_mode_actions: dict[str, QAction] = {}
        for mode, text, tip in (
            ("side_by_side", "&Side by side", "Before and after next to each other"),
            ("split", "S&plit", "One image: before left of a divider you drag, after right"),
        ):
            action = self._action(text, "", lambda _checked=False, m=mode: self.compare.set_mode(m), *places)
            action.setCheckable(True)
            action.setChecked(mode == self.compare.mode)
            action.setToolTip(tip)
            modes.addAction(action)
            self.view_mode_actions[mode] = action
        self.face_boxes_action = self._action("Face &boxes", "", self.show_face_boxes, *places)
        self.face_boxes_action.setCheckable(True)
        self.face_boxes_action.setToolTip("Show the boxes of the faces found on the before (remembered)")
        menu.addSeparator()
        zoom_in = self._action("Zoom &in", QKeySequence.StandardKey.ZoomIn, self.compare.zoom_in, menu)
        zoom_in.setShortcuts([QKeySequence(QKeySequence.StandardKey.ZoomIn), QKeySequence("Ctrl+=")])
        self._action("Zoom &out", QKeySequence.StandardKey.ZoomOut, self.compare.zoom_out, menu)
        self._action("&Fit to window", "Ctrl+0", self.compare.zoom_fit, menu)
        self._action("&Actual size (1:1)", "Ctrl+1", self.compare.zoom_actual, menu)
        menu.addSeparator()
        add_key_hint(menu, "Hold Space to see the before in place of the after", "Space (hold)")
        for widget in (self.photo_list, self.slider, self.fidelity_slider):
            self.compare.watch_space_on(widget)

    def _build_help_menu(self) -> None:
        menu = self.menuBar().addMenu("&Help")
        self._action("&Keyboard shortcuts…", QKeySequence.StandardKey.HelpContents, self.show_shortcuts, menu)
        about = self._action(f"&About {APP_NAME}…", "", self.show_about, menu)
        about.setMenuRole(QAction.MenuRole.AboutRole)

    def _action(self, text: str, shortcut, handler, *containers) -> QAction:
        """A window action with its shortcut, added to each of `containers` (menus, the toolbar)."""
        action = QAction(text, self)
        action.setShortcut(shortcut)
        action.triggered.connect(handler)
        for container in containers:
            container.addAction(action)
        return action

    def _start_worker(self) -> None:
        self.worker = RestoreWorker(self.restorer, self.session, preview_pixels=preview_pixels_for_screen())
        self.open_requested.connect(self.worker.open_photo)
        self.settings_requested.connect(self.worker.change_settings)
        self.add_face_requested.connect(self.worker.add_face)
        self.load_model_requested.connect(self.worker.load_model)
        self.worker.prepared.connect(self._on_prepared)
        self.worker.restored.connect(self._on_restored)
        self.worker.failed.connect(self._on_failed)
        self.worker.busy.connect(self._on_busy)
        self.worker.model_ready.connect(self._on_model_ready)
        self.preview_background_set.connect(self.worker.set_preview_background)
        self.worker_thread = start_worker_thread(self.worker, self)
        self.thumbnail_reader = ThumbnailReader()  # the photo list's thumbnails, read on a thread of their own
        self.photo_list.thumbnail_wanted.connect(self.thumbnail_reader.read)
        self.thumbnail_reader.thumbnail_read.connect(self.photo_list.set_thumbnail)
        self.thumbnail_thread = start_worker_thread(self.thumbnail_reader, self)
        self.background_worker = BackgroundWorker(self.restorer, self.session, preview_pixels_for_screen())
        self.preview_background_requested.connect(self.background_worker.make_preview)
        self.save_requested.connect(self.background_worker.save)
        self.background_worker.preview_ready.connect(self._on_preview_background)
        self.background_worker.tile_progress.connect(self._on_tile_progress)
        self.background_worker.saved.connect(self._on_full_size_saved)
        self.background_worker.save_ended.connect(self._on_save_ended)
        self.background_worker.failed.connect(self._on_background_failed)
        self.background_thread = start_worker_thread(self.background_worker, self)

    # ------------------------------------------------------------------ photos
    @property
    def last_prepared(self) -> PhotoPrepared | None:
        return self.session.prepared

    @property
    def last_restored(self) -> PhotoRestored | None:
        return self.session.restored

    @property
    def quality(self) -> float:
        return self.controls.quality

    @property
    def fidelity(self) -> float | None:
        """The fidelity slider's value; None (= the model's default) until the model is known."""
        return self.controls.second_value if self.model_ready is not None else None

    @property
    def whole_photo(self) -> WholePhotoSettings:
        """The output scale and background enhancement chosen under the sliders."""
        return self.controls.whole_photo

    def choose_photos(self) -> None:
        store = SettingsStore()
        start = store.folder(OPEN_FOLDER)
        paths, _ = QFileDialog.getOpenFileNames(self, "Open photos", str(start or ""), IMAGE_FILTER)
        if paths:
            store.set_folder(OPEN_FOLDER, Path(paths[0]).parent)
        self.add_photos([Path(p) for p in paths])

    def add_photos(self, paths: list[Path], note: str = "", remember: bool = True) -> None:
        """Add photos to the list and show the first one added. What could not be added (and `note`, e.g. what a
        folder left out) stays on show until the next files are added or the user closes the message. Photos
        are put in File → Open recent unless `remember` is False (a folder's photos, a pasted image)."""
        if paths or note:
            self.banner.clear_lasting_messages()
        problems = [note] if note else []
        store = SettingsStore()
        first_item = None
        for path in paths:
            if not is_supported_image(path):
                supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
                problems.append(f"'{path.name}' is not a supported image type ({supported}).")
                continue
            item = self.photo_list.add_photo(path)
            first_item = first_item or item
            if remember:
                store.add_recent_file(path)
        if first_item is not None:
            self.photo_list.setCurrentItem(first_item)
        for problem in problems:  # after the selection, which clears only the messages about the last photo
            self.banner.show_message(problem, lasting=True)

    def choose_folder(self) -> None:
        store = SettingsStore()
        folder = QFileDialog.getExistingDirectory(self, "Open folder", str(store.folder(OPEN_FOLDER) or ""))
        if folder:
            store.set_folder(OPEN_FOLDER, folder)
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path) -> list[Path]:
        """Add the supported photos directly in `folder` (not in its subfolders), saying what was left out and why."""
        try:
            found = folder_photos(folder)
        except StudioError as exc:
            self.add_photos([], str(exc))
            return []
        note = found.message(folder)
        if not found.photos:
            note = note or f"'{folder.name}' has no photos in it (subfolders are not opened)."
        self.add_photos(found.photos, note, remember=False)
        return found.photos

    def open_recent(self, path: Path) -> None:
        if not path.is_file():
            SettingsStore().remove_recent_file(path)
            self.add_photos([], f"'{path.name}' is no longer in {path.parent}; it was taken off the recent photos.")
            return
        self.add_photos([path])

    def paste_image(self) -> Path | None:
        """Open what is on the clipboard: photo files copied in a file manager, or an image (saved as 'Pasted image
        HH-MM-SS.png' in the per-user cache, since the photo list and saving work from files)."""
        clipboard = QGuiApplication.clipboard()
        files = clipboard_files(clipboard.mimeData())
        if files:
            self.add_photos(files)
            return None
        mime = clipboard.mimeData()
        if mime is None or not mime.hasImage():
            self.add_photos([], "Nothing to paste: copy an image, or photo files, first.")
            return None
        try:
            path = save_pasted_image(clipboard.image())
        except StudioError as exc:
            self.add_photos([], str(exc))
            return None
        self.add_photos([path], remember=False)
        return path

    def select_photo(self, offset: int) -> None:
        """Show the next (`offset` 1) or previous (-1) photo of the list; nothing happens past either end."""
        count = self.photo_list.count()
        row = min(max(self.photo_list.currentRow() + offset, 0), count - 1)
        if count and row != self.photo_list.currentRow():
            self.photo_list.setCurrentRow(row)

    def _on_photo_selected(self, current: QListWidgetItem | None, _previous=None) -> None:
        self.banner.clear_photo_messages()  # messages about the photo left; those about added files stay
        path = path_of(current) if current is not None else None
        request_id = self.session.begin_open(path)  # older opens and restorations are now stale
        self.compare.cancel_box_drawing()
        self.face_strip.show_prepared(None)
        self.compare.set_before(None)
        self.compare.set_after(None)
        self.compare.set_after_caption("")
        if current is None or path is None:  # the last photo was taken off the list
            self.compare.set_before_caption("")
            self.compare.set_placeholder(EMPTY_STATE)
            return
        self.compare.set_before_caption("detecting faces…")
        self.compare.set_placeholder(OPENING.format(name=path.name))
        self.photo_list.set_status(current, PhotoStatus.OPENING)
        added = self.session.edits(path).added_boxes  # the user's edits of this photo, if it was shown before
        self.open_requested.emit(request_id, str(path), self.quality, self.fidelity, added, self.session.include)
        self._request_preview_background()

    # ------------------------------------------------------------------ the whole photo
    def _request_preview_background(self) -> None:
        """The shown photo's preview background at the chosen output scale (made off the GUI thread); until it
        comes, the faces are pasted into the photo itself."""
        request_id = self.session.begin_background()  # older background requests stop between tiles
        self.preview_background_set.emit(None)
        whole = self.whole_photo
        path = self.session.shown_path
        self.controls.show_estimate("")
        if path is not None and whole.changes_photo:
            if whole.enhanced:
                self.controls.show_estimate("enhancing the preview…")
            self.preview_background_requested.emit(request_id, str(path), whole)

    def _on_whole_photo_changed(self) -> None:
        SettingsStore().set_whole_photo(self.whole_photo)
        self._request_preview_background()
        self._request_restoration()

    def _on_preview_background(self, result: PreviewBackgroundReady) -> None:
        if not self.session.background_wanted(result.request_id) or result.path != self.session.shown_path:
            return  # another photo or other settings since
        self.preview_background_set.emit(result)
        self._request_restoration()  # paste the faces into it (no new restoration)
        if result.full_size_seconds is not None:
            device = self.model_ready.device if self.model_ready is not None else "this device"
            estimate = format_time_left(result.full_size_seconds).replace(" left", "")
            self.controls.show_estimate(f"full size: {estimate} on {device}")

    def _on_tile_progress(self, request_id: int, done: int, total: int) -> None:
        if request_id == 0 and self._save_progress is not None:
            self._save_progress.setMaximum(total)
            self._save_progress.setValue(done)
        elif request_id and self.session.background_wanted(request_id) and done < total:
            self.controls.show_estimate(f"enhancing the preview: tile {done + 1} of {total}…")

    def _on_background_failed(self, request_id: int, message: str) -> None:
        if request_id == 0 or self.session.background_wanted(request_id):
            self.controls.show_estimate("")
            self.show_error(message)

    def remove_photo(self) -> None:
        """Take the current photo off the list (its file is not touched); the next one is shown."""
        self.photo_list.remove_current()

    def _set_shown_status(self, status: PhotoStatus, detail: str = "") -> None:
        """The status of the photo on show, in the list."""
        item = self.photo_list.currentItem()
        if item is not None:
            self.photo_list.set_status(item, status, detail)

    def _request_restoration(self) -> None:
        self._remember_sliders()
        request_id = self.session.begin_settings()
        if request_id is not None:
            if self.session.prepared is not None and self.session.prepared.boxes:
                self._set_shown_status(PhotoStatus.RESTORING)
            self.settings_requested.emit(request_id, self.quality, self.fidelity, self.session.include)

    # ------------------------------------------------------------------ faces
    def _on_faces_ticked(self, ticked: frozenset[int]) -> None:
        """Faces ticked in or out in the strip: paste the restored faces again (no new restoration)."""
        self.session.include_faces(ticked)
        self._request_restoration()

    def zoom_to_face(self, index: int) -> None:
        prepared = self.session.prepared
        if prepared is not None and 0 <= index < len(prepared.boxes):
            self.compare.zoom_to_box(prepared.boxes[index])

    def start_adding_face(self) -> None:
        """Let the user drag a box around a face the detector missed (see _add_face_in_box)."""
        if self.session.prepared is None:
            return
        self.compare.start_box_drawing()
        self.statusBar().showMessage("Drag a box around the face the detector missed (Esc cancels).")

    def _add_face_in_box(self, box) -> None:
        """A box drawn on the before image (preview pixels): find the face inside it and restore it too."""
        request_id = self.session.begin_add_face(tuple(box))
        if request_id is None:
            return
        self.statusBar().showMessage("Looking for a face inside the box…")
        self.add_face_requested.emit(request_id, tuple(box), self.quality, self.fidelity, self.session.include)

    # ------------------------------------------------------------------ worker results
    def _on_model_ready(self, ready: ModelReady) -> None:
        self.model_ready = ready
        info, device = ready.info, ready.device
        self.controls.show_model(ready, SettingsStore().second_slider(_architecture(ready)))
        hint = slow_on_cpu_hint(ready.descriptor, ready.device, None)
        if hint:
            self.statusBar().showMessage(hint, 15000)
        caveat = (
            ""
            if info.trained and not info.note
            else " · ⚠ not a real restoration yet (hover for details)"
            if not info.trained
            else " · ⚠ early model: see its limits (hover for details)"
        )
        self.model_label.setText(f"{info.name()} · {device}{caveat}")
        dark = self.palette().window().color().lightness() < 128  # a dark theme: lighter warning colours
        colour = ("#ff7b6b" if dark else "#c0392b") if not info.trained else ("#f5b041" if dark else "#b9770e")
        self.model_label.setStyleSheet(f"color:{colour}; font-weight:bold;" if caveat else "")
        self.model_label.setToolTip(
            f"{info.describe()}\n\nHow this model was trained and measured: models/MODEL_CARD.md"
        )

    def _on_prepared(self, result: PhotoPrepared) -> None:
        if not self.session.accept_prepared(result):
            return
        self.compare.set_before(result.rgb, result.boxes)
        self.photo_list.set_thumbnail_from_rgb(result.path, result.rgb)  # when Qt could not read the file itself
        self.face_strip.show_prepared(result, self.session.include)
        if self.session.restored is not None:
            self.face_strip.show_restored(self.session.restored)
        faces = len(result.boxes)
        measured = "the faces" if faces else "the whole photo"
        self.compare.set_before_caption(f"{_faces(faces)} found\n{measured}: {_score_text(result.before_score)}")
        if result.request_id != self.session.shown_photo_id:  # a face added inside a box the user drew
            self.banner.clear_photo_messages()  # "no faces found", or a box without a face, no longer apply
            self.statusBar().showMessage(f"Face {faces} added.", 8000)
            if self.session.include is not None and not self.session.settings_wanted(result.request_id):
                self._request_restoration()  # a newer request went without the new face
            return
        self._set_shown_status(PhotoStatus.RESTORING if faces else PhotoStatus.NO_FACES)
        if not faces:
            whole = self.whole_photo
            outcome = "nothing to restore"
            if whole.changes_photo:
                outcome = f"only the whole photo is made ({whole.describe()})"
            self.show_error(
                f"No faces found in {result.path.name}; {outcome}. If it has a face the detector missed, use "
                '"Add a missed face…" under the photo and drag a box around it.'
            )
        for note in result.notes:
            self.statusBar().showMessage(note, 8000)
        if faces and self.model_ready is not None:
            hint = slow_on_cpu_hint(self.model_ready.descriptor, self.model_ready.device, result.seconds / faces)
            if hint:
                self.statusBar().showMessage(hint, 15000)

    def _on_restored(self, result: PhotoRestored) -> None:
        if not self.session.accept_restored(result):
            return
        self.compare.set_after(result.rgb)
        self.face_strip.show_restored(result)
        total = result.total_faces
        restored = f"{result.face_count} of {total} faces" if result.face_count != total else _faces(total)
        self._set_shown_status(PhotoStatus.RESTORED if total else PhotoStatus.NO_FACES, restored if total else "")
        fidelity = (
            f" · fidelity {result.fidelity:.2f}"
            if self.model_ready is not None and self.model_ready.has_fidelity
            else ""
        )
        settings = f"target quality {result.quality:.2f}{fidelity}"
        descriptor = self.model_ready.descriptor if self.model_ready is not None else None
        if descriptor is not None and not descriptor.has_quality_score:  # a public model: its own setting
            settings = f"{descriptor.architecture} · " + (
                f"strength {result.strength:.2f}"
                if result.strength is not None
                else f"fidelity w {result.fidelity:.2f}"
            )
        # the settings asked for on one line, what was measured on the result on the other
        measured = "measuring…" if result.face_count and result.after_score is None else _score_text(result.after_score)
        self.compare.set_after_caption(f"{settings} · {result.seconds:.2f} s\n{restored} restored: {measured}")
        if (
            not self._restored_at_the_sliders(result)
            and self.session.settings_wanted(result.request_id)  # no newer request is on its way
            and not self._debounce.isActive()
        ):
            self._request_restoration()  # e.g. a photo opened before the model was ready: at the model's defaults

    def _restored_at_the_sliders(self, result: PhotoRestored) -> bool:
        """Whether `result` was restored at what the sliders say now. A photo opened before the model is ready is
        restored at the model's defaults; once it is, the sliders show the values remembered from last time."""
        ready = self.model_ready
        if ready is None:
            return True  # the sliders do not say anything yet
        if not math.isclose(result.quality, self.quality):
            return False
        if not ready.has_second_slider:
            return True
        second = result.strength if ready.descriptor is not None and ready.descriptor.has_strength else result.fidelity
        return second is not None and math.isclose(second, self.controls.second_value, abs_tol=1e-9)

    def _on_failed(self, request_id: int, message: str) -> None:
        failure = self.session.classify_failure(request_id)
        if failure is Failure.MODEL:
            self.model_label.setText("No model loaded")
        elif failure is Failure.STALE:
            return  # about a photo the user has left
        elif failure is Failure.OPEN:
            self.compare.set_before_caption("could not open this photo")
            self.compare.set_placeholder(message)
            self._set_shown_status(PhotoStatus.FAILED, message)
        elif failure is Failure.ADD_FACE:
            self.statusBar().clearMessage()  # the photo and its result are as they were
        else:
            self.compare.set_after_caption("could not restore this photo")
            self._set_shown_status(PhotoStatus.FAILED, message)
        self.show_error(message)

    def _on_busy(self, busy: bool) -> None:
        self.compare.set_busy(busy and not self.closing)
        if not self.closing:
            self.statusBar().showMessage("Working…" if busy else "Ready")

    def show_error(self, message: str) -> None:
        """Say what went wrong with the photo on show (the message goes when another photo is shown)."""
        self.banner.show_message(message)

    # ------------------------------------------------------------------ saving and batch
    def suggested_output_path(self) -> Path | None:
        """Where Save result would write the open photo with the export settings used last time."""
        if self.last_prepared is None:
            return None
        source = self.last_prepared.path
        try:
            return output_path(source, remembered_export_settings(SAVE_SETTINGS_KEY, ExportSettings()))
        except StudioError:  # those settings would name the original itself
            return name_output(source, ExportSettings())

    def save_result(self, path: str | Path | None = None) -> Path | None:
        """Save the restored photo at full resolution: to `path` (format from its extension), or without one
        where the export dialog's settings say (asking before replacing a file); the settings are remembered."""
        whole = self.whole_photo
        restored = self.last_restored
        if restored is None or self.last_prepared is None or not (restored.face_count or whole.changes_photo):
            left_out = restored is not None and restored.total_faces
            self.show_error(
                "Nothing to save: every face is left out; tick a face under the photo to restore it."
                if left_out
                else "Nothing to save yet: open a photo with faces first."
            )
            return None
        settings = remembered_export_settings(SAVE_SETTINGS_KEY, ExportSettings())
        if not path:
            dialog = ExportDialog(self.last_prepared.path, settings, self)
            if dialog.exec() != ExportDialog.DialogCode.Accepted or (target := dialog.target()) is None:
                return None
            settings, path = dialog.settings_widget.settings(), target
            remember_export_settings(SAVE_SETTINGS_KEY, settings)
            if (
                path.exists()
                and QMessageBox.question(
                    self,
                    "Replace file?",
                    f"'{path}' already exists. Replace it?",
                    QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                    QMessageBox.StandardButton.No,
                )
                != QMessageBox.StandardButton.Yes
            ):
                return None
        if whole.enhanced:  # minutes on a CPU: off the GUI thread, with progress and Cancel
            self._save_full_size(SaveRequest(restored, whole, Path(path), settings))
            return None
        try:
            base = None
            if whole.changes_photo and restored.prepared is not None:  # a plain resize: quick
                base = self.restorer.get().output_photo(restored.prepared.photo, whole)
            photo = restored.full_photo(base)
            saved = export_photo(photo, path, settings, overwrite=Path(path).exists())
        except StudioError as exc:
            self.show_error(str(exc))
            return None
        self.statusBar().showMessage(" ".join([f"Saved {saved}.", *photo.warnings]), 8000)
        return saved

    def _save_full_size(self, request: SaveRequest) -> None:
        progress = QProgressDialog(
            f"Enhancing the full-size photo ({request.whole.describe()}) and saving it as {request.target.name}…",
            "Cancel",
            0,
            0,
            self,
        )
        progress.setWindowTitle("Saving")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)
        progress.canceled.connect(self.background_worker.cancel_save.set)
        self._save_progress = progress
        progress.show()
        self.save_requested.emit(request)

    def _on_full_size_saved(self, saved: Path, warnings: list[str]) -> None:
        self.statusBar().showMessage(" ".join([f"Saved {saved}.", *warnings]), 8000)
        self.full_size_saved.emit(saved)

    def _on_save_ended(self) -> None:
        if self._save_progress is not None:
            self._save_progress.close()
            self._save_progress.deleteLater()
            self._save_progress = None

    def open_batch_dialog(self, input_dir: str = "", files: list[Path] | None = None) -> BatchDialog:
        """The batch dialog for a folder, or with `files` for those photos (Export all open photos)."""
        has_fidelity = self.model_ready is None or self.model_ready.has_fidelity
        dialog = BatchDialog(
            self.restorer,
            self.quality,
            input_dir or "",
            self,
            fidelity=self.fidelity,
            fidelity_enabled=has_fidelity,
            files=files,
            whole=self.whole_photo,
        )
        texts = second_slider_texts(self.model_ready.descriptor if self.model_ready is not None else None)
        if texts is not None:  # a public model: no quality score; the second setting is its own
            dialog.set_second_setting_texts(texts.title, texts.tooltip)
        dialog.show()
        return dialog

    def export_all_photos(self) -> BatchDialog | None:
        """Restore every photo in the list with the current settings and save each with the export settings
        (a batch over those files: progress, per-file table, cancel)."""
        files = self.photo_list.paths()
        if not files:
            self.show_error("No photos are open: open photos first (Ctrl+O).")
            return None
        return self.open_batch_dialog(files=files)

    # ------------------------------------------------------------------ models
    def _build_model_picker(self, model: str) -> None:
        self.model_picker = ModelPicker(model, self)
        self.model_picker.model_chosen.connect(self.choose_model)
        self.model_picker.manage_requested.connect(self.open_model_manager)
        self.controls.set_model_picker(self.model_picker)
        self.models_menu = ModelsMenu(self)  # the public models and their licences, in the menu bar
        self.models_menu.manage_requested.connect(self.open_model_manager)
        self.models_menu.model_chosen.connect(self.model_picker.choose)
        self.models_menu.add_file_requested.connect(lambda: self.open_model_manager().choose_file_to_add())
        self.menuBar().addMenu(self.models_menu)
        if model != IQPFR_NAME:  # another model asked for, or chosen last time
            self.restorer.replace(lambda: self._make_restorer(model))

    def _show_public_models_note_once(self) -> None:
        """On the first run: say that the public face models can be added, with their licences."""
        store = SettingsStore()
        if not store.public_models_note_shown():
            self.models_note.show()
            store.set_public_models_note_shown()

    def choose_model(self, model: str) -> None:
        """Restore with another model from now on: load it, then open the current photo again with it."""
        self.restorer.replace(lambda: self._make_restorer(model))
        self.model_ready = None
        self.model_label.setText(f"Loading {model}…")
        self.load_model_requested.emit()
        self._on_photo_selected(self.photo_list.currentItem())

    def open_model_manager(self, select: str = ""):
        """The model manager; `select`: the catalogue entry to select (to download it or add its file)."""
        from app.gui.model_manager import ModelManagerDialog

        dialog = ModelManagerDialog(self)
        if self.model_picker is not None:
            dialog.models_changed.connect(self.model_picker.refresh)
        if select:
            dialog.select(select)
        dialog.show()
        return dialog

    def show_face_boxes(self, shown: bool) -> None:
        """Draw the boxes of the faces found on the before, or not (remembered)."""
        self.compare.set_show_boxes(shown)
        self.face_boxes_action.setChecked(shown)
        SettingsStore().set_face_boxes_shown(shown)

    # ------------------------------------------------------------------ help
    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self)
        dialog.show()
        return dialog

    def show_about(self) -> AboutDialog:
        ready = self.model_ready
        dialog = AboutDialog(self, f"{ready.info.name()} · {ready.device}" if ready is not None else "")
        dialog.show()
        return dialog

    # ------------------------------------------------------------------ remembered between runs
    def _restore_settings(self) -> None:
        store = SettingsStore()
        geometry, state, splitter = store.geometry(), store.window_state(), store.splitter_state(SPLITTER)
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        if splitter is not None:
            self.splitter.restoreState(splitter)
        quality = store.quality()
        if quality is not None:
            self.controls.set_quality(quality)
        shown = store.face_boxes_shown()
        self.compare.set_show_boxes(shown)
        self.face_boxes_action.setChecked(shown)
        whole = store.whole_photo()
        if whole is not None:
            self.controls.set_whole_photo(whole)

    def _save_settings(self) -> None:
        store = SettingsStore()
        store.set_geometry(self.saveGeometry())
        store.set_window_state(self.saveState())
        store.set_splitter_state(SPLITTER, self.splitter.saveState())
        self._remember_sliders(store)
        store.sync()

    def _remember_sliders(self, store: SettingsStore | None = None) -> None:
        store = store or SettingsStore()
        store.set_quality(self.quality)
        if self.model_ready is not None and self.model_ready.has_second_slider:
            store.set_second_slider(_architecture(self.model_ready), self.controls.second_value)

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
        return self._threads_stopped() and not self._running_batches()

    def _confirm_stop_batches(self, count: int) -> bool:
        answer = QMessageBox.question(
            self,
            "Quit while exporting?",
            ("A batch export is running." if count == 1 else f"{count} batch exports are running.")
            + " Stop after the current photo and quit? Photos already exported are kept and the report lists "
            "them; a later batch into the same folder goes on where this one stopped.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
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
            self._save_settings()
            self._stop_model_downloads()
            self.session.close()  # a background being enhanced stops at its next tile
            self.worker_thread.quit()
            self.thumbnail_thread.quit()  # thumbnails still to read are left
            self.thumbnail_thread.finished.connect(self._close_when_stopped)
            self.background_thread.quit()
            self.background_thread.finished.connect(self._close_when_stopped)
            for dialog in self.findChildren(BatchDialog):
                if dialog.running:
                    dialog.cancel("The app is closing. ")
                    dialog.job_done.connect(self._close_when_stopped)
                else:
                    dialog.reject()  # an idle dialog closes with the window (no new batch while quitting)
            self.worker_thread.finished.connect(self._close_when_stopped)
            self.worker_thread.wait(IDLE_THREAD_STOP_MS)
            self.thumbnail_thread.wait(IDLE_THREAD_STOP_MS)
            self.background_thread.wait(IDLE_THREAD_STOP_MS)
        if not self._work_stopped():
            event.ignore()
            for part in (self.centralWidget(), self.menuBar(), *self.findChildren(QToolBar)):
                if part is not None:
                    part.setEnabled(False)
            self.statusBar().showMessage("Stopping… the window closes when the current step is done.")
            return
        self._closed = True
        super().closeEvent(event)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.DeferredDelete and not self._threads_stopped():
            # deleted (deleteLater) while its threads still work, e.g. right after a close: a QThread must not be
            # destroyed while it runs, so stop them now and wait (each stops at its next step)
            self.closing = True
            self.session.close()
            for thread in (self.worker_thread, self.thumbnail_thread, self.background_thread):
                thread.quit()
                thread.wait()
        return super().event(event)

    def _threads_stopped(self) -> bool:
        return all(
            thread.isFinished() for thread in (self.worker_thread, self.thumbnail_thread, self.background_thread)
        )

    def _stop_model_downloads(self) -> None:
        """A download in the model manager stops at its next chunk (its part kept for resuming)."""
        from app.gui.model_manager import ModelManagerDialog

        for dialog in self.findChildren(ModelManagerDialog):
            dialog.close()

    def _close_when_stopped(self) -> None:
        if self._work_stopped() and not self._closed:
            self.close()


def _faces(count: int) -> str:
    """'1 face', '2 faces'."""
    return f"{count} face{'' if count == 1 else 's'}"


def _score_text(score: QualityScore | None) -> str:
    return score.label() if score is not None else "no score"


def _architecture(ready: ModelReady) -> str:
    """Whose second slider this is (its value is remembered per architecture)."""
    return ready.descriptor.architecture if ready.descriptor is not None else "IQPFR"
