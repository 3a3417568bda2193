"""Where a user learns that the app runs more face models than its own: the Models menu (each public model of the
catalogue with its licence: choose it when installed, else get it in the model manager) and, once on the first
run, a note above the photos saying the same.

The public models are GFPGAN, RestoreFormer and CodeFormer (app.restorers.catalogue); the model manager downloads
one (when online; its licence is shown first) or adds a file the user has.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QPushButton, QToolButton, QWidget

from app.restorers.catalogue import CATALOGUE
from app.restorers.store import installed_models

NOTE_TITLE = "Faces not coming back well?"


def public_models_text() -> str:
    """'GFPGAN (licence), RestoreFormer (licence) and CodeFormer (licence)': each architecture once, in catalogue
    order, with its licence."""
    licences: dict[str, str] = {}
    for entry in CATALOGUE:
        licences.setdefault(entry.architecture, entry.licence)
    named = [f"{architecture} ({licence})" for architecture, licence in licences.items()]
    return ", ".join(named[:-1]) + f" and {named[-1]}" if len(named) > 1 else "".join(named)


class ModelsMenu(QMenu):
    """Models: Manage models…, then each public model with its licence (installed: choose it; else: get it), then
    Add a model file…. Rebuilt each time it opens, so it shows what is installed now."""

    manage_requested = Signal(str)  # open the model manager with this catalogue entry selected ('' for none)
    model_chosen = Signal(str)  # an installed catalogue model to restore with
    add_file_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("&Models", parent)
        self.setToolTipsVisible(True)
        self.aboutToShow.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.clear()
        self.addAction("&Manage models…").triggered.connect(lambda: self.manage_requested.emit(""))
        self.addSection("Public face models: download when online, or add a file")
        installed = {model.name for model in installed_models()}
        for entry in CATALOGUE:
            note = "" if entry.commercial_use else " — not for commercial use"
            if entry.name in installed:
                action = self.addAction(f"Use {entry.title} (installed)")
                action.triggered.connect(lambda _checked=False, name=entry.name: self.model_chosen.emit(name))
            else:
                action = self.addAction(f"Get {entry.title}…")
                action.triggered.connect(lambda _checked=False, name=entry.name: self.manage_requested.emit(name))
            action.setToolTip(f"Licence: {entry.licence}{note}")
            action.setStatusTip(f"{entry.title}: {entry.licence}{note}")
        self.addSeparator()
        self.addAction("&Add a model file…").triggered.connect(self.add_file_requested)

    def licences(self) -> list[str]:
        """The licence shown with each public model (its tooltip)."""
        return [action.toolTip() for action in self.actions() if action.toolTip().startswith("Licence: ")]


class PublicModelsNote(QFrame):
    """A note above the photos, shown once on the first run: the public models can be added, with their
    licences; "Show the models…" opens the model manager, ✕ closes the note."""

    show_models = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)  # the palette's own colours: it is not a warning
        self.label = QLabel(
            f"<b>{NOTE_TITLE}</b> Besides its own model, IQPFR Studio runs the public face models "
            f"{public_models_text()}. Download one when online, or add a file you have: Models menu."
        )
        self.label.setWordWrap(True)
        self.show_button = QPushButton("Show the models…")
        self.show_button.clicked.connect(self.show_models)
        self.show_button.clicked.connect(self.hide)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Close this note (it is shown only once)")
        self.close_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.show_button)
        layout.addWidget(self.close_button)
        self.hide()

    def text(self) -> str:
        return self.label.text()
