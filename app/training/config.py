"""Training configuration files (TOML) → one dataclass per run."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import overload

from app.errors import TrainingSetupError
from app.paths import install_root

STAGE_NAMES = ("codebook", "transformer", "quality")  # in training order; app/training/stages.py runs them
DEFAULT_PACK_JPEG_QUALITY = 95  # the faces in a face pack (app/training/face_pack.py)

_RECONSTRUCTION = ("l1", "edge", "ssim", "frequency")  # objectives.reconstruction_losses' terms
_CODES_AND_IMAGE = ("feature", "ce", "image", *_RECONSTRUCTION)
_DEGRADED_FACES = ("mild_fraction", "light_fraction", "clean_fraction", "fidelity_full", "fidelity_zero")

# The [loss] and [model] settings each stage reads (app/training/stage_*.py); any other is refused when the config
# is read, so a typo cannot train something else.
LOSS_SETTINGS: dict[str, frozenset[str]] = {
    "codebook": frozenset({*_RECONSTRUCTION, "photometric", "restart_every"}),
    "transformer": frozenset(
        {
            *_CODES_AND_IMAGE,
            *_DEGRADED_FACES,
            "soft_targets",
            "train_codes",
            "decoder_lr_scale",
            "quality_fusion_lr_scale",
            "input_gate_lr_scale",
            "identity",
            "face_perceptual",
            "adversarial",
            "adversarial_start",
        }
    ),
    "quality": frozenset({*_CODES_AND_IMAGE, *_DEGRADED_FACES, "reward", "reward_iterations"}),
}
MODEL_SETTINGS: dict[str, frozenset[str]] = {  # codebook: the new model's IQPFRConfig fields (model_settings)
    "transformer": frozenset({"quality_fusion", "input_gate", "input_gate_bands"}),  # added to the Stage I model
    "quality": frozenset(),
}


@dataclass
class TrainConfig:
    stage: str
    data_roots: list[str] = field(default_factory=list)  # folders of aligned faces (or `pack`)
    pack: str | None = None  # a face pack (`iqpfr pack-faces`): faces, split and priors in one file; replaces
    # data_roots, held_out_fraction and the scoring settings
    held_out_fraction: float = 0.1
    score_metric: str = "piqe"
    score_table: str | None = None  # face-IQA table (ensemble prior) for faces under score_table_root
    score_table_root: str | None = None
    cache_dir: str = "runs/cache"
    run_dir: str = "runs/stage"
    init_weights: str | None = None  # weights file from the previous stage
    codebook_weights: str | None = None  # Stage I weights whose encoder gives the latent targets
    # (default: init_weights; set it when fine-tuning Stage II)
    output_weights: str = "runs/stage/weights.pt"
    iterations: int = 1000
    batch_size: int = 8
    learning_rate: float = 1e-4
    precision: str = "fp32"  # "bf16": autocast (CPU with AVX-512 bf16, or CUDA)
    num_workers: int = 0  # data-loading processes (keep loading off the training thread)
    seed: int = 0
    log_every: int = 20
    checkpoint_every: int = 200
    model: dict = field(default_factory=dict)  # IQPFRConfig (Stage I); Stage II honours quality_fusion
    loss: dict = field(default_factory=dict)  # stage-specific loss weights

    @overload
    def resolve(self, path: str) -> Path: ...
    @overload
    def resolve(self, path: None) -> None: ...
    @overload
    def resolve(self, path: str | None) -> Path | None: ...

    def resolve(self, path: str | None) -> Path | None:
        """Config paths are relative to the repository root; a path that is set gives a Path, an unset one None."""
        if path is None:
            return None
        candidate = Path(path)
        return candidate if candidate.is_absolute() else install_root() / candidate

    @property
    def roots(self) -> list[Path]:
        return [self.resolve(root) for root in self.data_roots]


def load_config(path: str | Path, overrides: dict | None = None) -> TrainConfig:
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise TrainingSetupError(f"Training config {path} does not exist.") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TrainingSetupError(f"Training config {path} cannot be read: {exc}") from None
    flat = {**raw.get("data", {}), **raw.get("train", {})}
    flat["stage"] = raw.get("stage", flat.get("stage"))
    flat["model"] = raw.get("model", {})
    flat["loss"] = raw.get("loss", {})
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(flat) - known
    if unknown:
        raise TrainingSetupError(f"{path}: unknown settings {sorted(unknown)}.")
    flat.update({k: v for k, v in (overrides or {}).items() if v is not None})
    config = TrainConfig(**flat)
    check_stage_settings(config, str(path))
    return config


def check_stage_settings(config: TrainConfig, source: str) -> None:
    """Refuse a [loss] or [model] setting that `config`'s stage does not read, naming it and `source` (the file)."""
    if config.stage not in STAGE_NAMES:
        return  # app/training/stages.py names the stages
    for section, known, values in (
        ("loss", LOSS_SETTINGS[config.stage], config.loss),
        ("model", model_settings(config.stage), config.model),
    ):
        unknown = sorted(set(values) - known)
        if unknown:
            names = ", ".join(repr(name) for name in unknown)
            raise TrainingSetupError(
                f"{source}: [{section}] {names} is not a setting of the {config.stage} stage "
                f"(its settings: {', '.join(sorted(known)) or 'none'})."
            )


def model_settings(stage: str) -> frozenset[str]:
    """The [model] settings `stage` reads."""
    if stage != "codebook":
        return MODEL_SETTINGS[stage]
    from app.model.config import IQPFRConfig  # here: app.model imports torch, and the CLI reads this module at start

    return frozenset(f.name for f in fields(IQPFRConfig))
