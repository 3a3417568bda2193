"""Paste restored faces back into the photo.

Two things the plain warp-and-blend (facexlib's `paste_face_back`) does not do:

* **No visible box.** The blend mask is a feathered ellipse defined in the aligned face's own
  coordinates, so its feather grows with the face's size in the photo, and it reaches zero inside
  the aligned square: no square edge or corner can show. The feather is a smoothstep (continuous
  slope at both ends).
* **Large faces keep their detail.** The model works at `S` px (128). A face that is `s = size in
  photo / S > 1` times larger comes back upscaled, with nothing above its own Nyquist frequency.
  The original photo's band above that (original − Gaussian(original, σ = DETAIL_SIGMA·s), taken from
  the untouched original) is added back inside the mask, so such a face is never blurrier than it
  went in. For s ≤ 1 the restored face holds every frequency the photo has there, and nothing is added.

Only the face's bounding region is touched, and inside it only pixels where the mask is non-zero:
everything else stays bit-identical; 16-bit photos stay 16-bit and keep their 16-bit detail.
"""

from __future__ import annotations

import cv2
import numpy as np

# Mask ellipse in the aligned crop's coordinates, [-1, 1] on both axes (FFHQ alignment: the face
# sits in the middle, chin low): centre, semi-axes, and where the feather starts (fraction of the radius).
MASK_CENTER = (0.0, 0.03)
MASK_AXES = (0.93, 0.95)
MASK_INNER = 0.70
# σ of the Gaussian that separates the band the restored face cannot hold, in photo pixels per unit of s
DETAIL_SIGMA = 0.5


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


def paste_face(pixels: np.ndarray, face_rgb8: np.ndarray, inverse: np.ndarray,
               original: np.ndarray | None = None) -> np.ndarray:
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
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return pixels
    local_inverse = inverse.astype(np.float64).copy()
    local_inverse[:, 2] -= (x0, y0)
    region_shape = (y1 - y0, x1 - x0)
    mask = face_mask(cv2.invertAffineTransform(local_inverse), size, region_shape)
    inside = mask > 0
    if not inside.any():
        return pixels

    scale = face_scale(inverse)
    peak = 65535.0 if pixels.dtype == np.uint16 else 255.0
    face = face_rgb8.astype(np.float32) * (peak / 255.0)
    # Upscaling: bicubic keeps more of the restored face's own band than bilinear.
    # Replicated borders: pixels at the crop's edge never mix with black.
    warped = cv2.warpAffine(face, local_inverse, region_shape[::-1],
                            flags=cv2.INTER_CUBIC if scale > 1.0 else cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    region = pixels[y0:y1, x0:x1]
    weight = mask[..., None]
    blended = weight * warped + (1.0 - weight) * region.astype(np.float32)
    if scale > 1.0:
        source = (pixels if original is None else original)[y0:y1, x0:x1].astype(np.float32)
        detail = source - cv2.GaussianBlur(source, (0, 0), DETAIL_SIGMA * scale, borderType=cv2.BORDER_REFLECT)
        blended += weight * detail
    result = np.clip(np.round(blended), 0, peak).astype(pixels.dtype)
    region[inside] = result[inside]
    return pixels
