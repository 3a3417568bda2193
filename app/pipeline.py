"""Photo → detected, aligned faces → IQPFR → faces pasted back (no Qt).

`prepare` runs detection, alignment and the encoder once per photo; `restore_prepared`
then runs only the quality-conditioned Transformer and decoder, so moving the quality
slider does not re-encode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from app.device import resolve_device
from app.faces import AlignedFace, DetectedFace, FaceDetector, align_face, create_detector, detect_faces, paste_face
from app.model import IQPFR, ModelInfo, load_model
from app.photo_io import Photo

DEFAULT_QUALITY = 0.9


@dataclass
class PreparedFace:
    detection: DetectedFace
    aligned: AlignedFace


@dataclass
class PreparedPhoto:
    photo: Photo
    faces: list[PreparedFace]
    features: torch.Tensor | None   # (num_faces, C, g, g) encoder output, cached

    @property
    def face_count(self) -> int:
        return len(self.faces)


@dataclass
class RestoredPhoto:
    photo: Photo                   # same size, dtype and metadata as the input
    restored_faces: list[np.ndarray]
    quality: float
    common_indices: torch.Tensor | None = None
    hq_indices: torch.Tensor | None = None


def to_model_input(faces: list[np.ndarray], device: torch.device) -> torch.Tensor:
    batch = torch.from_numpy(np.stack(faces)).permute(0, 3, 1, 2).float()
    return (batch / 127.5 - 1.0).to(device)


def to_uint8_images(images: torch.Tensor) -> list[np.ndarray]:
    array = ((images.clamp(-1, 1) + 1.0) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return list(array)


class FaceRestorer:
    def __init__(self, model: IQPFR, model_info: ModelInfo, detector: FaceDetector,
                 device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.model_info = model_info
        self.detector = detector

    @classmethod
    def create(cls, weights: str | None = None, detector: str = "mtcnn", device: str = "auto",
               allow_download: bool = True) -> "FaceRestorer":
        resolved = resolve_device(device)
        model, info = load_model(weights, resolved)
        return cls(model, info, create_detector(detector, resolved, allow_download), resolved)

    @property
    def face_size(self) -> int:
        return self.model.cfg.image_size

    def prepare(self, photo: Photo) -> PreparedPhoto:
        rgb = photo.rgb8()
        faces = [PreparedFace(face, align_face(rgb, face.landmarks, self.face_size))
                 for face in detect_faces(self.detector, rgb)]
        features = None
        if faces:
            with torch.no_grad():
                features = self.model.encode(to_model_input([f.aligned.image for f in faces], self.device))
        return PreparedPhoto(photo, faces, features)

    def restore_prepared(self, prepared: PreparedPhoto, quality: float = DEFAULT_QUALITY,
                         hq_weight: float | None = None) -> RestoredPhoto:
        if not prepared.faces:
            return RestoredPhoto(prepared.photo.with_pixels(prepared.photo.pixels.copy()), [], quality)
        result = self.model.restore_from_features(prepared.features, quality, hq_weight)
        restored_faces = to_uint8_images(result.image)
        pixels = prepared.photo.pixels.copy()
        for face, restored in zip(prepared.faces, restored_faces, strict=True):
            paste_face(pixels, restored, face.aligned.inverse)
        return RestoredPhoto(prepared.photo.with_pixels(pixels), restored_faces, quality,
                             result.common_indices, result.hq_indices)

    def restore(self, photo: Photo, quality: float = DEFAULT_QUALITY, hq_weight: float | None = None) -> RestoredPhoto:
        return self.restore_prepared(self.prepare(photo), quality, hq_weight)
