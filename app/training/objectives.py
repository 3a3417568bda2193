"""What Stages II and III train against, shared by both (and the reconstruction terms Stage I uses too):
the image losses against the clean face, the Stage I encoder's target codes, the degraded training faces and one
pass through encoder, Transformer and decoder at a per-face fidelity."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from app.model import IQPFR, load_checkpoint
from app.model.transformer import CodePrediction
from app.training.config import TrainConfig
from app.training.data import FaceDataset, ScoredFaces, SoftTargetConfig
from app.training.degradation import DegradationConfig, PhotometricConfig
from app.training.loop import autocast
from app.training.losses import focal_frequency, gradient_l1, ssim


def reconstruction_losses(output: torch.Tensor, target: torch.Tensor, weights: dict) -> tuple[torch.Tensor, dict]:
    """Weighted L1 + edge + (1 − SSIM) + focal frequency; returns the total and each term."""
    output = output.float()
    terms = {
        "l1": F.l1_loss(output, target),
        "edge": gradient_l1(output, target),
        "ssim": 1.0 - ssim(output, target),
        "frequency": focal_frequency(output, target),
    }
    total = sum(weights.get(name, 0.0) * value for name, value in terms.items())
    return total, terms


def sample_fidelity(batch_size: int, generator: torch.Generator, full: float, zero: float) -> torch.Tensor:
    """Per-face fidelity weights: 1 with probability `full`, 0 with `zero`, else uniform in (0, 1)."""
    draw = torch.rand(batch_size, generator=generator)
    uniform = torch.rand(batch_size, generator=generator)
    w = torch.where(
        draw < full, torch.ones_like(draw), torch.where(draw < full + zero, torch.zeros_like(draw), uniform)
    )
    return w.view(-1, 1, 1, 1)


def stage_one_encoder(cfg: TrainConfig, model: IQPFR, device: torch.device) -> torch.nn.Module:
    """A frozen copy of the encoder whose codes are the targets: the Stage I encoder, from
    `codebook_weights` when set (fine-tuning a Stage II model), else from the weights being trained."""
    source = model
    if cfg.codebook_weights:
        source, _ = load_checkpoint(cfg.resolve(cfg.codebook_weights), device)
    return copy.deepcopy(source.encoder).eval().requires_grad_(False)


CODE_AND_IMAGE_WEIGHTS = {
    "feature": 1.0,
    "ce": 0.5,
    "image": 1.0,
    "l1": 1.0,
    "edge": 0.5,
    "ssim": 0.5,
    "frequency": 1.0,
}


def degraded_face_dataset(
    cfg: TrainConfig, faces: ScoredFaces, size: int, soft_targets: SoftTargetConfig | None = None
) -> FaceDataset:
    """Clean faces with degraded copies: unchanged (`clean_fraction`), lightly (`light_fraction`) or mildly
    (`mild_fraction`) degraded, else with the large degradation."""
    return FaceDataset(
        faces,
        size,
        degradation=DegradationConfig(),
        seed=cfg.seed,
        photometric=PhotometricConfig(),
        mild_fraction=float(cfg.loss.get("mild_fraction", 0.3)),
        soft_targets=soft_targets,
        light_fraction=float(cfg.loss.get("light_fraction", 0.0)),
        clean_fraction=float(cfg.loss.get("clean_fraction", 0.0)),
    )


@dataclass
class PredictedDecode:
    """One batch through encoder, Transformer and decoder, with the code losses against the target codes."""

    prediction: CodePrediction
    target_common: torch.Tensor
    output: torch.Tensor
    feature: torch.Tensor
    ce: torch.Tensor

    def accuracy(self) -> float:
        return (self.prediction.common_indices == self.target_common).float().mean().item()


def predict_and_decode(
    model: IQPFR,
    target_encoder: torch.nn.Module,
    clean: torch.Tensor,
    degraded: torch.Tensor,
    prior: torch.Tensor,
    fidelity_draws: torch.Generator,
    cfg: TrainConfig,
    device: torch.device,
    *,
    straight_through: bool,
) -> PredictedDecode:
    """Predict codes for the degraded faces at their prior and decode them with the encoder's level
    features at a per-face fidelity. The codes enter the decoder as constants (Stage II), or with
    `straight_through` as features + (codes − features).detach(), so a loss on the output reaches the
    encoder and the quality embedding through the codes (Stage III)."""
    with torch.no_grad(), autocast(cfg, device):
        target_common, target_hq = model.nearest_codes(target_encoder(clean)[0])
        target_features = model.fuse_codes(target_common, target_hq).float()
    with autocast(cfg, device):
        encoded = model.encode(degraded)
        prediction = model.predict_codes(encoded.features, prior)
        features = prediction.conditioned_features
        with torch.no_grad():
            codes = model.fuse_codes(prediction.common_indices, prediction.hq_indices)
        if straight_through:
            codes = features + (codes - features).detach()
        fidelity = sample_fidelity(
            clean.shape[0],
            fidelity_draws,
            float(cfg.loss.get("fidelity_full", 0.5)),
            float(cfg.loss.get("fidelity_zero", 0.15)),
        ).to(device)
        output = model.decode(codes, encoded, fidelity, prior)
    ce = model.common_codebook.index_loss(
        prediction.common_logits.float(), target_common
    ) + model.hq_codebook.index_loss(prediction.hq_logits.float(), target_hq)
    return PredictedDecode(prediction, target_common, output, F.mse_loss(features.float(), target_features), ce)
