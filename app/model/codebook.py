"""The two kinds of codebook: finite scalar quantisation (default) and nearest-neighbour VQ (format 1).

Both offer the same interface: `forward` (quantise with a straight-through gradient),
`nearest_indices`, `lookup`, and, for the Transformer head, `logit_count`, `logits_to_indices`
and `index_loss`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class Quantized:
    features: torch.Tensor  # (B, C, H, W), straight-through in training
    indices: torch.Tensor  # (B, H*W) long
    loss: torch.Tensor  # (B,) per-sample codebook + commitment loss (zero for FSQ)


def codebook_usage(indices: torch.Tensor, num_codes: int) -> dict[str, float]:
    """Fraction of entries used and perplexity (exp of the entropy of the index histogram)."""
    counts = torch.bincount(indices.flatten().cpu(), minlength=num_codes).float()
    if counts.sum() == 0:
        return {"used": 0.0, "perplexity": 0.0}
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return {"used": float((counts > 0).float().mean()), "perplexity": float(entropy.exp())}


class VectorQuantizer(nn.Module):
    """Learned codebook, nearest-neighbour L2 lookup, VQ-VAE codebook + commitment loss."""

    def __init__(self, num_codes: int, dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.num_codes = num_codes
        self.dim = dim
        self.beta = beta
        self.embedding = nn.Embedding(num_codes, dim)
        nn.init.uniform_(self.embedding.weight, -1.0 / num_codes, 1.0 / num_codes)

    @property
    def logit_count(self) -> int:
        return self.num_codes

    def logits_to_indices(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.argmax(-1)

    def index_loss(self, logits: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.flatten(0, 1), indices.flatten())

    def nearest_indices(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, H*W) indices of the closest codebook entries."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, self.dim)
        distances = (
            flat.pow(2).sum(1, keepdim=True)
            - 2 * flat @ self.embedding.weight.t()
            + self.embedding.weight.pow(2).sum(1)[None, :]
        )
        return distances.argmin(1).reshape(z.shape[0], -1)

    def lookup(self, indices: torch.Tensor, grid: int) -> torch.Tensor:
        """(B, H*W) indices → (B, C, grid, grid) codebook features."""
        codes = self.embedding(indices)  # (B, N, C)
        return codes.reshape(indices.shape[0], grid, grid, self.dim).permute(0, 3, 1, 2).contiguous()

    def forward(self, z: torch.Tensor) -> Quantized:
        indices = self.nearest_indices(z)
        z_q = self.lookup(indices, z.shape[-1])
        per_sample = F.mse_loss(z_q, z.detach(), reduction="none").mean((1, 2, 3)) + self.beta * F.mse_loss(
            z_q.detach(), z, reduction="none"
        ).mean((1, 2, 3))
        return Quantized(z + (z_q - z).detach(), indices, per_sample)


class ScalarQuantizer(nn.Module):
    """Finite scalar quantisation (Mentzer et al., 2023).

    A 1×1 conv projects each token to len(levels) numbers; each is squashed with tanh to its range
    and rounded to one of `levels[d]` values (straight-through gradient); a 1×1 conv projects back.
    The codebook is implicit — every combination of levels is an entry (prod(levels) of them) — so
    there is nothing to collapse and no codebook loss. The Transformer head predicts each dimension's
    level separately (`logit_count` = sum(levels)); the index is their mixed-radix number.
    """

    _levels: torch.Tensor  # buffers (register_buffer), declared for the type checker
    _basis: torch.Tensor

    def __init__(self, dim: int, levels: tuple[int, ...]) -> None:
        super().__init__()
        self.dim = dim
        self.levels = tuple(int(level) for level in levels)
        self.num_codes = math.prod(self.levels)
        self.project_in = nn.Conv2d(dim, len(self.levels), 1)
        self.project_out = nn.Conv2d(len(self.levels), dim, 1)
        levels_t = torch.tensor(self.levels, dtype=torch.float32)
        basis = torch.cumprod(torch.tensor((1, *self.levels[:-1])), 0)
        self.register_buffer("_levels", levels_t, persistent=False)
        self.register_buffer("_basis", basis, persistent=False)

    @property
    def logit_count(self) -> int:
        return sum(self.levels)

    def _view(self, t: torch.Tensor) -> torch.Tensor:
        return t.view(1, -1, 1, 1)

    def _bound(self, z: torch.Tensor) -> torch.Tensor:
        """Squash each channel to (−L/2, L/2), shifted for even L so rounding gives exactly L values."""
        half = self._view((self._levels - 1) * (1 + 1e-3) / 2)
        offset = self._view(torch.where(self._levels % 2 == 0, 0.5, 0.0))
        shift = torch.atanh(offset / half)
        return torch.tanh(z + shift) * half - offset

    def _digits(self, z: torch.Tensor) -> torch.Tensor:
        """Projected features → rounded levels 0..L−1 per channel (straight-through), float."""
        bounded = self._bound(z)
        rounded = bounded + (bounded.round() - bounded).detach()
        return rounded + self._view(self._levels // 2)

    def _digits_to_features(self, digits: torch.Tensor) -> torch.Tensor:
        half_width = self._view(self._levels // 2)
        return self.project_out((digits - half_width) / half_width)

    def _digits_to_indices(self, digits: torch.Tensor) -> torch.Tensor:
        flat = digits.round().long().permute(0, 2, 3, 1).reshape(digits.shape[0], -1, len(self.levels))
        return (flat * self._basis).sum(-1)

    def _project_in(self, z: torch.Tensor) -> torch.Tensor:
        with torch.autocast(z.device.type, enabled=False):  # rounding needs full precision
            return self.project_in(z.float())

    def nearest_indices(self, z: torch.Tensor) -> torch.Tensor:
        return self._digits_to_indices(self._digits(self._project_in(z)))

    def indices_to_digits(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, N) → (B, N, len(levels)) level of each dimension."""
        return (indices[..., None] // self._basis) % self._levels.long()

    def lookup(self, indices: torch.Tensor, grid: int) -> torch.Tensor:
        digits = self.indices_to_digits(indices).float()
        digits = digits.reshape(indices.shape[0], grid, grid, -1).permute(0, 3, 1, 2)
        return self._digits_to_features(digits)

    def _split_logits(self, logits: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return logits.split(self.levels, dim=-1)

    def logits_to_indices(self, logits: torch.Tensor) -> torch.Tensor:
        digits = torch.stack([part.argmax(-1) for part in self._split_logits(logits)], -1)
        return (digits * self._basis).sum(-1)

    def index_loss(self, logits: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the dimensions' levels."""
        digits = self.indices_to_digits(indices)
        parts = self._split_logits(logits)
        return torch.stack(
            [F.cross_entropy(part.flatten(0, 1), digits[..., d].flatten()) for d, part in enumerate(parts)]
        ).mean()

    def forward(self, z: torch.Tensor) -> Quantized:
        digits = self._digits(self._project_in(z))
        features = self._digits_to_features(digits)
        return Quantized(features, self._digits_to_indices(digits.detach()), z.new_zeros(z.shape[0]))


Codebook = VectorQuantizer | ScalarQuantizer


def make_codebook(kind: str, dim: int, num_codes: int, levels: tuple[int, ...], beta: float) -> Codebook:
    return ScalarQuantizer(dim, levels) if kind == "fsq" else VectorQuantizer(num_codes, dim, beta)
