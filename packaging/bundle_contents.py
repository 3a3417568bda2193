"""What the one-folder bundle leaves out (read by packaging/iqpfr_studio.spec; tests/test_bundle_contents.py).

The bundle is for the CPU. PyTorch's PyPI wheel (requirements/torch.txt) is a CUDA build: `import torch` loads
libtorch_cuda.so and every CUDA library it is linked against (cuBLAS, cuFFT, cuSPARSE, NCCL …), GPU or not, so
those stay. What only a GPU run loads later, and what the app never imports, is left out. packaging/README.md
has the size of each part.
"""

from __future__ import annotations

import os
from fnmatch import fnmatch
from pathlib import Path

# Python packages the installed app never imports at run time; PyInstaller would otherwise follow imports that
# other code paths of their importers make. The self-test (app/gui/self_test.py) passes with them blocked.
EXCLUDED_PACKAGES = [
    "triton",  # PyTorch's compiler back end (torch.compile); torch looks for it and does without
    "networkx",  # torch.compile's graph partitioner
    "transformers",  # pyiqa's CLIP/LLM-based metrics; the window scores with PIQE, which needs none of these
    "tokenizers",
    "timm",
    "pandas",  # pyiqa's datasets
    "skimage",  # app/metrics.py (training evaluation) and some pyiqa metrics; not the window
    "hf_xet",  # huggingface_hub's fast download back end; the bundle downloads nothing through it
    "pytest",  # tests only
    "_pytest",
    "tkinter",
    "matplotlib",
    "IPython",
    "PyQt5",  # the app uses PySide6
    "PyQt6",
]

# Shared libraries (paths inside the bundle) that are loaded only when something runs on a GPU: left out, so
# the bundle hides GPUs from PyTorch (packaging/launch_studio.py) and runs on the CPU.
GPU_ONLY_LIBRARIES = [
    "nvidia/cudnn/lib/libcudnn_*.so*",  # cuDNN's kernels, loaded by libcudnn.so.9 (kept: it is linked) on a GPU
    "nvidia/*/lib/libcusolver*.so*",  # GPU linear algebra, loaded with the next one on first use
    "torch/lib/libtorch_cuda_linalg.so",
    "torch/lib/libcaffe2_nvrtc.so",  # run-time compilation of GPU kernels
]

# Libraries that ship with their symbol tables (about 230 MiB in all): the spec strips a copy of each. Not all
# libraries (PyInstaller's strip=True): that makes the ones auditwheel patched (numpy's OpenBLAS …) unloadable.
# All of these load when the app starts, so the self-test would catch one that no longer does.
STRIPPED_LIBRARIES = [
    "torch/lib/libtorch_cpu.so",
    "torch/lib/libtorch_cuda.so",
    "torch/lib/libtorch_python.so",
    "nvidia/nccl/lib/libnccl.so.*",
    "libpython3*.so*",
]


def is_gpu_only_library(dest_name: str) -> bool:
    """True for a binary (its path inside the bundle, as in PyInstaller's TOC) that the CPU bundle leaves out."""
    return _matches(dest_name, GPU_ONLY_LIBRARIES)


def is_stripped_library(dest_name: str) -> bool:
    """True for a binary that the spec strips of its symbol table."""
    return _matches(dest_name, STRIPPED_LIBRARIES)


def _matches(dest_name: str, patterns: list[str]) -> bool:
    return any(fnmatch(dest_name.replace("\\", "/"), pattern) for pattern in patterns)


def left_in(bundle: Path) -> list[str]:
    """What a built bundle holds that it should leave out: excluded packages' folders, GPU-only libraries and
    symbolic links to them."""
    internal = bundle / "_internal"
    found = [name for name in EXCLUDED_PACKAGES if (internal / name).exists()]
    for path in internal.rglob("*.so*"):
        target = Path(os.path.normpath(path.parent / os.readlink(path))) if path.is_symlink() else path
        if is_gpu_only_library(path.relative_to(internal).as_posix()) or (
            target.is_relative_to(internal) and is_gpu_only_library(target.relative_to(internal).as_posix())
        ):
            found.append(path.relative_to(internal).as_posix())
    return sorted(found)
