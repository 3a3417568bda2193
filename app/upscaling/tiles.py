"""Upscaling a photo tile by tile, so memory stays bounded on large photos and work can stop between tiles.

The photo is cut into cores of about `tile` pixels a side (evenly: no thin last row or column). Each goes
through the network with `pad` pixels of the photo around it as context (less at the photo's edges, where the
untiled network sees its zero padding too); of the result, the core and `blend`/2 pixels around it are kept,
and across each border between two cores the later tile is cross-faded in over the earlier one with a linear
ramp `blend` pixels wide, so no seam can show. Every kept pixel has at least `pad` − `blend`/2 pixels of
context. The ×4 result of each window is area-averaged down to the output scale right away (an exact block
mean, 4 / scale being a whole number), so no ×4 image of the whole photo is ever held.

A network whose reach fits inside that context gives the untiled result to within rounding
(`tests/test_upscaling.py`). Real-ESRGAN's does not (23 blocks, 350 convolutions): with PAD 16 the tiled
result differs from the untiled one by about one 8-bit level on average on a real old photo, spread over all
edges rather than along tile borders (`tests/test_upscaling_real.py` holds the measured bounds).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import cv2
import numpy as np

from app.errors import Stopped
from app.upscaling.runtime import TileRuntime

PAD = 16  # input pixels of context around each tile
BLEND = 16  # input pixels over which neighbouring tiles are cross-faded
TileProgress = Callable[[int, int], None]  # (tiles done, tiles in all)


def _edges(length: int, tile: int) -> list[int]:
    count = -(-length // tile)
    return [round(index * length / count) for index in range(count + 1)]


def tile_grid(height: int, width: int, tile: int) -> list[tuple[int, int, int, int]]:
    """The cores (y0, y1, x0, x1) covering a height×width image, row by row, each at most `tile` a side."""
    rows, columns = _edges(height, tile), _edges(width, tile)
    return [(y0, y1, x0, x1) for y0, y1 in itertools.pairwise(rows) for x0, x1 in itertools.pairwise(columns)]


def network_pixels(height: int, width: int, tile: int, pad: int = PAD) -> int:
    """Input pixels the network runs on to upscale a height×width image: its tiles with their context (what the
    time an upscale takes grows with)."""
    return sum(
        (min(height, y1 + pad) - max(0, y0 - pad)) * (min(width, x1 + pad) - max(0, x0 - pad))
        for y0, y1, x0, x1 in tile_grid(height, width, tile)
    )


def peak_value(dtype: np.dtype) -> float:
    return 65535.0 if dtype == np.uint16 else 255.0


def _ramp(size: int, blended: int) -> np.ndarray:
    """Weights along one axis of a kept region `size` output pixels long, rising linearly over its first
    `blended` pixels (0: all 1)."""
    weights = np.ones(size, dtype=np.float32)
    weights[:blended] = (np.arange(blended, dtype=np.float32) + 0.5) / max(blended, 1)
    return weights


def upscale_tiled(
    pixels: np.ndarray,
    runtime: TileRuntime,
    scale: int,
    tile: int,
    pad: int = PAD,
    blend: int = BLEND,
    progress: TileProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """`pixels` (H×W×3 uint8 or uint16 RGB) through the runtime, at `scale` (1, 2 or 4) times its size, same
    dtype. `should_stop()` is asked before each tile (True raises Stopped); `progress` is told before the first
    and after each."""
    factor, rest = divmod(runtime.scale, scale)
    if rest or scale < 1:
        raise ValueError(f"a ×{runtime.scale} network cannot give scale {scale}")
    half = blend // 2
    if tile < 2 * blend or pad < half:
        raise ValueError(f"tiles of {tile} px with {pad} px of context cannot be cross-faded over {blend} px")
    height, width = pixels.shape[:2]
    peak = peak_value(pixels.dtype)
    output = np.empty((height * scale, width * scale, 3), dtype=pixels.dtype)
    cores = tile_grid(height, width, tile)
    if progress is not None:
        progress(0, len(cores))
    for done, (y0, y1, x0, x1) in enumerate(cores):
        if should_stop is not None and should_stop():
            raise Stopped
        wy0, wy1, wx0, wx1 = max(0, y0 - pad), min(height, y1 + pad), max(0, x0 - pad), min(width, x1 + pad)
        ky0, ky1, kx0, kx1 = max(0, y0 - half), min(height, y1 + half), max(0, x0 - half), min(width, x1 + half)
        n = runtime.scale
        result = runtime.run(pixels[wy0:wy1, wx0:wx1].astype(np.float32) / peak)
        result = result[(ky0 - wy0) * n : (ky1 - wy0) * n, (kx0 - wx0) * n : (kx1 - wx0) * n]
        if factor > 1:
            result = cv2.resize(result, ((kx1 - kx0) * scale, (ky1 - ky0) * scale), interpolation=cv2.INTER_AREA)
        result = np.clip(result, 0.0, 1.0) * peak
        region = output[ky0 * scale : ky1 * scale, kx0 * scale : kx1 * scale]
        if y0 > 0 or x0 > 0:  # cross-fade over what the tiles above and to the left wrote
            rows = _ramp(region.shape[0], (y0 - ky0) * 2 * scale)
            columns = _ramp(region.shape[1], (x0 - kx0) * 2 * scale)
            weight = (rows[:, None] * columns[None, :])[..., None]
            result = weight * result + (1.0 - weight) * region
        region[...] = np.round(result)
        if progress is not None:
            progress(done + 1, len(cores))
    return output
