"""Weights files: versioned, self-describing (config inside), validated on load."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch

from app.errors import CheckpointError, printable
from app.fileutil import atomic_target
from app.model.config import IQPFRConfig
from app.model.iqpfr import IQPFR
from app.model.spikes import SpikeRepair

FORMAT_NAME = "iqpfr-studio-weights"
FORMAT_VERSION = 2
# Format 1 files predate these settings; they were built with a VQ codebook and no fidelity path.
FORMAT_1_DEFAULTS = {"quantizer": "vq", "fidelity_scales": ()}
DEFAULT_FIDELITY = 0.5  # used when a weights file does not say which fidelity it was measured best at


@dataclass
class ModelInfo:
    """What the app knows about the model it runs (shown to the user)."""

    source: str  # file path, or a description such as "untrained (seed 0)"
    trained: bool
    metadata: dict = field(default_factory=dict)

    def name(self) -> str:
        if not self.trained:
            return f"UNTRAINED model ({self.source})"
        return f"IQPFR weights {Path(self.source).name} (stage {self.metadata.get('stage', '?')})"

    def describe(self) -> str:
        """The name and, when there is one, the caveat: 'NAME: CAVEAT'."""
        return f"{self.name()}: {self.caveat}" if self.caveat else self.name()

    @property
    def caveat(self) -> str:
        """What a user must know about this model's output ('' when nothing): untrained, or the stored note."""
        return "output is not a real restoration" if not self.trained else self.note

    @property
    def default_fidelity(self) -> float:
        """The fidelity weight chosen by measurement for these weights (metadata), else 0.5."""
        return float(self.metadata.get("default_fidelity", DEFAULT_FIDELITY))

    @property
    def note(self) -> str:
        """A caveat stored with the weights (e.g. measured limitations), shown wherever the model is named."""
        return str(self.metadata.get("note", ""))


def save_checkpoint(
    model: IQPFR,
    path: str | os.PathLike,
    trained: bool,
    metadata: dict | None = None,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """`dtype`: how floating-point tensors are stored (torch.float16 halves the file; it loads as float32)."""
    path = Path(path)
    payload = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": model.cfg.to_dict(),
        "trained": bool(trained),
        "metadata": dict(metadata or {}),
        "state_dict": {
            k: v.detach().cpu().to(dtype) if v.is_floating_point() else v.detach().cpu()
            for k, v in model.state_dict().items()
        },
    }
    with atomic_target(path) as tmp:
        torch.save(payload, tmp)
    return path


def read_weights(path: str | os.PathLike) -> dict:
    """The contents of a weights file (.pt/.pth/.ckpt, or .safetensors) as saved: tensors and plain values only,
    nothing in the file is executed. Every way it can fail is a CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Model file '{path}' does not exist.")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            contents = load_file(str(path))
        else:
            contents = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncation, foreign formats and unpickling refusals arrive as many types
        raise CheckpointError(f"'{printable(path.name)}' {unreadable_reason(exc)}") from exc
    if not isinstance(contents, dict):
        raise CheckpointError(f"'{path.name}' holds no model weights.")
    return contents


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device = "cpu", payload: dict | None = None
) -> tuple[IQPFR, ModelInfo]:
    """IQPFR weights from `path` (`payload`: `read_weights(path)`, when already read)."""
    path = Path(path)
    payload = read_weights(path) if payload is None else payload
    if payload.get("format") != FORMAT_NAME:
        raise CheckpointError(f"'{path.name}' is not an IQPFR Studio weights file.")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"'{path.name}' uses weights format {version}; this app reads up to {FORMAT_VERSION}. Update IQPFR Studio."
        )
    try:
        config = dict(payload["config"])
        if version == 1:
            config = {**FORMAT_1_DEFAULTS, **config}
        cfg = IQPFRConfig.from_dict(config)
        model = IQPFR(cfg)
        # Files stored in float16 (`save_checkpoint(dtype=)`) run as float32 models, like every other.
        state = {
            k: v.float() if isinstance(v, torch.Tensor) and v.is_floating_point() else v
            for k, v in payload["state_dict"].items()
        }
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise CheckpointError(f"'{path.name}' does not match the IQPFR architecture: {mismatch_reason(exc)}.") from exc
    metadata = dict(payload.get("metadata", {}))
    try:
        model.decoder.spike_repair = SpikeRepair.from_metadata(metadata)
    except ValueError as exc:
        raise CheckpointError(f"'{path.name}' is not a valid model file: {exc}.") from exc
    model.to(device).eval()
    return model, ModelInfo(str(path), bool(payload.get("trained", False)), metadata)


def unreadable_reason(exc: BaseException) -> str:
    """The end of the sentence "'FILE' …" for a weights file `torch.load` or safetensors refused (never the
    libraries' own long text)."""
    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError) and ("GLOBAL" in text or "add_safe_globals" in text):  # objects
        return (
            "holds Python objects besides weights; they were not loaded, because loading them could run code. "
            "Use a file that holds only weights (tensors and plain values)."
        )
    if isinstance(exc, (EOFError, RuntimeError)) and not isinstance(exc, NotImplementedError):
        return "is truncated or not a model file: it ends early or its archive is damaged."
    return "is truncated or not a model file: it is neither PyTorch weights nor a safetensors file."


def mismatch_reason(exc: BaseException) -> str:
    """Why weights do not fit an architecture, as a clause ('2 weights missing, 1 of another shape'): PyTorch's
    listing of every key is summed up, never quoted."""
    if isinstance(exc, KeyError):
        return f"it has no '{printable(str(exc.args[0]) if exc.args else '')[:80]}'"
    text = str(exc)
    counts = []
    for label, pattern in (
        ("missing", "Missing key(s) in state_dict:"),
        ("not expected", "Unexpected key(s) in state_dict:"),
    ):
        line = next((line for line in text.splitlines() if pattern in line), None)
        if line is not None:
            number = line.count('"') // 2
            counts.append(f"{number} weight{'s' if number != 1 else ''} {label}")
    shapes = text.count("size mismatch for ")
    if shapes:
        counts.append(f"{shapes} weight{'s' if shapes != 1 else ''} of another shape")
    if counts:
        return ", ".join(counts)
    return "its weights have other names or shapes than the architecture's"
