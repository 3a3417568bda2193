"""Per-face latency of the IQPFR stages (a benchmark, not a test).

    .venv/bin/python scripts/benchmark.py [--weights FILE] [--device cpu|cuda] [--faces N] [--repeats R]

Prints the median milliseconds per face for: encoder, Transformer, decoder, a slider change
(Transformer + decoder on cached encoder features), and the whole photo path (detect, align,
encode, restore, paste) on a real photo.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.device import describe_device, resolve_device  # noqa: E402
from app.model import load_model  # noqa: E402


def timed(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--faces", type=int, default=1, help="faces per batch")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--photo", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" /
                        "test" / "gfpgan-inputs" / "whole_imgs" / "Blake_Lively.jpg")
    args = parser.parse_args()

    device = resolve_device(args.device)
    model, info = load_model(args.weights, device)
    size = model.cfg.image_size
    faces = torch.rand(args.faces, 3, size, size, device=device) * 2 - 1
    with torch.no_grad():
        features = model.encode(faces)
        prediction = model.predict_codes(features, 0.9)
        common, hq = prediction.common_indices, prediction.hq_indices
        rows = {
            "encode": timed(lambda: model.encode(faces), args.repeats, device),
            "transformer": timed(lambda: model.predict_codes(features, 0.9), args.repeats, device),
            "decode": timed(lambda: model.decode_codes(common, hq), args.repeats, device),
            "slider change (transformer + decode, cached features)":
                timed(lambda: model.restore_from_features(features, 0.5), args.repeats, device),
        }
    print(f"model: {info.describe()} · {size}px faces · device: {describe_device(device)} · "
          f"batch of {args.faces} face(s) · median of {args.repeats}")
    for name, seconds in rows.items():
        print(f"  {name:<58} {1000 * seconds / args.faces:8.1f} ms/face")

    if args.photo.exists():
        from app.faces import create_detector
        from app.photo_io import load_photo
        from app.pipeline import FaceRestorer

        restorer = FaceRestorer(model, info, create_detector("mtcnn", device), device)
        photo = load_photo(args.photo)
        prepared = restorer.prepare(photo)
        whole = timed(lambda: restorer.restore(photo, 0.9), max(3, args.repeats // 3), device)
        print(f"  whole photo {args.photo.name} ({photo.width}×{photo.height}, {prepared.face_count} faces): "
              f"{1000 * whole:.0f} ms (detect + align + encode + restore + paste)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
