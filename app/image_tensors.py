"""8-bit RGB images ↔ float tensors: the one conversion used by inference, training, evaluation and scoring.

Images are uint8 (H, W, 3) arrays; tensors are float (N, 3, H, W) (or (3, H, W) for one image) with
black at `value_range[0]` and white at `value_range[1]`: (-1, 1) for the face restorers, (0, 1) for the
quality metrics.
"""

from __future__ import annotations

import numpy as np
import torch

RESTORER_RANGE = (-1.0, 1.0)
UNIT_RANGE = (0.0, 1.0)


def images_to_tensor(
    images: list[np.ndarray], device: torch.device | str = "cpu", value_range: tuple[float, float] = RESTORER_RANGE
) -> torch.Tensor:
    """uint8 RGB (H, W, 3) images of one size → float (N, 3, H, W) tensor with black..white at `value_range`."""
    low, high = value_range
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
    return (batch / (255.0 / (high - low)) + low).to(device)


def image_to_tensor(image: np.ndarray, value_range: tuple[float, float] = RESTORER_RANGE) -> torch.Tensor:
    """One uint8 RGB (H, W, 3) image → float (3, H, W) tensor on the CPU (for data loaders)."""
    return images_to_tensor([image], "cpu", value_range)[0]


def tensor_to_images(images: torch.Tensor, value_range: tuple[float, float] = RESTORER_RANGE) -> list[np.ndarray]:
    """(N, 3, H, W) tensor in `value_range` → uint8 RGB images (values outside the range are clipped)."""
    low, high = value_range
    scaled = (images.detach().float().clamp(low, high) - low) * (255.0 / (high - low))
    return list(scaled.round().byte().permute(0, 2, 3, 1).cpu().numpy())
