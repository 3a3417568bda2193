"""Training faces: listing, a fixed held-out split, cached quality scores, and a torch dataset.

The FFHQ-256 and CelebA-HQ faces in ../shared/data/train are FFHQ-aligned, i.e. already on the
five-point template the app aligns to, so they are only resized to the model resolution.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from app.image_tensors import image_to_tensor
from app.photo_io import is_supported_image, load_photo
from app.training.degradation import (
    LIGHT_DEGRADATION,
    MILD_DEGRADATION,
    DegradationConfig,
    PhotometricConfig,
    degrade,
    photometric,
)

SCORE_CACHE_NAME = "face_scores.json"


def list_faces(roots: list[Path]) -> list[Path]:
    files = []
    for root in roots:
        files += [p for p in sorted(Path(root).rglob("*")) if p.is_file() and is_supported_image(p)]
    return _drop_byte_identical(files)


def _drop_byte_identical(files: list[Path]) -> list[Path]:
    seen, unique = set(), []
    for path in files:
        digest = hashlib.md5(path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            unique.append(path)
    return unique


def is_held_out(path: Path, fraction: float) -> bool:
    """Stable split by file name: the same file is always on the same side."""
    bucket = int(hashlib.sha1(path.name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return bucket < fraction


def split(files: list[Path], held_out_fraction: float) -> tuple[list[Path], list[Path]]:
    train = [f for f in files if not is_held_out(f, held_out_fraction)]
    held_out = [f for f in files if is_held_out(f, held_out_fraction)]
    return train, held_out


def load_face(path: Path, size: int) -> np.ndarray:
    return resize_face(load_photo(path).rgb8(), size)


def resize_face(rgb: np.ndarray, size: int) -> np.ndarray:
    """A square face at `size` px (area-averaged when shrinking); unchanged when it already is."""
    if rgb.shape[0] == size and rgb.shape[1] == size:
        return rgb
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA if rgb.shape[0] > size else cv2.INTER_CUBIC)


@dataclass
class ScoredFaces:
    paths: list[Path]  # the face files, or (from a face pack) their names in the pack
    raw: np.ndarray  # normalised metric score (0..1, higher better)
    prior: np.ndarray  # min-max over the training set → [0, 1): the IQPFR quality prior
    packed: list[np.ndarray] | None = None  # the faces themselves when they come from a face pack

    def images(self, size: int) -> list[np.ndarray]:
        """The faces at `size` px, from the pack or read from their files: the one way training reads faces."""
        if self.packed is None:
            return [load_face(path, size) for path in self.paths]
        return [resize_face(face, size) for face in self.packed]


def read_score_table(table: Path) -> dict[str, float]:
    """The face-IQA table (file, one column per model): each model min-max normalised over the table,
    then averaged — the IQPFR authors' ensemble prior (method notes §2)."""
    import csv

    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{table} has no rows")
    models = [name for name in rows[0] if name != "file"]
    columns = {m: np.array([float(r[m]) for r in rows]) for m in models}
    normalised = {m: (v - v.min()) / max(float(v.max() - v.min()), 1e-6) for m, v in columns.items()}
    ensemble = np.mean([normalised[m] for m in models], axis=0)
    return {row["file"]: float(score) for row, score in zip(rows, ensemble, strict=True)}


