"""What every stage shares: data preparation, resumable training state, the step loop."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from app.errors import TrainingSetupError
from app.training.config import TrainConfig
from app.training.data import ScoredFaces, list_faces, score_faces, split
from app.training.face_pack import pack_faces, read_pack

log = logging.getLogger(__name__)
STATE_FILE = "last.pt"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def training_faces(cfg: TrainConfig, size: int) -> tuple[ScoredFaces, list[Path]]:
    """Scored training faces and the held-out paths (never trained on): from the config's face pack (the held-out
    faces named as in the pack), else listed, split and scored from its data folders."""
    if cfg.pack:
        pack = read_pack(cfg.resolve(cfg.pack))
        return pack_faces(pack, size), [Path(name) for name in pack.held_out_names]
    if not cfg.data_roots:
        raise TrainingSetupError("The training config names neither data_roots nor a face pack.")
    missing = [root for root in cfg.roots if not root.is_dir()]
    if missing and len(missing) == len(cfg.roots):
        raise TrainingSetupError(
            "None of the training data folders exists: "
            + ", ".join(map(str, missing))
            + ". Check data_roots in the config (paths are relative to the repository)."
        )
    for root in missing:
        log.warning("training data folder %s does not exist; training without it", root)
    files = list_faces([root for root in cfg.roots if root.is_dir()])
    if not files:
        raise TrainingSetupError(f"No training images under {', '.join(map(str, cfg.roots))}.")
    train, held_out = split(files, cfg.held_out_fraction)
    return score_faces(
        train,
        size,
        cfg.resolve(cfg.cache_dir),
        cfg.score_metric,
        cfg.resolve(cfg.score_table),
        cfg.resolve(cfg.score_table_root),
    ), held_out


def _quiet_worker(_: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def make_loader(dataset, cfg: TrainConfig) -> DataLoader:
    """Shuffled, seeded batches; with `num_workers` the degradation runs in other processes."""
    return DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(cfg.seed),
        num_workers=cfg.num_workers,
        persistent_workers=cfg.num_workers > 0,
        worker_init_fn=_quiet_worker,
    )


def autocast(cfg: TrainConfig, device: torch.device):
    """bf16 autocast when the config asks for it (weights and optimiser stay fp32)."""
    if cfg.precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be fp32 or bf16, not {cfg.precision!r}")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")


def endless(loader: DataLoader) -> Iterator[dict]:
    while True:
        yield from loader


def save_state(
    run_dir: Path,
    iteration: int,
    modules: dict,
    optimizer: torch.optim.Optimizer,
    extra: dict | None = None,
    loader: DataLoader | None = None,
) -> None:
    """Atomically write everything a resumed run needs: weights, optimiser, every random stream
    (torch, NumPy, Python, the loader's shuffle order) and stage extras. Only tensors and plain Python
    values, so it loads with `weights_only=True`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    numpy_state = np.random.get_state(legacy=False)  # {"state": {"key", "pos"}, "has_gauss", "gauss"}
    state = {
        "iteration": iteration,
        "optimizer": optimizer.state_dict(),
        "modules": {name: m.state_dict() for name, m in modules.items()},
        "torch_rng": torch.random.get_rng_state(),
        "numpy_rng": {
            "keys": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "position": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "python_rng": _python_state_to_plain(random.getstate()),
        "loader_rng": loader.generator.get_state() if loader is not None and loader.generator else None,
        "extra": extra or {},
    }
    tmp = run_dir / (STATE_FILE + ".tmp")
    torch.save(state, tmp)
    tmp.replace(run_dir / STATE_FILE)


def load_state(
    run_dir: Path, modules: dict, optimizer: torch.optim.Optimizer, loader: DataLoader | None = None
) -> tuple[int, dict]:
    path = run_dir / STATE_FILE
    if not path.exists():
        return 0, {}
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged or foreign file: say which and why
        raise TrainingSetupError(
            f"Cannot resume from {path}: it is not a training state this app wrote "
            f"({type(exc).__name__}). Move it away to start the run afresh."
        ) from exc
    for name, module in modules.items():
        if name not in state["modules"]:
            raise TrainingSetupError(
                f"Cannot resume from {path}: it has no '{name}' state (it was written by a run with other settings)."
            )
        module.load_state_dict(state["modules"][name])
    optimizer.load_state_dict(state["optimizer"])
    torch.random.set_rng_state(state["torch_rng"])
    if "numpy_rng" in state:
        numpy_rng = state["numpy_rng"]
        np.random.set_state(
            (
                "MT19937",
                numpy_rng["keys"].numpy().astype(np.uint32),
                numpy_rng["position"],
                numpy_rng["has_gauss"],
                numpy_rng["gauss"],
            )
        )
    if "python_rng" in state:
        random.setstate(_python_state_from_plain(state["python_rng"]))
    if loader is not None and loader.generator is not None and state.get("loader_rng") is not None:
        loader.generator.set_state(state["loader_rng"])
    return int(state["iteration"]), state.get("extra", {})


def _python_state_to_plain(state: tuple) -> dict:
    version, internal, gauss = state
    return {
        "version": version,
        "internal": torch.tensor(internal, dtype=torch.int64),
        "gauss": gauss if gauss is not None else float("nan"),
    }


def _python_state_from_plain(plain: dict) -> tuple:
    gauss = plain["gauss"]
    return plain["version"], tuple(int(v) for v in plain["internal"].tolist()), None if gauss != gauss else gauss


def save_run_config(cfg: TrainConfig) -> Path:
    """The run's whole config as JSON beside its checkpoints, so a weights file can be traced to its recipe."""
    run_dir = cfg.resolve(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "config.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(cfg), indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    return path


class StepLoop:
    """Runs `step(batch) -> {loss name: float}` with progress, logging, checkpoints and a time budget."""

    def __init__(
        self,
        cfg: TrainConfig,
        start: int,
        checkpoint: Callable[[int], None],
        max_minutes: float | None = None,
        show_progress: bool = True,
    ) -> None:
        self.cfg, self.start, self.checkpoint = cfg, start, checkpoint
        self.deadline = time.monotonic() + max_minutes * 60 if max_minutes else None
        self.show_progress = show_progress
        self.history: list[dict] = []

    def run(self, batches: Iterator[dict], step: Callable[[dict], dict]) -> int:
        from tqdm import tqdm

        bar = tqdm(
            total=self.cfg.iterations, initial=self.start, disable=not self.show_progress, unit="it", dynamic_ncols=True
        )
        iteration = self.start
        running: dict[str, list[float]] = {}
        log_path = self.cfg.resolve(self.cfg.run_dir) / "log.jsonl"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        while iteration < self.cfg.iterations:
            losses = step(next(batches))
            iteration += 1
            for name, value in losses.items():
                running.setdefault(name, []).append(value)
            bar.update(1)
            out_of_time = self.deadline is not None and time.monotonic() > self.deadline
            if iteration % self.cfg.log_every == 0 or iteration == self.cfg.iterations or out_of_time:
                means = {name: float(np.mean(values)) for name, values in running.items()}
                running.clear()
                # seconds: since this run of the loop started (data loading included; a resumed run starts at 0)
                record = {"iteration": iteration, "seconds": round(time.monotonic() - started, 3), **means}
                self.history.append(record)
                with open(log_path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record) + "\n")
                bar.set_postfix({k: f"{v:.4f}" for k, v in list(means.items())[:4]})
            if iteration % self.cfg.checkpoint_every == 0 or iteration == self.cfg.iterations or out_of_time:
                self.checkpoint(iteration)
            if out_of_time:
                log.warning("time budget reached at iteration %d; state saved, resume with --resume", iteration)
                break
        bar.close()
        return iteration
