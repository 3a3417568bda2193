"""Photo → detected, aligned faces → a face restorer → faces pasted back (no Qt).

The restorer is IQPFR or a public model (GFPGAN, RestoreFormer, CodeFormer; `app.restorers`), all
behind one interface: faces are aligned at the restorer's face size and converted by its descriptor.
`prepare` runs detection, alignment and the restorer's per-photo work once (IQPFR's encoder; the
whole network for models whose only setting is a strength); `restore_prepared` then does only what
depends on the sliders, so moving a slider does not re-encode.

Memory does not grow with the number of faces: they go through the restorer FACE_CHUNK at a time, and
the per-photo work is kept for the first CACHED_FACES faces only (the rest are re-encoded on each
slider move, which is slower but bounded).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from app.device import resolve_device
from app.errors import StudioError
from app.faces import AlignedFace, DetectedFace, FaceDetector, align_face, create_detector, detect_faces, paste_face
from app.model import IQPFR, ModelInfo
from app.photo_io import Photo
from app.restorers import DEFAULT_STRENGTH, FaceNetwork, IQPFRNetwork, RestorerDescriptor, load_network
from app.restorers.descriptor import images_to_tensor, tensor_to_images

DEFAULT_QUALITY = 0.9
FACE_CHUNK = 8      # faces that go through the restorer together
CACHED_FACES = 64   # faces whose restorer input and per-photo work are kept between slider moves


def check_fidelity(value: float) -> float:
    """A fidelity weight w ∈ [0, 1] (0 = codebook only, 1 = keep the input's structure)."""
    value = float(value)
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise StudioError(f"Fidelity must be between 0 (more restoration) and 1 (closer to the original), "
                          f"not {value:g}.")
    return value


def check_strength(value: float) -> float:
    """A strength s ∈ [0, 1]: the share of the restored face in the result (0 = the original face)."""
    value = float(value)
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise StudioError(f"Strength must be between 0 (the original face) and 1 (fully restored), not {value:g}.")
    return value


@dataclass
class PreparedFace:
    detection: DetectedFace
    aligned: AlignedFace


@dataclass
class PreparedChunk:
    """Faces start..stop-1 of a photo (at most FACE_CHUNK), and, when `cached`, what the restorer needs
    for them on every slider move; uncached chunks are re-encoded from the aligned faces each time."""

    start: int
    stop: int
    inputs: torch.Tensor | None = None   # the aligned faces as the restorer's input tensor
    encoded: object | None = None        # the restorer's per-photo work on them (IQPFR: EncodedFaces)
    cached: bool = False


@dataclass
class PreparedPhoto:
    photo: Photo
    faces: list[PreparedFace]
    chunks: list[PreparedChunk]    # the faces in order, FACE_CHUNK at a time; empty without faces

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
    strength: float | None = None  # blend of restored and original face; None for models without one


# IQPFR's image ↔ tensor conversion under the names app.training.evaluate imports.
to_model_input, to_uint8_images = images_to_tensor, tensor_to_images


class FaceRestorer:
    """Detection, alignment and paste-back around one face restorer (`FaceNetwork`; an IQPFR model is wrapped)."""

    def __init__(self, model: IQPFR | FaceNetwork, model_info: ModelInfo | None, detector: FaceDetector,
                 device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        if not isinstance(model, FaceNetwork):
            if model_info is None:
                raise ValueError("an IQPFR model needs its ModelInfo")
            model = IQPFRNetwork(model, model_info)
        self.network = model.to(self.device)
        self.detector = detector

    @classmethod
    def create(cls, weights: str | None = None, detector: str = "mtcnn", device: str = "auto",
               allow_download: bool = True, model: str | None = None) -> "FaceRestorer":
        """`model`: None/'iqpfr' (with `weights`), a catalogue name or a model file (see app.restorers)."""
        resolved = resolve_device(device)
        network = load_network(model, weights, resolved)
        return cls(network, None, create_detector(detector, resolved, allow_download), resolved)

    @property
    def model(self) -> torch.nn.Module:
        return self.network.module

    @property
    def model_info(self) -> ModelInfo:
        return self.network.info

    @property
    def descriptor(self) -> RestorerDescriptor:
        return self.network.descriptor

    @property
    def face_size(self) -> int:
        return self.descriptor.face_size

    @property
    def has_fidelity(self) -> bool:
        """False for models without a fidelity weight (e.g. IQPFR weights format 1): the fidelity is ignored."""
        return self.descriptor.has_fidelity

    @property
    def has_strength(self) -> bool:
        return self.descriptor.has_strength

    @property
    def has_quality_score(self) -> bool:
        """False for the public models: the quality is ignored."""
        return self.descriptor.has_quality_score

    @property
    def default_fidelity(self) -> float:
        """The fidelity stored with the weights (chosen by measurement), else the model's default; in 0..1."""
        return self.network.default_fidelity

    def prepare(self, photo: Photo) -> PreparedPhoto:
        rgb = photo.rgb8()
        faces = [PreparedFace(face, align_face(rgb, face.landmarks, self.face_size))
                 for face in detect_faces(self.detector, rgb)]
        chunks = []
        for start in range(0, len(faces), FACE_CHUNK):
            chunk = PreparedChunk(start, min(start + FACE_CHUNK, len(faces)))
            if start < CACHED_FACES:
                chunk.inputs, chunk.encoded = self._encode(faces[chunk.start:chunk.stop])
                chunk.cached = True
            chunks.append(chunk)
        return PreparedPhoto(photo, faces, chunks)

    def _encode(self, faces: list[PreparedFace]) -> tuple[torch.Tensor, object]:
        """The restorer's input tensor for `faces` and its per-photo work on them."""
        inputs = self.descriptor.to_tensor([face.aligned.image for face in faces], self.device)
        with torch.no_grad():
            return inputs, self.network.encode(inputs)

    def restore_prepared(self, prepared: PreparedPhoto, quality: float = DEFAULT_QUALITY,
                         fidelity: float | None = None, hq_weight: float | None = None,
                         strength: float | None = None) -> RestoredPhoto:
        """The slider-dependent part on the cached preparation; `fidelity` None = the model's default,
        `strength` None = fully restored. Settings a model does not have are ignored."""
        fidelity = self.default_fidelity if fidelity is None else check_fidelity(fidelity)
        if self.has_strength:
            strength = DEFAULT_STRENGTH if strength is None else check_strength(strength)
        else:
            strength = None
        if not prepared.faces:
            return RestoredPhoto(prepared.photo.with_pixels(prepared.photo.pixels.copy()), [], quality, fidelity,
                                 strength=strength)
        restored_faces: list[np.ndarray] = []
        common_indices, hq_indices = [], []
        with torch.no_grad():
            for chunk in prepared.chunks:
                inputs, encoded = ((chunk.inputs, chunk.encoded) if chunk.cached
                                   else self._encode(prepared.faces[chunk.start:chunk.stop]))
                result = self.network.restore(encoded, inputs, quality, fidelity, hq_weight)
                image = result.image
                if strength is not None:
                    image = inputs + strength * (image - inputs)
                restored_faces += self.descriptor.to_images(image)
                common_indices.append(result.common_indices)
                hq_indices.append(result.hq_indices)
        original = prepared.photo.pixels
        pixels = original.copy()
        for face, restored in zip(prepared.faces, restored_faces, strict=True):
            paste_face(pixels, restored, face.aligned.inverse, original=original)
        return RestoredPhoto(prepared.photo.with_pixels(pixels), restored_faces, quality, fidelity,
                             _joined(common_indices), _joined(hq_indices), strength)

    def restore(self, photo: Photo, quality: float = DEFAULT_QUALITY, fidelity: float | None = None,
                hq_weight: float | None = None, strength: float | None = None) -> RestoredPhoto:
        return self.restore_prepared(self.prepare(photo), quality, fidelity, hq_weight, strength)


def _joined(parts: list[torch.Tensor | None]) -> torch.Tensor | None:
    """Per-chunk tensors joined along the face axis; None when the restorer gives none."""
    return None if not parts or any(part is None for part in parts) else torch.cat(parts)
