"""The training stages, in the order they run: each takes a config and writes a weights file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from app.errors import TrainingSetupError
from app.training.config import STAGE_NAMES, TrainConfig
from app.training.loop import save_run_config
from app.training.stage_codebook import train_codebook
from app.training.stage_quality import train_quality
from app.training.stage_transformer import train_transformer

StageFunction = Callable[[TrainConfig, torch.device, bool, "float | None", bool], Path]

STAGES: dict[str, StageFunction] = {
    "codebook": train_codebook,  # Stage I: dual-codebook autoencoder on clean faces
    "transformer": train_transformer,  # Stage II: quality-conditioned code prediction + fidelity path
    "quality": train_quality,  # Stage III: discrete quality optimisation
}
assert tuple(STAGES) == STAGE_NAMES


def run_stage(
    cfg: TrainConfig,
    device: torch.device,
    resume: bool = False,
    max_minutes: float | None = None,
    show_progress: bool = True,
) -> Path:
    """Run the stage the config names, after saving the whole config beside its checkpoints."""
    if cfg.stage not in STAGES:
        raise TrainingSetupError(f"Unknown training stage '{cfg.stage}'; the stages are {', '.join(STAGES)}.")
    save_run_config(cfg)
    return STAGES[cfg.stage](cfg, device, resume, max_minutes, show_progress)
