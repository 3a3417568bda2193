"""A weights file to a loaded face restorer: IQPFR Studio's own format, or a public checkpoint through spandrel.

torch and the networks are imported when a file is loaded, not when this module is: the model store imports it,
and `iqpfr models list` must answer without torch (tests/test_cli_startup.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from app.restorers.network import FaceNetwork


def load_network_file(path: str | os.PathLike, device: str | torch.device = "cpu") -> FaceNetwork:
    """IQPFR Studio weights, or a public checkpoint that spandrel recognises as a face restorer."""
    from app.model import load_checkpoint
    from app.model.checkpoint import FORMAT_NAME, read_weights
    from app.restorers.iqpfr_network import IQPFRNetwork
    from app.restorers.plugin import load_plugin

    contents = read_weights(path)
    if contents.get("format") == FORMAT_NAME:
        return IQPFRNetwork(*load_checkpoint(path, device, contents))
    return load_plugin(Path(path), device, contents)
