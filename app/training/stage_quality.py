"""Stage III: discrete quality optimisation.

The decoded output of the predicted codes is scored by a frozen differentiable NR-IQA reward.
The codes are chosen by argmax, and the decoder input uses the straight-through form
features + (codes − features).detach(), so the reward's gradient reaches only the encoder and the
quality embedding (the only parameters optimised): outputs stay built from codebook entries. The
Stage-II losses are kept so the codes stay faithful to the input. The reward term of each face is
weighted by its condition score, so higher requested quality pushes harder toward what the
reward rates well.
"""

from __future__ import annotations

from pathlib import Path

import torch

from app.model import save_checkpoint
from app.training.config import TrainConfig
from app.training.loop import StepLoop, endless, load_state, save_state
from app.training.reward import load_reward, save_reward, train_reward
from app.training.stage_transformer import batch_targets, code_prediction_losses, prepare_stage


def train_quality(
    cfg: TrainConfig,
    device: torch.device,
    resume: bool = False,
    max_minutes: float | None = None,
    show_progress: bool = True,
) -> Path:
    model, info, _faces, _held_out, targets, loader = prepare_stage(cfg, device)
    run_dir = cfg.resolve(cfg.run_dir)
    reward_path = run_dir / "reward.pt"
    if reward_path.exists():
        reward, reward_stats = load_reward(reward_path, device)
    else:
        reward, reward_stats = train_reward(
            loader.dataset.images, device, int(cfg.loss.get("reward_iterations", 600)), seed=cfg.seed
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
    weights = {"feature": 1.0, "ce": 0.5, "reward": 0.5, **cfg.loss}

    def step(batch: dict) -> dict:
        prior = batch["prior"].to(device)
        target_common, target_hq = batch_targets(batch, targets, device)
        prediction, losses = code_prediction_losses(
            model, batch["degraded"].to(device), prior, target_common, target_hq
        )
        features = prediction.conditioned_features
        codes = model.fuse_codes(prediction.common_indices, prediction.hq_indices)
        decoded = model.decoder(features + (codes - features).detach())
        quality = reward(decoded)
        reward_loss = (prior * (1.0 - quality)).mean()
        loss = (
            weights["feature"] * losses["feature"]
            + weights["ce"] * (losses["ce_common"] + losses["ce_hq"])
            + weights["reward"] * reward_loss
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {
            "reward": quality.mean().item(),
            "feature": losses["feature"].item(),
            "accuracy": losses["accuracy"].item(),
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
