"""Where a restorer changes real faces it should not: dark strokes drawn into eyes and mouths, and light halos
along the paste-back border. Measured on the real whole photos of the test set (../shared/data/test), faces
detected and aligned as the app does (MTCNN), per model and setting:

    .venv/bin/python scripts/measure_face_changes.py models/iqpfr_default.pt:0.9:1 runs/other.pt:0.9:1 ...

* eyes / mouth: luminance change (restored − aligned input, 0…255) in windows around the FFHQ template's eye and
  mouth points of the aligned face: the 2nd percentile (strokes drawn darker than the input) and the mean
  |change|; "faces < −30": faces whose 2nd percentile is more than 30 levels darker.
* halo: luminance change (pasted result − photo) in the paste mask's feather ring (0.02 < mask < 0.9): mean and
  95th percentile per face (a light line along hairline or jaw lifts the 95th percentile); "faces > 8": faces whose
  95th percentile is more than 8 levels lighter.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHOTO_FOLDERS = (
    "codeformer-inputs/whole_imgs",
    "gfpgan-inputs/whole_imgs",
    "psfrgan-inputs/whole_imgs",
    "vqfr-inputs/whole_imgs",
    "dfdnet-testdata/TestWhole",
    "bopbtl-test_images/old",
    "diffbir-inputs/bfr/whole_img",
)
DARK_STROKE = -30.0
LIGHT_HALO = 8.0


def luminance(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint16:
        rgb = (rgb // 257).astype(np.uint8)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def feature_windows(size: int) -> dict[str, list[tuple[float, float, float, float]]]:
    """(centre x, centre y, half width, half height) of the eye and mouth windows on the aligned face."""
    from app.faces.alignment import face_template

    (left_x, left_y), (right_x, right_y), _, (mouth_lx, mouth_ly), (mouth_rx, mouth_ry) = face_template(size)
    unit = size / 128
    return {
        "eyes": [(left_x, left_y, 12 * unit, 7 * unit), (right_x, right_y, 12 * unit, 7 * unit)],
        "mouth": [
            ((mouth_lx + mouth_rx) / 2, (mouth_ly + mouth_ry) / 2, (mouth_rx - mouth_lx) / 2 + 6 * unit, 8 * unit)
        ],
    }


def window_values(change: np.ndarray, windows: list[tuple[float, float, float, float]]) -> np.ndarray:
    return np.concatenate(
        [change[int(cy - hh) : int(cy + hh), int(cx - hw) : int(cx + hw)].ravel() for cx, cy, hw, hh in windows]
    )


def measure(spec: str, photos: list[Path]) -> str:
    from app.faces.paste import face_mask
    from app.photo_io import load_photo
    from app.pipeline import FaceRestorer, compose

    weights, quality, fidelity = spec.rsplit(":", 2)
    restorer = FaceRestorer.create(weights=weights, detector="mtcnn", device="cpu")
    features: dict[str, tuple[list[float], list[float]]] = {"eyes": ([], []), "mouth": ([], [])}
    ring_mean: list[float] = []
    ring_high: list[float] = []
    for path in photos:
        photo = load_photo(path)
        prepared = restorer.prepare(photo, cached_faces=0)
        restored = restorer.restore_faces(prepared, float(quality), float(fidelity))
        for face, output in zip(prepared.faces, restored.faces, strict=True):
            change = luminance(output) - luminance(face.aligned.image)
            for name, windows in feature_windows(output.shape[0]).items():
                values = window_values(change, windows)
                features[name][0].append(float(np.percentile(values, 2)))
                features[name][1].append(float(np.abs(values).mean()))
        pasted = luminance(compose(prepared, restored.faces)) - luminance(photo.pixels)
        for face in prepared.faces:
            mask = face_mask(face.aligned.affine, face.aligned.image.shape[0], pasted.shape)
            ring = (mask > 0.02) & (mask < 0.9)
            if ring.sum() >= 10:
                ring_mean.append(float(pasted[ring].mean()))
                ring_high.append(float(np.percentile(pasted[ring], 95)))
    cells = [spec, str(len(features["eyes"][0]))]
    for low, absolute in features.values():
        cells += [f"{np.mean(low):+.1f}", f"{np.mean(absolute):.1f}", str(sum(v < DARK_STROKE for v in low))]
    cells += [f"{np.mean(ring_mean):+.2f}", f"{np.mean(ring_high):+.2f}", str(sum(v > LIGHT_HALO for v in ring_high))]
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    torch.set_num_threads(1)
    test_root = ROOT.parent / "shared" / "data" / "test"
    photos = sorted(
        path
        for folder in PHOTO_FOLDERS
        for path in (test_root / folder).glob("*")
        if path.suffix.lower() in {".jpg", ".jpeg", ".png"}
    )
    print(f"{len(photos)} real whole photos from {test_root}")
    print(
        "| model:quality:fidelity | faces | eyes 2nd pct | eyes mean abs | eyes faces < −30 | mouth 2nd pct | "
        "mouth mean abs | mouth faces < −30 | halo ring mean | halo ring 95th pct | halo faces > 8 |"
    )
    print("|---" * 11 + "|")
    for spec in sys.argv[1:]:
        print(measure(spec, photos), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
