"""From what the user asked for (`--model NAME|FILE`, `--weights FILE`) to a loaded face restorer."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from app.errors import StudioError
from app.model import load_checkpoint, load_model
from app.model.checkpoint import FORMAT_NAME, read_weights
from app.restorers.iqpfr_network import IQPFRNetwork
from app.restorers.network import FaceNetwork
from app.restorers.plugin import load_plugin
from app.restorers.store import IQPFR_NAME, model_path


def load_network(
    model: str | None = None, weights: str | None = None, device: str | torch.device = "cpu"
) -> FaceNetwork:
    """`model` None or 'iqpfr': IQPFR (`weights`, else the installed default); otherwise a model name
    from the catalogue, a file in the models folders, or a file path."""
    if model is None or model.strip().lower() == IQPFR_NAME:
        return IQPFRNetwork(*load_model(weights, device))
    if weights:
        raise StudioError("--weights names IQPFR weights; to use another model file, give it as --model FILE.")
    return load_network_file(model_path(model), device)


def load_network_file(path: str | os.PathLike, device: str | torch.device = "cpu") -> FaceNetwork:
    """IQPFR Studio weights, or a public checkpoint that spandrel recognises as a face restorer."""
    contents = read_weights(path)
    if contents.get("format") == FORMAT_NAME:
        return IQPFRNetwork(*load_checkpoint(path, device, contents))
    return load_plugin(Path(path), device, contents)
