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

from app.model import load_checkpoint, save_checkpoint
from app.training.config import TrainConfig
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
from app.training.objectives import (
    CODE_AND_IMAGE_WEIGHTS,
    degraded_face_dataset,
    predict_and_decode,
    reconstruction_losses,
    stage_one_encoder,
)
from app.training.reward import REWARD_ITERATIONS, load_reward, save_reward, train_reward

DEFAULT_WEIGHTS = {**CODE_AND_IMAGE_WEIGHTS, "reward": 0.5}


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
    dataset = degraded_face_dataset(cfg, faces, model.cfg.image_size)
    loader = make_loader(dataset, cfg)
    target_encoder = stage_one_encoder(cfg, model, device)
    run_dir = cfg.resolve(cfg.run_dir)
    reward_path = run_dir / "reward.pt"
    if reward_path.exists():
        reward, reward_stats = load_reward(reward_path, device)
    else:
        reward, reward_stats = train_reward(
            dataset.images, device, int(cfg.loss.get("reward_iterations", REWARD_ITERATIONS)), seed=cfg.seed
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
        run = predict_and_decode(
            model, target_encoder, clean, degraded, prior, fidelity_draws, cfg, device, straight_through=True
        )
        with autocast(cfg, device):
            quality = reward(run.output.float()).float()
        image, terms = reconstruction_losses(run.output, clean, weights)
        reward_loss = (prior * (1.0 - quality)).mean()
        loss = (
            weights["feature"] * run.feature
            + weights["ce"] * run.ce
            + weights["image"] * image
            + weights["reward"] * reward_loss
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {
            "reward": quality.mean().item(),
            "feature": run.feature.item(),
            "ce": run.ce.item(),
            "l1": terms["l1"].item(),
            "ssim": 1 - terms["ssim"].item(),
            "accuracy": run.accuracy(),
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
