"""What a face restorer is, said once for everything that uses it (pipeline, CLI, GUI labels).

A `RestorerDescriptor` states the face size the restorer works at, the range its tensors use,
whether it takes a quality score (and how many bins), and what its slider means:

* IQPFR: the target **quality** score (plus a fidelity weight when the weights have a fidelity path);
* CodeFormer: its **fidelity** weight w (0 = more restoration, 1 = closer to the original);
* GFPGAN / RestoreFormer: a **strength**, the blend of the restored face with the original face.

It also converts aligned face images to the restorer's tensors and back (with `app.image_tensors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import torch

from app.image_tensors import RESTORER_RANGE, images_to_tensor, tensor_to_images

DEFAULT_STRENGTH = 1.0


class Slider(StrEnum):
    """The setting a restorer's main slider controls."""

    QUALITY = "quality"
    FIDELITY = "fidelity"
    STRENGTH = "strength"


@dataclass(frozen=True)
class RestorerDescriptor:
    """Facts about one restorer that the pipeline, CLI and GUI act on."""

    architecture: str  # "IQPFR", "GFPGAN", "RestoreFormer", "CodeFormer"
    face_size: int  # aligned face side in pixels (FFHQ template scaled to it)
    slider: Slider  # what the main slider sets
    input_range: tuple[float, float] = RESTORER_RANGE  # tensor values for black and white
    quality_bins: int | None = None  # bins of the quality score it is conditioned on; None: no score
    has_fidelity: bool = False  # takes a fidelity weight w in 0..1
    has_strength: bool = False  # output is blended with the input face by a strength in 0..1

    @property
    def has_quality_score(self) -> bool:
        return self.quality_bins is not None

    def to_tensor(self, faces: list[np.ndarray], device: torch.device | str) -> torch.Tensor:
        return images_to_tensor(faces, device, self.input_range)

    def to_images(self, images: torch.Tensor) -> list[np.ndarray]:
        return tensor_to_images(images, self.input_range)
