"""The whole training recipe in one command (`iqpfr train-recipe`), made for a lent GPU.

A recipe file (configs/recipe_gpu.toml) lists the stages in order, each a training config of its own with its share
of a wall-time budget, the stage it starts from and the settings every stage shares (batch size, data-loading
processes, bf16). Every stage reads its faces from one face pack (`iqpfr pack-faces`), writes its run folder under
the recipe's output folder (checkpointed, so `--resume` continues where a run stopped) and is cut when its share of
the budget is spent; stages done are recorded in `recipe_log.json`. At the end the last stage's weights (and those
of the stages the recipe names) are written as float16 weights files (half the size; the app loads them as float32),
measured against the float32 weights and, as time allows, on the pack's held-out faces.
"""

from __future__ import annotations

import dataclasses
import gc
import itertools
import json
import logging
import re
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from app.device import describe_device
from app.errors import TrainingSetupError, WeightsMissingError
from app.fileutil import write_text_atomically
from app.model import load_checkpoint, save_checkpoint
from app.paths import install_root
from app.training.config import TrainConfig, check_stage_settings, load_config
from app.training.face_pack import FacePack, read_pack, write_pack
from app.training.loop import training_faces
from app.training.stage_codebook import prior_name
from app.training.stages import run_stage

log = logging.getLogger(__name__)

RECIPE_KEYS = {"train", "stages", "export", "quick_faces"}
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]+")  # a stage's name is its run folder's
RECIPE_LOG = "recipe_log.json"
FINAL_WEIGHTS = "iqpfr_recipe_fp16.pt"
EVALUATION_SEED = 1234  # as `iqpfr evaluate`: held-out face i is degraded with the seed [1234, i]
# [train] settings a recipe may set for its stages; the data, paths and chaining are the recipe's own.
STAGE_SETTINGS = {
    "iterations",
    "batch_size",
    "learning_rate",
    "precision",
    "num_workers",
    "seed",
    "log_every",
    "checkpoint_every",
}


@dataclass(frozen=True)
class RecipeStage:
    name: str
    config: str  # training config; its data, run folder and weights paths are replaced by the recipe's
    share: float  # of the wall-time budget
    init: str | None = None  # the earlier stage whose weights this one starts from, or a weights file (a path
    # relative to the checkout)
    codebook: str | None = None  # the earlier stage whose encoder gives the target codes (codebook_weights)
    train: dict = field(default_factory=dict)
    loss: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    path: Path
    stages: list[RecipeStage]
    train: dict = field(default_factory=dict)  # [train] settings for every stage
    export: list[str] = field(default_factory=list)  # earlier stages whose weights also come back as float16
    quick_faces: int = 0  # held-out faces of the pack measured at the end (0: none)


def load_recipe(path: Path) -> Recipe:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainingSetupError(f"Recipe {path} does not exist.") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TrainingSetupError(f"Recipe {path} cannot be read: {exc}") from None
    stage_keys = {f.name for f in dataclasses.fields(RecipeStage)}
    for key, allowed in [(set(raw), RECIPE_KEYS), *((set(entry), stage_keys) for entry in raw.get("stages", []))]:
        if key - allowed:
            raise TrainingSetupError(f"{path}: unknown settings {sorted(key - allowed)}.")
    try:
        recipe = Recipe(
            path,
            [RecipeStage(**entry) for entry in raw.get("stages", [])],
            dict(raw.get("train", {})),
            list(raw.get("export", [])),
            int(raw.get("quick_faces", 0)),
        )
    except (TypeError, ValueError) as exc:  # a required stage setting missing, a number that is not one
        raise TrainingSetupError(f"{path}: {exc}") from None
    _check(recipe)
    return recipe


