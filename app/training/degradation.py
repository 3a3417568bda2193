"""Synthetic degradation of clean faces: blur → downsample → noise → JPEG → resize back.

Ranges follow CodeFormer's "large" Stage-II degradation (method notes §6), given for 512 px faces and
scaled to the model resolution: blur sigma and the downsampling factor shrink with the face size.
Deterministic: the same generator seed gives the same output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class DegradationConfig:
    reference_size: int = 512            # the ranges below are for faces of this size
    blur_kernel: int = 41
    blur_sigma: tuple[float, float] = (1.0, 15.0)
    anisotropic_probability: float = 0.5
    downsample: tuple[float, float] = (4.0, 30.0)
    noise_sigma: tuple[float, float] = (0.0, 20.0)   # on the 0..255 scale
    jpeg_quality: tuple[int, int] = (30, 80)


def _gaussian_kernel(size: int, sigma_x: float, sigma_y: float, angle: float) -> np.ndarray:
    half = size // 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    cos, sin = math.cos(angle), math.sin(angle)
    u, v = cos * x + sin * y, -sin * x + cos * y
    kernel = np.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    return (kernel / kernel.sum()).astype(np.float32)


def degrade(face: np.ndarray, rng: np.random.Generator, cfg: DegradationConfig = DegradationConfig()) -> np.ndarray:
    """Degrade an aligned uint8 RGB face (S×S) and return a uint8 face of the same size."""
    size = face.shape[0]
    scale = size / cfg.reference_size
    image = face.astype(np.float32)

    sigma = rng.uniform(*cfg.blur_sigma) * scale
    if rng.random() < cfg.anisotropic_probability:
        sigma_y = rng.uniform(*cfg.blur_sigma) * scale
    else:
        sigma_y = sigma
    kernel_size = max(3, int(round(cfg.blur_kernel * scale)) | 1)
    kernel = _gaussian_kernel(kernel_size, max(sigma, 0.2), max(sigma_y, 0.2), rng.uniform(-math.pi, math.pi))
    image = cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)

    factor = rng.uniform(*cfg.downsample) * scale
    small = max(4, int(round(size / max(factor, 1.0))))
    image = cv2.resize(image, (small, small), interpolation=cv2.INTER_LINEAR)

    noise = rng.uniform(*cfg.noise_sigma)
    image = image + rng.normal(0.0, noise, image.shape).astype(np.float32)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)

    quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1]))
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    image = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    return cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
