"""Paste restored faces back into the photo.

Two things the plain warp-and-blend (facexlib's `paste_face_back`) does not do:

* **No visible box.** The blend mask is a feathered ellipse defined in the aligned face's own
  coordinates, so its feather grows with the face's size in the photo, and it reaches zero inside
  the aligned square: no square edge or corner can show. The feather is a smoothstep (continuous
  slope at both ends).
* **Large faces keep their detail.** The model works at `S` px (128). A face that is `s = size in
  photo / S > 1` times larger comes back upscaled, with nothing above its own Nyquist frequency.
  Inside the mask, the original photo's band above that (original − Gaussian(original, σ = 0.5·s)) is
  added back, and in the restored face's own top octave (Gaussian σ 0.5·s … 1.0·s) the original's band
  is added where, and as far as, the restored face has less local detail there than the original
  (gain 1 − √(E_restored / E_original)). So a large face is never blurrier than it went in, while detail
  the model does produce is kept. For s ≤ 1 the restored face holds every frequency the photo has
  there, and nothing is added.

Only the face's bounding region is touched, and inside it only pixels where the mask is non-zero:
everything else stays bit-identical; 16-bit photos stay 16-bit and keep their 16-bit detail. A region larger
than PASTE_WINDOW is pasted one window at a time, each computed with the margin its detail bands reach, so
memory does not grow with the size of a face (a 2,000 px face's region is tens of megapixels).
"""

from __future__ import annotations

import cv2
import numpy as np

# Mask ellipse in the aligned crop's coordinates, [-1, 1] on both axes (FFHQ alignment: the face
# sits in the middle, chin low): centre, semi-axes, and where the feather starts (fraction of the radius).
MASK_CENTER = (0.0, 0.03)
MASK_AXES = (0.93, 0.95)
MASK_INNER = 0.70
# Bands for faces larger than the model (in photo pixels per unit of s): above the restored face's Nyquist
# (split by a Gaussian of σ = DETAIL_SIGMA·s), its top octave (down to OCTAVE_SIGMA·s), and the window
# (ENERGY_SIGMA·s) over which the local detail of the original and the restored face are compared.
DETAIL_SIGMA = 0.5
OCTAVE_SIGMA = 1.0
ENERGY_SIGMA = 2.0
PASTE_WINDOW = 1024  # photo pixels: a larger face region is pasted in windows this large (plus their margins)


def face_scale(inverse: np.ndarray) -> float:
    """Photo pixels per aligned-face pixel for a face → photo affine."""
    return float(np.sqrt(abs(np.linalg.det(inverse[:, :2]))))


def face_mask(affine: np.ndarray, size: int, shape: tuple[int, int]) -> np.ndarray:
    """Blend weights in [0, 1] (float32, `shape`) for pixels mapped into a `size` px aligned face by the
    photo → face `affine`: 1 over the face, a smoothstep feather, exactly 0 outside the ellipse."""
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    half, centre = size / 2.0, (size - 1) / 2.0
    u = (affine[0, 0] * xs + affine[0, 1] * ys + affine[0, 2] - centre) / half
    v = (affine[1, 0] * xs + affine[1, 1] * ys + affine[1, 2] - centre) / half
    radius = np.hypot((u - MASK_CENTER[0]) / MASK_AXES[0], (v - MASK_CENTER[1]) / MASK_AXES[1])
    t = np.clip((1.0 - radius) / (1.0 - MASK_INNER), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def paste_face(
    pixels: np.ndarray, face_rgb8: np.ndarray, inverse: np.ndarray, original: np.ndarray | None = None
) -> np.ndarray:
    """Blend a restored aligned face (uint8 RGB, S×S) into `pixels` (uint8 or uint16 RGB) in place.

    `inverse` maps face → photo coordinates. `original` (same shape as `pixels`, default: `pixels`
    as they are now) is where a large face's fine detail is taken from; pass the untouched photo when
    several faces are pasted one after another. Returns `pixels`.
    """
    height, width = pixels.shape[:2]
    size = face_rgb8.shape[0]
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64)
    mapped = corners @ inverse.T
    x0, y0 = np.floor(mapped.min(0)).astype(int) - 2
    x1, y1 = np.ceil(mapped.max(0)).astype(int) + 2
    region = (max(x0, 0), max(y0, 0), min(x1, width), min(y1, height))
    if region[2] - region[0] < 2 or region[3] - region[1] < 2:
        return pixels
    scale = face_scale(inverse)
    margin = _detail_reach(scale) if scale > 1.0 else 0
    source = (pixels if original is None else original)[region[1] : region[3], region[0] : region[2]]
    windows = [
        (left, top, min(left + PASTE_WINDOW, region[2]), min(top + PASTE_WINDOW, region[3]))
        for top in range(region[1], region[3], PASTE_WINDOW)
        for left in range(region[0], region[2], PASTE_WINDOW)
    ]
    if original is None and margin and len(windows) > 1:
        source = source.copy()  # the margins of later windows must not see the face already pasted
    peak = 65535.0 if pixels.dtype == np.uint16 else 255.0
    face = face_rgb8.astype(np.float32) * (peak / 255.0)
    for window in windows:
        _paste_window(pixels, source, face, inverse, region, window, margin)
    return pixels


