"""Find the face inside a box the user drew around a face the detector missed (no Qt).

The detector runs again on the box's neighbourhood only: cut out with a margin (a detector needs some room
around a face), enlarged when small (a small or blurred face the whole-photo pass missed is easier to find at
a larger scale) and shrunk when large. The most confident detection whose centre lies inside the box wins;
its landmarks are mapped back to the photo's pixels, ready for alignment.
"""

from __future__ import annotations

import cv2
import numpy as np

from app.errors import FaceNotFoundError
from app.faces.detection import MAX_DETECTION_SIDE, DetectedFace, FaceDetector

BOX_MARGIN = 0.3  # room around the box, as a share of its longer side, on every side
MIN_SEARCH_SIDE = 320  # a smaller neighbourhood is enlarged to this (longer side) before detection
MIN_BOX_SIDE = 8  # photo pixels: a smaller box cannot be drawn around a face on purpose
NO_FACE_MESSAGE = "No face found inside the box you drew; draw it around the whole face, a little larger."

Box = tuple[float, float, float, float]


def normalized_box(box: Box) -> Box:
    """(x0, y0, x1, y1) with x0 ≤ x1 and y0 ≤ y1, whichever corner the drawing started from."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def find_face_in_box(
    detector: FaceDetector,
    rgb: np.ndarray,
    box: Box,
    margin: float = BOX_MARGIN,
    min_side: int = MIN_SEARCH_SIDE,
    max_side: int = MAX_DETECTION_SIDE,
) -> DetectedFace:
    """The face inside `box` (photo pixels) of the 8-bit RGB photo, in photo pixels; FaceNotFoundError if none."""
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = normalized_box(box)
    x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height))
    if x1 - x0 < MIN_BOX_SIDE or y1 - y0 < MIN_BOX_SIDE:
        raise FaceNotFoundError(
            f"The box you drew is too small (under {MIN_BOX_SIDE} pixels of the photo); draw it around the whole face."
        )
    pad = margin * max(x1 - x0, y1 - y0)
    left, top = max(0, int(x0 - pad)), max(0, int(y0 - pad))
    right, bottom = min(width, int(np.ceil(x1 + pad))), min(height, int(np.ceil(y1 + pad)))
    crop = rgb[top:bottom, left:right]
    longer = max(crop.shape[:2])
    scale = min_side / longer if longer < min_side else min(1.0, max_side / longer)
    if scale != 1.0:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    offset = np.array([left, top], dtype=np.float32)
    inside = []
    for found in detector.detect_raw(np.ascontiguousarray(crop)):
        fx0, fy0, fx1, fy1 = (value / scale + offset[index % 2] for index, value in enumerate(found.box))
        centre_x, centre_y = (fx0 + fx1) / 2, (fy0 + fy1) / 2
        if x0 <= centre_x <= x1 and y0 <= centre_y <= y1:
            landmarks = found.landmarks.astype(np.float32) / scale + offset
            inside.append(DetectedFace((fx0, fy0, fx1, fy1), landmarks, found.score))
    if not inside:
        raise FaceNotFoundError(NO_FACE_MESSAGE)
    return max(inside, key=lambda face: face.score)


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0: apart, 1: the same box)."""
    ax0, ay0, ax1, ay1 = normalized_box(a)
    bx0, by0, bx1, by1 = normalized_box(b)
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0
