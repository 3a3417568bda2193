"""An ncnn Real-ESRGAN (RRDBNet) model → a PyTorch state dict with the official key names, which spandrel's
ESRGAN architecture loads.

The convolutions are matched to RRDBNet's by their order in the graph (conv_first; per block three dense
blocks of five convolutions; conv_body; one conv_up per ×2 nearest upsampling; conv_hr; conv_last), and each
one's shape and activation are checked against that order. Because order alone could hide a mistake,
`check_against_graph` also runs the ncnn graph itself, layer by layer in PyTorch (`run_graph`), and compares
it with the converted network on a small probe input.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from app.errors import CheckpointError
from app.upscaling.ncnn_format import NcnnLayer

DENSE_CONVS = 5  # convolutions per residual dense block
DENSE_BLOCKS = 3  # residual dense blocks per RRDB
LEAKY_RELU = 2  # ncnn's activation_type for leaky ReLU (slope in parameter 10)
RRDB_SLOPE = 0.2
PROBE_SIZE = 12  # side of the random input both networks run on to check the conversion
PROBE_TOLERANCE = 1e-4  # largest difference allowed between the ncnn graph and the converted network


def _conv_tensors(layer: NcnnLayer) -> tuple[torch.Tensor, torch.Tensor | None, int, int]:
    """The layer's weight as (out, in, k, k), its bias, and its input and output channels."""
    out_channels, kernel = int(layer.param(0)), int(layer.param(1))
    weight = layer.weights["weight"]
    in_channels, rest = divmod(weight.size, out_channels * kernel * kernel)
    if rest or int(layer.param(11, kernel)) != kernel:
        raise CheckpointError(f"ncnn convolution '{layer.name}' has a shape this converter does not know.")
    tensor = torch.from_numpy(weight.reshape(out_channels, in_channels, kernel, kernel).copy())
    bias = layer.weights.get("bias")
    return tensor, (torch.from_numpy(bias.copy()) if bias is not None else None), in_channels, out_channels


def _activation(layer: NcnnLayer) -> float | None:
    """The leaky-ReLU slope of a convolution, None without activation; other activations are refused."""
    kind = int(layer.param(9))
    if kind == 0:
        return None
    if kind == LEAKY_RELU:
        return float(layer.array(10)[0])
    raise CheckpointError(f"ncnn convolution '{layer.name}' uses activation {kind}; RRDBNet uses leaky ReLU only.")


def rrdbnet_keys(block_count: int, upsamplings: int) -> list[tuple[str, bool]]:
    """RRDBNet's convolutions in graph order: (official key prefix, followed by leaky ReLU)."""
    keys = [("conv_first", False)]
    for block in range(block_count):
        for dense in range(1, DENSE_BLOCKS + 1):
            for conv in range(1, DENSE_CONVS + 1):
                keys.append((f"body.{block}.rdb{dense}.conv{conv}", conv < DENSE_CONVS))
    keys.append(("conv_body", False))
    keys += [(f"conv_up{number}", True) for number in range(1, upsamplings + 1)]
    keys += [("conv_hr", True), ("conv_last", False)]
    return keys


def rrdbnet_state_dict(layers: list[NcnnLayer]) -> dict[str, torch.Tensor]:
    """The official RRDBNet state dict (conv_first.weight, body.0.rdb1.conv1.weight, …) of an ncnn RRDBNet."""
    convs = [layer for layer in layers if layer.type == "Convolution"]
    upsamplings = sum(layer.type == "Interp" for layer in layers)
    block_count, rest = divmod(len(convs) - 4 - upsamplings, DENSE_BLOCKS * DENSE_CONVS)
    if rest or block_count < 1 or upsamplings < 1:
        raise CheckpointError(
            f"This ncnn model ({len(convs)} convolutions, {upsamplings} upsamplings) is not an RRDBNet (ESRGAN)."
        )
    state: dict[str, torch.Tensor] = {}
    for layer, (key, activated) in zip(convs, rrdbnet_keys(block_count, upsamplings), strict=True):
        weight, bias, _, _ = _conv_tensors(layer)
        slope = _activation(layer)
        if (slope is not None) != activated or (slope is not None and not math.isclose(slope, RRDB_SLOPE)):
            raise CheckpointError(f"ncnn convolution '{layer.name}' ({key}) has another activation than RRDBNet's.")
        if bias is None:
            raise CheckpointError(f"ncnn convolution '{layer.name}' ({key}) has no bias; RRDBNet's have one.")
        state[f"{key}.weight"], state[f"{key}.bias"] = weight, bias
    return state


