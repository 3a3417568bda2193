"""Stage III: discrete quality optimisation, on the model as it is used (with its fidelity path).

The predicted codes are chosen by argmax and enter the frozen decoder in the straight-through form
features + (codes − features).detach(), so the codes themselves stay codebook entries; the decoder
also receives the encoder's level features at a per-face fidelity drawn as in Stage II, because the
app restores at fidelity 1 by default and a reward that only saw the codes-only decode would leave
that path untrained. A frozen differentiable NR-IQA reward scores the decoded face; its term is
weighted by the requested quality (the prior), so a higher quality setting pushes harder toward what
the reward rates well. Only the encoder and the quality embedding are optimised: the decoder, the
fusion blocks, the Transformer and the codebooks are frozen. The Stage-II code losses (against the
Stage-I encoder's codes of the clean face) and the image losses against the clean face are kept, so
the output stays faithful to the input while the reward moves it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F

from app.model import load_checkpoint, save_checkpoint
from app.training.config import TrainConfig
from app.training.data import FaceDataset
from app.training.degradation import DegradationConfig, PhotometricConfig
from app.training.loop import (
    StepLoop,
    autocast,
    endless,
    load_state,
    make_loader,
    save_state,
    seed_everything,
    training_faces,
)
from app.training.reward import load_reward, save_reward, train_reward
from app.training.stage_codebook import reconstruction_losses
from app.training.stage_transformer import sample_fidelity, stage_one_encoder

DEFAULT_WEIGHTS = {
    "feature": 1.0,
    "ce": 0.5,
    "reward": 0.5,
    "image": 1.0,
    "l1": 1.0,
    "edge": 0.5,
    "ssim": 0.5,
    "frequency": 1.0,
}


def train_quality(
    cfg: TrainConfig,
    device: torch.device,
    resume: bool = False,
    max_minutes: float | None = None,
    show_progress: bool = True,
) -> Path:
    seed_everything(cfg.seed)
    if not cfg.init_weights:
        raise ValueError("this stage needs init_weights: the Stage II weights file")
    model, info = load_checkpoint(cfg.resolve(cfg.init_weights), device)
    faces, _held_out = training_faces(cfg, model.cfg.image_size)
    dataset = FaceDataset(
        faces,
        model.cfg.image_size,
        degradation=DegradationConfig(),
        seed=cfg.seed,
        photometric=PhotometricConfig(),
        mild_fraction=float(cfg.loss.get("mild_fraction", 0.3)),
    )
    loader = make_loader(dataset, cfg)
    target_encoder = stage_one_encoder(cfg, model, device)
    run_dir = cfg.resolve(cfg.run_dir)
    reward_path = run_dir / "reward.pt"
    if reward_path.exists():
        reward, reward_stats = load_reward(reward_path, device)
    else:
        reward, reward_stats = train_reward(
            dataset.images, device, int(cfg.loss.get("reward_iterations", 2000)), seed=cfg.seed
        )
        save_reward(reward, reward_stats, reward_path)
    reward.requires_grad_(False)

    model.train()
    model.requires_grad_(False)
    trainable = list(model.encoder.parameters()) + list(model.code_predictor.quality_embedding.parameters())
    for parameter in trainable:
        parameter.requires_grad_(True)
    optimizer = torch.optim.Adam(trainable, lr=cfg.learning_rate, betas=(0.9, 0.99))
    start, _ = load_state(run_dir, {"model": model}, optimizer, loader) if resume else (0, {})
    weights = {**DEFAULT_WEIGHTS, **cfg.loss}
    fidelity_draws = torch.Generator().manual_seed(cfg.seed + start)

    def step(batch: dict) -> dict:
        clean, degraded = batch["clean"].to(device), batch["degraded"].to(device)
        prior = batch["prior"].to(device)
        with torch.no_grad(), autocast(cfg, device):
            target_common, target_hq = model.nearest_codes(target_encoder(clean)[0])
            target_features = model.fuse_codes(target_common, target_hq).float()
        with autocast(cfg, device):
            encoded = model.encode(degraded)
            prediction = model.predict_codes(encoded.features, prior)
            features = prediction.conditioned_features
            with torch.no_grad():
                codes = model.fuse_codes(prediction.common_indices, prediction.hq_indices)
            fidelity = sample_fidelity(
                clean.shape[0],
                fidelity_draws,
                float(cfg.loss.get("fidelity_full", 0.5)),
                float(cfg.loss.get("fidelity_zero", 0.15)),
            ).to(device)
            output = model.decode(features + (codes - features).detach(), encoded, fidelity, prior)
            quality = reward(output.float()).float()
        feature = F.mse_loss(features.float(), target_features)
        ce = model.common_codebook.index_loss(
            prediction.common_logits.float(), target_common
        ) + model.hq_codebook.index_loss(prediction.hq_logits.float(), target_hq)
        image, terms = reconstruction_losses(output, clean, weights)
        reward_loss = (prior * (1.0 - quality)).mean()
        loss = (
            weights["feature"] * feature
            + weights["ce"] * ce
            + weights["image"] * image
            + weights["reward"] * reward_loss
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {
            "reward": quality.mean().item(),
            "feature": feature.item(),
            "ce": ce.item(),
            "l1": terms["l1"].item(),
            "ssim": 1 - terms["ssim"].item(),
            "accuracy": (prediction.common_indices == target_common).float().mean().item(),
        }

    def checkpoint(iteration: int) -> None:
        save_state(run_dir, iteration, {"model": model}, optimizer, loader=loader)
        save_checkpoint(
            model,
            cfg.resolve(cfg.output_weights),
            trained=True,
            metadata={
                **info.metadata,
                "stage": "III",
                "stage_III_iterations": iteration,
                "stage_III_batch_size": cfg.batch_size,
                "reward_model": reward_stats,
            },
        )

    StepLoop(cfg, start, checkpoint, max_minutes, show_progress).run(endless(loader), step)
    return cfg.resolve(cfg.output_weights)
