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
    (default: facexlib's grey; cv2.BORDER_REFLECT_101 mirrors the photo instead)."""
    affine = cv2.estimateAffinePartial2D(landmarks.astype(np.float32), face_template(size), method=cv2.LMEDS)[0]
    if affine is None:
        raise ValueError("could not fit an alignment to these landmarks")
    crop = cv2.warpAffine(
        rgb, affine, (size, size), flags=cv2.INTER_LINEAR, borderMode=border_mode, borderValue=_BORDER_VALUE
    )
    return AlignedFace(crop, affine, cv2.invertAffineTransform(affine))
