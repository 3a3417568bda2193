"""The input gate: how much of the input face to keep, per pixel and per frequency band, learned.

The codebook decoder redraws the whole face, so a face that needed little restoration (a large face in a
photo, aligned to the model's 128 px, is nearly clean) came back worse than it went in: measured on faces of
512 px in synthetic photos, the part-D model lost 4.5 dB against its own input on mild degradations. A
small convolutional network looks at the input and the decoded face side by side and gives, per pixel, a
gate g_k in [0, 1] for each frequency band k of their difference; the result is
`decoded + w·Σ_k g_k·band_k(input − decoded)`, with w the fidelity weight. The bands split at Gaussian blurs of
`band_sigmas` px (none: one band, the whole difference), so the gate can keep the input's broad structure (where
identity lives) while taking the decoder's fine detail over JPEG blocks and grain. Trained with the image losses
on a mix of clean, lightly and heavily degraded faces, the gates learn where the input is already better than
the redrawn face. At w = 0 the output is the codebook's face, as before. The last convolution starts at
g ≈ 0.02, so a new gate leaves the model nearly as it was.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from app.model.colour import gaussian_blur

GATE_CHANNELS = 32
GATE_START_BIAS = -4.0  # sigmoid(-4) ≈ 0.018


class InputGate(nn.Module):
    """With `quality_bins`, each bin of the target quality adds its own learned offset (zero at the start) to the
    gates' logits, so a low target quality can keep less of the input."""

    def __init__(
        self, channels: int = GATE_CHANNELS, quality_bins: int = 0, band_sigmas: tuple[float, ...] = ()
    ) -> None:
        super().__init__()
        self.band_sigmas = tuple(band_sigmas)
        bands = len(self.band_sigmas) + 1
        self.net = nn.Sequential(
            nn.Conv2d(9, channels, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=2, dilation=2),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=4, dilation=4),
            nn.SiLU(),
            nn.Conv2d(channels, bands, 3, padding=1),
        )
        last = self.net[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        nn.init.zeros_(last.weight)
        nn.init.constant_(last.bias, GATE_START_BIAS)
        self.quality = nn.Embedding(quality_bins, bands) if quality_bins else None
        if self.quality is not None:
            nn.init.zeros_(self.quality.weight)

    def gate(
        self, inputs: torch.Tensor, decoded: torch.Tensor, quality_bins: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, bands, S, S) share of the input to keep in each band (finest first), from the input and decoded faces
        (both in [-1, 1])."""
        logit = self.net(torch.cat([inputs, decoded, inputs - decoded], 1))
        if self.quality is not None and quality_bins is not None:
            logit = logit + self.quality(quality_bins.to(logit.device))[..., None, None]
        return torch.sigmoid(logit)

    def split(self, images: torch.Tensor) -> list[torch.Tensor]:
        """`images` as frequency bands, finest first; they add up to `images`."""
        levels = [images] + [gaussian_blur(images, sigma) for sigma in self.band_sigmas]
        return [finer - coarser for finer, coarser in itertools.pairwise(levels)] + [levels[-1]]

    def forward(
        self,
        inputs: torch.Tensor,
        decoded: torch.Tensor,
        fidelity: float | torch.Tensor,
        quality_bins: torch.Tensor | None = None,
    ) -> torch.Tensor:
        inputs = inputs.to(decoded.dtype)
        gates = self.gate(inputs, decoded, quality_bins)
        kept = sum(
            (gates[:, k : k + 1] * band for k, band in enumerate(self.split(inputs - decoded))),
            torch.zeros_like(decoded),
        )
        return decoded + fidelity * kept

    def with_bands(self, band_sigmas: tuple[float, ...]) -> InputGate:
        """A copy that splits at `band_sigmas`, every band starting with this gate's single gate (same output)."""
        if self.band_sigmas:
            raise ValueError("only a one-band gate can be split into bands")
        first = self.net[0]
        assert isinstance(first, nn.Conv2d)
        channels = first.out_channels
        bins = 0 if self.quality is None else self.quality.num_embeddings
        split = InputGate(channels, bins, band_sigmas).to(next(self.parameters()).device)
        state = self.state_dict()
        bands = len(band_sigmas) + 1
        for key in ("net.6.weight", "net.6.bias", "quality.weight"):
            if key in state:
                state[key] = state[key].repeat_interleave(bands, dim=1 if key == "quality.weight" else 0)
        split.load_state_dict(state)
        return split
