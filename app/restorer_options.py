"""The command-line options that choose the face restorer, shared by `iqpfr` (restore, batch) and `iqpfr-studio`."""

from __future__ import annotations

import argparse

from app.faces.detector_names import DETECTOR_NAMES

MODEL_HELP = (
    "face restorer: iqpfr (default), an installed public model (gfpgan-1.4, gfpgan-1.3, restoreformer, "
    "codeformer; see `iqpfr models list`) or a model file (GFPGAN, RestoreFormer, CodeFormer)"
)


def restorer_options(model_help: str = MODEL_HELP) -> argparse.ArgumentParser:
    """An argparse parent with --model, --weights, --detector and --device."""
    parent = argparse.ArgumentParser(add_help=False)
    options = parent.add_argument_group("face restorer")
    options.add_argument("--model", metavar="NAME|FILE", help=model_help)
    options.add_argument("--weights", help="IQPFR weights file (default: the installed default model)")
    options.add_argument("--detector", choices=DETECTOR_NAMES, default="mtcnn", help="face detector")
    options.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    return parent
