"""Photo → detected, aligned faces → a face restorer → faces pasted back (no Qt).

The restorer is IQPFR or a public model (GFPGAN, RestoreFormer, CodeFormer; `app.restorers`), all
behind one interface: faces are aligned at the restorer's face size and converted by its descriptor.
`prepare` runs detection, alignment and the restorer's per-photo work once (IQPFR's encoder; the
whole network for models whose only setting is a strength); `restore_faces` then does only what
depends on the sliders, so moving a slider does not re-encode, and `compose` pastes the faces back: at
full resolution for saving, or on a preview no larger than the screen needs, so a slider move on a
50 MP photo does not re-paste 50 MP. `restore_prepared` does both at full resolution. `add_face` appends a face the
detector missed, found inside a box the user drew.

Whole photos (`WholePhotoSettings`, app.upscaling): `output_photo` makes the photo at the output scale (1×, 2×
or 4×), its background cleaned by Real-ESRGAN when asked (tile by tile: progress per tile, stop between
tiles), and the faces are pasted onto it at that scale, with it as the paste's fine-detail source. The default
settings output the photo as it is, as before.

Memory does not grow with the number of faces: they go through the restorer FACE_CHUNK at a time, each
chunk's tensors are let go before the next one, and the per-photo work is kept for the first CACHED_FACES
faces only (the rest are re-encoded on each slider move: encoding is about a sixth of what a slider move
costs per face); `restore`, which restores once, keeps none. `scripts/benchmark.py --memory` measures it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import torch

from app.device import resolve_device
from app.errors import FaceNotFoundError, Stopped, StudioError
from app.faces import (
    AlignedFace,
    DetectedFace,
    FaceDetector,
    align_face,
    create_detector,
    detect_faces,
    find_face_in_box,
    overlap,
    paste_face,
)
from app.model import IQPFR, ModelInfo
from app.photo_io import Photo
from app.restore_defaults import DEFAULT_QUALITY
from app.restorers import DEFAULT_STRENGTH, FaceNetwork, IQPFRNetwork, RestorerDescriptor, load_network
from app.upscaling.background import BackgroundEnhancer, resize_plain
from app.upscaling.tiles import TileProgress
from app.upscaling.whole_photo import WholePhotoSettings

FACE_CHUNK = 4  # faces that go through the restorer together (per face, a larger batch is no faster on a CPU)
CACHED_FACES = 8  # faces whose restorer input and per-photo work are kept between slider moves (IQPFR: 3.9 MB each)
SAME_FACE_OVERLAP = 0.5  # a face added by hand that overlaps a found one this much (IoU) is that face
DEFAULT_PREVIEW_PIXELS = 8_000_000  # the window's smallest preview: a 2 MP screen shows the photo at 200 %
StopCheck = Callable[[], bool]


def is_included(index: int, include: Collection[int] | None) -> bool:
    """Whether face `index` is pasted back under `include` (face indices; None: every face)."""
    return include is None or index in include


def check_fidelity(value: float) -> float:
    """A fidelity weight w ∈ [0, 1] (0 = codebook only, 1 = keep the input's structure)."""
    value = float(value)
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise StudioError(
            f"Fidelity must be between 0 (more restoration) and 1 (closer to the original), not {value:g}."
        )
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
    inputs: torch.Tensor | None = None  # the aligned faces as the restorer's input tensor
    encoded: object | None = None  # the restorer's per-photo work on them (IQPFR: EncodedFaces)
    cached: bool = False


@dataclass
class PreparedPhoto:
    photo: Photo
    faces: list[PreparedFace]
    chunks: list[PreparedChunk]  # the faces in order, FACE_CHUNK at a time; empty without faces
    previews: dict[int, tuple[np.ndarray, float]] = field(default_factory=dict)  # see preview_pixels

    @property
    def face_count(self) -> int:
        return len(self.faces)


@dataclass
class RestoredFaces:
    """The restored aligned faces of a photo (uint8 RGB, in the photo's face order), not yet pasted back."""

    faces: list[np.ndarray]
    quality: float
    fidelity: float  # the weight asked for (ignored by models without a fidelity path)
    common_indices: torch.Tensor | None = None
    hq_indices: torch.Tensor | None = None
    strength: float | None = None  # blend of restored and original face; None for models without one

    def photo(
        self, prepared: PreparedPhoto, include: Collection[int] | None = None, base: Photo | None = None
    ) -> RestoredPhoto:
        """The full-resolution photo with the included faces (default: all) pasted back: into the photo itself,
        or into `base` (`FaceRestorer.output_photo`: the photo at the output scale, its background enhanced)."""
        pixels = compose(prepared, self.faces, include, background=None if base is None else base.pixels)
        restored = [face for index, face in enumerate(self.faces) if is_included(index, include)]
        return RestoredPhoto(
            (prepared.photo if base is None else base).with_pixels(pixels),
            restored,
            self.quality,
            self.fidelity,
            self.common_indices,
            self.hq_indices,
            self.strength,
        )


@dataclass
class RestoredPhoto:
    photo: Photo  # same dtype and metadata as the input; its size times the output scale
    restored_faces: list[np.ndarray]
    quality: float
    fidelity: float  # the weight asked for (ignored by models without a fidelity path)
    common_indices: torch.Tensor | None = None
    hq_indices: torch.Tensor | None = None
    strength: float | None = None  # blend of restored and original face; None for models without one


class FaceRestorer:
    """Detection, alignment and paste-back around one face restorer (`FaceNetwork`; an IQPFR model is wrapped)."""

    def __init__(
        self,
        model: IQPFR | FaceNetwork,
        model_info: ModelInfo | None,
        detector: FaceDetector,
        device: torch.device | str = "cpu",
    ) -> None:
        self.device = torch.device(device)
        if not isinstance(model, FaceNetwork):
            if model_info is None:
                raise ValueError("an IQPFR model needs its ModelInfo")
            model = IQPFRNetwork(model, model_info)
        self.network = model.to(self.device)
        self.detector = detector
        self.background = BackgroundEnhancer(self.device)  # loads Real-ESRGAN only when first asked for

    @classmethod
    def create(
        cls,
        weights: str | None = None,
        detector: str = "mtcnn",
        device: str = "auto",
        allow_download: bool = True,
        model: str | None = None,
    ) -> FaceRestorer:
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

    def prepare(self, photo: Photo, cached_faces: int | None = None) -> PreparedPhoto:
        """Detect and align the faces, and do the restorer's per-photo work for the first `cached_faces` of them
        (default CACHED_FACES; 0 when the photo is restored only once)."""
        rgb = photo.rgb8()
        faces = [
            PreparedFace(face, align_face(rgb, face.landmarks, self.face_size))
            for face in detect_faces(self.detector, rgb)
        ]
        cached = CACHED_FACES if cached_faces is None else cached_faces
        chunks = [
            self._chunk(faces, start, min(start + FACE_CHUNK, len(faces)), cached)
            for start in range(0, len(faces), FACE_CHUNK)
        ]
        return PreparedPhoto(photo, faces, chunks)

    def add_face(self, prepared: PreparedPhoto, box: tuple[float, float, float, float]) -> PreparedPhoto:
        """`prepared` with one more face, the last: the one found inside `box` (photo pixels), drawn by the user
        around a face the detector missed. It goes through the restorer as a chunk of its own (cached while the
        photo has fewer than CACHED_FACES faces); the faces already there keep their indices and their work.
        FaceNotFoundError when there is no face inside the box, or only one already found."""
        rgb = prepared.photo.rgb8()
        detection = find_face_in_box(self.detector, rgb, box)
        for index, face in enumerate(prepared.faces):
            if overlap(face.detection.box, detection.box) >= SAME_FACE_OVERLAP:
                raise FaceNotFoundError(
                    f"The face inside the box you drew was already found (face {index + 1}); "
                    "tick it in the face strip to restore it."
                )
        faces = [*prepared.faces, PreparedFace(detection, align_face(rgb, detection.landmarks, self.face_size))]
        chunk = self._chunk(faces, len(prepared.faces), len(faces), CACHED_FACES)
        return PreparedPhoto(prepared.photo, faces, [*prepared.chunks, chunk], prepared.previews)

    def _chunk(self, faces: list[PreparedFace], start: int, stop: int, cached_faces: int) -> PreparedChunk:
        """Faces start..stop-1 as a chunk, with the restorer's work on them when `start` is below `cached_faces`."""
        chunk = PreparedChunk(start, stop)
        if start < cached_faces:
            chunk.inputs, chunk.encoded = self._encode(faces[start:stop])
            chunk.cached = True
        return chunk

    def _encode(self, faces: list[PreparedFace]) -> tuple[torch.Tensor, object]:
        """The restorer's input tensor for `faces` and its per-photo work on them."""
        inputs = self.descriptor.to_tensor([face.aligned.image for face in faces], self.device)
        with torch.no_grad():
            return inputs, self.network.encode(inputs)

    def restore_faces(
        self,
        prepared: PreparedPhoto,
        quality: float = DEFAULT_QUALITY,
        fidelity: float | None = None,
        strength: float | None = None,
        should_stop: StopCheck | None = None,
    ) -> RestoredFaces:
        """The slider-dependent part on the cached preparation: every face restored (not yet pasted).
        `fidelity` None = the model's default, `strength` None = fully restored; settings a model does not
        have are ignored. `should_stop()` is asked between chunks of faces; True raises `Stopped`."""
        fidelity = self.default_fidelity if fidelity is None else check_fidelity(fidelity)
        if self.has_strength:
            strength = DEFAULT_STRENGTH if strength is None else check_strength(strength)
        else:
            strength = None
        restored_faces: list[np.ndarray] = []
        common_indices, hq_indices = [], []
        for chunk in prepared.chunks:
            if should_stop is not None and should_stop():
                raise Stopped
            faces, common, hq = self._restore_chunk(prepared, chunk, quality, fidelity, strength)
            restored_faces += faces
            common_indices.append(common)
            hq_indices.append(hq)
        return RestoredFaces(restored_faces, quality, fidelity, _joined(common_indices), _joined(hq_indices), strength)

    @torch.no_grad()
    def _restore_chunk(
        self,
        prepared: PreparedPhoto,
        chunk: PreparedChunk,
        quality: float,
        fidelity: float,
        strength: float | None,
    ) -> tuple[list[np.ndarray], torch.Tensor | None, torch.Tensor | None]:
        """One chunk's faces restored (uint8 images) and their code indices; its tensors go when it returns."""
        inputs, encoded = (
            (chunk.inputs, chunk.encoded)
            if chunk.inputs is not None  # (= chunk.cached)
            else self._encode(prepared.faces[chunk.start : chunk.stop])
        )
        result = self.network.restore(encoded, inputs, quality, fidelity)
        image = result.image
        if strength is not None:
            image = inputs + strength * (image - inputs)
        return self.descriptor.to_images(image), result.common_indices, result.hq_indices

    def restore_prepared(
        self,
        prepared: PreparedPhoto,
        quality: float = DEFAULT_QUALITY,
        fidelity: float | None = None,
        strength: float | None = None,
        include: Collection[int] | None = None,
        whole: WholePhotoSettings | None = None,
        progress: TileProgress | None = None,
        should_stop: StopCheck | None = None,
    ) -> RestoredPhoto:
        """Every face restored and the included ones (default: all) pasted into the full-resolution photo, at the
        scale and with the background `whole` asks for (default: the photo as it is)."""
        faces = self.restore_faces(prepared, quality, fidelity, strength, should_stop)
        base = self.output_photo(prepared.photo, whole, progress, should_stop)
        return faces.photo(prepared, include, base)

    def restore(
        self,
        photo: Photo,
        quality: float = DEFAULT_QUALITY,
        fidelity: float | None = None,
        strength: float | None = None,
        whole: WholePhotoSettings | None = None,
        progress: TileProgress | None = None,
        should_stop: StopCheck | None = None,
    ) -> RestoredPhoto:
        """The photo restored once (nothing is kept for slider moves: each chunk is encoded as it is restored),
        at the scale and with the background `whole` asks for."""
        prepared = self.prepare(photo, cached_faces=0)
        return self.restore_prepared(
            prepared, quality, fidelity, strength, whole=whole, progress=progress, should_stop=should_stop
        )

    def output_photo(
        self,
        photo: Photo,
        whole: WholePhotoSettings | None,
        progress: TileProgress | None = None,
        should_stop: StopCheck | None = None,
    ) -> Photo | None:
        """`photo` at the output scale with its background as `whole` asks (alpha resized plainly, metadata
        kept), for the faces to be pasted into; None when the settings change nothing (the photo itself)."""
        if whole is None or not whole.changes_photo:
            return None
        pixels = self.background.pixels(photo.pixels, whole, photo.grayscale, progress, should_stop)
        alpha = None if photo.alpha is None else resize_plain(photo.alpha, whole.upscale, cv2.INTER_LINEAR)
        return replace(photo.with_pixels(pixels), alpha=alpha)


def compose(
    prepared: PreparedPhoto,
    faces: list[np.ndarray],
    include: Collection[int] | None = None,
    max_pixels: int | None = None,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """The photo's pixels with the restored `faces` of the faces in `include` (indices; default all) pasted
    back; at full resolution, or, with `max_pixels`, on `preview_pixels(max_pixels)` (a large photo is then
    pasted at the preview's scale: only the face regions of a small image are touched). With `background` (the
    photo at another scale, e.g. upscaled and enhanced, or a preview of that) the faces are pasted into a copy
    of it at its scale, and it is where large faces take their fine detail from."""
    if background is not None:
        original, scale = background, background.shape[1] / prepared.photo.width
    elif max_pixels is None:
        original, scale = prepared.photo.pixels, 1.0
    else:
        original, scale = preview_pixels(prepared, max_pixels)
    pixels = original.copy()
    for index, (face, restored) in enumerate(zip(prepared.faces, faces, strict=True)):
        if is_included(index, include):
            inverse = face.aligned.inverse if scale == 1.0 else scaled_affine(face.aligned.inverse, scale)
            paste_face(pixels, restored, inverse)
    return pixels


def scaled_affine(affine: np.ndarray, scale: float) -> np.ndarray:
    """A map into photo pixels as a map into the pixels of the photo resized by `scale` (pixel centres: photo x
    is at scale·x + (scale − 1)/2 there)."""
    scaled = affine * scale
    scaled[:, 2] += (scale - 1.0) / 2.0
    return scaled


def preview_pixels(prepared: PreparedPhoto, max_pixels: int) -> tuple[np.ndarray, float]:
    """The photo's pixels shrunk (area filter) to at most `max_pixels` pixels, and the scale used (1.0: the
    photo itself); computed once per photo and size."""
    pixels = prepared.photo.pixels
    height, width = pixels.shape[:2]
    if height * width <= max_pixels:
        return pixels, 1.0
    cached = prepared.previews.get(max_pixels)
    if cached is None:
        scale = (max_pixels / (height * width)) ** 0.5
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        shrunk = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
        cached = prepared.previews[max_pixels] = (shrunk, size[0] / width)
    return cached


def _joined(parts: list[torch.Tensor | None]) -> torch.Tensor | None:
    """Per-chunk tensors joined along the face axis; None when the restorer gives none."""
    tensors = [part for part in parts if part is not None]
    return torch.cat(tensors) if tensors and len(tensors) == len(parts) else None
