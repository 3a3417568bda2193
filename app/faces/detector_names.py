"""The face detectors to choose from (`--detector`) and the weight files of the optional ones.

Kept apart from `app.faces.detection` (torch, OpenCV) so that the command line offers the choice without them.
"""

from __future__ import annotations

from app.downloads import WeightSource

RETINAFACE_WEIGHTS = {
    "retinaface": WeightSource(
        "detection_Resnet50_Final.pth",
        "https://github.com/xinntao/facexlib/releases/download/v0.1.0/detection_Resnet50_Final.pth",
        description="RetinaFace (ResNet-50) face-detector weights",
    ),
    "retinaface-mobile": WeightSource(
        "detection_mobilenet0.25_Final.pth",
        "https://github.com/xinntao/facexlib/releases/download/v0.1.0/detection_mobilenet0.25_Final.pth",
        description="RetinaFace (MobileNet 0.25) face-detector weights",
    ),
}
DETECTOR_NAMES = ("mtcnn", *RETINAFACE_WEIGHTS)
