"""Measured results for the model card.

1. Synthetic pairs: held-out training-split faces (never trained on), degraded with fixed seeds;
   PSNR / SSIM against the clean face, and normalised PIQE.
2. Real degraded faces: the aligned face crops in ../shared/data/test (byte-identical copies
   dropped); normalised PIQE before and after.
Each compares the degraded input, a classical baseline (resize + denoise + sharpen) and IQPFR at
several slider values.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from app.model import IQPFR, load_checkpoint
from app.pipeline import to_model_input, to_uint8_images
from app.quality import QualityScorer
from app.training.config import TrainConfig
from app.training.data import list_faces, load_face, split
from app.training.degradation import DegradationConfig, degrade

REAL_FACE_FOLDERS = ["codeformer-inputs/cropped_faces", "gfpgan-inputs/cropped_faces", "vqfr-inputs/cropped_faces",
                     "pgdiff-testdata/cropped_faces", "restoreformerpp-data/aligned",
                     "psfrgan-inputs/hzgg_LQ_faces", "dfdnet-testdata/crop2"]
SLIDER_VALUES = (0.9, 0.5, 0.1)


def classical_baseline(face: np.ndarray) -> np.ndarray:
    """Non-learned reference: (already resized) → non-local-means denoise → unsharp mask."""
    denoised = cv2.fastNlMeansDenoisingColored(face, None, 6, 6, 5, 15)
    blurred = cv2.GaussianBlur(denoised, (0, 0), 1.2)
    return cv2.addWeighted(denoised, 1.7, blurred, -0.7, 0)


@torch.no_grad()
def _map_in_batches(faces: list[np.ndarray], device: torch.device, process, batch_size: int = 16) -> list[np.ndarray]:
    """Run `process` (model input batch → images in [-1, 1]) over faces, batch by batch."""
    out = []
    for start in range(0, len(faces), batch_size):
        out += to_uint8_images(process(to_model_input(faces[start:start + batch_size], device)))
    return out


def restore_faces(model: IQPFR, faces: list[np.ndarray], quality: float, device: torch.device) -> list[np.ndarray]:
    return _map_in_batches(faces, device, lambda batch: model.restore(batch, quality).image)


def reconstruct_faces(model: IQPFR, faces: list[np.ndarray], device: torch.device) -> list[np.ndarray]:
    """Decode the nearest codes of the *clean* face (the codebook's reconstruction bound)."""
    return _map_in_batches(faces, device, lambda batch: model.decode_codes(*model.nearest_codes(model.encode(batch))))


def _row(name: str, outputs: list[np.ndarray], scorer: QualityScorer, clean: list[np.ndarray] | None = None) -> dict:
    row = {"method": name, "faces": len(outputs),
           "piqe_quality": float(np.mean([scorer.score(o).normalized for o in outputs]))}
    if clean is not None:
        pairs = list(zip(clean, outputs, strict=True))
        row["psnr"] = float(np.mean([peak_signal_noise_ratio(c, o, data_range=255) for c, o in pairs]))
        row["ssim"] = float(np.mean([structural_similarity(c, o, channel_axis=2, data_range=255) for c, o in pairs]))
    return row


def real_test_faces(test_root: Path, size: int) -> list[np.ndarray]:
    paths = list_faces([test_root / folder for folder in REAL_FACE_FOLDERS if (test_root / folder).is_dir()])
    return [load_face(p, size) for p in paths]


def evaluate(weights: Path, cfg: TrainConfig, test_root: Path, device: torch.device, seed: int = 1234) -> dict:
    model, info = load_checkpoint(weights, device)
    size = model.cfg.image_size
    scorer = QualityScorer("piqe")
    _, held_out = split(list_faces(cfg.roots), cfg.held_out_fraction)
    clean = [load_face(p, size) for p in held_out]
    degraded = [degrade(face, np.random.default_rng([seed, i]), DegradationConfig()) for i, face in enumerate(clean)]
    synthetic = [_row("clean face (reference)", clean, scorer, clean),
                 _row("degraded input", degraded, scorer, clean),
                 _row("classical baseline", [classical_baseline(f) for f in degraded], scorer, clean),
                 _row("nearest-code reconstruction of the clean face (this model's encoder)",
                      reconstruct_faces(model, clean, device), scorer, clean)]
    synthetic += [_row(f"IQPFR, quality {q}", restore_faces(model, degraded, q, device), scorer, clean)
                  for q in SLIDER_VALUES]

    real = real_test_faces(test_root, size)
    real_rows = [_row("degraded input", real, scorer),
                 _row("classical baseline", [classical_baseline(f) for f in real], scorer)]
    real_rows += [_row(f"IQPFR, quality {q}", restore_faces(model, real, q, device), scorer) for q in SLIDER_VALUES]
    return {"weights": str(weights), "metadata": info.metadata, "image_size": size,
            "synthetic_held_out": synthetic, "real_degraded": real_rows}


def markdown_table(rows: list[dict]) -> str:
    has_reference = "psnr" in rows[0]
    header = "| method | faces | PSNR (dB) | SSIM | PIQE quality (0..1, ↑) |" if has_reference else \
        "| method | faces | PIQE quality (0..1, ↑) |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for row in rows:
        cells = [row["method"], str(row["faces"])]
        if has_reference:
            cells += [f"{row['psnr']:.2f}" if np.isfinite(row["psnr"]) else "∞ (identical)", f"{row['ssim']:.3f}"]
        cells.append(f"{row['piqe_quality']:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(result: dict, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return ("Synthetic held-out pairs\n\n" + markdown_table(result["synthetic_held_out"]) +
            "\n\nReal degraded faces\n\n" + markdown_table(result["real_degraded"]))
