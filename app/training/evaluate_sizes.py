"""Faces in whole photos, by face size: the app's own pipeline measured against a ground truth.

Each method turns a degraded synthetic photo (`app.training.photo_pairs`) into a photo: the degraded input
itself, the classical baseline on the whole photo, or a face restorer exactly as the app runs it (detect,
align, restore, paste back). Measured on the face region of the face's square (the inner part of the
paste-back mask): PSNR and SSIM against the clean photo and, when a face-identity network is given, the
identity distance between the output's face and the clean face (both on the same template square).
Rows per face size, with a per-level breakdown; a contact sheet per size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from skimage.metrics import structural_similarity

from app.faces.identity import FaceIdentity, identity_distance, landmark_distance
from app.image_tensors import images_to_tensor
from app.photo_io import Photo
from app.training.photo_pairs import LEVELS, PhotoPair, face_region, photo_pairs
from app.training.reference_outputs import classical_baseline, write_contact_sheet

PhotoMethod = Callable[[np.ndarray], np.ndarray]  # degraded uint8 RGB photo → output photo of the same shape
Progress = Callable[[str], None]
SHEET_ROWS = 8


class IdentityMeasure(Protocol):
    def distances(self, faces: list[np.ndarray], references: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(identity distance, landmark distance) of each face (uint8 RGB on the FFHQ template) to its reference."""
        ...


