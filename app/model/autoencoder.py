"""VQGAN-style encoder and decoder (CodeFormer layout, configurable depth/width)."""

from __future__ import annotations

import torch
from torch import nn

from app.model.config import IQPFRConfig
from app.model.layers import Downsample, ResBlock, SelfAttention2d, Upsample, group_norm


class Encoder(nn.Module):
    """Image in [-1, 1] → feature map (B, embed_dim, grid, grid)."""

    def __init__(self, cfg: IQPFRConfig) -> None:
        super().__init__()
        channels = [cfg.base_channels * m for m in cfg.channel_multipliers]
        resolution = cfg.image_size
        blocks: list[nn.Module] = [nn.Conv2d(3, channels[0], 3, padding=1)]
        current = channels[0]
        for level, width in enumerate(channels):
            for _ in range(cfg.res_blocks_per_level):
                blocks.append(ResBlock(current, width))
                current = width
                if resolution in cfg.attention_resolutions:
                    blocks.append(SelfAttention2d(current))
            if level != len(channels) - 1:
                blocks.append(Downsample(current))
                resolution //= 2
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
        for level, width in enumerate(channels):
            for _ in range(cfg.res_blocks_per_level):
                blocks.append(ResBlock(current, width))
                current = width
                if resolution in cfg.attention_resolutions:
                    blocks.append(SelfAttention2d(current))
            if level != len(channels) - 1:
                blocks.append(Upsample(current))
                resolution *= 2
        blocks += [group_norm(current), nn.SiLU(), nn.Conv2d(current, 3, 3, padding=1)]
        self.blocks = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.blocks(z)
