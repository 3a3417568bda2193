"""Stage I: dual-branch codebook autoencoder.

Clean faces are encoded and quantised independently by the common and the HQ+ codebook. The HQ+
branch (its features in the decoder input and its codebook loss) is active only for faces whose
quality prior is above τ (`hq_score_threshold`), so the HQ+ codebook learns what high-scoring faces
add. No pretrained network is available offline, so the reconstruction loss is
L1 + edge L1 + (1 − SSIM) + focal frequency loss. The fidelity path is not used here (w = 0).
"""

from __future__ import annotations

from pathlib import Path

import torch

from app.model import IQPFR, IQPFRConfig, load_checkpoint, save_checkpoint
from app.model.codebook import VectorQuantizer
from app.training.config import TrainConfig
from app.training.data import FaceDataset
from app.training.degradation import PhotometricConfig
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
from app.training.objectives import reconstruction_losses
from app.training.usage import UsageMeter


class DeadCodeRestarter:
    """Re-seeds VQ codebook entries unused over a window with current encoder outputs (avoids collapse)."""

    def __init__(self, codebook: VectorQuantizer, every: int) -> None:
        self.codebook, self.every = codebook, every
        self.usage = torch.zeros(codebook.num_codes)
        self.seen = 0

    def observe(self, indices: torch.Tensor, features: torch.Tensor) -> int:
        if indices.numel():
            self.usage += torch.bincount(indices.flatten().cpu(), minlength=self.codebook.num_codes)
        self.seen += 1
        if self.seen % self.every or features.numel() == 0:
            return 0
        dead = (self.usage == 0).nonzero().flatten()
        if len(dead):
            pool = features.detach().float().permute(0, 2, 3, 1).reshape(-1, self.codebook.dim)
            picks = pool[torch.randint(len(pool), (len(dead),), device=pool.device)]
            with torch.no_grad():
                self.codebook.embedding.weight[dead.to(pool.device)] = picks + 1e-3 * torch.randn_like(picks)
        self.usage.zero_()
        return len(dead)


def train_codebook(
    cfg: TrainConfig,
    device: torch.device,
    resume: bool = False,
    max_minutes: float | None = None,
    show_progress: bool = True,
) -> Path:
    seed_everything(cfg.seed)
    if cfg.init_weights:
        model, _ = load_checkpoint(cfg.resolve(cfg.init_weights), device)
    else:
        model = IQPFR(IQPFRConfig.from_dict(cfg.model)).to(device)
    model.train()
    mcfg = model.cfg
    faces, held_out = training_faces(cfg, mcfg.image_size)
    hq_fraction = float((faces.prior > mcfg.hq_score_threshold).mean())
    photometric = PhotometricConfig() if cfg.loss.get("photometric", True) else None
    loader = make_loader(FaceDataset(faces, mcfg.image_size, seed=cfg.seed, photometric=photometric), cfg)
    parameters = [
        p
        for part in (model.encoder, model.decoder, model.common_codebook, model.hq_codebook)
        for p in part.parameters()
    ]
    optimizer = torch.optim.Adam(parameters, lr=cfg.learning_rate, betas=(0.9, 0.99))
    run_dir = cfg.resolve(cfg.run_dir)
    start, _ = load_state(run_dir, {"model": model}, optimizer, loader) if resume else (0, {})
    restart_every = int(cfg.loss.get("restart_every", 100))
    restarters = [
        DeadCodeRestarter(book, restart_every)
        for book in (model.common_codebook, model.hq_codebook)
        if isinstance(book, VectorQuantizer)
    ]
    weights = {"l1": 1.0, "edge": 0.5, "ssim": 0.5, "frequency": 1.0, **cfg.loss}
    usage = UsageMeter(
        {"common": model.common_codebook.num_codes, "hq": model.hq_codebook.num_codes}, window=cfg.log_every
    )

    def step(batch: dict) -> dict:
        clean = batch["clean"].to(device)
        hq_gate = (batch["prior"] > mcfg.hq_score_threshold).float().to(device)
        with autocast(cfg, device):
            z, _ = model.encoder(clean)
            common, hq = model.common_codebook(z), model.hq_codebook(z)
            fused = common.features + mcfg.hq_weight * hq_gate[:, None, None, None] * hq.features
            output = model.decoder(fused)
        reconstruction, terms = reconstruction_losses(output, clean, weights)
        codebook = common.loss.mean() + (hq.loss * hq_gate).sum() / hq_gate.sum().clamp(min=1.0)
        loss = reconstruction + codebook
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        gated = hq_gate.bool()
        restarted = 0
        if restarters:
            restarted = restarters[0].observe(common.indices, z) + restarters[1].observe(hq.indices[gated], z[gated])
        usage.add(common=common.indices, hq=hq.indices[gated])
        return {
            "l1": terms["l1"].item(),
            "ssim": 1 - terms["ssim"].item(),
            "frequency": terms["frequency"].item(),
            "codebook": float(codebook),
            "restarted": float(restarted),
            **usage.summary(),
        }

    def checkpoint(iteration: int) -> None:
        save_state(run_dir, iteration, {"model": model}, optimizer, loader=loader)
        save_checkpoint(
            model,
            cfg.resolve(cfg.output_weights),
            trained=False,
            metadata={
                "stage": "I",
                "stage_I_iterations": iteration,
                "batch_size": cfg.batch_size,
                "train_faces": len(faces.paths),
                "held_out_faces": len(held_out),
                "hq_fraction_above_threshold": hq_fraction,
                "prior": prior_name(cfg),
                "codebook_usage_stage_I": usage.summary(),
            },
        )

    StepLoop(cfg, start, checkpoint, max_minutes, show_progress).run(endless(loader), step)
    return cfg.resolve(cfg.output_weights)


def prior_name(cfg: TrainConfig) -> str:
    if cfg.score_table:
        return f"face-IQA ensemble ({Path(cfg.score_table).name}); others: {cfg.score_metric} quantile-mapped"
    return f"{cfg.score_metric}, min-max over the training set"