class FaceIdentityMeasure:
    """`IdentityMeasure` through the converted face-recognition networks (`app.faces.identity`)."""

    def __init__(self, identity: FaceIdentity) -> None:
        self.identity = identity

    @torch.no_grad()
    def distances(self, faces: list[np.ndarray], references: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        device = self.identity.theta.device
        both = images_to_tensor([*faces, *references], device)
        descriptors, landmarks = self.identity.embed(both), self.identity.landmarks(both)
        count = len(faces)
        return (
            identity_distance(descriptors[:count], descriptors[count:]).cpu().numpy(),
            landmark_distance(landmarks[:count], landmarks[count:]).cpu().numpy(),
        )


@dataclass
class Method:
    name: str
    run: PhotoMethod


def restorer_method(restorer, quality: float, fidelity: float | None) -> PhotoMethod:
    """A `FaceRestorer` as the app runs it on a whole photo (photos without a detected face come back as they are)."""

    def run(photo: np.ndarray) -> np.ndarray:
        return restorer.restore(Photo(photo), quality=quality, fidelity=fidelity).photo.pixels

    return run


def region_psnr_ssim(clean: np.ndarray, output: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """PSNR and mean SSIM over the `region` pixels of two uint8 RGB images."""
    clean64, output64 = clean.astype(np.float64), output.astype(np.float64)
    mse = float(np.square(clean64 - output64)[region].mean())
    psnr = float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
    _, ssim_map = structural_similarity(clean64, output64, channel_axis=2, data_range=255, full=True)
    return psnr, float(ssim_map[region].mean())


@dataclass
class PairResult:
    face_size: int
    level: str
    psnr: float
    ssim: float
    identity: float  # NaN without an identity network
    landmarks: float  # landmark distance (normalised mean error); NaN without the network


def measure_methods(
    pairs: list[PhotoPair],
    methods: list[Method],
    identity: IdentityMeasure | None = None,
    progress: Progress | None = None,
    keep_faces: int = SHEET_ROWS,
) -> tuple[dict[str, list[PairResult]], dict[int, list[list[np.ndarray | None]]]]:
    """Per method, one result per pair; and per face size, the first `keep_faces` rows of face squares
    (input, each method's output, clean) for the contact sheet."""
    results: dict[str, list[PairResult]] = {method.name: [] for method in methods}
    sheets: dict[int, list[list[np.ndarray | None]]] = {}
    regions = {size: face_region(size) for size in {pair.face_size for pair in pairs}}
    for number, pair in enumerate(pairs, 1):
        clean = pair.face_square(pair.clean)
        region = regions[pair.face_size]
        squares = [pair.face_square(method.run(pair.degraded)) for method in methods]
        identities, landmarks = (
            identity.distances(squares, [clean] * len(squares))
            if identity is not None
            else (np.full(len(squares), np.nan), np.full(len(squares), np.nan))
        )
        for method, square, distance, moved in zip(methods, squares, identities, landmarks, strict=True):
            psnr, ssim = region_psnr_ssim(clean, square, region)
            results[method.name].append(
                PairResult(pair.face_size, pair.level, psnr, ssim, float(distance), float(moved))
            )
        rows = sheets.setdefault(pair.face_size, [])
        if len(rows) < keep_faces:
            rows.append([*squares, clean])
        if progress is not None and (number % 20 == 0 or number == len(pairs)):
            progress(f"faces in photos: {number}/{len(pairs)} photos")
    return results, sheets


def summarise(results: dict[str, list[PairResult]]) -> list[dict]:
    """Rows: one per face size and method (means over its pairs), with the per-level means."""
    rows = []
    sizes = sorted({r.face_size for per_method in results.values() for r in per_method})
    for size in sizes:
        for name, per_method in results.items():
            chosen = [r for r in per_method if r.face_size == size]
            row: dict = {"face_size": size, "method": name, "pairs": len(chosen), **_means(chosen)}
            row["levels"] = {
                level: _means([r for r in chosen if r.level == level])
                for level in LEVELS
                if any(r.level == level for r in chosen)
            }
            rows.append(row)
    return rows


def _means(chosen: list[PairResult]) -> dict:
    return {
        "psnr": float(np.mean([r.psnr for r in chosen])),
        "ssim": float(np.mean([r.ssim for r in chosen])),
        "identity": _finite_mean([r.identity for r in chosen]),
        "landmarks": _finite_mean([r.landmarks for r in chosen]),
    }


def _finite_mean(values: list[float]) -> float | None:
    array = np.asarray(values, np.float64)
    return float(array[np.isfinite(array)].mean()) if np.isfinite(array).any() else None


def markdown_table(rows: list[dict]) -> str:
    has_identity = any(row["identity"] is not None for row in rows)
    header = ["face size", "method", "pairs", "PSNR (dB)", "SSIM"]
    if has_identity:
        header += ["identity distance (↓)", "landmark distance (↓)"]
    header += [f"{level} PSNR / SSIM" + (" / identity" if has_identity else "") for level in LEVELS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [f"{row['face_size']} px", row["method"], str(row["pairs"]), f"{row['psnr']:.2f}", f"{row['ssim']:.3f}"]
        if has_identity:
            cells += [_optional(row["identity"]), _optional(row["landmarks"])]
        for level in LEVELS:
            means = row["levels"].get(level)
            if means is None:
                cells.append("–")
                continue
            text = f"{means['psnr']:.2f} / {means['ssim']:.3f}"
            cells.append(text + (f" / {_optional(means['identity'])}" if has_identity else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _optional(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def write_size_sheets(
    folder: Path, method_names: list[str], sheets: dict[int, list[list[np.ndarray | None]]], tile: int = 128
) -> list[Path]:
    """One contact sheet per face size: input, the methods' outputs, clean (face squares shown at `tile` px)."""
    columns = [name.replace(", ", "\n", 1) for name in method_names] + ["clean"]
    return [
        write_contact_sheet(folder / f"faces-{size}px.png", columns, [(f"faces of {size} px in the photo", rows)], tile)
        for size, rows in sorted(sheets.items())
    ]


def evaluate_faces_in_photos(
    restorers: list[tuple[str, object, float, float | None]],
    clean_faces: list,
    pairs_per_size: int,
    seed: int,
    identity: IdentityMeasure | None = None,
    sheet_folder: Path | None = None,
    progress: Progress | None = None,
) -> dict:
    """Input, classical baseline and each (label, FaceRestorer, quality, fidelity) on the synthetic photos.
    Returns rows (see `summarise`) and the contact sheets written."""
    methods = [Method("degraded input", lambda photo: photo), Method("classical baseline", classical_baseline)]
    for label, restorer, quality, fidelity in restorers:
        setting = f"quality {quality:g}" + ("" if fidelity is None else f", fidelity {fidelity:g}")
        methods.append(Method(f"{label}, {setting}", restorer_method(restorer, quality, fidelity)))
    pairs = list(photo_pairs(clean_faces, seed=seed, per_size=pairs_per_size))
    results, sheets = measure_methods(pairs, methods, identity, progress)
    written = (
        [str(path) for path in write_size_sheets(sheet_folder, [m.name for m in methods], sheets)]
        if sheet_folder is not None
        else []
    )
    return {
        "pairs_per_size": pairs_per_size,
        "levels": {name: vars(level) for name, level in LEVELS.items()},
        "rows": summarise(results),
        "contact_sheets": written,
    }
