"""Paste restored faces back into the photo.

Two things the plain warp-and-blend (facexlib's `paste_face_back`) does not do:

* **No visible box.** The blend mask is a feathered ellipse defined in the aligned face's own
  coordinates, so its feather grows with the face's size in the photo, and it reaches zero inside
  the aligned square: no square edge or corner can show. The feather is a smoothstep (continuous
  slope at both ends).
* **A face larger than the model changes only by what the restorer changed.** The model works at `S` px
  (128). A face that is `s = size in photo / S > 1` times larger is pasted as a correction: the image pasted
  into plus, under the mask, the upscaled (bicubic) difference between the restored face and the same image
  aligned as the restorer's input is aligned (`warp_to_face`). Its detail above the aligned face's resolution
  is kept as it is (the photo's own, or an enhanced background's), a restorer that changes nothing changes
  nothing, and what it did change (denoising, sharpening, colour) arrives whole. For s ≤ 1 the restored face
  holds every frequency the photo has there and is blended in as it is.

Only the face's bounding region is touched, and inside it only pixels where the mask is non-zero:
everything else stays bit-identical; 16-bit photos stay 16-bit and keep their 16-bit detail. A region larger
than PASTE_WINDOW is pasted one window at a time (every pixel depends only on itself), so memory does not
grow with the size of a face (a 2,000 px face's region is tens of megapixels).
"""

from __future__ import annotations

import cv2
import numpy as np

from app.faces.alignment import face_region, warp_to_face

# Mask ellipse in the aligned crop's coordinates, [-1, 1] on both axes (FFHQ alignment: the face
# sits in the middle, chin low): centre, semi-axes, and where the feather starts (fraction of the radius).
MASK_CENTER = (0.0, 0.03)
MASK_AXES = (0.93, 0.95)
MASK_INNER = 0.70
PASTE_WINDOW = 1024  # photo pixels: a larger face region is pasted in windows this large


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


def paste_face(pixels: np.ndarray, face_rgb8: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """Blend a restored aligned face (uint8 RGB, S×S) into `pixels` (uint8 or uint16 RGB) in place; `inverse`
    maps face → photo coordinates. Returns `pixels`."""
    size = face_rgb8.shape[0]
    region = face_region(inverse, size, 2, pixels.shape)
    if region[2] - region[0] < 2 or region[3] - region[1] < 2:
        return pixels
    peak = 65535.0 if pixels.dtype == np.uint16 else 255.0
    face = face_rgb8.astype(np.float32) * (peak / 255.0)
    upscaled = face_scale(inverse) > 1.0
    if upscaled:  # the correction the restorer made
        face -= warp_to_face(pixels, cv2.invertAffineTransform(inverse), size).astype(np.float32)
    for top in range(region[1], region[3], PASTE_WINDOW):
        for left in range(region[0], region[2], PASTE_WINDOW):
            window = (left, top, min(left + PASTE_WINDOW, region[2]), min(top + PASTE_WINDOW, region[3]))
            _paste_window(pixels, face, inverse, window, upscaled, peak)
    return pixels


def _paste_window(
    pixels: np.ndarray,
    face: np.ndarray,
    inverse: np.ndarray,
    window: tuple[int, int, int, int],
    upscaled: bool,
    peak: float,
) -> None:
    """Paste the part of the face inside `window` (x0, y0, x1, y1 photo pixels). `face` is, in the photo's value
    range (0…`peak`), the restored face (not `upscaled`: blended) or its correction (`upscaled`: added)."""
    left, top, right, bottom = window
    local_inverse = inverse.astype(np.float64).copy()
    local_inverse[:, 2] -= (left, top)
    shape = (bottom - top, right - left)
    mask = face_mask(cv2.invertAffineTransform(local_inverse), face.shape[0], shape)
    inside = mask > 0
    if not inside.any():
        return
    # Upscaling: bicubic keeps more of the restored face's own band than bilinear.
    # Replicated borders: pixels at the crop's edge never mix with black.
    warped = cv2.warpAffine(
        face,
        local_inverse,
        shape[::-1],
        flags=cv2.INTER_CUBIC if upscaled else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    target = pixels[top:bottom, left:right]
    weight = mask[..., None]
    photo = target.astype(np.float32)
    blended = photo + weight * (warped if upscaled else warped - photo)
    result = np.clip(np.round(blended), 0, peak).astype(pixels.dtype)
    target[inside] = result[inside]
