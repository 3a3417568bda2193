"""VQGAN-style encoder and decoder (CodeFormer layout, configurable depth/width)."""

from __future__ import annotations

import torch
from torch import nn

from app.model.config import IQPFRConfig
from app.model.layers import Downsample, ResBlock, SelfAttention2d, Upsample, group_norm


def _add_levels(blocks: list[nn.Module], cfg: IQPFRConfig, channels: list[int], resolution: int,
                resample: type[nn.Module], scale: float) -> int:
    """Append the per-level ResBlocks (+ attention at the configured resolutions) and resampling
    between levels; returns the final channel count. Shared by encoder (down) and decoder (up)."""
    current = channels[0]
    for level, width in enumerate(channels):
        for _ in range(cfg.res_blocks_per_level):
            blocks.append(ResBlock(current, width))
            current = width
            if resolution in cfg.attention_resolutions:
                blocks.append(SelfAttention2d(current))
        if level != len(channels) - 1:
            blocks.append(resample(current))
            resolution = int(resolution * scale)
    return current


class Encoder(nn.Module):
    """Image in [-1, 1] → feature map (B, embed_dim, grid, grid)."""

    def __init__(self, cfg: IQPFRConfig) -> None:
        super().__init__()
        channels = [cfg.base_channels * m for m in cfg.channel_multipliers]
        resolution = cfg.image_size
        blocks: list[nn.Module] = [nn.Conv2d(3, channels[0], 3, padding=1)]
        current = _add_levels(blocks, cfg, channels, resolution, Downsample, 0.5)
        blocks += [ResBlock(current, current), SelfAttention2d(current), ResBlock(current, current),
                   group_norm(current), nn.SiLU(), nn.Conv2d(current, cfg.embed_dim, 1)]
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class Decoder(nn.Module):
    """Quantised feature map → image in [-1, 1] (not clamped)."""

    def __init__(self, cfg: IQPFRConfig) -> None:
        super().__init__()
        channels = [cfg.base_channels * m for m in cfg.channel_multipliers][::-1]
        resolution = cfg.token_grid
        current = channels[0]
        blocks: list[nn.Module] = [nn.Conv2d(cfg.embed_dim, current, 3, padding=1),
                                   ResBlock(current, current), SelfAttention2d(current), ResBlock(current, current)]
        current = _add_levels(blocks, cfg, channels, resolution, Upsample, 2.0)
        blocks += [group_norm(current), nn.SiLU(), nn.Conv2d(current, 3, 3, padding=1)]
        self.blocks = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.blocks(z)
