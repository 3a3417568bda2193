"""Codebook usage over a sliding window of batches: fraction of entries used and perplexity."""

from __future__ import annotations

import torch

from app.model.codebook import codebook_usage


class UsageMeter:
    """Collects index histograms per codebook; `summary()` reports the last complete window
    (or the current one until a window has completed)."""

    def __init__(self, sizes: dict[str, int], window: int = 20) -> None:
        self.sizes, self.window = sizes, max(1, window)
        self.indices: dict[str, list[torch.Tensor]] = {name: [] for name in sizes}
        self.steps = 0
        self.last: dict[str, float] = {}

    def add(self, **indices: torch.Tensor) -> None:
        for name, values in indices.items():
            self.indices[name].append(values.detach().flatten().cpu())
        self.steps += 1
        if self.steps % self.window == 0:
            self.last = self._measure()
            self.indices = {name: [] for name in self.sizes}

    def _measure(self) -> dict[str, float]:
        out = {}
        for name, size in self.sizes.items():
            values = torch.cat(self.indices[name]) if self.indices[name] else torch.zeros(0, dtype=torch.long)
            stats = codebook_usage(values, size)
            out[f"{name}_used"], out[f"{name}_perplexity"] = stats["used"], stats["perplexity"]
        return out

    def summary(self) -> dict[str, float]:
        return self.last or self._measure()
