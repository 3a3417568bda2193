"""Face detection, alignment and paste-back (no Qt)."""

from app.faces.alignment import AlignedFace, align_face, face_template
from app.faces.detection import DETECTOR_NAMES, DetectedFace, FaceDetector, create_detector, detect_faces
from app.faces.in_box import find_face_in_box, overlap
from app.faces.paste import face_mask, paste_face

__all__ = [
    "DETECTOR_NAMES",
    "AlignedFace",
    "DetectedFace",
    "FaceDetector",
    "align_face",
    "create_detector",
    "detect_faces",
    "face_mask",
    "face_template",
    "find_face_in_box",
    "overlap",
    "paste_face",
]
