"""Refresh the shipped model's golden outputs (tests/test_golden_output.py) — run this deliberately,
and look at the images, whenever models/iqpfr_default.pt changes.

The face is the astronaut from scikit-image's bundled data (NASA, public domain), so the images may
be committed. It is detected and aligned once, here; the test feeds the saved aligned face straight
to the model, so only the model is under test.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOLDEN_DIR = ROOT / "tests" / "golden"
QUALITIES = (0.1, 0.9)


def weights_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def golden_outputs(model, info, face: np.ndarray) -> dict[float, np.ndarray]:
    import torch

    from app.image_tensors import images_to_tensor, tensor_to_images

    with torch.no_grad():
        encoded = model.encode(images_to_tensor([face], torch.device("cpu")))
        return {
            q: tensor_to_images(model.restore_from_features(encoded, q, info.default_fidelity).image)[0]
            for q in QUALITIES
        }


def main() -> int:
    import torch
    from skimage import data

    from app.faces.alignment import align_face
    from app.faces.detection import create_detector, detect_faces
    from app.model import DEFAULT_WEIGHTS_FILE, load_checkpoint
    from app.paths import bundled_models_dir

    torch.manual_seed(0)
    weights = bundled_models_dir() / DEFAULT_WEIGHTS_FILE
    model, info = load_checkpoint(weights)
    photo = data.astronaut()
    face = max(detect_faces(create_detector("mtcnn"), photo), key=lambda f: f.size)
    aligned = align_face(photo, face.landmarks, model.cfg.image_size).image
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    Image.fromarray(aligned).save(GOLDEN_DIR / "astronaut_face.png")
    for quality, image in golden_outputs(model, info, aligned).items():
        Image.fromarray(image).save(GOLDEN_DIR / f"astronaut_quality_{quality:g}.png")
    (GOLDEN_DIR / "golden.json").write_text(
        json.dumps(
            {
                "weights_sha256": weights_digest(weights),
                "default_fidelity": info.default_fidelity,
                "qualities": list(QUALITIES),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"golden outputs for {weights.name} written to {GOLDEN_DIR}: look at them before committing")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
