"""The input gate: how much of the input face to keep, per pixel, learned.

The codebook decoder redraws the whole face, so a face that needed little restoration (a large face in a
photo, aligned to the model's 128 px, is nearly clean) came back worse than it went in: measured on faces of
512 px in synthetic photos, the part-D model lost 4.5 dB against its own input on mild degradations. A
small convolutional network looks at the input and the decoder's output side by side and gives a gate g in
[0, 1] per pixel; the result is `decoded + w·g·(input − decoded)`, with w the fidelity weight. Trained with
the image losses on a mix of clean, lightly and heavily degraded faces, g learns where the input is already
better than the redrawn face. At w = 0 the output is the codebook's face, as before. The last convolution
starts at g ≈ 0.02, so an untrained gate leaves the model nearly as it was.
"""

from __future__ import annotations

import torch
from torch import nn

GATE_CHANNELS = 32
GATE_START_BIAS = -4.0  # sigmoid(-4) ≈ 0.018


class InputGate(nn.Module):
    """With `quality_bins`, each bin of the target quality adds its own learned offset (zero at the start) to the
    gate's logit, so a low target quality can keep less of the input."""

    def __init__(self, channels: int = GATE_CHANNELS, quality_bins: int = 0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(9, channels, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=2, dilation=2),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=4, dilation=4),
            nn.SiLU(),
            nn.Conv2d(channels, 1, 3, padding=1),
        )
        last = self.net[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        nn.init.zeros_(last.weight)
        nn.init.constant_(last.bias, GATE_START_BIAS)
        self.quality = nn.Embedding(quality_bins, 1) if quality_bins else None
        if self.quality is not None:
            nn.init.zeros_(self.quality.weight)

    def gate(
        self, inputs: torch.Tensor, decoded: torch.Tensor, quality_bins: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, 1, S, S) share of the input to keep, from the input and decoded faces (both in [-1, 1])."""
        logit = self.net(torch.cat([inputs, decoded, inputs - decoded], 1))
        if self.quality is not None and quality_bins is not None:
            logit = logit + self.quality(quality_bins.to(logit.device)).view(-1, 1, 1, 1)
        return torch.sigmoid(logit)

    def forward(
        self,
        inputs: torch.Tensor,
        decoded: torch.Tensor,
        fidelity: float | torch.Tensor,
        quality_bins: torch.Tensor | None = None,
    ) -> torch.Tensor:
        inputs = inputs.to(decoded.dtype)
        return decoded + fidelity * self.gate(inputs, decoded, quality_bins) * (inputs - decoded)
