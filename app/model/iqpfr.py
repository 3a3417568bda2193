"""The IQPFR network: encoder, common + HQ+ codebooks, quality-conditioned Transformer, decoder."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from app.model.autoencoder import Decoder, Encoder
from app.model.codebook import VectorQuantizer
from app.model.config import IQPFRConfig
from app.model.transformer import CodePrediction, QualityConditionedCodePredictor


@dataclass
class Restoration:
    image: torch.Tensor            # (B, 3, S, S) in [-1, 1]
    common_indices: torch.Tensor   # (B, N)
    hq_indices: torch.Tensor       # (B, N)


class IQPFR(nn.Module):
    def __init__(self, cfg: IQPFRConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or IQPFRConfig()
        self.encoder = Encoder(self.cfg)
        self.common_codebook = VectorQuantizer(self.cfg.common_codebook_size, self.cfg.embed_dim,
                                               self.cfg.commitment_beta)
        self.hq_codebook = VectorQuantizer(self.cfg.hq_codebook_size, self.cfg.embed_dim, self.cfg.commitment_beta)
        self.code_predictor = QualityConditionedCodePredictor(self.cfg)
        self.decoder = Decoder(self.cfg)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] → encoder features; cache these to re-run only the cheap part."""
        return self.encoder(images)

    def nearest_codes(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Common and HQ+ indices of the codebook entries closest to each feature token."""
        return self.common_codebook.nearest_indices(features), self.hq_codebook.nearest_indices(features)

    def predict_codes(self, features: torch.Tensor, quality: torch.Tensor | float) -> CodePrediction:
        return self.code_predictor(features, quality)

    def fuse_codes(self, common_indices: torch.Tensor, hq_indices: torch.Tensor,
                   hq_weight: float | None = None) -> torch.Tensor:
        """Decoder input = e_common[i_c] + λ·e_HQ+[i_h]."""
        weight = self.cfg.hq_weight if hq_weight is None else hq_weight
        grid = self.cfg.token_grid
        return self.common_codebook.lookup(common_indices, grid) + weight * self.hq_codebook.lookup(hq_indices, grid)

    def decode_codes(self, common_indices: torch.Tensor, hq_indices: torch.Tensor,
                     hq_weight: float | None = None) -> torch.Tensor:
        return self.decoder(self.fuse_codes(common_indices, hq_indices, hq_weight))

    @torch.no_grad()
    def restore_from_features(self, features: torch.Tensor, quality: float,
                              hq_weight: float | None = None) -> Restoration:
        prediction = self.predict_codes(features, quality)
        common, hq = prediction.common_indices, prediction.hq_indices
        return Restoration(self.decode_codes(common, hq, hq_weight), common, hq)

    @torch.no_grad()
    def restore(self, images: torch.Tensor, quality: float, hq_weight: float | None = None) -> Restoration:
        return self.restore_from_features(self.encode(images), quality, hq_weight)
