"""Stage II: quality-conditioned code prediction.

The Stage-I encoder, frozen, gives each clean training face (and its mirror image) its target
indices in both codebooks ("latent ground truth", computed once). The trainable encoder sees the
degraded face; the embedding of the clean face's own quality bin is added to its features; the
Transformer predicts both index sets. Loss = feature MSE to the fused target codes + ½·CE(common)
+ ½·CE(HQ+). Codebooks and decoder stay frozen.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from app.model import IQPFR, load_checkpoint, save_checkpoint
from app.training.config import TrainConfig
from app.training.data import FaceDataset, to_tensor
from app.training.degradation import DegradationConfig
from app.training.loop import StepLoop, endless, load_state, save_state, seed_everything, training_faces


@torch.no_grad()
def latent_targets(model: IQPFR, dataset: FaceDataset, device: torch.device,
                   batch_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 2, tokens) common and HQ+ indices for every face, [:, 0] as is and [:, 1] mirrored.

    Computed once, before this stage updates the encoder, so they are the Stage-I encoder's codes.
    """
    common, hq = [], []
    for start in range(0, len(dataset.images), batch_size):
        faces = dataset.images[start:start + batch_size]
        per_flip = [model.nearest_codes(model.encode(torch.stack(
            [to_tensor(f[:, ::-1].copy() if flipped else f) for f in faces]).to(device)))
            for flipped in (False, True)]
        common.append(torch.stack([codes[0].cpu() for codes in per_flip], 1))
        hq.append(torch.stack([codes[1].cpu() for codes in per_flip], 1))
    return torch.cat(common), torch.cat(hq)


def code_prediction_losses(model: IQPFR, degraded: torch.Tensor, prior: torch.Tensor,
                           target_common: torch.Tensor, target_hq: torch.Tensor) -> dict[str, torch.Tensor]:
    prediction = model.predict_codes(model.encode(degraded), prior)
    with torch.no_grad():
        target_features = model.fuse_codes(target_common, target_hq)
    return {
        "feature": F.mse_loss(prediction.conditioned_features, target_features),
        "ce_common": F.cross_entropy(prediction.common_logits.flatten(0, 1), target_common.flatten()),
        "ce_hq": F.cross_entropy(prediction.hq_logits.flatten(0, 1), target_hq.flatten()),
        "accuracy": (prediction.common_indices == target_common).float().mean(),
        "prediction": prediction,
    }


def trainable_stage2(model: IQPFR) -> list[torch.nn.Parameter]:
    for part in (model.common_codebook, model.hq_codebook, model.decoder):
        part.requires_grad_(False)
    return list(model.encoder.parameters()) + list(model.code_predictor.parameters())


def prepare_stage(cfg: TrainConfig, device: torch.device):
    """Shared by Stages II and III: model from the previous stage, degraded-face data, latent targets."""
    seed_everything(cfg.seed)
    if not cfg.init_weights:
        raise ValueError("this stage needs init_weights: the previous stage's weights file")
    model, info = load_checkpoint(cfg.resolve(cfg.init_weights), device)
    faces, held_out = training_faces(cfg, model.cfg.image_size)
    dataset = FaceDataset(faces, model.cfg.image_size, degradation=DegradationConfig(), seed=cfg.seed)
    targets = latent_targets(model, dataset, device)
    loader = DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(cfg.seed))
    return model, info, faces, held_out, targets, loader


def batch_targets(batch: dict, targets: tuple[torch.Tensor, torch.Tensor], device: torch.device):
    index, flipped = batch["index"], batch["flipped"].long()
    return targets[0][index, flipped].to(device), targets[1][index, flipped].to(device)


def train_transformer(cfg: TrainConfig, device: torch.device, resume: bool = False,
                      max_minutes: float | None = None, show_progress: bool = True) -> Path:
    model, info, faces, held_out, targets, loader = prepare_stage(cfg, device)
    model.train()
    optimizer = torch.optim.Adam(trainable_stage2(model), lr=cfg.learning_rate, betas=(0.9, 0.99))
    run_dir = cfg.resolve(cfg.run_dir)
    start, _ = load_state(run_dir, {"model": model}, optimizer) if resume else (0, {})
    weights = {"feature": 1.0, "ce": 0.5, **cfg.loss}

    def step(batch: dict) -> dict:
        target_common, target_hq = batch_targets(batch, targets, device)
        losses = code_prediction_losses(model, batch["degraded"].to(device), batch["prior"].to(device),
                                        target_common, target_hq)
        loss = weights["feature"] * losses["feature"] + weights["ce"] * (losses["ce_common"] + losses["ce_hq"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {name: losses[name].item() for name in ("feature", "ce_common", "ce_hq", "accuracy")}

    def checkpoint(iteration: int) -> None:
        save_state(run_dir, iteration, {"model": model}, optimizer)
        save_checkpoint(model, cfg.resolve(cfg.output_weights), trained=True, metadata={
            **info.metadata, "stage": "II", "stage_II_iterations": iteration,
            "stage_II_batch_size": cfg.batch_size})

    StepLoop(cfg, start, checkpoint, max_minutes, show_progress).run(endless(loader), step)
    return cfg.resolve(cfg.output_weights)
