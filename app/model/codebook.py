"""Vector-quantisation codebook (nearest-neighbour L2 lookup, VQ-VAE losses)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class Quantized:
    features: torch.Tensor   # (B, C, H, W), straight-through in training
    indices: torch.Tensor    # (B, H*W) long
    loss: torch.Tensor       # (B,) per-sample codebook + commitment loss


class VectorQuantizer(nn.Module):
    def __init__(self, num_codes: int, dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.num_codes = num_codes
        self.dim = dim
        self.beta = beta
        self.embedding = nn.Embedding(num_codes, dim)
        nn.init.uniform_(self.embedding.weight, -1.0 / num_codes, 1.0 / num_codes)

    def nearest_indices(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, H*W) indices of the closest codebook entries."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, self.dim)
        distances = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.embedding.weight.t()
                     + self.embedding.weight.pow(2).sum(1)[None, :])
        return distances.argmin(1).reshape(z.shape[0], -1)

    def lookup(self, indices: torch.Tensor, grid: int) -> torch.Tensor:
        """(B, H*W) indices → (B, C, grid, grid) codebook features."""
        codes = self.embedding(indices)  # (B, N, C)
        return codes.reshape(indices.shape[0], grid, grid, self.dim).permute(0, 3, 1, 2).contiguous()

    def forward(self, z: torch.Tensor) -> Quantized:
        indices = self.nearest_indices(z)
        z_q = self.lookup(indices, z.shape[-1])
        per_sample = (F.mse_loss(z_q, z.detach(), reduction="none").mean((1, 2, 3))
                      + self.beta * F.mse_loss(z_q.detach(), z, reduction="none").mean((1, 2, 3)))
        return Quantized(z + (z_q - z).detach(), indices, per_sample)
