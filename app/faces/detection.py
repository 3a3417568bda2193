"""Face detectors returning boxes and five landmarks (eyes, nose, mouth corners).

Default: MTCNN, whose weights ship inside the facenet-pytorch wheel (works offline).
Optional: facexlib RetinaFace, used when its weight file is in a models folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import torch

from app.downloads import WeightSource, ensure_weights
from app.errors import CheckpointError, PhotoTooSmallError

MAX_DETECTION_SIDE = 1600  # larger photos are downscaled for detection only
MIN_FACE_SIZE = 24  # px in the original photo; smaller faces are ignored
# Candidate boxes MTCNN's second and third networks take at once. facenet-pytorch takes 512, whose activations
# (about 250 MB in the third network) a photo reaches with a few dozen faces, so memory grew with the faces.
MTCNN_CANDIDATE_BATCH = 32

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


@dataclass(frozen=True)
class DetectedFace:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in photo pixels
    landmarks: np.ndarray  # (5, 2): left eye, right eye, nose, mouth left, mouth right
    score: float

    @property
    def size(self) -> float:
        return max(self.box[2] - self.box[0], self.box[3] - self.box[1])


def _box(values: Iterable[float]) -> tuple[float, float, float, float]:
    """A detector's four box numbers as plain floats."""
    x0, y0, x1, y1 = (float(v) for v in values)
    return x0, y0, x1, y1


class FaceDetector(Protocol):
    name: str

    def detect_raw(self, rgb: np.ndarray) -> list[DetectedFace]:
        """Detect on an 8-bit RGB array at its own scale."""


def _candidates_in_small_batches(candidates: torch.Tensor, network: torch.nn.Module) -> tuple[torch.Tensor, ...]:
    """facenet-pytorch's `fixed_batch_process` (the same outputs: each candidate is scored on its own) with
    MTCNN_CANDIDATE_BATCH candidates at a time."""
    outputs = [
        network(candidates[start : start + MTCNN_CANDIDATE_BATCH])
        for start in range(0, len(candidates), MTCNN_CANDIDATE_BATCH)
    ]
    return tuple(torch.cat(parts, dim=0) for parts in zip(*outputs, strict=True))


class MTCNNDetector:
    name = "mtcnn"

    def __init__(self, device: str | torch.device = "cpu", threshold: float = 0.9) -> None:
        from facenet_pytorch import MTCNN
        from facenet_pytorch.models.utils import detect_face

        # The library looks this helper up on each detection; ours bounds its memory (see MTCNN_CANDIDATE_BATCH).
        detect_face.fixed_batch_process = _candidates_in_small_batches
        self.threshold = threshold
        self._mtcnn = MTCNN(keep_all=True, device=torch.device(device), min_face_size=20)

    def detect_raw(self, rgb: np.ndarray) -> list[DetectedFace]:
        with torch.no_grad():
            boxes, probs, points = self._mtcnn.detect(np.ascontiguousarray(rgb), landmarks=True)
        if boxes is None:
            return []
        return [
            DetectedFace(_box(box), np.asarray(pts, dtype=np.float32), float(prob))
            for box, prob, pts in zip(boxes, probs, points, strict=True)
            if prob >= self.threshold
        ]


class RetinaFaceDetector:
    def __init__(
        self,
        variant: str = "retinaface",
        device: str | torch.device = "cpu",
        threshold: float = 0.8,
        allow_download: bool = True,
    ) -> None:
        from facexlib.detection.retinaface import RetinaFace

        self.name = variant
        self.threshold = threshold
        weights_path = ensure_weights(RETINAFACE_WEIGHTS[variant], allow_download=allow_download)
        network = "resnet50" if variant == "retinaface" else "mobile0.25"
        self._net = RetinaFace(network_name=network, half=False, device=torch.device(device))
        try:
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
            state = {k.removeprefix("module."): v for k, v in state.items()}
            self._net.load_state_dict(state, strict=True)
        except Exception as exc:  # any failure means the file is unusable
            raise CheckpointError(
                f"'{weights_path.name}' is not a usable {network} RetinaFace weight file "
                f"({str(exc).splitlines()[0][:160]})."
            ) from exc
        self._net.eval()

    def detect_raw(self, rgb: np.ndarray) -> list[DetectedFace]:
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        with torch.no_grad():
            rows = self._net.detect_faces(bgr, conf_threshold=self.threshold)
        return [
            DetectedFace(_box(row[:4]), row[5:15].reshape(5, 2).astype(np.float32), float(row[4]))
            for row in np.asarray(rows)
        ]


def create_detector(
    name: str = "mtcnn", device: str | torch.device = "cpu", allow_download: bool = True
) -> FaceDetector:
    if name == "mtcnn":
        return MTCNNDetector(device)
    if name in RETINAFACE_WEIGHTS:
        return RetinaFaceDetector(name, device, allow_download=allow_download)
    raise ValueError(f"Unknown face detector '{name}'. Choose one of: {', '.join(DETECTOR_NAMES)}.")


def detect_faces(
    detector: FaceDetector, rgb: np.ndarray, max_side: int = MAX_DETECTION_SIDE, min_face_size: int = MIN_FACE_SIZE
) -> list[DetectedFace]:
    """Detect faces in an 8-bit RGB photo of any size or shape; coordinates refer to the full photo.

    A photo narrower or lower than `min_face_size` cannot hold a face: PhotoTooSmallError says so.
    Large photos are downscaled so the longer side fits `max_side`, but never so far that the shorter
    side drops below `min_face_size` (a face could not fit, and detectors fail on images that small).
    """
    height, width = rgb.shape[:2]
    if min(height, width) < min_face_size:
        raise PhotoTooSmallError(
            f"The photo is {width}×{height} pixels: too small to hold a face "
            f"(a face needs at least {min_face_size}×{min_face_size} pixels)."
        )
    scale = min(1.0, max(max_side / max(height, width), min_face_size / min(height, width)))
    small = (
        rgb
        if scale == 1.0
        else cv2.resize(
            rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
        )
    )
    faces = []
    for face in detector.detect_raw(small):
        box = tuple(v / scale for v in face.box)
        rescaled = DetectedFace(box, face.landmarks / scale, face.score)
        if rescaled.size >= min_face_size:
            faces.append(rescaled)
    return sorted(faces, key=lambda f: (f.box[0], f.box[1]))
