"""Reading an ncnn model: the `.param` text (the layer graph) and the `.bin` weights (no ncnn needed).

`.param`: the magic number 7767517, then `layer_count blob_count`, then one line per layer:
`Type name bottom_count top_count bottoms… tops… key=value…`. A key k ≥ 0 holds an int (or a float when the
value has a dot or an exponent); a key −23300−k holds an array, `n,v1,…,vn`.

`.bin`: the layers' weight blobs one after the other, in the order of the layers, with no names or
sizes. A Convolution's weights (`mb.load(weight_data_size, 0)`) start with a 4-byte tag saying how they are
stored: 0x01306B47 = fp16 (padded to a multiple of 4 bytes), 0x0002C056 or 0 = fp32; its bias
(`mb.load(num_output, 1)`) is plain fp32 without a tag. Only the layer types RRDBNet models use are read;
any other layer with weights is refused, as are int8 and quantised blobs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.errors import CheckpointError

PARAM_MAGIC = 7767517
FP16_TAG = 0x01306B47
FP32_TAG = 0x0002C056
_ARRAY_KEY_BASE = -23300
# Layer types whose parameters this reader knows to carry no weights in the .bin.
WEIGHTLESS_TYPES = {"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "ReLU", "Sigmoid", "PixelShuffle"}


@dataclass
class NcnnLayer:
    type: str
    name: str
    bottoms: list[str]
    tops: list[str]
    params: dict[int, int | float | list[int | float]] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # float32 "weight" (and "bias")

    def param(self, key: int, default: int | float = 0) -> int | float:
        value = self.params.get(key, default)
        if isinstance(value, list):
            raise CheckpointError(f"ncnn layer '{self.name}': parameter {key} is an array, not a number.")
        return value

    def array(self, key: int) -> list[int | float]:
        value = self.params.get(key, [])
        return value if isinstance(value, list) else [value]


def _number(text: str) -> int | float:
    return float(text) if any(char in text for char in ".eE") else int(text)


def parse_param(text: str, source: str = "model") -> list[NcnnLayer]:
    """The layers of an ncnn `.param` text, in file order."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    try:
        if int(lines[0][0]) != PARAM_MAGIC:
            raise ValueError(f"magic number {lines[0][0]} instead of {PARAM_MAGIC}")
        layer_count = int(lines[1][0])
        layers = []
        for fields in lines[2:]:
            kind, name, bottom_count, top_count = fields[0], fields[1], int(fields[2]), int(fields[3])
            blobs = fields[4 : 4 + bottom_count + top_count]
            if len(blobs) != bottom_count + top_count:
                raise ValueError(f"layer '{name}' names fewer blobs than it says")
            layer = NcnnLayer(kind, name, blobs[:bottom_count], blobs[bottom_count:])
            for item in fields[4 + bottom_count + top_count :]:
                key_text, value = item.split("=", 1)
                key = int(key_text)
                if key <= _ARRAY_KEY_BASE:
                    count, *values = value.split(",")
                    if int(count) != len(values):
                        raise ValueError(f"layer '{name}': array {key} holds {len(values)} values, not {count}")
                    layer.params[_ARRAY_KEY_BASE - key] = [_number(v) for v in values]
                else:
                    layer.params[key] = _number(value)
            layers.append(layer)
    except (IndexError, ValueError) as exc:
        raise CheckpointError(f"The ncnn model description '{source}' cannot be read: {exc}.") from exc
    if len(layers) != layer_count:
        raise CheckpointError(f"The ncnn model description '{source}' lists {len(layers)} layers, not {layer_count}.")
    return layers


class _BlobReader:
    def __init__(self, data: bytes, source: str) -> None:
        self.data, self.offset, self.source = data, 0, source

    def take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise CheckpointError(f"The ncnn weights '{self.source}' end too early (truncated, or another model's).")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def tagged(self, count: int, layer: str) -> np.ndarray:
        """`count` weights stored with a tag (ncnn's `load(w, 0)`), as float32."""
        (tag,) = struct.unpack("<I", self.take(4))
        if tag == FP16_TAG:
            stored = -(-count * 2 // 4) * 4  # padded to whole 4-byte words
            return np.frombuffer(self.take(stored), dtype="<f2", count=count).astype(np.float32)
        if tag in (FP32_TAG, 0):
            return self.plain(count)
        raise CheckpointError(
            f"The ncnn weights '{self.source}' store layer '{layer}' as int8 or quantised data "
            f"(tag {tag:#010x}); only fp16 and fp32 models can be converted."
        )

    def plain(self, count: int) -> np.ndarray:
        """`count` float32 weights without a tag (ncnn's `load(w, 1)`)."""
        return np.frombuffer(self.take(count * 4), dtype="<f4").astype(np.float32)


def read_weights(layers: list[NcnnLayer], data: bytes, source: str = "model") -> None:
    """Fill each layer's `weights` from the `.bin` contents `data`; every byte must be used."""
    reader = _BlobReader(data, source)
    for layer in layers:
        if layer.type == "Convolution":
            if layer.param(8):
                raise CheckpointError(f"ncnn layer '{layer.name}' is int8-quantised; it cannot be converted.")
            layer.weights["weight"] = reader.tagged(int(layer.param(6)), layer.name)
            if layer.param(5):
                layer.weights["bias"] = reader.plain(int(layer.param(0)))
        elif layer.type not in WEIGHTLESS_TYPES:
            raise CheckpointError(f"ncnn layer type '{layer.type}' ('{layer.name}') is not supported here.")
    if reader.offset != len(data):
        raise CheckpointError(
            f"The ncnn weights '{source}' hold {len(data) - reader.offset} bytes more than its description "
            "uses (another model's weights?)."
        )


def load_ncnn_model(param_path: Path, bin_path: Path) -> list[NcnnLayer]:
    """The layers of an ncnn model with their weights (float32)."""
    layers = parse_param(param_path.read_text(encoding="ascii"), param_path.name)
    read_weights(layers, bin_path.read_bytes(), bin_path.name)
    return layers