def _check(recipe: Recipe) -> None:
    def fail(message: str) -> None:
        raise TrainingSetupError(f"{recipe.path}: {message}")

    if not recipe.stages:
        fail("no [[stages]]")
    seen: list[str] = []
    for stage in recipe.stages:
        if stage.name in seen or not STAGE_NAME.fullmatch(stage.name):
            fail(f"stage name {stage.name!r} is repeated or not letters, digits, '-' and '_'")
        if stage.codebook is not None and stage.codebook not in seen:
            fail(f"stage {stage.name!r} takes its codes from {stage.codebook!r}, which is not an earlier stage")
        if stage.init in [s.name for s in recipe.stages] and stage.init not in seen:
            fail(f"stage {stage.name!r} starts from {stage.init!r}, which is not an earlier stage")
        if not 0 < stage.share <= 1:
            fail(f"stage {stage.name!r}: share must be above 0 and at most 1")
        unknown = set(stage.train) - STAGE_SETTINGS
        if unknown:
            fail(f"stage {stage.name!r}: settings {sorted(unknown)} cannot be set here")
        seen.append(stage.name)
    if sum(stage.share for stage in recipe.stages) > 1 + 1e-9:
        fail("the stages' shares add up to more than 1")
    if set(recipe.train) - STAGE_SETTINGS:
        fail(f"[train] settings {sorted(set(recipe.train) - STAGE_SETTINGS)} cannot be set in a recipe")
    if set(recipe.export) - set(seen):
        fail(f"export names stages it does not have: {sorted(set(recipe.export) - set(seen))}")


def make_pack(cfg: TrainConfig, out: Path, size: int, quality: int) -> FacePack:
    """`iqpfr pack-faces`: the training split of `cfg`'s data folders, scored as training scores it, packed."""
    if cfg.pack:
        raise TrainingSetupError("This config already trains from a face pack; pack from a config with data_roots.")
    faces, held_out = training_faces(cfg, size)
    return write_pack(out, faces, held_out, cfg, size, quality, prior_name(cfg))


def with_start_weights(recipe: Recipe, weights: Path) -> Recipe:
    """The recipe with its first stage starting from `weights` (`iqpfr train-recipe --init`)."""
    first = dataclasses.replace(recipe.stages[0], init=str(weights.resolve()))
    return dataclasses.replace(recipe, stages=[first, *recipe.stages[1:]])


def start_weights(recipe: Recipe, stage: RecipeStage, out: Path) -> Path | None:
    """The weights `stage` starts from: an earlier stage's (in `out`) or the file its `init` names."""
    if stage.init is None:
        return None
    if stage.init in [s.name for s in recipe.stages]:
        return out / stage.init / "weights.pt"
    path = Path(stage.init)
    return path if path.is_absolute() else install_root() / path


def stage_config(recipe: Recipe, stage: RecipeStage, pack: Path, out: Path, overrides: dict) -> TrainConfig:
    """The stage's training config with the recipe's pack, paths, chaining and shared settings."""
    config = Path(stage.config)
    base = load_config(config if config.is_absolute() else install_root() / config)
    run_dir = out / stage.name
    init = start_weights(recipe, stage, out)
    settings = {**recipe.train, **stage.train, **{k: v for k, v in overrides.items() if v is not None}}
    cfg = dataclasses.replace(
        base,
        pack=str(pack),
        run_dir=str(run_dir),
        output_weights=str(run_dir / "weights.pt"),
        init_weights=str(init) if init else None,
        codebook_weights=str(out / stage.codebook / "weights.pt") if stage.codebook else None,
        model={**base.model, **stage.model},
        loss={**base.loss, **stage.loss},
        **settings,
    )
    check_stage_settings(cfg, f"{recipe.path}, stage {stage.name!r}")
    return cfg


def read_run_log(path: Path) -> list[dict]:
    """The records of a stage's log.jsonl (none when it has not logged yet)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def seconds_per_step(records: list[dict]) -> float | None:
    """Seconds per step between consecutive log records of one loop run: the steady pace, without the start-up
    (loading, first batches) that the first record's window holds. None with fewer than two records."""
    seconds = steps = 0.0
    for before, after in itertools.pairwise(records):
        if after.get("seconds", 0) > before.get("seconds", 0) and after["iteration"] > before["iteration"]:
            seconds += after["seconds"] - before["seconds"]
            steps += after["iteration"] - before["iteration"]
    return seconds / steps if steps else None


