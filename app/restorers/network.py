"""The one interface every face restorer offers the pipeline (IQPFR and the plug-in models).

The pipeline detects and aligns faces at `descriptor.face_size`, converts them with the descriptor,
calls `encode` once per photo (its result is cached), `restore` for every slider setting, and pastes
the faces back. Blending by strength is the pipeline's job (one place for every model).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Self

import torch

from app.model import ModelInfo
from app.restorers.descriptor import RestorerDescriptor


@dataclass
class NetworkOutput:
    image: torch.Tensor  # (N, 3, S, S) in the descriptor's input range
    common_indices: torch.Tensor | None = None  # IQPFR's predicted codes (for inspection), else None
    hq_indices: torch.Tensor | None = None


class FaceNetwork(ABC):
    """A face restoration network behind the pipeline's interface."""

    descriptor: RestorerDescriptor
    info: ModelInfo
    module: torch.nn.Module

    def to(self, device: torch.device) -> Self:
        self.module = self.module.to(device).eval()
        return self

    @property
    def default_fidelity(self) -> float:
        """The fidelity weight used when none is asked for (kept within 0..1)."""
        return 0.5

    @abstractmethod
    def encode(self, faces: torch.Tensor) -> object:
        """Work done once per photo (whatever does not depend on the sliders); the result is cached."""

    @abstractmethod
    def restore(self, encoded: object, faces: torch.Tensor, quality: float, fidelity: float) -> NetworkOutput:
        """Restored faces for one setting, from `encode`'s result and the input `faces` tensor."""
