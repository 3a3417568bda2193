"""Stage II: quality-conditioned code prediction, trained together with the fidelity path.

A frozen copy of the Stage-I encoder gives each clean training face its target indices in both
codebooks ("latent ground truth"). The trainable encoder sees the degraded face; the embedding of
the clean face's own quality bin is added to its features; the Transformer predicts both index
sets (feature MSE to the fused target codes + ½·CE per codebook, as in the paper's Stage II).

In the same steps (CodeFormer trains this as a separate Stage III), the decoder decodes the
*predicted* codes with the encoder's level features fused in at a fidelity weight w drawn per face
(mostly 1, sometimes 0, else uniform), and L1 + edge + SSIM + focal-frequency losses against the
clean face train the encoder, the fusion blocks and (at a lower learning rate) the decoder.
Codebooks stay frozen, so the codes keep their Stage-I meaning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from app.faces.identity import FaceIdentity
from app.model import load_checkpoint, save_checkpoint
from app.model.iqpfr import with_gate_bands, with_input_gate, with_quality_fusion
from app.training.adversarial import (
    PatchDiscriminator,
    adaptive_weight,
    diff_augment,
    discriminator_hinge,
    generator_hinge,
)
from app.training.config import TrainConfig
from app.training.data import SoftTargetConfig
from app.training.face_losses import FACE_LOSS_NAMES, FaceNetworkLosses
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
from app.training.usage import UsageMeter


def train_transformer(
    cfg: TrainConfig,
    device: torch.device,
    resume: bool = False,
    max_minutes: float | None = None,
    show_progress: bool = True,
) -> Path:
    seed_everything(cfg.seed)
    if not cfg.init_weights:
        raise ValueError("this stage needs init_weights: the Stage I weights file")
    model, info = load_checkpoint(cfg.resolve(cfg.init_weights), device)
    if cfg.model.get("quality_fusion") and not model.cfg.quality_fusion:
        model = with_quality_fusion(model)
    if cfg.model.get("input_gate") and not model.cfg.input_gate:
        model = with_input_gate(model)
    if cfg.model.get("input_gate_bands"):
        model = with_gate_bands(model, tuple(cfg.model["input_gate_bands"]))
    faces, _held_out = training_faces(cfg, model.cfg.image_size)
    soft_share = float(cfg.loss.get("soft_targets", 0.0))
    dataset = degraded_face_dataset(
        cfg, faces, model.cfg.image_size, SoftTargetConfig(probability=soft_share) if soft_share > 0 else None
    )
    loader = make_loader(dataset, cfg)
    target_encoder = stage_one_encoder(cfg, model, device)
    model.train()
    frozen: list[torch.nn.Module] = [model.common_codebook, model.hq_codebook]
    train_codes = bool(cfg.loss.get("train_codes", True))  # false: encoder and Transformer stay as they are
    if not train_codes:
        frozen += [model.encoder, model.code_predictor]
    for part in frozen:
        part.requires_grad_(False)
    decoder_base = [p for n, p in model.decoder.named_parameters() if not n.startswith("fusion.")]
    fusion_quality = [p for n, p in model.decoder.fusion.named_parameters() if n.endswith(".quality.weight")]
    fusion_rest = [p for n, p in model.decoder.fusion.named_parameters() if not n.endswith(".quality.weight")]
    code_path = list(model.encoder.parameters()) + list(model.code_predictor.parameters()) if train_codes else []
    groups: list[dict[str, Any]] = [
        {"params": code_path + fusion_rest},
        {"params": decoder_base, "lr": cfg.learning_rate * float(cfg.loss.get("decoder_lr_scale", 0.5))},
    ]
    if fusion_quality:  # per-bin terms start at zero and get few samples per bin: a faster rate
        groups.append(
            {"params": fusion_quality, "lr": cfg.learning_rate * float(cfg.loss.get("quality_fusion_lr_scale", 1.0))}
        )
    if model.input_gate is not None:
        groups.append(
            {
                "params": list(model.input_gate.parameters()),
                "lr": cfg.learning_rate * float(cfg.loss.get("input_gate_lr_scale", 1.0)),
            }
        )
    optimizer = torch.optim.Adam(groups, lr=cfg.learning_rate, betas=(0.9, 0.99))
    run_dir = cfg.resolve(cfg.run_dir)
    adversarial = Adversary(cfg, device)
    modules = {"model": model, **adversarial.modules()}
    start, extra = load_state(run_dir, modules, optimizer, loader) if resume else (0, {})
    adversarial.load(extra)
    weights = {**CODE_AND_IMAGE_WEIGHTS, **cfg.loss}
    fidelity_draws = torch.Generator().manual_seed(cfg.seed + start)
    usage = UsageMeter(
        {"common": model.common_codebook.num_codes, "hq": model.hq_codebook.num_codes}, window=cfg.log_every
    )
    face_losses = (
        FaceNetworkLosses(FaceIdentity.load(device=device))
        if any(float(weights.get(name, 0.0)) > 0 for name in FACE_LOSS_NAMES)
        else None
    )
    last_layer = model.decoder.blocks[-1]  # the adversarial term is weighted at the decoder's output conv
    assert isinstance(last_layer, torch.nn.Conv2d)

    def step(batch: dict) -> dict:
        clean, degraded = batch["clean"].to(device), batch["degraded"].to(device)
        run = predict_and_decode(
            model,
            target_encoder,
            clean,
            degraded,
            batch["prior"].to(device),
            fidelity_draws,
            cfg,
            device,
            straight_through=False,
        )
        output, prediction, feature, ce = run.output, run.prediction, run.feature, run.ce
        image, terms = reconstruction_losses(output, clean, weights)
        image = weights["image"] * image
        face_logs = {}
        if face_losses is not None:
            face_terms = face_losses(output, clean)
            image = image + sum(float(weights.get(name, 0.0)) * value for name, value in face_terms.items())
            face_logs = {name: value.item() for name, value in face_terms.items()}
        generator_term, gan_logs = adversarial.generator_loss(output, image, last_layer.weight)
        loss = image + generator_term
        if train_codes:
            loss = loss + weights["feature"] * feature + weights["ce"] * ce
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        gan_logs.update(adversarial.train_discriminator(clean, output.detach()))
        usage.add(common=prediction.common_indices, hq=prediction.hq_indices)
        return {
            "feature": feature.item(),
            "ce": ce.item(),
            "l1": terms["l1"].item(),
            "ssim": 1 - terms["ssim"].item(),
            "accuracy": run.accuracy(),
            **face_logs,
            **gan_logs,
            **usage.summary(),
        }

    def checkpoint(iteration: int) -> None:
        save_state(run_dir, iteration, modules, optimizer, extra=adversarial.state(), loader=loader)
        counts = (
            {"finetune_iterations": [*info.metadata.get("finetune_iterations", []), iteration]}
            if cfg.codebook_weights or info.metadata.get("stage") == "II"  # fine-tuning a Stage II model
            else {"stage_II_iterations": iteration}
        )
        save_checkpoint(
            model,
            cfg.resolve(cfg.output_weights),
            trained=True,
            metadata={
                **info.metadata,
                "stage": "II",
                **counts,
                "stage_II_batch_size": cfg.batch_size,
                "codebook_usage_stage_II_predicted": usage.summary(),
            },
        )

    StepLoop(cfg, start, checkpoint, max_minutes, show_progress).run(endless(loader), step)
    return cfg.resolve(cfg.output_weights)


class Adversary:
    """The optional PatchGAN term (`adversarial` > 0 in [loss]): the discriminator trains from this
    run's first step; the generator feels it after `adversarial_start` steps, with VQGAN's adaptive
    weight times `adversarial`."""

    def __init__(self, cfg: TrainConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.base = float(cfg.loss.get("adversarial", 0.0))
        self.start = int(cfg.loss.get("adversarial_start", 0))
        self.steps = 0
        self.augment_draws = torch.Generator().manual_seed(cfg.seed + 7)
        self.discriminator = PatchDiscriminator().to(device).train() if self.base > 0 else None
        self.optimizer = (
            torch.optim.Adam(self.discriminator.parameters(), lr=cfg.learning_rate, betas=(0.5, 0.9))
            if self.discriminator is not None
            else None
        )

    def modules(self) -> dict:
        return {"discriminator": self.discriminator} if self.discriminator is not None else {}

    def state(self) -> dict:
        if self.optimizer is None:
            return {}
        return {"discriminator_optimizer": self.optimizer.state_dict(), "adversary_steps": self.steps}

    def load(self, extra: dict) -> None:
        if self.optimizer is not None and "discriminator_optimizer" in extra:
            self.optimizer.load_state_dict(extra["discriminator_optimizer"])
            self.steps = int(extra.get("adversary_steps", 0))

    def generator_loss(
        self, output: torch.Tensor, reconstruction: torch.Tensor, last_layer: torch.Tensor
    ) -> tuple[torch.Tensor, dict]:
        if self.discriminator is None or self.steps < self.start:
            return output.new_zeros(()), {}
        self.discriminator.requires_grad_(False)
        with autocast(self.cfg, self.device):
            logits = self.discriminator(diff_augment(output.float(), self.augment_draws))
        self.discriminator.requires_grad_(True)
        adversarial = generator_hinge(logits.float())
        weight = adaptive_weight(reconstruction, adversarial, last_layer, self.base)
        return weight * adversarial, {"g_adv": adversarial.item(), "adv_weight": weight.item()}

    def train_discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> dict:
        if self.discriminator is None or self.optimizer is None:  # (both or neither)
            return {}
        self.steps += 1
        with autocast(self.cfg, self.device):
            both = diff_augment(torch.cat([real, fake.float()]), self.augment_draws)
            logits = self.discriminator(both).float()
        real_logits, fake_logits = logits.chunk(2)
        loss = discriminator_hinge(real_logits, fake_logits)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"d_loss": loss.item(), "d_real": real_logits.mean().item(), "d_fake": fake_logits.mean().item()}
