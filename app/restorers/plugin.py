"""Public face-restoration checkpoints (GFPGAN v1.x clean, RestoreFormer, CodeFormer) through spandrel.

spandrel (MIT) recognises the architecture from the state dict and builds it;
spandrel_extra_arches adds CodeFormer. The networks run on [-1, 1] tensors, as their official
inference code does, one face at a time (memory stays bounded on group photos).

GFPGAN and RestoreFormer have no setting of their own: they run once per photo (in `encode`), and
the pipeline blends their output with the original face by a strength. CodeFormer's fidelity
weight w changes the network's output, so it runs for every w.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from app.errors import CheckpointError
from app.model import ModelInfo
from app.model.checkpoint import mismatch_reason, read_weights
from app.restorers.descriptor import RestorerDescriptor, Slider
from app.restorers.network import FaceNetwork, NetworkOutput

FACE_SIZE = 512
SUPPORTED_NAMES = "GFPGAN v1.x (clean), RestoreFormer and CodeFormer"
CODEFORMER_DEFAULT_W = 0.5  # the CodeFormer authors' default


@dataclass(frozen=True)
class _Architecture:
    descriptor: RestorerDescriptor
    run: Callable[[torch.nn.Module, torch.Tensor, float], torch.Tensor]  # (module, faces in [-1, 1], w)
    depends_on_fidelity: bool


ARCHITECTURES: dict[str, _Architecture] = {
    # randomize_noise=False: StyleGAN's stored noise, so the same photo always gives the same result
    "GFPGAN": _Architecture(
        RestorerDescriptor("GFPGAN", FACE_SIZE, Slider.STRENGTH, has_strength=True),
        lambda module, x, w: module(x, return_rgb=False, randomize_noise=False)[0],
        False,
    ),
    "RestoreFormer": _Architecture(
        RestorerDescriptor("RestoreFormer", FACE_SIZE, Slider.STRENGTH, has_strength=True),
        lambda module, x, w: module(x)[0],
        False,
    ),
    "CodeFormer": _Architecture(
        RestorerDescriptor("CodeFormer", FACE_SIZE, Slider.FIDELITY, has_fidelity=True),
        lambda module, x, w: module(x, weight=w)[0],
        True,
    ),
}


@dataclass
class PluginInfo(ModelInfo):
    """A public checkpoint the user supplied: named by architecture and file."""

    architecture: str = ""

    def name(self) -> str:
        return f"{self.architecture} weights {Path(self.source).name}"


def _registry():
    import spandrel
    import spandrel_extra_arches

    spandrel_extra_arches.install(ignore_duplicates=True)  # adds CodeFormer once; later calls change nothing
    return spandrel.MAIN_REGISTRY


def detect_architecture(state: dict, file_name: str) -> str:
    """spandrel's name for the architecture of `state` (a canonical state dict), if IQPFR Studio can run it
    as a face restorer; building nothing."""
    for support in _registry().architectures("detection"):
        try:
            found = support.detect(state)
        except Exception:  # noqa: BLE001 - a detector meeting an odd state dict must not hide the others
            found = False
        if found:
            arch_id = str(support.architecture.id)
            if arch_id not in ARCHITECTURES:
                raise CheckpointError(
                    f"'{file_name}' is recognised as {support.architecture.name}, which is not a face restorer "
                    f"IQPFR Studio can use. It runs {SUPPORTED_NAMES} files."
                )
            return arch_id
    raise CheckpointError(
        f"'{file_name}' is not a model file IQPFR Studio recognises (no known architecture "
        f"in it). It runs {SUPPORTED_NAMES} files."
    )


class PluginFaceNetwork(FaceNetwork):
    def __init__(self, module: torch.nn.Module, architecture: str, info: ModelInfo) -> None:
        self.module = module.eval()
        self.info = info
        self._architecture = ARCHITECTURES[architecture]
        self.descriptor = self._architecture.descriptor

    @property
    def default_fidelity(self) -> float:
        return CODEFORMER_DEFAULT_W

    def _run(self, faces: torch.Tensor, fidelity: float) -> torch.Tensor:
        with torch.no_grad():
            outputs = [self._architecture.run(self.module, face[None], fidelity) for face in faces]
        return torch.cat(outputs).nan_to_num(0.0).clamp(-1.0, 1.0)

    def encode(self, faces: torch.Tensor) -> torch.Tensor | None:
        """Models without a setting of their own run here, once per photo."""
        return None if self._architecture.depends_on_fidelity else self._run(faces, 0.0)

    def restore(self, encoded: object, faces: torch.Tensor, quality: float, fidelity: float) -> NetworkOutput:
        if isinstance(encoded, torch.Tensor):
            return NetworkOutput(encoded)
        return NetworkOutput(self._run(faces, fidelity))


def load_plugin(
    path: str | os.PathLike, device: str | torch.device = "cpu", contents: dict | None = None
) -> PluginFaceNetwork:
    """A face restorer from a public checkpoint file (`contents`: `read_weights(path)`, when already read)."""
    import spandrel

    path = Path(path)
    state = spandrel.canonicalize_state_dict(read_weights(path) if contents is None else contents)
    architecture = detect_architecture(state, path.name)
    support = _registry().get(architecture)
    try:
        loaded = support.architecture.load(state)
    except (KeyError, RuntimeError, ValueError, TypeError, AssertionError) as exc:
        raise CheckpointError(
            f"'{path.name}' looks like {architecture} but does not match it: {mismatch_reason(exc)}."
        ) from exc
    info = PluginInfo(str(path), trained=True, architecture=architecture)
    return PluginFaceNetwork(loaded.model, architecture, info).to(torch.device(device))