def run_graph(layers: list[NcnnLayer], image: torch.Tensor, output: str = "output") -> torch.Tensor:
    """Run the ncnn graph as written, layer by layer (float32, NCHW with N = 1), on `image` (the `data` blob)."""
    blobs: dict[str, torch.Tensor] = {}
    for layer in layers:
        inputs = [blobs[name] for name in layer.bottoms]
        if layer.type == "Input":
            results = [image]
        elif layer.type == "Convolution":
            weight, bias, _, _ = _conv_tensors(layer)
            if int(layer.param(3, 1)) != 1 or int(layer.param(2, 1)) != 1 or int(layer.param(4)) < 0:
                raise CheckpointError(f"ncnn convolution '{layer.name}': stride, dilation or padding not supported.")
            result = F.conv2d(inputs[0], weight, bias, padding=int(layer.param(4)))
            slope = _activation(layer)
            results = [result if slope is None else F.leaky_relu(result, slope)]
        elif layer.type == "Split":
            results = inputs * len(layer.tops)
        elif layer.type == "Concat":
            results = [torch.cat(inputs, dim=int(layer.param(0)) + 1)]
        elif layer.type == "Eltwise" and int(layer.param(0)) == 1:  # sum, with coefficients
            coefficients = layer.array(1) or [1.0] * len(inputs)
            total = torch.zeros_like(inputs[0])
            for coefficient, blob in zip(coefficients, inputs, strict=True):
                total = total + float(coefficient) * blob
            results = [total]
        elif layer.type == "BinaryOp" and int(layer.param(0)) == 0 and not layer.param(1):  # add two blobs
            results = [inputs[0] + inputs[1]]
        elif layer.type == "Interp" and int(layer.param(0)) == 1:  # nearest
            scale = (float(layer.param(1, 1.0)), float(layer.param(2, 1.0)))
            results = [F.interpolate(inputs[0], scale_factor=scale, mode="nearest")]
        else:
            raise CheckpointError(f"ncnn layer '{layer.name}' ({layer.type}) is not supported here.")
        blobs.update(zip(layer.tops, results, strict=True))
    if output not in blobs:
        raise CheckpointError(f"The ncnn model has no '{output}' blob.")
    return blobs[output]


def check_against_graph(layers: list[NcnnLayer], network: torch.nn.Module, seed: int = 0) -> float:
    """The largest difference between the ncnn graph and the converted `network` on a random probe image;
    CheckpointError when it exceeds PROBE_TOLERANCE."""
    generator = np.random.default_rng(seed)
    probe = torch.from_numpy(generator.random((1, 3, PROBE_SIZE, PROBE_SIZE), dtype=np.float32))
    with torch.no_grad():
        expected = run_graph(layers, probe)
        converted = network.float().eval()(probe)
    if expected.shape != converted.shape:
        raise CheckpointError(f"The converted network gives {tuple(converted.shape)}, the ncnn graph {expected.shape}.")
    difference = float((expected - converted).abs().max())
    if not difference <= PROBE_TOLERANCE:
        raise CheckpointError(
            f"The converted network differs from the ncnn graph by {difference:.2g} (allowed {PROBE_TOLERANCE:g})."
        )
    return difference
