"""The IQPFR network: encoder, common + HQ+ codebooks, quality-conditioned Transformer, decoder
with a controllable fidelity path from the encoder (CodeFormer's CFT)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from app.model.autoencoder import Decoder, Encoder
from app.model.codebook import make_codebook
from app.model.colour import keep_input_tone
from app.model.config import IQPFRConfig
from app.model.input_gate import InputGate
from app.model.transformer import CodePrediction, QualityConditionedCodePredictor, quality_to_bin


@dataclass
class EncodedFaces:
    """What the encoder gives for a batch of aligned faces; cached so slider moves skip the encoder."""

    features: torch.Tensor  # (B, embed_dim, grid, grid) tokens
    skips: dict[int, torch.Tensor]  # {resolution: (B, C, r, r)} level features for the fidelity path
    images: torch.Tensor | None = None  # the inputs, (B, 3, S, S) in [-1, 1], for keeping their colour

    def __len__(self) -> int:
        return self.features.shape[0]


@dataclass
class Restoration:
    image: torch.Tensor  # (B, 3, S, S) in [-1, 1]
    common_indices: torch.Tensor  # (B, N)
    hq_indices: torch.Tensor  # (B, N)


class IQPFR(nn.Module):
    def __init__(self, cfg: IQPFRConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or IQPFRConfig()
        self.encoder = Encoder(cfg)
        self.common_codebook = make_codebook(
            cfg.quantizer, cfg.embed_dim, cfg.common_codebook_size, cfg.fsq_levels, cfg.commitment_beta
        )
        self.hq_codebook = make_codebook(
            cfg.quantizer, cfg.embed_dim, cfg.hq_codebook_size, cfg.fsq_levels, cfg.commitment_beta
        )
        self.code_predictor = QualityConditionedCodePredictor(
            cfg, self.common_codebook.logit_count, self.hq_codebook.logit_count
        )
        self.decoder = Decoder(cfg)
        self.input_gate = (
            InputGate(quality_bins=cfg.quality_bins, band_sigmas=cfg.input_gate_bands) if cfg.input_gate else None
        )

    @property
    def has_fidelity(self) -> bool:
        return len(self.cfg.fidelity_scales) > 0

    def encode(self, images: torch.Tensor) -> EncodedFaces:
        """Images in [-1, 1] → encoder features; cache these to re-run only the cheap part."""
        features, skips = self.encoder(images)
        return EncodedFaces(features, {r: s for r, s in skips.items() if r in self.cfg.fidelity_scales}, images)

    def nearest_codes(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Common and HQ+ indices of the codebook entries closest to each feature token."""
        return self.common_codebook.nearest_indices(features), self.hq_codebook.nearest_indices(features)

    def predict_codes(self, features: torch.Tensor, quality: torch.Tensor | float) -> CodePrediction:
        common, hq, conditioned = self.code_predictor(features, quality)
        return CodePrediction(
            common,
            hq,
            conditioned,
            self.common_codebook.logits_to_indices(common),
            self.hq_codebook.logits_to_indices(hq),
        )

    def fuse_codes(
        self, common_indices: torch.Tensor, hq_indices: torch.Tensor, hq_weight: float | None = None
    ) -> torch.Tensor:
        """Decoder input = e_common[i_c] + λ·e_HQ+[i_h]."""
        weight = self.cfg.hq_weight if hq_weight is None else hq_weight
        grid = self.cfg.token_grid
        return self.common_codebook.lookup(common_indices, grid) + weight * self.hq_codebook.lookup(hq_indices, grid)

    def decode(
        self,
        codes: torch.Tensor,
        encoded: EncodedFaces | None = None,
        fidelity: float | torch.Tensor = 0.0,
        quality: torch.Tensor | float | None = None,
    ) -> torch.Tensor:
        """Decoder over fused code features; with `encoded` and fidelity w > 0 the encoder's level
        features enter through the fidelity fusion (w = 0: codes only, w = 1: as trained), modulated
        by the quality bin when the model has `quality_fusion`. The input faces in `encoded` let the decoder
        repair its activation spikes when the weights ask for it (`Decoder.spike_repair`), and, with an
        `input_gate`, the decoded face takes the input's tone and colour and then the gate keeps a learned share of
        the input where it needs no redrawing (scaled by w), so where the gate is open the input comes back whole."""
        bins = None
        if quality is not None and self.cfg.quality_fusion:
            bins = quality_to_bin(quality, self.cfg.quality_bins).to(codes.device)
            bins = bins.expand(codes.shape[0]) if bins.ndim == 0 else bins
        if encoded is None:
            return self.decoder(codes, None, fidelity, bins)
        decoded = self.decoder(codes, encoded.skips, fidelity, bins, encoded.images)
        if self.input_gate is None or encoded.images is None:
            return decoded
        redrawn = self.keep_input_tone(decoded, encoded.images)
        if not (torch.is_tensor(fidelity) or fidelity > 0):
            return redrawn
        return self.input_gate(encoded.images, redrawn, fidelity, bins)

    def keep_input_tone(self, decoded: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """The decoded faces with the inputs' broad tone and colour (`app.model.colour`)."""
        size = self.cfg.image_size
        return keep_input_tone(decoded.float(), inputs.float(), luma_sigma=size / 20, chroma_sigma=size / 64)

    def decode_codes(self, common_indices: torch.Tensor, hq_indices: torch.Tensor) -> torch.Tensor:
        return self.decode(self.fuse_codes(common_indices, hq_indices))

    @torch.no_grad()
    def restore_from_features(
        self,
        encoded: EncodedFaces,
        quality: float,
        fidelity: float = 0.0,
        keep_colour: bool = True,
    ) -> Restoration:
        """Restore cached encoder output. `keep_colour`: the output's broad tone and colour are taken
        from the input (`app.model.colour`), so restoration adds detail but cannot relight or recolour
        a face, nor colourise a grey one."""
        prediction = self.predict_codes(encoded.features, quality)
        common, hq = prediction.common_indices, prediction.hq_indices
        image = self.decode(self.fuse_codes(common, hq), encoded, fidelity, quality)
        if keep_colour and encoded.images is not None and self.input_gate is None:  # (a gated decode keeps it)
            image = self.keep_input_tone(image, encoded.images)
        return Restoration(image, common, hq)

    @torch.no_grad()
    def restore(
        self,
        images: torch.Tensor,
        quality: float,
        fidelity: float = 0.0,
        keep_colour: bool = True,
    ) -> Restoration:
        return self.restore_from_features(self.encode(images), quality, fidelity, keep_colour)


def with_quality_fusion(model: IQPFR) -> IQPFR:
    """A copy of a model without `quality_fusion`, with it added: every weight kept, the new
    per-bin fusion terms at zero, so its outputs are unchanged until it is trained."""
    return _with_part(model, "quality_fusion", lambda key: key.endswith(".quality.weight"))


def with_input_gate(model: IQPFR) -> IQPFR:
    """A copy of a model without an `input_gate`, with a new one (nearly closed: outputs almost unchanged)."""
    return _with_part(model, "input_gate", lambda key: key.startswith("input_gate."))


def with_gate_bands(model: IQPFR, band_sigmas: tuple[float, ...]) -> IQPFR:
    """A copy of a model with a one-band input gate whose gate splits the input at `band_sigmas` (same outputs)."""
    if model.input_gate is None:
        raise ValueError("the model has no input gate to split into bands")
    if model.cfg.input_gate_bands == tuple(band_sigmas):
        return model
    upgraded = IQPFR(IQPFRConfig.from_dict({**model.cfg.to_dict(), "input_gate_bands": tuple(band_sigmas)}))
    upgraded = upgraded.to(next(model.parameters()).device)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("input_gate.")}
    state.update(
        {f"input_gate.{k}": v for k, v in model.input_gate.with_bands(tuple(band_sigmas)).state_dict().items()}
    )
    upgraded.load_state_dict(state)
    upgraded.decoder.spike_repair = model.decoder.spike_repair
    return upgraded


def _with_part(model: IQPFR, flag: str, is_new: Callable[[str], bool]) -> IQPFR:
    if getattr(model.cfg, flag):
        return model
    upgraded = IQPFR(IQPFRConfig.from_dict({**model.cfg.to_dict(), flag: True})).to(next(model.parameters()).device)
    missing, unexpected = upgraded.load_state_dict(model.state_dict(), strict=False)
    if unexpected or not all(is_new(key) for key in missing):
        raise ValueError(f"cannot add {flag}: unexpected {unexpected}, missing {missing}")
    upgraded.decoder.spike_repair = model.decoder.spike_repair
    return upgraded
