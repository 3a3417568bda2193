"""VQGAN-style encoder and decoder (CodeFormer layout, configurable depth/width), with
CodeFormer's controllable feature transformation: the decoder can take in encoder features."""

from __future__ import annotations

import torch
from torch import nn

from app.model.config import IQPFRConfig
from app.model.layers import Downsample, ResBlock, SelfAttention2d, Upsample, group_norm
from app.model.spikes import SpikeRepair, repair_spikes


def _add_levels(
    blocks: list[nn.Module],
    cfg: IQPFRConfig,
    channels: list[int],
    resolution: int,
    resample: type[nn.Module],
    scale: float,
) -> int:
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
    """Image in [-1, 1] → (token features (B, embed_dim, grid, grid), {resolution: level features}).

    The level features are taken at the end of each level above the token grid, before it is
    downsampled; the decoder's fidelity fusion reads them.
    """

    def __init__(self, cfg: IQPFRConfig) -> None:
        super().__init__()
        channels = [cfg.base_channels * m for m in cfg.channel_multipliers]
        blocks: list[nn.Module] = [nn.Conv2d(3, channels[0], 3, padding=1)]
        current = _add_levels(blocks, cfg, channels, cfg.image_size, Downsample, 0.5)
        blocks += [
            ResBlock(current, current),
            SelfAttention2d(current),
            ResBlock(current, current),
            group_norm(current),
            nn.SiLU(),
            nn.Conv2d(current, cfg.embed_dim, 1),
        ]
        self.blocks = nn.Sequential(*blocks)
        self.image_size = cfg.image_size

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        skips: dict[int, torch.Tensor] = {}
        for block in self.blocks:
            if isinstance(block, Downsample):
                skips[x.shape[-1]] = x
            x = block(x)
        return x, skips


class FidelityFusion(nn.Module):
    """CodeFormer's controllable feature transformation at one decoder scale:
    out = dec + w·(dec·scale + shift), with scale and shift from a ResBlock over concat(enc, dec).
    With `quality_bins`, the quality bin adds a learned per-channel term to scale and shift.
    The last convs and the bin terms start at zero, so an untrained fusion leaves the decoder unchanged."""

    def __init__(self, encoder_channels: int, decoder_channels: int, quality_bins: int = 0) -> None:
        super().__init__()
        self.merge = ResBlock(encoder_channels + decoder_channels, decoder_channels)
        self.scale = nn.Conv2d(decoder_channels, decoder_channels, 3, padding=1)
        self.shift = nn.Conv2d(decoder_channels, decoder_channels, 3, padding=1)
        for conv in (self.scale, self.shift):
            assert conv.bias is not None  # nn.Conv2d's default bias=True
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        self.quality = nn.Embedding(quality_bins, 2 * decoder_channels) if quality_bins else None
        if self.quality is not None:
            nn.init.zeros_(self.quality.weight)

    def forward(
        self,
        decoded: torch.Tensor,
        encoded: torch.Tensor,
        weight: float | torch.Tensor,
        quality_bins: torch.Tensor | None = None,
    ) -> torch.Tensor:
        h = self.merge(torch.cat([encoded, decoded], 1))
        scale, shift = self.scale(h), self.shift(h)
        if self.quality is not None and quality_bins is not None:
            bin_scale, bin_shift = self.quality(quality_bins.to(decoded.device))[..., None, None].chunk(2, dim=1)
            scale, shift = scale + bin_scale, shift + bin_shift
        return decoded + weight * (decoded * scale + shift)


class Decoder(nn.Module):
    """Quantised feature map (+ encoder level features and a fidelity weight) → image in [-1, 1]
    (not clamped). Fusion happens at the end of each level listed in `cfg.fidelity_scales`.
    `spike_repair` (set from the weights' metadata, off by default): in eval mode, given the input faces as
    `reference`, the head repairs activation spikes that render off-colour (`app.model.spikes`)."""

    spike_repair: SpikeRepair | None = None

    def __init__(self, cfg: IQPFRConfig) -> None:
        super().__init__()
        channels = [cfg.base_channels * m for m in cfg.channel_multipliers][::-1]
        current = channels[0]
        blocks: list[nn.Module] = [
            nn.Conv2d(cfg.embed_dim, current, 3, padding=1),
            ResBlock(current, current),
            SelfAttention2d(current),
            ResBlock(current, current),
        ]
        current = _add_levels(blocks, cfg, channels, cfg.token_grid, Upsample, 2.0)
        self.head_start = len(blocks)
        blocks += [group_norm(current), nn.SiLU(), nn.Conv2d(current, 3, 3, padding=1)]
        self.blocks = nn.Sequential(*blocks)
        bins = cfg.quality_bins if cfg.quality_fusion else 0
        self.fusion = nn.ModuleDict(
            {str(r): FidelityFusion(cfg.level_channels(r), cfg.level_channels(r), bins) for r in cfg.fidelity_scales}
        )

    def forward(
        self,
        z: torch.Tensor,
        skips: dict[int, torch.Tensor] | None = None,
        fidelity: float | torch.Tensor = 0.0,
        quality_bins: torch.Tensor | None = None,
        reference: torch.Tensor | None = None,
    ) -> torch.Tensor:
        fused_skips = skips if len(self.fusion) > 0 and (torch.is_tensor(fidelity) or fidelity > 0) else None
        repair = self.spike_repair if reference is not None and not self.training else None
        for index, block in enumerate(self.blocks):
            if fused_skips is not None and (isinstance(block, Upsample) or index == self.head_start):
                key = str(z.shape[-1])
                if key in self.fusion:
                    z = self.fusion[key](z, fused_skips[z.shape[-1]], fidelity, quality_bins)
            if repair is not None and reference is not None and index == self.head_start:
                return repair_spikes(z, block, self.blocks[index + 1 :], reference, repair)
            z = block(z)
        return z
