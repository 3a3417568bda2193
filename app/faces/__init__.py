"""Face detection, alignment and paste-back (no Qt).

The names below are imported from their modules on first use, so that importing one light module of this
package (`app.faces.detector_names`, for the command line's choices) does not load torch and OpenCV.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.lazy_exports import lazy_exports

if TYPE_CHECKING:  # the names as type checkers see them (exported lazily below)
    from app.faces.alignment import AlignedFace, align_face, face_template  # noqa: F401
    from app.faces.detection import DetectedFace, FaceDetector, create_detector, detect_faces  # noqa: F401
    from app.faces.detector_names import DETECTOR_NAMES  # noqa: F401
    from app.faces.in_box import find_face_in_box, overlap  # noqa: F401
    from app.faces.paste import face_mask, paste_face  # noqa: F401

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "app.faces.alignment": ("AlignedFace", "align_face", "face_template"),
        "app.faces.detection": ("DetectedFace", "FaceDetector", "create_detector", "detect_faces"),
        "app.faces.detector_names": ("DETECTOR_NAMES",),
        "app.faces.in_box": ("find_face_in_box", "overlap"),
        "app.faces.paste": ("face_mask", "paste_face"),
    },
)
