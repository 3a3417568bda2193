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
    reference_size: int = 512  # the ranges below are for faces of this size
    blur_kernel: int = 41
    blur_sigma: tuple[float, float] = (1.0, 15.0)
    anisotropic_probability: float = 0.5
    downsample: tuple[float, float] = (4.0, 30.0)
    noise_sigma: tuple[float, float] = (0.0, 20.0)  # on the 0..255 scale
    jpeg_quality: tuple[int, int] = (30, 80)


def _gaussian_kernel(size: int, sigma_x: float, sigma_y: float, angle: float) -> np.ndarray:
    half = size // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    cos, sin = math.cos(angle), math.sin(angle)
    u, v = cos * x + sin * y, -sin * x + cos * y
    kernel = np.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    return (kernel / kernel.sum()).astype(np.float32)


def degrade(face: np.ndarray, rng: np.random.Generator, cfg: DegradationConfig = DegradationConfig()) -> np.ndarray:
    """Degrade an aligned uint8 RGB face (S×S) and return a uint8 face of the same size."""
    size = face.shape[0]
    scale = size / cfg.reference_size
    image: np.ndarray = face.astype(np.float32)

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
    is_grey = bool(np.array_equal(face[..., 0], face[..., 1]) and np.array_equal(face[..., 1], face[..., 2]))
    noise_shape = (*image.shape[:2], 1) if is_grey else image.shape  # a grey print gets grey grain
    image = image + rng.normal(0.0, noise, noise_shape).astype(np.float32)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)

    quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1]))
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        raise RuntimeError(f"OpenCV could not JPEG-compress a {size}×{size} training face")
    image = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)

    return cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)


# Milder degradation for part of the training pairs, so lightly damaged photos are not over-smoothed
# (CodeFormer's Stage III also mixes small and large degradations).
MILD_DEGRADATION = DegradationConfig(
    blur_sigma=(0.2, 6.0), downsample=(1.0, 12.0), noise_sigma=(0.0, 10.0), jpeg_quality=(50, 95)
)
# Nearly clean faces: what a large face in a photo looks like once aligned to the model's 128 px (the photo's
# blur, grain and JPEG blocks shrink with it). Trained on, so a face with little to restore is left nearly as it is.
LIGHT_DEGRADATION = DegradationConfig(
    blur_sigma=(0.2, 2.0), downsample=(1.0, 4.0), noise_sigma=(0.0, 4.0), jpeg_quality=(80, 98)
)


@dataclass(frozen=True)
class PhotometricConfig:
    """Old-photo and colour variations applied to the clean face BEFORE degradation, so the target
    carries them too: the model learns to keep the input's colours (grey stays grey) rather than
    to invent colour."""

    grey_probability: float = 0.12
    sepia_probability: float = 0.06
    jitter_probability: float = 0.3
    brightness: float = 0.12  # ± fraction of full scale
    contrast: float = 0.15  # ± relative
    saturation: float = 0.25  # ± relative
    hue_degrees: float = 6.0  # ± rotation in degrees


def to_grey(face: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    return np.repeat(grey[..., None], 3, axis=2)


def faded_sepia(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A faded, warm-toned old print: grey tones mapped to a sepia tint, lifted blacks, lower contrast."""
    grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    fade = rng.uniform(0.05, 0.25)
    grey = fade + (1.0 - 1.6 * fade) * grey
    tint = np.array([1.0, 0.86, 0.68], np.float32) * rng.uniform(0.9, 1.05)
    return np.clip(grey[..., None] * tint * 255.0, 0, 255).round().astype(np.uint8)


def colour_jitter(face: np.ndarray, rng: np.random.Generator, cfg: PhotometricConfig) -> np.ndarray:
    image = face.astype(np.float32) / 255.0
    image = image + rng.uniform(-cfg.brightness, cfg.brightness)
    mean = image.mean()
    image = (image - mean) * (1.0 + rng.uniform(-cfg.contrast, cfg.contrast)) + mean
    hsv = cv2.cvtColor(np.clip(image, 0, 1), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-cfg.hue_degrees, cfg.hue_degrees)) % 360.0
    hsv[..., 1] = np.clip(hsv[..., 1] * (1.0 + rng.uniform(-cfg.saturation, cfg.saturation)), 0, 1)
    return np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0, 0, 255).round().astype(np.uint8)


def photometric(face: np.ndarray, rng: np.random.Generator, cfg: PhotometricConfig = PhotometricConfig()) -> np.ndarray:
    """One of: grey, faded sepia, colour jitter, or unchanged (drawn with the configured odds)."""
    draw = rng.random()
    if draw < cfg.grey_probability:
        return to_grey(face)
    if draw < cfg.grey_probability + cfg.sepia_probability:
        return faded_sepia(face, rng)
    if draw < cfg.grey_probability + cfg.sepia_probability + cfg.jitter_probability:
        return colour_jitter(face, rng, cfg)
    return face
