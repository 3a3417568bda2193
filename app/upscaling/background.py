"""The whole photo at the output scale: upscaled (1×, 2× or 4×) and, with `background="realesrgan"`, cleaned by
Real-ESRGAN (print grain, blur and JPEG blocks in hair, clothes and background), on the CPU or a GPU.

`WholePhotoSettings()` (1×, no enhancement) leaves the photo as it is: the face restoration alone, as before.
At 1× with Real-ESRGAN the photo is upscaled ×4 and area-averaged back to its size (cleaned, not enlarged).
Without enhancement a larger output is a bicubic resize. Grey photos stay grey (the network's three channels
are averaged), 16-bit photos keep 16 bits, and alpha is resized plainly (bilinear).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from app.upscaling.runtime import TileRuntime, load_runtime
from app.upscaling.tiles import TileProgress, network_pixels, upscale_tiled
from app.upscaling.whole_photo import REALESRGAN, WholePhotoSettings


def resize_plain(array: np.ndarray, scale: float, interpolation: int = cv2.INTER_CUBIC) -> np.ndarray:
    """`array` resized by `scale` (bicubic by default), same dtype; the array itself at scale 1."""
    if scale == 1:
        return array
    height, width = array.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(array, size, interpolation=interpolation)


@dataclass(frozen=True)
class PreviewBackground:
    """The background of a preview: the photo at the output scale, shrunk to the preview's size."""

    pixels: np.ndarray
    scale: float  # preview pixels per photo pixel
    seconds_per_network_pixel: float | None  # measured on this preview (None: no network ran)


def preview_scale(height: int, width: int, settings: WholePhotoSettings, max_pixels: int) -> float:
    """Preview pixels per photo pixel: the output's scale, or less when the output would exceed `max_pixels`."""
    return min(float(settings.upscale), (max_pixels / (height * width)) ** 0.5)


class BackgroundEnhancer:
    """Real-ESRGAN for whole photos on one device; the network is loaded on first use (once, for every thread)."""

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self._runtime: TileRuntime | None = None
        self._lock = threading.Lock()

    @property
    def runtime(self) -> TileRuntime:
        with self._lock:
            if self._runtime is None:
                self._runtime = load_runtime(self.device)
            return self._runtime

    def pixels(
        self,
        pixels: np.ndarray,
        settings: WholePhotoSettings,
        grayscale: bool = False,
        progress: TileProgress | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """`pixels` (uint8 or uint16 RGB) at the output scale, enhanced when the settings say so."""
        if not settings.enhanced:
            return resize_plain(pixels, settings.upscale)
        runtime = self.runtime
        result = upscale_tiled(
            pixels, runtime, settings.upscale, runtime.tile, progress=progress, should_stop=should_stop
        )
        if grayscale:  # one grey value for the three channels, as the photo had
            grey = np.round(result.mean(axis=2, dtype=np.float32)).astype(result.dtype)
            result = np.repeat(grey[..., None], 3, axis=2)
        return result

    def preview(
        self,
        pixels: np.ndarray,
        settings: WholePhotoSettings,
        max_pixels: int,
        network_budget: int,
        grayscale: bool = False,
        progress: TileProgress | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> PreviewBackground:
        """The background of a preview of at most `max_pixels`, quickly: an enhanced one is made from a copy
        of the photo shrunk (area) to at most `network_budget` pixels, upscaled ×4 and resized to the preview.
        Also measures the network's seconds per input pixel, for estimating the full-size run."""
        height, width = pixels.shape[:2]
        scale = preview_scale(height, width, settings, max_pixels)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        if not settings.enhanced:
            interpolation = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
            return PreviewBackground(cv2.resize(pixels, size, interpolation=interpolation), size[0] / width, None)
        shrink = min(1.0, (network_budget / (height * width)) ** 0.5)
        small = resize_plain(pixels, shrink, cv2.INTER_AREA) if shrink < 1 else pixels
        runtime = self.runtime
        started = time.perf_counter()
        enhanced = self.pixels(small, WholePhotoSettings(runtime.scale, REALESRGAN), grayscale, progress, should_stop)
        small_height, small_width = small.shape[:2]
        seconds = (time.perf_counter() - started) / network_pixels(small_height, small_width, runtime.tile)
        interpolation = cv2.INTER_AREA if size[0] < enhanced.shape[1] else cv2.INTER_CUBIC
        return PreviewBackground(cv2.resize(enhanced, size, interpolation=interpolation), size[0] / width, seconds)

    def estimate_seconds(self, height: int, width: int, seconds_per_network_pixel: float) -> float:
        """How long enhancing a height×width photo at full size takes, at the measured speed."""
        return seconds_per_network_pixel * network_pixels(height, width, self.runtime.tile)
