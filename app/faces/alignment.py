"""Align faces to the FFHQ five-point template (facexlib's FaceRestoreHelper template).

Pasting restored faces back is `app.faces.paste`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# facexlib's FFHQ five-point template for 512 px faces
FFHQ_TEMPLATE_512 = np.array(
    [
        [192.98138, 239.94708],
        [318.90277, 240.1936],
        [256.63416, 314.01935],
        [201.26117, 371.41043],
        [313.08905, 371.15118],
    ],
    dtype=np.float32,
)
_BORDER_VALUE = (135, 133, 132)  # facexlib's padding colour for crops reaching past the photo
ANTIALIAS_FROM = 1.25  # photo pixels per face pixel above which the photo is low-passed before the warp


@dataclass
class AlignedFace:
    image: np.ndarray  # (S, S, 3) uint8 RGB
    affine: np.ndarray  # 2×3 photo → face
    inverse: np.ndarray  # 2×3 face → photo


def face_template(size: int) -> np.ndarray:
    return FFHQ_TEMPLATE_512 * (size / 512.0)


def align_face(
    rgb: np.ndarray, landmarks: np.ndarray, size: int, border_mode: int = cv2.BORDER_CONSTANT
) -> AlignedFace:
    """Warp the face onto the template; where the crop reaches past the photo, `border_mode` fills it
    (default: facexlib's grey; cv2.BORDER_REFLECT_101 mirrors the photo instead).

    A face larger than the template (s photo pixels per face pixel, s > ANTIALIAS_FROM) is low-passed first
    (Gaussian, σ = ½·√(s² − 1)), as any downscaling must be: a plain bilinear warp would sample the photo's
    grain and fine texture into aliasing, so the restorer would see a noisier, rougher face than the photo
    shows, and unlike the faces it was trained on (area-downscaled)."""
    affine = cv2.estimateAffinePartial2D(landmarks.astype(np.float32), face_template(size), method=cv2.LMEDS)[0]
    if affine is None:
        raise ValueError("could not fit an alignment to these landmarks")
    return AlignedFace(warp_to_face(rgb, affine, size, border_mode), affine, cv2.invertAffineTransform(affine))


def face_region(inverse: np.ndarray, size: int, margin: int, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The box (x0, y0, x1, y1) of photo pixels that the `size` px face square covers under the face → photo
    `inverse`, widened by `margin` px and clipped to a photo of `shape` (height, width, …)."""
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64) @ inverse.T
    height, width = shape[:2]
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int) - margin, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + margin, (width, height))
    return int(x0), int(y0), int(x1), int(y1)


def warp_to_face(
    pixels: np.ndarray, affine: np.ndarray, size: int, border_mode: int = cv2.BORDER_CONSTANT
) -> np.ndarray:
    """The `size` px face that the photo → face `affine` cuts from `pixels` (any dtype; low-passed first when it
    shrinks the photo, as `align_face` describes)."""
    source, warp = _antialiased_source(pixels, affine, size)
    border = _BORDER_VALUE if pixels.dtype == np.uint8 else tuple(257 * v for v in _BORDER_VALUE)
    return cv2.warpAffine(
        source, warp, (size, size), flags=cv2.INTER_LINEAR, borderMode=border_mode, borderValue=border
    )


def _antialiased_source(rgb: np.ndarray, affine: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The photo region the warp reads, low-passed for a downscaling warp, and the affine that maps it onto the
    face (the photo itself and `affine` when no low-pass is needed)."""
    scale = 1.0 / float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))
    if scale <= ANTIALIAS_FROM:
        return rgb, affine
    sigma = 0.5 * float(np.sqrt(scale * scale - 1.0))
    margin = int(np.ceil(3 * sigma)) + 2
    x0, y0, x1, y1 = face_region(cv2.invertAffineTransform(affine), size, margin, rgb.shape)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return rgb, affine
    region = cv2.GaussianBlur(rgb[y0:y1, x0:x1], (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    shifted = affine.astype(np.float64).copy()
    shifted[:, 2] += shifted[:, :2] @ np.array([x0, y0], np.float64)
    return region, shifted
