"""Choosing the model the app runs: the shipped default weights, else an honest untrained one."""

from __future__ import annotations

import logging

import torch

from app.model.checkpoint import ModelInfo, load_checkpoint
from app.model.config import IQPFRConfig
from app.model.iqpfr import IQPFR
from app.paths import find_model_file

DEFAULT_WEIGHTS_FILE = "iqpfr_default.pt"
UNTRAINED_SEED = 0

log = logging.getLogger(__name__)


def untrained_model(cfg: IQPFRConfig | None = None, seed: int = UNTRAINED_SEED) -> tuple[IQPFR, ModelInfo]:
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = IQPFR(cfg).eval()
    finally:
        torch.random.set_rng_state(generator_state)
    return model, ModelInfo(f"random weights, seed {seed}", trained=False)


def load_model(weights: str | None = None, device: str | torch.device = "cpu") -> tuple[IQPFR, ModelInfo]:
    """Load `weights` (a path), else the default weights file, else an untrained model (with a warning)."""
    if weights:
        return load_checkpoint(weights, device)
    found = find_model_file(DEFAULT_WEIGHTS_FILE)
    if found is not None:
        return load_checkpoint(found, device)
    log.warning(
        "No trained IQPFR weights (%s) found: using an UNTRAINED model. Its output is not a restoration.",
        DEFAULT_WEIGHTS_FILE,
    )
    model, info = untrained_model()
    return model.to(device), info
