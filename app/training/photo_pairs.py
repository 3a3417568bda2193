"""Synthetic whole-photo pairs with the face at a known size: what users see, with a ground truth.

A clean face on the FFHQ template (`size` px) is placed in the middle of a photo with a margin of its
own border pixels, then the whole photo is degraded in *photo* pixels (blur, downscale and back, grain,
JPEG), as a scan or an old digital photo is: a 512-px face and a 64-px face get the same blur, so the
small face loses far more of itself. Three levels (mild, moderate, severe); some pairs are grey or a
faded sepia print (applied to the clean photo too, so a restorer must keep the look, not undo it).

Clean faces are never trained on: the training split's held-out faces (FFHQ 256 px, CelebA-HQ 1024 px)
and the high-quality reference faces of the PGDiff and GFPGAN test data (512 px, aligned here by the
app's own detector). A face is only used at sizes up to its native size (no upscaled "clean" faces).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.faces import align_face, create_detector, detect_faces
from app.faces.paste import face_mask
from app.photo_io import load_photo
from app.training.data import list_faces, split
from app.training.degradation import faded_sepia, to_grey

FACE_SIZES = (64, 128, 256, 512)
PAIRS_PER_SIZE = 42
MARGIN = 0.25  # photo margin around the face square, as a share of its side
FACE_REGION_WEIGHT = 0.5  # measured pixels: the paste-back mask's inner part (weight above this)
# Clean high-quality faces from the test data that are not on the FFHQ template (aligned on load).
REFERENCE_FACE_FOLDERS = ("pgdiff-testdata/ref_faces", "gfpgan-inputs/tests_gt")


@dataclass(frozen=True)
class PhotoDegradation:
    """Ranges drawn per photo, in photo pixels (noise on the 0..255 scale)."""

    blur_sigma: tuple[float, float]
    downscale: tuple[float, float]
    noise_sigma: tuple[float, float]
    jpeg_quality: tuple[int, int]


LEVELS: dict[str, PhotoDegradation] = {
    "mild": PhotoDegradation((0.3, 1.0), (1.0, 1.5), (1.0, 4.0), (75, 92)),
    "moderate": PhotoDegradation((1.0, 2.0), (1.5, 2.5), (4.0, 10.0), (45, 75)),
    "severe": PhotoDegradation((2.0, 3.5), (2.5, 4.0), (10.0, 18.0), (25, 45)),
}
LOOKS = ("colour", "colour", "grey", "colour", "colour", "sepia")  # cycled: 1 in 3 pairs is an old-print look


@dataclass(frozen=True)
class CleanFace:
    name: str
    image: np.ndarray  # uint8 RGB on the FFHQ template, native size


@dataclass
class PhotoPair:
    name: str
    face_size: int
    level: str
    look: str
    clean: np.ndarray  # uint8 RGB photo
    degraded: np.ndarray  # same shape

    @property
    def face_origin(self) -> int:
        """Top-left corner (x = y) of the face square in the photo."""
        return int(round(self.face_size * MARGIN))

    def face_square(self, photo: np.ndarray) -> np.ndarray:
        """The face's S×S square (on the FFHQ template) cut from `photo` (the clean, degraded or a restored one)."""
        start = self.face_origin
        return photo[start : start + self.face_size, start : start + self.face_size]


def degrade_photo(photo: np.ndarray, rng: np.random.Generator, level: PhotoDegradation) -> np.ndarray:
    """Blur → downscale (area) → grain → JPEG → back to size (bicubic), in photo pixels; uint8 RGB in and out."""
    height, width = photo.shape[:2]
    image = cv2.GaussianBlur(photo.astype(np.float32), (0, 0), rng.uniform(*level.blur_sigma))
    factor = rng.uniform(*level.downscale)
    small = (max(8, round(width / factor)), max(8, round(height / factor)))
    image = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
    grey = bool(np.array_equal(photo[..., 0], photo[..., 1]) and np.array_equal(photo[..., 1], photo[..., 2]))
    grain_shape = (*image.shape[:2], 1) if grey else image.shape
    image = image + rng.normal(0.0, rng.uniform(*level.noise_sigma), grain_shape).astype(np.float32)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    quality = int(rng.integers(level.jpeg_quality[0], level.jpeg_quality[1] + 1))
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        raise RuntimeError("OpenCV could not JPEG-compress a synthetic photo")
    image = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)