def quantile_map(values: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Monotone map of `values` from the distribution of `source` onto that of `target`
    (same quantile): puts PIQE scores of unscored faces on the ensemble's scale."""
    quantiles = np.linspace(0.0, 1.0, 101)
    return np.interp(values, np.quantile(source, quantiles), np.quantile(target, quantiles))


def ensemble_prior(paths: list[Path], piqe: np.ndarray, table: Path, table_root: Path) -> np.ndarray:
    """Prior per face: the ensemble score where the table has the face (matched by its path under
    `table_root`), else the face's PIQE score quantile-mapped onto the ensemble scale, the map being
    fitted on the faces that have both."""
    scores = read_score_table(table)
    root = table_root.resolve()
    found = np.full(len(paths), np.nan, dtype=np.float32)
    for i, path in enumerate(paths):
        resolved = path.resolve()
        if resolved.parent == root and resolved.name in scores:
            found[i] = scores[resolved.name]
    known = ~np.isnan(found)
    if known.sum() < 10:
        raise ValueError(f"fewer than 10 training faces under {table_root} are in {table}")
    prior = found.copy()
    prior[~known] = quantile_map(piqe[~known], piqe[known], found[known])
    return np.clip(prior, 0.0, 0.999).astype(np.float32)


def score_faces(
    paths: list[Path],
    size: int,
    cache_dir: Path,
    metric: str = "piqe",
    table: Path | None = None,
    table_root: Path | None = None,
) -> ScoredFaces:
    """Score each clean face once with the project's IQA wrapper; cached by path, size and mtime."""
    from app.quality import QualityScorer

    cache_file = cache_dir / SCORE_CACHE_NAME
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    scorer = None
    raw = []
    for path in paths:
        key = f"{metric}|{size}|{path.resolve()}|{path.stat().st_mtime_ns}"
        if key not in cache:
            scorer = scorer or QualityScorer(metric)
            cache[key] = scorer.score(load_face(path, size)).normalized
        raw.append(cache[key])
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache_file.write_text(json.dumps(cache))
    raw_array = np.array(raw, dtype=np.float32)
    if table is not None and table_root is not None:
        return ScoredFaces(paths, raw_array, ensemble_prior(paths, raw_array, table, table_root))
    low, high = float(raw_array.min()), float(raw_array.max())
    prior = np.clip((raw_array - low) / max(high - low, 1e-6), 0.0, 0.999).astype(np.float32)
    return ScoredFaces(paths, raw_array, prior)


@dataclass(frozen=True)
class SoftTargetConfig:
    """Quality-conditioning targets below the training set's own quality (the slider's low end).

    With `probability`, the clean target is blurred (Gaussian, sigma in `sigma` px at the model
    resolution) and its prior scaled by the share of fine detail the blurred face keeps (mean absolute
    Laplacian of the luma, blurred over sharp: about 0.67 at sigma 0.5 and 0.14 at sigma 2 on 128-px
    faces). So a lightly softened face lands a few bins down and a heavily softened one near bin 0,
    and the slider's low half is graded. (PIQE was tried for this: it scores every blurred face at the
    bottom of the scale, so all of them fell into bin 0 and bins 1–5 learned nothing.) The degraded
    input is still made from the sharp face, so only the bin tells the model how sharp the target is.
    """

    probability: float = 0.25
    sigma: tuple[float, float] = (0.5, 2.0)


def fine_detail(face: np.ndarray) -> float:
    """Mean absolute Laplacian of the luma: how much fine detail a face holds."""
    grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())


def soften(face: np.ndarray, prior: float, rng: np.random.Generator, cfg: SoftTargetConfig) -> tuple[np.ndarray, float]:
    """A blurred copy of the face and its prior, scaled by the share of fine detail it keeps."""
    soft = cv2.GaussianBlur(face, (0, 0), float(rng.uniform(*cfg.sigma)))
    kept = fine_detail(soft) / max(fine_detail(face), 1e-6)
    return soft, prior * min(kept, 1.0)


class FaceDataset(Dataset):
    """Clean faces (and, with `degradation`, a degraded copy) plus the quality prior of each face.

    Images are decoded once and kept in memory (the training sets here are small).
    Augmentation and degradation draw from a generator seeded by (seed, epoch-free item index, draw),
    so a run is reproducible.
    """

    def __init__(
        self,
        faces: ScoredFaces,
        size: int,
        degradation: DegradationConfig | None = None,
        seed: int = 0,
        flip: bool = True,
        photometric: PhotometricConfig | None = None,
        mild_fraction: float = 0.0,
        soft_targets: SoftTargetConfig | None = None,
        light_fraction: float = 0.0,
        clean_fraction: float = 0.0,
    ) -> None:
        self.images = faces.images(size)
        self.soft_targets = soft_targets
        self.photometric = photometric
        self.mild_fraction = mild_fraction
        self.light_fraction = light_fraction
        self.clean_fraction = clean_fraction
        self.prior = faces.prior
        self.degradation = degradation
        self.seed = seed
        self.flip = flip
        self.draw = 0

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        self.draw += 1
        worker = torch.utils.data.get_worker_info()
        stream = worker.seed % 2**32 if worker is not None else 0  # loader workers draw distinct streams
        rng = np.random.default_rng([self.seed, index, self.draw, stream])
        face = self.images[index]
        flipped = bool(self.flip and rng.random() < 0.5)
        face = np.ascontiguousarray(face[:, ::-1] if flipped else face)
        if self.photometric is not None:
            face = photometric(face, rng, self.photometric)
        target, prior = face, float(self.prior[index])
        soft = False
        if self.soft_targets is not None and rng.random() < self.soft_targets.probability:
            target, prior = soften(face, prior, rng, self.soft_targets)
            soft = True
        item = {
            "clean": image_to_tensor(target),
            "prior": torch.tensor(prior, dtype=torch.float32),
            "index": index,
            "flipped": flipped,
            "soft": soft,
        }
        if self.degradation is not None:
            item["degraded"] = image_to_tensor(self._degraded(face, rng, self.degradation))
        return item

    def _degraded(self, face: np.ndarray, rng: np.random.Generator, full: DegradationConfig) -> np.ndarray:
        """The face itself (`clean_fraction`), lightly (`light_fraction`) or mildly (`mild_fraction`) degraded,
        else with the full degradation."""
        draw = rng.random()
        if draw < self.clean_fraction:
            return face
        draw -= self.clean_fraction
        if draw < self.light_fraction:
            return degrade(face, rng, LIGHT_DEGRADATION)
        draw -= self.light_fraction
        return degrade(face, rng, MILD_DEGRADATION if draw < self.mild_fraction else full)
