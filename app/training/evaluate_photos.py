"""Whole-photo figures for 2× output (`iqpfr evaluate-photos`): the input enlarged (bicubic), a classical
baseline and the app's whole-photo path (faces restored, background cleaned and upscaled by Real-ESRGAN).

1. Synthetic pairs: public-domain photos bundled with scikit-image (astronaut: NASA, public domain; camera,
   chelsea, coffee: CC0; rocket: SpaceX, public domain), each cropped to `size` px at most (the clean
   high-resolution target), shrunk to half (area filter) and aged with fixed seeds (`age_photo`: blur, film
   grain, JPEG). Each method enlarges the aged photo 2×; PSNR and SSIM against the clean target, NIQE, colour
   shift to the clean target.
2. Real old photos (default ../shared/data/test/bopbtl-test_images/old, scanned prints): no reference, so NIQE
   (photo patches, lower = better) and PIQE (normalised, higher = better) of the 2× outputs. The app's outputs
   may be given as a folder (`--restored`, e.g. what `iqpfr batch old/ out/ --upscale 2 --background
   realesrgan` wrote) instead of being computed again: Real-ESRGAN takes minutes per megapixel on a CPU.

Rows: "input (bicubic 2×)"; "classical baseline" (bicubic 2×, non-local-means denoise, unsharp mask: the
faces' baseline of `iqpfr evaluate`); "Real-ESRGAN 2× (no face restoration)"; "whole photo: faces + Real-ESRGAN
2× (the app)". A contact sheet shows a crop of each output side by side.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from app.errors import QualityMetricError, StudioError
from app.metrics import colour_shift, luminance, niqe
from app.photo_io import Photo, load_photo, to_rgb8
from app.pipeline import FaceRestorer
from app.quality import QualityScorer
from app.training.evaluate import classical_baseline, write_contact_sheet
from app.upscaling.background import resize_plain
from app.upscaling.whole_photo import REALESRGAN, WholePhotoSettings

SCALE = 2
PUBLIC_DOMAIN_PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "rocket")  # scikit-image's bundled data
INPUT, CLASSICAL, UPSCALER_ONLY, WHOLE = (
    "input (bicubic 2×)",
    "classical baseline (bicubic 2×, denoise, sharpen)",
    "Real-ESRGAN 2× (no face restoration)",
    "whole photo: faces + Real-ESRGAN 2× (the app)",
)
SHEET_CROP = 192  # px of each output shown on the contact sheet
Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def public_domain_photo(name: str, size: int) -> np.ndarray:
    """scikit-image's bundled photo `name` as RGB uint8, centre-cropped to at most `size` px a side (even)."""
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    height, width = image.shape[:2]
    crop_h, crop_w = min(size, height) // 2 * 2, min(size, width) // 2 * 2
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return np.ascontiguousarray(image[top : top + crop_h, left : left + crop_w, :3])