def place_in_photo(face: np.ndarray, size: int) -> np.ndarray:
    """`face` (on the template) resized to `size` px, in the middle of a photo whose margin repeats its border."""
    interpolation = cv2.INTER_AREA if face.shape[0] > size else cv2.INTER_CUBIC
    square = cv2.resize(face, (size, size), interpolation=interpolation)
    margin = int(round(size * MARGIN))
    return cv2.copyMakeBorder(square, margin, margin, margin, margin, cv2.BORDER_REPLICATE)


def apply_look(photo: np.ndarray, look: str, rng: np.random.Generator) -> np.ndarray:
    if look == "grey":
        return to_grey(photo)
    if look == "sepia":
        return faded_sepia(photo, rng)
    return photo


def face_region(size: int) -> np.ndarray:
    """Boolean S×S mask of the measured face region: where the paste-back mask weighs above FACE_REGION_WEIGHT."""
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return face_mask(identity, size, (size, size)) > FACE_REGION_WEIGHT


def held_out_faces(roots: list[Path], held_out_fraction: float) -> list[CleanFace]:
    """The training data's held-out faces (already on the template), at their native size."""
    _, held_out = split(list_faces(roots), held_out_fraction)
    return [CleanFace(f"{path.parent.name}/{path.name}", load_photo(path).rgb8()) for path in held_out]


def reference_faces(test_root: Path, size: int = 512) -> list[CleanFace]:
    """The test data's clean high-quality faces, aligned to the template at `size` px by the app's detector
    (the largest face of each photo; the photo's border is mirrored where the template reaches past it)."""
    detector = create_detector("mtcnn")
    faces = []
    for path in list_faces([test_root / folder for folder in REFERENCE_FACE_FOLDERS if (test_root / folder).is_dir()]):
        rgb = load_photo(path).rgb8()
        found = detect_faces(detector, rgb)
        if found:
            largest = max(found, key=lambda face: face.size)
            aligned = align_face(rgb, largest.landmarks, size, border_mode=cv2.BORDER_REFLECT_101)
            faces.append(CleanFace(f"{path.parent.name}/{path.name}", aligned.image))
    return faces


def photo_pairs(
    clean_faces: list[CleanFace],
    seed: int = 1234,
    sizes: tuple[int, ...] = FACE_SIZES,
    per_size: int = PAIRS_PER_SIZE,
) -> Iterator[PhotoPair]:
    """`per_size` pairs per face size, from the faces at least that large (each reused at the next level
    when there are fewer faces than pairs); levels cycle mild, moderate, severe; pair i of size S is always
    drawn from the generator [seed, S, i]."""
    levels = list(LEVELS)
    for size in sizes:
        pool = [face for face in clean_faces if face.image.shape[0] >= size]
        if not pool:
            continue
        chosen = [pool[i] for i in np.linspace(0, len(pool) - 1, min(per_size, len(pool))).round().astype(int)]
        for i in range(per_size):
            face = chosen[i % len(chosen)]
            level = levels[(i % len(chosen) + i // len(chosen)) % len(levels)]  # a reused face: the next level
            rng = np.random.default_rng([seed, size, i])
            look = LOOKS[i % len(LOOKS)]
            clean = apply_look(place_in_photo(face.image, size), look, rng)
            yield PhotoPair(face.name, size, level, look, clean, degrade_photo(clean, rng, LEVELS[level]))
