"""Pick the compute device: GPU when present, else CPU."""

from __future__ import annotations

import re

import torch

from app.errors import DeviceError, printable

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N (a particular GPU)"


def resolve_device(preference: str = "auto") -> torch.device:
    """`auto`, `cpu`, `cuda`, `cuda:N` or `mps` → a device that can run the models here; anything else
    (a typo, `meta`, a GPU this machine lacks) raises DeviceError with the choices."""
    text = (preference or "auto").strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    cuda = re.fullmatch(r"cuda(?::(\d+))?", text)
    if cuda:
        if not torch.cuda.is_available():
            raise DeviceError("A CUDA GPU was requested but none is available; use --device cpu.")
        count = torch.cuda.device_count()
        if int(cuda.group(1) or 0) >= count:
            raise DeviceError(f"There is no GPU '{text}': this machine has {count} (cuda:0 to cuda:{count - 1}).")
        return torch.device(text)
    if text == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceError("An Apple GPU (mps) was requested but none is available; use --device cpu.")
        return torch.device("mps")
    raise DeviceError(f"Unknown device '{printable(str(preference))}': use {DEVICE_CHOICES}.")


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(device)})"
    return f"CPU ({torch.get_num_threads()} threads)"
