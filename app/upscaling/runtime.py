"""Running the ×4 upscaler on one tile: PyTorch, spandrel's RRDBNet with the converted weights, float32 on the
CPU and float16 on a CUDA GPU, is what the app runs. ncnn's own CPU runtime on the official files is kept as the
reference the conversion is checked against (tests/test_upscaling_real.py) and timed beside it
(`scripts/benchmark.py --upscaler`).

Why not ncnn on the CPU, although it computes the same numbers (at most 6.5e-6 apart on real photos): measured on
this 2-core CPU it was 1.3–1.5× faster per network pixel, but held about three times PyTorch's memory per tile (a
192-px window peaked 1.75 GB above the loaded model, PyTorch's 224-px window 0.6 GB), and its pool allocator kept
what each differently sized tile needed, so the process grew over a photo (3.1 GB for a 0.13 MP photo, 5.2 GB for a
0.7 MP one). With tiles sized for the same memory the speed gain shrinks to about 1.15×, not worth a second
runtime.

A runtime takes an H×W×3 float32 RGB tile in 0..1 and gives the 4H×4W×3 float32 result (not clipped).
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np
import torch

from app.errors import CheckpointError
from app.model.checkpoint import mismatch_reason
from app.upscaling.weights import REALESRGAN_X4PLUS, NcnnModel, converted_weights, find_source_files

log = logging.getLogger(__name__)

RUNTIMES = ("torch", "ncnn")  # the app's, and the reference (CPU only)
INPUT_BLOB, OUTPUT_BLOB = "data", "output"
# Tile sides (input pixels): on the CPU about 1 GB above the loaded model at the peak of a tile (PyTorch's
# 288-px window; ncnn's 144-px one); a GPU takes larger tiles (less overlap to compute twice).
NCNN_TILE, TORCH_CPU_TILE, TORCH_GPU_TILE = 112, 256, 512


class TileRuntime(Protocol):
    scale: int
    tile: int  # input pixels per tile side: what keeps a tile's memory to about a gigabyte
    description: str

    def run(self, tile: np.ndarray) -> np.ndarray:
        """An H×W×3 float32 tile in 0..1 → the (scale·H)×(scale·W)×3 float32 result."""


def build_rrdbnet(state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """spandrel's ESRGAN network for an RRDBNet state dict (official key names), loaded strictly, in eval mode."""
    import spandrel

    try:
        descriptor = spandrel.ModelLoader().load_from_state_dict(state)
    except Exception as exc:  # spandrel raises several types for a state dict it cannot place
        raise CheckpointError(f"The converted upscaler does not load as ESRGAN: {mismatch_reason(exc)}.") from exc
    if descriptor.architecture.id != "ESRGAN":
        raise CheckpointError(f"The converted upscaler loads as {descriptor.architecture.id}, not ESRGAN.")
    return descriptor.model.eval()


class TorchRuntime:
    """The converted network in PyTorch: float32 on the CPU, float16 on a CUDA GPU."""

    def __init__(self, network: torch.nn.Module, device: torch.device, scale: int = 4) -> None:
        self.device = device
        self.dtype = torch.float16 if device.type == "cuda" else torch.float32
        self.network = network.to(device=device, dtype=self.dtype).eval()
        self.scale = scale
        self.tile = TORCH_GPU_TILE if device.type == "cuda" else TORCH_CPU_TILE
        kind = "GPU, float16" if device.type == "cuda" else f"CPU, float32, {torch.get_num_threads()} threads"
        self.description = f"PyTorch ({kind})"

    def run(self, tile: np.ndarray) -> np.ndarray:
        batch = torch.from_numpy(np.ascontiguousarray(tile.transpose(2, 0, 1)))[None]
        with torch.no_grad():
            result = self.network(batch.to(self.device, self.dtype))
        return result[0].float().cpu().numpy().transpose(1, 2, 0)


class NcnnRuntime:
    """ncnn's own CPU runtime (no Vulkan) on the official .param/.bin files."""

    def __init__(self, param: str, weights: str, threads: int, scale: int = 4) -> None:
        import ncnn

        self._ncnn = ncnn
        self.net = ncnn.Net()
        self.net.opt.use_vulkan_compute = False
        self.net.opt.num_threads = threads
        if self.net.load_param(param) != 0 or self.net.load_model(weights) != 0:
            raise CheckpointError(f"ncnn could not load '{param}'.")
        self.scale = scale
        self.tile = NCNN_TILE
        self.description = f"ncnn (CPU, {threads} threads)"

    def run(self, tile: np.ndarray) -> np.ndarray:
        planar = np.ascontiguousarray(tile.transpose(2, 0, 1), dtype=np.float32)
        extractor = self.net.create_extractor()
        image = self._ncnn.Mat(planar)  # shares `planar`'s memory: both stay referenced until extracted
        extractor.input(INPUT_BLOB, image)
        status, result = extractor.extract(OUTPUT_BLOB)
        if status != 0:
            raise RuntimeError(f"ncnn failed on a {tile.shape[1]}×{tile.shape[0]} tile (status {status})")
        return np.array(result).transpose(1, 2, 0)


def ncnn_available() -> bool:
    try:
        import ncnn  # noqa: F401 - only whether it imports
    except ImportError:
        return False
    return True


def load_runtime(device: torch.device, runtime: str = "torch", model: NcnnModel = REALESRGAN_X4PLUS) -> TileRuntime:
    """The upscaler on `device`: PyTorch (the app's), or ncnn on the CPU (the reference)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown upscaler runtime {runtime!r}; use one of {', '.join(RUNTIMES)}")
    if runtime == "ncnn":
        if device.type != "cpu":
            raise ValueError("the ncnn runtime runs on the CPU only")
        source = find_source_files(model)
        return NcnnRuntime(str(source.param), str(source.bin), torch.get_num_threads())
    return TorchRuntime(build_rrdbnet(converted_weights(model)), device)
