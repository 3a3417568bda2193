"""IQPFR behind the restorer interface: encode once per photo, Transformer + decoder per setting."""

from __future__ import annotations

import numpy as np
import torch

from app.model import IQPFR, EncodedFaces, ModelInfo
from app.restorers.descriptor import RestorerDescriptor, Slider
from app.restorers.network import FaceNetwork, NetworkOutput


def iqpfr_descriptor(model: IQPFR) -> RestorerDescriptor:
    return RestorerDescriptor(
        "IQPFR",
        model.cfg.image_size,
        Slider.QUALITY,
        (-1.0, 1.0),
        quality_bins=model.cfg.quality_bins,
        has_fidelity=model.has_fidelity,
    )


class IQPFRNetwork(FaceNetwork):
    module: IQPFR

    def __init__(self, model: IQPFR, info: ModelInfo) -> None:
        self.module = model
        self.info = info
        self.descriptor = iqpfr_descriptor(model)

    @property
    def default_fidelity(self) -> float:
        """The fidelity stored with the weights (chosen by measurement), else 0.5; kept within 0..1."""
        value = self.info.default_fidelity
        return min(1.0, max(0.0, value)) if np.isfinite(value) else 0.5

    def encode(self, faces: torch.Tensor) -> EncodedFaces:
        with torch.no_grad():
            return self.module.encode(faces)

    def restore(self, encoded: object, faces: torch.Tensor, quality: float, fidelity: float) -> NetworkOutput:
        assert isinstance(encoded, EncodedFaces)
        result = self.module.restore_from_features(encoded, quality, fidelity=fidelity)
        return NetworkOutput(result.image, result.common_indices, result.hq_indices)
