"""Photo → detected, aligned faces → IQPFR → faces pasted back (no Qt).

`prepare` runs detection, alignment and the encoder once per photo; `restore_prepared`
then runs only the quality-conditioned Transformer and decoder, so moving the quality or
fidelity slider does not re-encode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from app.device import resolve_device
from app.errors import StudioError
from app.faces import AlignedFace, DetectedFace, FaceDetector, align_face, create_detector, detect_faces, paste_face
from app.model import IQPFR, EncodedFaces, ModelInfo, load_model
from app.photo_io import Photo

DEFAULT_QUALITY = 0.9


def check_fidelity(value: float) -> float:
    """A fidelity weight w ∈ [0, 1] (0 = codebook only, 1 = keep the input's structure)."""
    value = float(value)
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise StudioError(f"Fidelity must be between 0 (more restoration) and 1 (closer to the original), "
                          f"not {value:g}.")
    return value


@dataclass
class PreparedFace:
    detection: DetectedFace
    aligned: AlignedFace


@dataclass
class PreparedPhoto:
    photo: Photo
    faces: list[PreparedFace]
    encoded: EncodedFaces | None   # encoder output for all faces (tokens + fidelity-path features), cached

    @property
    def face_count(self) -> int:
        return len(self.faces)


@dataclass
class RestoredPhoto:
    photo: Photo                   # same size, dtype and metadata as the input
    restored_faces: list[np.ndarray]
    quality: float
    fidelity: float                # the weight asked for (ignored by models without a fidelity path)
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

    @property
    def has_fidelity(self) -> bool:
        """False for weights without a fidelity path (format 1): the fidelity is then ignored."""
        return self.model.has_fidelity

    @property
    def default_fidelity(self) -> float:
        """The fidelity stored with the weights (chosen by measurement), else 0.5; kept within 0..1."""
        value = self.model_info.default_fidelity
        return min(1.0, max(0.0, value)) if np.isfinite(value) else 0.5

    def prepare(self, photo: Photo) -> PreparedPhoto:
        rgb = photo.rgb8()
        faces = [PreparedFace(face, align_face(rgb, face.landmarks, self.face_size))
                 for face in detect_faces(self.detector, rgb)]
        encoded = None
        if faces:
            with torch.no_grad():
                encoded = self.model.encode(to_model_input([f.aligned.image for f in faces], self.device))
        return PreparedPhoto(photo, faces, encoded)

    def restore_prepared(self, prepared: PreparedPhoto, quality: float = DEFAULT_QUALITY,
                         fidelity: float | None = None, hq_weight: float | None = None) -> RestoredPhoto:
        """Transformer + decoder on the cached encoding; `fidelity` None = the model's stored default."""
        fidelity = self.default_fidelity if fidelity is None else check_fidelity(fidelity)
        if not prepared.faces:
            return RestoredPhoto(prepared.photo.with_pixels(prepared.photo.pixels.copy()), [], quality, fidelity)
        result = self.model.restore_from_features(prepared.encoded, quality, fidelity=fidelity, hq_weight=hq_weight)
        restored_faces = to_uint8_images(result.image)
        original = prepared.photo.pixels
        pixels = original.copy()
        for face, restored in zip(prepared.faces, restored_faces, strict=True):
            paste_face(pixels, restored, face.aligned.inverse, original=original)
        return RestoredPhoto(prepared.photo.with_pixels(pixels), restored_faces, quality, fidelity,
                             result.common_indices, result.hq_indices)

    def restore(self, photo: Photo, quality: float = DEFAULT_QUALITY, fidelity: float | None = None,
                hq_weight: float | None = None) -> RestoredPhoto:
        return self.restore_prepared(self.prepare(photo), quality, fidelity, hq_weight)
