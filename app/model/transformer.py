"""Quality-conditioned code-prediction Transformer (IQPFR Stage II).

The quality score s ∈ [0, 1] is binned (10 bins); a learned embedding of the bin,
shaped like the encoder feature map, is ADDED to the encoder features before the
token projection (method notes §2, "add" conditioning). The head predicts one index
in each codebook for every token.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from app.model.config import IQPFRConfig


def quality_to_bin(quality: torch.Tensor | float, bins: int) -> torch.Tensor:
    """Map scores in [0, 1] to bin ids 0..bins-1 (floor(bins·s); s = 1.0 lands in the top bin)."""
    q = torch.as_tensor(quality, dtype=torch.float32)
    return torch.clamp((q.clamp(0.0, 1.0) * bins).floor().long(), 0, bins - 1)


class TransformerLayer(nn.Module):
    """Pre-LN self-attention layer with the positional embedding added to queries and keys."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, dim))

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        qk = h + pos
        x = x + self.attn(qk, qk, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


@dataclass
class CodePrediction:
    common_logits: torch.Tensor  # (B, N, logits of the common codebook's head)
    hq_logits: torch.Tensor  # (B, N, logits of the HQ+ codebook's head)
    conditioned_features: torch.Tensor  # encoder features + quality embedding (B, C, H, W)
    common_indices: torch.Tensor  # (B, N) predicted entries
    hq_indices: torch.Tensor


class QualityConditionedCodePredictor(nn.Module):
    """Outputs logits only; the codebooks turn them into indices (`IQPFR.predict_codes`)."""

    def __init__(self, cfg: IQPFRConfig, common_logits: int, hq_logits: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.logit_split = (common_logits, hq_logits)
        self.quality_embedding = nn.Embedding(cfg.quality_bins, cfg.embed_dim * cfg.num_tokens)
        nn.init.normal_(self.quality_embedding.weight, std=0.02)
        self.feature_projection = nn.Linear(cfg.embed_dim, cfg.transformer_dim)
        self.position_embedding = nn.Parameter(torch.zeros(1, cfg.num_tokens, cfg.transformer_dim))
        nn.init.normal_(self.position_embedding, std=0.02)
        mlp_dim = cfg.transformer_dim * cfg.transformer_mlp_ratio
        self.layers = nn.ModuleList(
            TransformerLayer(cfg.transformer_dim, cfg.transformer_heads, mlp_dim, cfg.dropout)
            for _ in range(cfg.transformer_layers)
        )
        self.head = nn.Sequential(
            nn.LayerNorm(cfg.transformer_dim), nn.Linear(cfg.transformer_dim, common_logits + hq_logits, bias=False)
        )

    def condition(self, features: torch.Tensor, quality: torch.Tensor | float) -> torch.Tensor:
        """Add the learned quality-bin embedding to the encoder feature map."""
        bins = quality_to_bin(quality, self.cfg.quality_bins).to(features.device)
        if bins.ndim == 0:
            bins = bins.expand(features.shape[0])
        embedding = self.quality_embedding(bins).reshape(features.shape)
        return features + embedding

    def forward(
        self, features: torch.Tensor, quality: torch.Tensor | float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """→ (common logits, HQ+ logits, conditioned features)."""
        conditioned = self.condition(features, quality)
        tokens = self.feature_projection(conditioned.flatten(2).transpose(1, 2))
        for layer in self.layers:
            tokens = layer(tokens, self.position_embedding)
        common, hq = self.head(tokens).split(self.logit_split, dim=-1)
        return common, hq, conditioned