def age_photo(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`clean` (RGB uint8) at half its size as an old, small print: area-shrunk, blurred (σ 0.6–1.2 px), film
    grain (σ 4–9, one value for the three channels of a grey photo) and JPEG (quality 40–70)."""
    height, width = clean.shape[:2]
    small = cv2.resize(clean, (width // SCALE, height // SCALE), interpolation=cv2.INTER_AREA).astype(np.float32)
    blurred = cv2.GaussianBlur(small, (0, 0), rng.uniform(0.6, 1.2))
    grey = bool(np.array_equal(clean[..., 0], clean[..., 1]) and np.array_equal(clean[..., 1], clean[..., 2]))
    grain = rng.normal(0.0, rng.uniform(4.0, 9.0), (*blurred.shape[:2], 1 if grey else 3)).astype(np.float32)
    grainy = np.clip(np.round(blurred + grain), 0, 255).astype(np.uint8)
    quality = int(rng.integers(40, 71))
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(grainy, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        raise RuntimeError("OpenCV could not JPEG-compress a photo")
    aged = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    return np.repeat(aged.mean(axis=2, keepdims=True).round().astype(np.uint8), 3, axis=2) if grey else aged


def _bicubic(rgb: np.ndarray) -> np.ndarray:
    return resize_plain(rgb, SCALE)


def _classical(rgb: np.ndarray) -> np.ndarray:
    return classical_baseline(_bicubic(rgb))


def _photo_niqe(rgb: np.ndarray) -> float:
    try:
        return niqe(luminance(rgb))
    except ValueError:  # smaller than two NIQE patches a side
        return float("nan")


def _piqe(scorer: QualityScorer, rgb: np.ndarray) -> float:
    try:
        return scorer.score(rgb).normalized
    except QualityMetricError:
        return float("nan")


def _mean(values: list[float]) -> float | None:
    kept = [value for value in values if np.isfinite(value)]
    return float(np.mean(kept)) if kept else None


def _centre_crop(rgb: np.ndarray, side: int = SHEET_CROP) -> np.ndarray:
    height, width = rgb.shape[:2]
    top, left = max(0, (height - side) // 2), max(0, (width - side) // 2)
    return rgb[top : top + side, left : left + side]


class _Methods:
    """The four ways of making a 2× photo, the app's two with one restorer."""

    def __init__(self, restorer: FaceRestorer) -> None:
        self.restorer = restorer
        self.whole = WholePhotoSettings(SCALE, REALESRGAN)

    def upscaler_only(self, rgb: np.ndarray) -> np.ndarray:
        return self.restorer.background.pixels(rgb, self.whole)

    def app(self, photo: Photo) -> np.ndarray:
        return to_rgb8(self.restorer.restore(photo, whole=self.whole).photo.pixels)


def evaluate_photos(
    restorer: FaceRestorer,
    old_photos: Path | None,
    size: int = 384,
    restored_dir: Path | None = None,
    contact_sheet_path: Path | None = None,
    seed: int = 2024,
    max_photos: int | None = None,
    progress: Progress = _stderr,
) -> dict:
    """Both sets (see the module docstring); `old_photos` None skips the real photos."""
    started = time.perf_counter()
    methods = _Methods(restorer)
    scorer = QualityScorer("piqe")
    sheet_rows: list[tuple[str, list[list[np.ndarray | None]]]] = []

    def log(message: str) -> None:
        progress(f"[{time.perf_counter() - started:6.1f}s] {message}")

    synthetic: dict[str, dict[str, list[float]]] = {}
    synthetic_rows: list[list[np.ndarray | None]] = []
    for number, name in enumerate(PUBLIC_DOMAIN_PHOTOS[:max_photos]):
        clean = public_domain_photo(name, size)
        aged = age_photo(clean, np.random.default_rng([seed, number]))
        log(f"synthetic {name}: {aged.shape[1]}×{aged.shape[0]} → {clean.shape[1]}×{clean.shape[0]}")
        outputs = {
            INPUT: _bicubic(aged),
            CLASSICAL: _classical(aged),
            UPSCALER_ONLY: methods.upscaler_only(aged),
            WHOLE: methods.app(Photo(aged, grayscale=name == "camera")),
        }
        for method, output in outputs.items():
            scores = synthetic.setdefault(method, {"psnr": [], "ssim": [], "niqe": [], "delta_e_clean": []})
            scores["psnr"].append(peak_signal_noise_ratio(clean, output, data_range=255))
            scores["ssim"].append(structural_similarity(clean, output, channel_axis=2, data_range=255))
            scores["niqe"].append(_photo_niqe(output))
            scores["delta_e_clean"].append(colour_shift(clean, output).delta_e)
        synthetic_rows.append([_centre_crop(clean), *(_centre_crop(output) for output in outputs.values())])
    sheet_rows.append(("synthetic pairs (clean target first)", synthetic_rows))
    result: dict = {"scale": SCALE, "synthetic_pairs": _rows(synthetic, len(synthetic_rows))}

    if old_photos is not None:
        real: dict[str, dict[str, list[float]]] = {}
        real_rows: list[list[np.ndarray | None]] = []
        paths = sorted(path for path in old_photos.iterdir() if path.suffix.lower() in {".png", ".jpg", ".jpeg"})
        for path in paths[:max_photos]:
            photo = load_photo(path)
            rgb = photo.rgb8()
            log(f"real {path.name}: {photo.width}×{photo.height}")
            outputs = {INPUT: _bicubic(rgb), CLASSICAL: _classical(rgb), WHOLE: _restored(methods, photo, restored_dir)}
            for method, output in outputs.items():
                scores = real.setdefault(method, {"niqe": [], "piqe_quality": []})
                scores["niqe"].append(_photo_niqe(output))
                scores["piqe_quality"].append(_piqe(scorer, output))
            real_rows.append([None, *(_centre_crop(output) for output in outputs.values())])
        sheet_rows.append(("real old photos", [[row[0], row[1], row[2], None, row[3]] for row in real_rows]))
        result["real_old_photos"] = _rows(real, len(real_rows))
        result["real_old_photos_folder"] = str(old_photos)
    if contact_sheet_path is not None:
        columns = ["clean target", "input\n(bicubic 2x)", "classical", "Real-ESRGAN\nonly", "the app\n(faces+bg)"]
        result["contact_sheet"] = str(write_contact_sheet(contact_sheet_path, columns, sheet_rows, SHEET_CROP))
    result["seconds"] = time.perf_counter() - started
    return result


def _restored(methods: _Methods, photo: Photo, restored_dir: Path | None) -> np.ndarray:
    """The app's 2× output of `photo`: read from `restored_dir` (same name, PNG) when given, else made here."""
    if restored_dir is None or photo.source_path is None:
        return methods.app(photo)
    path = restored_dir / f"{photo.source_path.stem}.png"
    restored = load_photo(path).rgb8()
    if restored.shape[:2] != (photo.height * SCALE, photo.width * SCALE):
        raise StudioError(f"'{path}' is not a 2× output of '{photo.source_path.name}'.")
    return restored


def _rows(scores: dict[str, dict[str, list[float]]], photos: int) -> list[dict]:
    return [
        {"method": method, "photos": photos, **{key: _mean(values) for key, values in measures.items()}}
        for method, measures in scores.items()
    ]


def _cell(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown_tables(result: dict) -> str:
    lines = [
        f"Synthetic pairs ({SCALE}×; public-domain photos, aged)",
        "",
        "| method | photos | PSNR (dB, ↑) | SSIM (↑) | NIQE (↓) | ΔE to clean (↓) |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["synthetic_pairs"]:
        lines.append(
            f"| {row['method']} | {row['photos']} | {_cell(row['psnr'], 2)} | {_cell(row['ssim'], 3)} | "
            f"{_cell(row['niqe'], 2)} | {_cell(row['delta_e_clean'], 2)} |"
        )
    if "real_old_photos" in result:
        lines += [
            "",
            f"Real old photos ({SCALE}×, no reference)",
            "",
            "| method | photos | NIQE (↓) | PIQE quality (0..1, ↑) |",
            "|---|---|---|---|",
        ]
        for row in result["real_old_photos"]:
            lines.append(
                f"| {row['method']} | {row['photos']} | {_cell(row['niqe'], 2)} | {_cell(row['piqe_quality'], 3)} |"
            )
    if result.get("contact_sheet"):
        lines += ["", f"Contact sheet: {result['contact_sheet']}"]
    return "\n".join(lines)


def write_photo_report(result: dict, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return markdown_tables(result)