class RecipeRun:
    """One run of a recipe into an output folder: new, or (`resume`) continuing the stages not yet done."""

    def __init__(
        self,
        recipe: Recipe,
        pack: Path,
        out: Path,
        device: torch.device,
        minutes: float | None = None,
        resume: bool = False,
        overrides: dict | None = None,
        show_progress: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.recipe, self.pack_path, self.out, self.device = recipe, pack.resolve(), out.resolve(), device
        self.minutes, self.resume = minutes, resume
        self.overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        self.show_progress = show_progress
        self.progress = progress or (lambda message: print(message, file=sys.stderr, flush=True))
        self.log_path = self.out / RECIPE_LOG
        if minutes is not None and minutes <= 0:
            raise TrainingSetupError("--minutes must be above 0.")

    def run(self) -> dict:
        pack = read_pack(self.pack_path)  # refuse a missing or damaged pack before anything is written
        self._check_stages()
        record = self._start_log(pack)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        started = time.monotonic()
        done = {entry["name"] for entry in record["stages"] if entry["status"] == "done"}
        remaining = [stage for stage in self.recipe.stages if stage.name not in done]
        scale = sum(s.share for s in self.recipe.stages) / max(sum(s.share for s in remaining), 1e-9)
        budget = self.minutes * 60 if self.minutes is not None else None
        spent_share = 0.0
        for stage in remaining:
            spent_share += stage.share * scale
            limit = None if budget is None else max(started + budget * spent_share - time.monotonic(), 1.0) / 60
            self._run_stage(stage, record, limit)
        record["export"] = self._export(record, pack)
        out_of_time = budget is not None and time.monotonic() - started > budget
        if self.recipe.quick_faces > 0 and not out_of_time:
            record["quick_figures"] = quick_figures(
                self.out / FINAL_WEIGHTS, pack, self.recipe.quick_faces, self.device
            )
        elif self.recipe.quick_faces > 0:
            record["quick_figures"] = {"skipped": "the time budget was spent"}
        record["seconds"] = round(time.monotonic() - started, 1)  # this run's (a resumed run's: since it resumed)
        self._write(record)
        return record

    def _check_stages(self) -> None:
        """Fail now, not minutes into the run: every stage's config must load, a weights file a stage starts from
        must be there, and so must the face network for a stage that trains with its losses."""
        from app.faces.identity import default_weights_path
        from app.training.face_losses import FACE_LOSS_NAMES

        stage_names = [s.name for s in self.recipe.stages]
        for stage in self.recipe.stages:
            cfg = stage_config(self.recipe, stage, self.pack_path, self.out, self.overrides)
            start = start_weights(self.recipe, stage, self.out)
            if stage.init not in stage_names and start is not None and not start.is_file():
                raise TrainingSetupError(
                    f"Stage '{stage.name}' starts from {start}, which is neither an earlier stage nor a weights file "
                    "that exists (scripts/gpu_recipe.sh prepare writes the recipe's start weights)."
                )
            uses_face_network = any(float(cfg.loss.get(name, 0.0)) > 0 for name in FACE_LOSS_NAMES)
            if uses_face_network and not default_weights_path().is_file():
                raise TrainingSetupError(
                    f"Stage '{stage.name}' trains with the face network's losses, whose weights are not at "
                    f"{default_weights_path()} (make them with scripts/convert_face_api.py; carry them to a lent GPU)."
                )

    # ------------------------------------------------------------ the log

    def _start_log(self, pack: FacePack) -> dict:
        if self.resume and self.log_path.is_file():
            record = json.loads(self.log_path.read_text(encoding="utf-8"))
            if [s["name"] for s in record["stages"]] != [s.name for s in self.recipe.stages]:
                raise TrainingSetupError(
                    f"{self.out} holds a run of another recipe (stages {[s['name'] for s in record['stages']]}); "
                    "choose another --out."
                )
            record["runs"] = record.get("runs", 1) + 1
            return record
        if not self.resume and self.out.is_dir() and any(self.out.iterdir()):
            raise TrainingSetupError(
                f"{self.out} already holds files of a recipe run; continue it with --resume or choose another --out."
            )
        record = {
            "recipe": self.recipe.path.name,
            "pack": {"file": self.pack_path.name, "bytes": self.pack_path.stat().st_size, **pack.meta},
            "device": describe_device(self.device),
            "torch": torch.__version__,
            "minutes": self.minutes,
            "overrides": self.overrides,
            "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "runs": 1,
            "stages": [
                {"name": s.name, "config": s.config, "share": s.share, "status": "to do"} for s in self.recipe.stages
            ],
        }
        self._write(record)
        return record

    def _write(self, record: dict) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.log_path, json.dumps(record, indent=1))

    # ------------------------------------------------------------ stages

    def _run_stage(self, stage: RecipeStage, record: dict, limit_minutes: float | None) -> None:
        cfg = stage_config(self.recipe, stage, self.pack_path, self.out, self.overrides)
        entry = next(e for e in record["stages"] if e["name"] == stage.name)
        entry.update(status="running", batch_size=cfg.batch_size)
        self._write(record)
        number = [s.name for s in self.recipe.stages].index(stage.name) + 1
        budget = "" if limit_minutes is None else f", up to {limit_minutes:.1f} min"
        self.progress(
            f"[recipe {number}/{len(self.recipe.stages)}] {stage.name} ({stage.config}): batch {cfg.batch_size}, "
            f"{cfg.precision}, {cfg.num_workers} loader processes{budget}"
        )
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        began = time.monotonic()
        run_stage(cfg, self.device, self.resume, limit_minutes, self.show_progress)
        records = read_run_log(Path(cfg.run_dir) / "log.jsonl")
        iterations = records[-1]["iteration"] if records else 0
        entry.update(
            status="done",
            iterations=iterations,
            samples=iterations * cfg.batch_size,
            seconds=round(time.monotonic() - began, 1),  # setup included
            seconds_per_step=seconds_per_step(records),
            last=records[-1] if records else {},
            log=records,
        )
        if self.device.type == "cuda":
            entry["cuda_peak_memory_gib"] = round(torch.cuda.max_memory_allocated(self.device) / 2**30, 2)
        self._write(record)
        gc.collect()  # the stage's loader processes and model go before the next stage starts
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # ------------------------------------------------------------ results

    def _export(self, record: dict, pack: FacePack) -> dict:
        """The last stage's weights (and the `export` stages') as float16 files, and how much float16 changes
        the output of the last one."""
        summary = {
            "recipe": self.recipe.path.name,
            "device": record["device"],
            "minutes": self.minutes,
            "stages": [
                {k: e.get(k) for k in ("name", "iterations", "batch_size", "seconds")} for e in record["stages"]
            ],
        }
        files = {name: f"{name}_fp16.pt" for name in self.recipe.export}
        files[self.recipe.stages[-1].name] = FINAL_WEIGHTS
        exported = {}
        for name, file_name in files.items():
            target = float16_copy(self.out / name / "weights.pt", self.out / file_name, {"recipe": summary})
            exported[file_name] = {"stage": name, "bytes": target.stat().st_size}
        exported["float16_vs_float32"] = float16_change(
            self.out / self.recipe.stages[-1].name / "weights.pt", self.out / FINAL_WEIGHTS, pack, self.device
        )
        return exported


