"""The face detectors to choose from (`--detector`) and the weight files of the optional ones.

Kept apart from `app.faces.detection` (torch, OpenCV) so that the command line offers the choice without them.
"""

from __future__ import annotations

from app.downloads import WeightSource

# facexlib's v0.1.0 release files, with the size and SHA-256 that several independent public manifests of these
# files record (ensure_weights discards a download that does not match).
RETINAFACE_WEIGHTS = {
    "retinaface": WeightSource(
        "detection_Resnet50_Final.pth",
        "https://github.com/xinntao/facexlib/releases/download/v0.1.0/detection_Resnet50_Final.pth",
        sha256="6d1de9c2944f2ccddca5f5e010ea5ae64a39845a86311af6fdf30841b0a5a16d",
        size=109_497_761,
        description="RetinaFace (ResNet-50) face-detector weights",
    ),
    "retinaface-mobile": WeightSource(
        "detection_mobilenet0.25_Final.pth",
        "https://github.com/xinntao/facexlib/releases/download/v0.1.0/detection_mobilenet0.25_Final.pth",
        sha256="2979b33ffafda5d74b6948cd7a5b9a7a62f62b949cef24e95fd15d2883a65220",
        size=1_789_735,
        description="RetinaFace (MobileNet 0.25) face-detector weights",
    ),
}
DETECTOR_NAMES = ("mtcnn", *RETINAFACE_WEIGHTS)
