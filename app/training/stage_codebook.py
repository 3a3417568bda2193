"""Stage I: dual-branch codebook autoencoder.

Clean faces are encoded and quantised independently by the common and the HQ+ codebook. The HQ+
branch (its features in the decoder input and its codebook loss) is active only for faces whose
quality prior is above τ (`hq_score_threshold`), so the HQ+ codebook learns what high-scoring faces
add. Without pretrained perceptual networks offline, the reconstruction loss is L1 + edge L1 + SSIM.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from app.model import IQPFR, IQPFRConfig, load_checkpoint, save_checkpoint
from app.model.codebook import VectorQuantizer
from app.training.config import TrainConfig
from app.training.data import FaceDataset
from app.training.loop import StepLoop, endless, load_state, save_state, seed_everything, training_faces
from app.training.losses import gradient_l1, ssim


class DeadCodeRestarter:
    """Re-seeds codebook entries unused over a window with current encoder outputs (avoids collapse)."""

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
            pool = features.detach().permute(0, 2, 3, 1).reshape(-1, self.codebook.dim)
            picks = pool[torch.randint(len(pool), (len(dead),), device=pool.device)]
            with torch.no_grad():
                self.codebook.embedding.weight[dead.to(pool.device)] = picks + 1e-3 * torch.randn_like(picks)
        self.usage.zero_()
        return len(dead)


def train_codebook(cfg: TrainConfig, device: torch.device, resume: bool = False,
                   max_minutes: float | None = None, show_progress: bool = True) -> Path:
    seed_everything(cfg.seed)
    if cfg.init_weights:
        model, _ = load_checkpoint(cfg.resolve(cfg.init_weights), device)
    else:
        model = IQPFR(IQPFRConfig.from_dict(cfg.model)).to(device)
    model.train()
    mcfg = model.cfg
    faces, held_out = training_faces(cfg, mcfg.image_size)
    hq_fraction = float((faces.prior > mcfg.hq_score_threshold).mean())
    loader = DataLoader(FaceDataset(faces, mcfg.image_size, seed=cfg.seed), batch_size=cfg.batch_size,
                        shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(cfg.seed))
    parameters = [p for part in (model.encoder, model.decoder, model.common_codebook, model.hq_codebook)
                  for p in part.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=cfg.learning_rate, betas=(0.9, 0.99))
    run_dir = cfg.resolve(cfg.run_dir)
    start, _ = load_state(run_dir, {"model": model}, optimizer) if resume else (0, {})
    restart_every = int(cfg.loss.get("restart_every", 100))
    restarters = (DeadCodeRestarter(model.common_codebook, restart_every),
                  DeadCodeRestarter(model.hq_codebook, restart_every))
    weights = {"l1": 1.0, "edge": 0.5, "ssim": 0.5, **cfg.loss}

    def step(batch: dict) -> dict:
        clean = batch["clean"].to(device)
        hq_gate = (batch["prior"] > mcfg.hq_score_threshold).float().to(device)
        z = model.encoder(clean)
        common, hq = model.common_codebook(z), model.hq_codebook(z)
        fused = common.features + mcfg.hq_weight * hq_gate[:, None, None, None] * hq.features
        output = model.decoder(fused)
        l1 = F.l1_loss(output, clean)
        edge = gradient_l1(output, clean)
        structure = 1.0 - ssim(output, clean)
        codebook = common.loss.mean() + (hq.loss * hq_gate).sum() / hq_gate.sum().clamp(min=1.0)
        loss = weights["l1"] * l1 + weights["edge"] * edge + weights["ssim"] * structure + codebook
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        restarted = restarters[0].observe(common.indices, z)
        gated = hq_gate.bool()
        restarted += restarters[1].observe(hq.indices[gated], z[gated])
        return {"l1": l1.item(), "ssim": 1 - structure.item(), "codebook": codebook.item(),
                "restarted": float(restarted)}

    def checkpoint(iteration: int) -> None:
        save_state(run_dir, iteration, {"model": model}, optimizer)
        save_checkpoint(model, cfg.resolve(cfg.output_weights), trained=False, metadata={
            "stage": "I", "stage_I_iterations": iteration, "batch_size": cfg.batch_size,
            "train_faces": len(faces.paths), "held_out_faces": len(held_out),
            "hq_fraction_above_threshold": hq_fraction, "score_metric": cfg.score_metric})

    StepLoop(cfg, start, checkpoint, max_minutes, show_progress).run(endless(loader), step)
    return cfg.resolve(cfg.output_weights)
