"""From what the user asked for (`--model NAME|FILE`, `--weights FILE`) to a loaded face restorer."""

from __future__ import annotations

import torch

from app.errors import StudioError
from app.model import load_model
from app.restorers.iqpfr_network import IQPFRNetwork
from app.restorers.loading import load_network_file
from app.restorers.network import FaceNetwork
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
