"""Writing small ncnn models for tests: an RRDBNet (ESRGAN) graph laid out as onnx2ncnn writes the official
Real-ESRGAN files (Split before every blob used twice, dense blocks as Concat + Convolution, residuals as Eltwise
sums with coefficients 0.2 and 1, the trunk's skip as BinaryOp add, nearest Interp ×2), with its weights
stored as ncnn does: per convolution a tagged fp16 (or fp32) weight blob, then the bias as plain fp32."""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import numpy as np
import torch

FP16_TAG, FP32_TAG = 0x01306B47, 0x0002C056


def random_rrdbnet_state(blocks: int = 1, features: int = 8, growth: int = 32, seed: int = 0) -> dict:
    """An RRDBNet ×4 state dict with the official key names (growth 32 is what spandrel builds), small weights."""
    from app.upscaling.convert import rrdbnet_keys

    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, _ in rrdbnet_keys(blocks, 2):
        if key == "conv_first":
            shape = (features, 3)
        elif key == "conv_last":
            shape = (3, features)
        elif ".rdb" in key:
            conv = int(key[-1])
            shape = (growth if conv < 5 else features, features + (conv - 1) * growth)
        else:
            shape = (features, features)
        fan_in = shape[1] * 9
        state[f"{key}.weight"] = torch.randn(*shape, 3, 3, generator=generator) * (1.0 / fan_in) ** 0.5
        state[f"{key}.bias"] = torch.randn(shape[0], generator=generator) * 0.05
    return state


class _Graph:
    def __init__(self) -> None:
        self.layers: list[list] = []  # [type, name, bottoms, tops, params, weight (out,in,k,k) or None, bias]

    def add(self, kind, name, bottoms, tops, params="", weight=None, bias=None) -> str:
        self.layers.append([kind, name, list(bottoms), list(tops), params, weight, bias])
        return tops[0]

    def conv(self, name: str, bottom: str, state: dict, key: str, leaky: bool) -> str:
        weight, bias = state[f"{key}.weight"].numpy(), state[f"{key}.bias"].numpy()
        params = f"0={weight.shape[0]} 1=3 4=1 5=1 6={weight.size}"
        if leaky:
            params += " 9=2 -23310=1,2.000000e-01"
        return self.add("Convolution", name, [bottom], [name], params, weight, bias)

    def with_splits(self) -> list[list]:
        """Layers with a Split after every blob that more than one layer reads (as ncnn needs)."""
        uses = Counter(bottom for layer in self.layers for bottom in layer[2])
        taken: Counter = Counter()
        result = []
        for layer in self.layers:
            layer = [*layer[:2], list(layer[2]), *layer[3:]]
            for index, bottom in enumerate(layer[2]):
                if uses[bottom] > 1:
                    layer[2][index] = f"{bottom}_splitncnn_{taken[bottom]}"
                    taken[bottom] += 1
            result.append(layer)
            for top in layer[3]:
                if uses[top] > 1:
                    copies = [f"{top}_splitncnn_{number}" for number in range(uses[top])]
                    result.append(["Split", f"split_{top}", [top], copies, "", None, None])
        return result


def rrdbnet_graph(state: dict, blocks: int) -> _Graph:
    graph = _Graph()
    x = graph.add("Input", "input", [], ["data"])
    first = graph.conv("conv_first", x, state, "conv_first", False)
    trunk = first
    for block in range(blocks):
        block_input = trunk
        for dense in range(1, 4):
            key = f"body.{block}.rdb{dense}"
            features = [trunk]
            for conv in range(1, 6):
                joined = features[0]
                if len(features) > 1:
                    joined = graph.add("Concat", f"{key}.cat{conv}", features, [f"{key}.cat{conv}"])
                out = graph.conv(f"{key}.conv{conv}", joined, state, f"{key}.conv{conv}", conv < 5)
                features.append(out)
            trunk = graph.add(
                "Eltwise", f"{key}.sum", [out, trunk], [f"{key}.sum"], "0=1 -23301=2,2.000000e-01,1.000000e+00"
            )
        trunk = graph.add(
            "Eltwise", f"body.{block}.sum", [trunk, block_input], [f"body.{block}.sum"],
            "0=1 -23301=2,2.000000e-01,1.000000e+00",
        )  # fmt: skip
    body = graph.conv("conv_body", trunk, state, "conv_body", False)
    feat = graph.add("BinaryOp", "add", [first, body], ["feat"], "0=0")
    for number in (1, 2):
        feat = graph.add("Interp", f"up{number}", [feat], [f"up{number}"], "0=1 1=2.000000e+00 2=2.000000e+00")
        feat = graph.conv(f"conv_up{number}", feat, state, f"conv_up{number}", True)
    feat = graph.conv("conv_hr", feat, state, "conv_hr", True)
    last = graph.conv("conv_last", feat, state, "conv_last", False)
    graph.layers[-1][3] = ["output"]
    assert last == "conv_last"
    return graph


def write_ncnn_rrdbnet(folder: Path, name: str, state: dict, blocks: int, storage: str = "fp16") -> tuple[Path, Path]:
    """`state` (official RRDBNet keys) as `name`.param and `name`.bin in `folder`; `storage` fp16 or fp32."""
    layers = rrdbnet_graph(state, blocks).with_splits()
    blobs = {top for layer in layers for top in layer[3]}
    lines = ["7767517", f"{len(layers)} {len(blobs)}"]
    weights = bytearray()
    for kind, layer_name, bottoms, tops, params, weight, bias in layers:
        lines.append(f"{kind:<24} {layer_name:<24} {len(bottoms)} {len(tops)} {' '.join([*bottoms, *tops])} {params}")
        if weight is None:
            continue
        flat = np.ascontiguousarray(weight, dtype=np.float32).ravel()
        if storage == "fp16":
            data = flat.astype("<f2").tobytes()
            weights += struct.pack("<I", FP16_TAG) + data + b"\0" * (-len(data) % 4)
        else:
            weights += struct.pack("<I", FP32_TAG) + flat.astype("<f4").tobytes()
        weights += np.asarray(bias, dtype="<f4").tobytes()
    folder.mkdir(parents=True, exist_ok=True)
    param, binary = folder / f"{name}.param", folder / f"{name}.bin"
    param.write_text("\n".join(lines) + "\n", encoding="ascii")
    binary.write_bytes(bytes(weights))
    return param, binary