def float16_copy(source: Path, target: Path, metadata: dict | None = None) -> Path:
    """`source`'s weights stored in float16 at `target` (about half the size; the app loads them as float32), its
    metadata kept and `metadata` added."""
    model, info = load_checkpoint(source)
    return save_checkpoint(model, target, info.trained, {**info.metadata, **(metadata or {})}, dtype=torch.float16)


# ---------------------------------------------------------------- measures at the end


def held_out_pairs(pack: FacePack, size: int, count: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Up to `count` held-out faces of the pack (spread evenly) at `size` px and their degraded copies, degraded as
    `iqpfr evaluate` degrades its synthetic pairs (face i with the seed [1234, i])."""
    from app.training.data import resize_face
    from app.training.degradation import DegradationConfig, degrade

    chosen = sorted({int(round(i)) for i in np.linspace(0, len(pack.held_out) - 1, min(count, len(pack.held_out)))})
    clean = [resize_face(pack.held_out[i], size) for i in chosen]
    degraded = [
        degrade(face, np.random.default_rng([EVALUATION_SEED, i]), DegradationConfig())
        for i, face in zip(chosen, clean, strict=True)
    ]
    return clean, degraded


@torch.no_grad()
def float16_change(float32_weights: Path, float16_weights: Path, pack: FacePack, device: torch.device) -> dict:
    """How the float16 file's output differs from the float32 weights' on up to 32 degraded held-out faces, at the
    default settings: mean and largest |difference| (0..255) and the share of predicted codes that stay the same."""
    from app.pipeline import DEFAULT_QUALITY
    from app.restorers.iqpfr_network import iqpfr_descriptor

    full, info = load_checkpoint(float32_weights, device)
    half, _ = load_checkpoint(float16_weights, device)
    _, degraded = held_out_pairs(pack, full.cfg.image_size, 32)
    if not degraded:
        return {}
    faces = iqpfr_descriptor(full).to_tensor(degraded, device)
    fidelity = info.default_fidelity if full.has_fidelity else 0.0
    first, second = full.restore(faces, DEFAULT_QUALITY, fidelity), half.restore(faces, DEFAULT_QUALITY, fidelity)
    change = (first.image - second.image).abs().float() * 127.5
    same = torch.cat([first.common_indices == second.common_indices, first.hq_indices == second.hq_indices])
    return {
        "faces": len(degraded),
        "mean_abs_change": round(float(change.mean()), 4),
        "max_abs_change": round(float(change.max()), 2),
        "same_codes": round(float(same.float().mean()), 5),
    }


def quick_figures(weights: Path, pack: FacePack, count: int, device: torch.device) -> dict:
    """PSNR, SSIM and identity distance to the clean face on degraded held-out faces of the pack, for the input,
    the classical baseline, the model bundled with the app and `weights`, each at its default settings."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from app.model.default_model import DEFAULT_WEIGHTS_FILE
    from app.paths import find_model_file
    from app.pipeline import DEFAULT_QUALITY
    from app.training.evaluate import Setting, run_model
    from app.training.reference_outputs import classical_baseline

    began = time.monotonic()
    model, info = load_checkpoint(weights, device)
    clean, degraded = held_out_pairs(pack, model.cfg.image_size, count)
    identity = _identity_measure(device)

    def row(outputs: list[np.ndarray]) -> dict:
        pairs = list(zip(clean, outputs, strict=True))
        figures = {
            "psnr": float(np.mean([peak_signal_noise_ratio(c, o, data_range=255) for c, o in pairs])),
            "ssim": float(np.mean([structural_similarity(c, o, channel_axis=2, data_range=255) for c, o in pairs])),
        }
        if identity is not None:
            figures["identity_clean"] = float(np.mean(identity.distances(outputs, clean)[0]))
        return {k: round(v, 4) for k, v in figures.items()}

    def model_outputs(candidate, candidate_info) -> list[np.ndarray]:
        fidelity = candidate_info.default_fidelity if candidate.has_fidelity else None
        setting = Setting(DEFAULT_QUALITY, fidelity)
        return run_model(candidate, degraded, [setting], device)[setting]

    rows = {"degraded input": row(degraded), "classical baseline": row([classical_baseline(f) for f in degraded])}
    bundled = find_model_file(DEFAULT_WEIGHTS_FILE)
    if bundled is not None:
        shipped, shipped_info = load_checkpoint(bundled, device)
        if shipped.cfg.image_size == model.cfg.image_size:
            rows["model bundled with the app"] = row(model_outputs(shipped, shipped_info))
    rows[f"{weights.name}, default settings"] = row(model_outputs(model, info))
    return {
        "faces": len(clean),
        "what": "held-out faces of the pack, degraded as iqpfr evaluate's synthetic pairs (same seeds)",
        "identity": "dlib face-descriptor distance to the clean face (same person below 0.6)"
        if identity is not None
        else "not measured: the converted face network is missing (scripts/convert_face_api.py)",
        "rows": rows,
        "seconds": round(time.monotonic() - began, 1),
    }


def _identity_measure(device: torch.device):
    from app.faces.identity import FaceIdentity
    from app.training.evaluate_sizes import FaceIdentityMeasure

    try:
        return FaceIdentityMeasure(FaceIdentity.load(device=device))
    except WeightsMissingError:
        return None
