"""Export settings in the window: one widget (format, JPEG quality, name suffix, folder, metadata) for
Save result, Export all open photos and the batch dialog, the Save dialog around it, and the folders and
settings remembered between sessions (through app.gui.settings_store)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.errors import StudioError
from app.export_settings import EMPTY_FOLDER, FORMAT_LABELS, FORMATS, ExportSettings, ExportSettingsError, output_path
from app.gui.settings_store import EXPORT_FOLDER, SettingsStore

SAVE_SETTINGS_KEY = "export/settings"  # Save result and Export all
BATCH_SETTINGS_KEY = "batch/export_settings"  # the batch dialog (its folder is the batch's own)
BATCH_INPUT_FOLDER = "batch-input"  # folder purposes in the settings store
BATCH_OUTPUT_FOLDER = "batch-output"
METADATA_TOOLTIP = (
    "EXIF: camera, date, place (GPS) and author. Off leaves it out of the exported files; the colour "
    "profile is always kept, since the colours depend on it."
)


# ----------------------------------------------------------------------------------- remembered between sessions
def remembered_folder(purpose: str) -> str:
    """The folder last used for `purpose` (EXPORT_FOLDER, BATCH_INPUT_FOLDER …) if it still exists; else ''."""
    folder = SettingsStore().folder(purpose)
    return str(folder) if folder is not None else ""


def remember_folder(purpose: str, path: str | Path) -> None:
    SettingsStore().set_folder(purpose, path)


def remembered_export_settings(key: str, default: ExportSettings) -> ExportSettings:
    """The export settings last used for `key`; a stored folder that no longer exists is dropped."""
    settings = ExportSettings.from_dict(SettingsStore().json_value(key), default)
    if settings.folder is not None and not settings.folder.is_dir():
        settings = settings.with_folder(None)
    return settings


def remember_export_settings(key: str, settings: ExportSettings) -> None:
    """Remember `settings` for `key`; a folder chosen in them is also the last export folder."""
    store = SettingsStore()
    store.set_json_value(key, settings.to_dict())
    if settings.folder is not None:
        store.set_folder(EXPORT_FOLDER, settings.folder)


# ----------------------------------------------------------------------------------- the widget
class ExportSettingsWidget(QWidget):
    """Format, JPEG quality (only for JPEG), name suffix, folder (Browse, or beside the original) and keep
    metadata. `show_folder` False hides the folder row (a batch writes into its own output folder)."""

    changed = Signal()

    def __init__(self, settings: ExportSettings, show_folder: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._show_folder = show_folder
        self.format_combo = QComboBox()
        for fmt in FORMATS:
            self.format_combo.addItem(FORMAT_LABELS[fmt], fmt)
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setToolTip("JPEG quality: higher keeps more detail in larger files")
        self.suffix_edit = QLineEdit()
        self.suffix_edit.setPlaceholderText("(none: the original's name)")
        self.suffix_edit.setToolTip("Added to the photo's name: portrait.jpg → portrait_restored.jpg")
        self.beside_check = QCheckBox("Beside the original")
        self.folder_edit = QLineEdit()
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        self.metadata_check = QCheckBox("Keep metadata (EXIF)")
        self.metadata_check.setToolTip(METADATA_TOOLTIP)

        folder_row = QHBoxLayout()
        folder_row.setContentsMargins(0, 0, 0, 0)
        folder_row.addWidget(self.beside_check)
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)
        self.folder_row = QWidget()
        self.folder_row.setLayout(folder_row)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Format", self.format_combo)
        form.addRow("JPEG quality", self.quality_spin)
        form.addRow("Name suffix", self.suffix_edit)
        form.addRow("Save to", self.folder_row)
        form.addRow("", self.metadata_check)
        form.setRowVisible(self.folder_row, show_folder)

        self.set_settings(settings)
        self.format_combo.currentIndexChanged.connect(self._on_changed)
        self.beside_check.toggled.connect(self._on_changed)
        for signal in (
            self.quality_spin.valueChanged,
            self.suffix_edit.textChanged,
            self.folder_edit.textChanged,
            self.metadata_check.toggled,
        ):
            signal.connect(self.changed)

    def set_settings(self, settings: ExportSettings) -> None:
        self.format_combo.setCurrentIndex(FORMATS.index(settings.format))
        self.quality_spin.setValue(settings.jpeg_quality)
        self.suffix_edit.setText(settings.suffix)
        self.beside_check.setChecked(settings.folder is None)
        # beside the original: the folder field still offers the last export folder, for Browse and for unticking
        self.folder_edit.setText(
            str(settings.folder)
            if settings.folder is not None
            else self.folder_edit.text() or remembered_folder(EXPORT_FOLDER)
        )
        self.metadata_check.setChecked(settings.keep_metadata)
        self._update_enabled()

    def settings(self) -> ExportSettings:
        """The settings shown; raises ExportSettingsError (a StudioError) with what to fix."""
        folder = None
        if self._show_folder and not self.beside_check.isChecked():
            if not self.folder_edit.text().strip():
                raise ExportSettingsError(EMPTY_FOLDER)
            folder = Path(self.folder_edit.text().strip())
        return ExportSettings(
            self.format_combo.currentData(),
            self.quality_spin.value(),
            self.suffix_edit.text(),
            self.metadata_check.isChecked(),
            folder,
        )

    def problem(self) -> str:
        """What is wrong with the settings shown, or ''."""
        try:
            self.settings()
        except StudioError as exc:
            return str(exc)
        return ""

    def _on_changed(self) -> None:
        self._update_enabled()
        self.changed.emit()

    def _update_enabled(self) -> None:
        self.quality_spin.setEnabled(self.format_combo.currentData() == "jpeg")
        beside = self.beside_check.isChecked()
        self.folder_edit.setEnabled(not beside)
        self.browse_button.setEnabled(not beside)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            self.beside_check.setChecked(False)


# ----------------------------------------------------------------------------------- Save result
class ExportDialog(QDialog):
    """The export settings for one photo, with the file they give; OK when they can be used."""

    def __init__(
        self, source: Path, settings: ExportSettings, parent: QWidget | None = None, title: str = "Save restored photo"
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.source = source
        self.settings_widget = ExportSettingsWidget(settings)
        self.target_label = QLabel()
        self.target_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.settings_widget)
        layout.addWidget(self.target_label)
        layout.addWidget(self.buttons)
        self.settings_widget.changed.connect(self._update_target)
        self._update_target()
        self.resize(max(self.sizeHint().width(), 520), self.sizeHint().height())

    def target(self) -> Path | None:
        """The file the settings shown would write, or None (the label says why)."""
        try:
            return output_path(self.source, self.settings_widget.settings())
        except StudioError:
            return None

    def _update_target(self) -> None:
        try:
            text, ok = f"Saves as {output_path(self.source, self.settings_widget.settings())}", True
        except StudioError as exc:
            text, ok = str(exc), False
        self.target_label.setText(text)
        self.target_label.setStyleSheet("" if ok else "color:#c0392b;")
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(ok)
