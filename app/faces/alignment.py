"""Align faces to the FFHQ five-point template and paste restored faces back.

The template and the soft-mask blend are facexlib's (FaceRestoreHelper / paste_face_back);
the paste works on the face's bounding region only, so pixels outside it stay bit-identical
and huge photos are never converted to float as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from facexlib.utils.face_utils import paste_face_back

# facexlib's FFHQ five-point template for 512 px faces
FFHQ_TEMPLATE_512 = np.array([[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935],
                              [201.26117, 371.41043], [313.08905, 371.15118]], dtype=np.float32)
_BORDER_VALUE = (135, 133, 132)  # facexlib's padding colour for crops reaching past the photo


@dataclass
class AlignedFace:
    image: np.ndarray       # (S, S, 3) uint8 RGB
    affine: np.ndarray      # 2×3 photo → face
    inverse: np.ndarray     # 2×3 face → photo


def face_template(size: int) -> np.ndarray:
    return FFHQ_TEMPLATE_512 * (size / 512.0)


def align_face(rgb: np.ndarray, landmarks: np.ndarray, size: int,
               border_mode: int = cv2.BORDER_CONSTANT) -> AlignedFace:
    """Warp the face onto the template; where the crop reaches past the photo, `border_mode` fills it
    (default: facexlib's grey; cv2.BORDER_REFLECT_101 mirrors the photo instead)."""
    affine = cv2.estimateAffinePartial2D(landmarks.astype(np.float32), face_template(size), method=cv2.LMEDS)[0]
    if affine is None:
        raise ValueError("could not fit an alignment to these landmarks")
    crop = cv2.warpAffine(rgb, affine, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=border_mode, borderValue=_BORDER_VALUE)
    return AlignedFace(crop, affine, cv2.invertAffineTransform(affine))


def paste_face(pixels: np.ndarray, face_rgb8: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """Blend a restored aligned face into `pixels` (uint8 or uint16 RGB) in place; returns `pixels`."""
    height, width = pixels.shape[:2]
    size = face_rgb8.shape[0]
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64)
    mapped = corners @ inverse.T
    x0, y0 = np.floor(mapped.min(0)).astype(int) - 2
    x1, y1 = np.ceil(mapped.max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return pixels
    local_inverse = inverse.copy()
    local_inverse[:, 2] -= (x0, y0)
    peak = 65535.0 if pixels.dtype == np.uint16 else 255.0
    face = face_rgb8.astype(np.float32) * (peak / 255.0)
    region = pixels[y0:y1, x0:x1].astype(np.float32)
    blended = paste_face_back(region, face, local_inverse)
    pixels[y0:y1, x0:x1] = np.clip(np.round(blended), 0, peak).astype(pixels.dtype)
    return pixels