def _paste_window(
    pixels: np.ndarray,
    source: np.ndarray,
    face: np.ndarray,
    inverse: np.ndarray,
    region: tuple[int, int, int, int],
    window: tuple[int, int, int, int],
    margin: int,
) -> None:
    """Paste the part of the face inside `window` (x0, y0, x1, y1 photo pixels) of its `region`, computed over the
    window and `margin` around it (within the region: its edges are the edges the whole region would have).
    `source`: the original's pixels over the region (where a large face's detail comes from)."""
    left, top, right, bottom = window
    outer = (max(left - margin, region[0]), max(top - margin, region[1]))
    outer_end = (min(right + margin, region[2]), min(bottom + margin, region[3]))
    local_inverse = inverse.astype(np.float64).copy()
    local_inverse[:, 2] -= outer
    shape = (outer_end[1] - outer[1], outer_end[0] - outer[0])
    core = (slice(top - outer[1], bottom - outer[1]), slice(left - outer[0], right - outer[0]))
    size = face.shape[0]
    mask = face_mask(cv2.invertAffineTransform(local_inverse), size, shape)
    inside = mask[core] > 0
    if not inside.any():
        return

    scale = face_scale(inverse)
    peak = 65535.0 if pixels.dtype == np.uint16 else 255.0
    # Upscaling: bicubic keeps more of the restored face's own band than bilinear.
    # Replicated borders: pixels at the crop's edge never mix with black.
    warped = cv2.warpAffine(
        face,
        local_inverse,
        shape[::-1],
        flags=cv2.INTER_CUBIC if scale > 1.0 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    target = pixels[top:bottom, left:right]
    weight = mask[core][..., None]
    blended = weight * warped[core] + (1.0 - weight) * target.astype(np.float32)
    if scale > 1.0:
        outer_source = source[
            outer[1] - region[1] : outer_end[1] - region[1], outer[0] - region[0] : outer_end[0] - region[0]
        ]
        blended += weight * _missing_detail(outer_source.astype(np.float32), warped, scale, peak)[core]
    result = np.clip(np.round(blended), 0, peak).astype(pixels.dtype)
    target[inside] = result[inside]


def _detail_reach(scale: float) -> int:
    """How far (photo pixels) a pixel's added detail depends on its neighbours: the octave's blur, then the
    blur of its energy."""
    return _blur_reach(OCTAVE_SIGMA * scale) + _blur_reach(ENERGY_SIGMA * scale)


def _missing_detail(original: np.ndarray, restored: np.ndarray, scale: float, peak: float) -> np.ndarray:
    """The original's detail that the upscaled restored face lacks (both float32, photo space). Arrays are
    reused as soon as they are done with: a large face's window holds several of them at once."""
    low = _blur(original, DETAIL_SIGMA * scale)
    octave = low - _blur(original, OCTAVE_SIGMA * scale)
    detail = np.subtract(original, low, out=low)  # above the restored face's Nyquist
    restored_octave = _blur(restored, DETAIL_SIGMA * scale)
    restored_octave -= _blur(restored, OCTAVE_SIGMA * scale)
    window = ENERGY_SIGMA * scale
    restored_energy = _blur(np.square(restored_octave, out=restored_octave).mean(axis=2), window)
    del restored_octave
    energy = _blur(np.square(octave).mean(axis=2), window)
    floor = (1e-3 * peak) ** 2
    gain = np.clip(1.0 - np.sqrt(restored_energy / (energy + floor)), 0.0, 1.0)
    octave *= gain[..., None]
    detail += octave
    return detail


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; for large σ on a grid shrunk by d (box filter), then resized back, which is
    the same low-pass for a fraction of the work (the result has nothing near the fine grid's Nyquist)."""
    factor = int(sigma // 3)
    if factor < 2:
        return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    height, width = image.shape[:2]
    small_size = (max(1, -(-width // factor)), max(1, -(-height // factor)))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), _residual_sigma(sigma, factor), borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _residual_sigma(sigma: float, factor: int) -> float:
    """σ left for the shrunk grid (in its pixels): the box of `factor` pixels already blurred factor²/12."""
    return float(np.sqrt(max(sigma**2 - factor**2 / 12.0, 1e-6)) / factor)


def _blur_reach(sigma: float) -> int:
    """How far (pixels) `_blur(…, sigma)` reaches: OpenCV's float kernel is 2·round(4σ) + 1 wide; on a shrunk grid
    its pixels are `factor` wide, plus one for the box and one for the interpolation back."""
    factor = int(sigma // 3)
    if factor < 2:
        return int(round(4 * sigma)) + 1
    return (int(round(4 * _residual_sigma(sigma, factor))) + 3) * factor
