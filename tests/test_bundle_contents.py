"""The CPU bundle's contents (packaging/bundle_contents.py) and its self-test (app/gui/self_test.py), from source.

No bundle is built here: packaging/build.sh builds one (minutes) and runs the same self-test in it.
"""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from app.gui.self_test import check_saved, default_photo
from conftest import REPO

_spec = importlib.util.spec_from_file_location("bundle_contents", REPO / "packaging" / "bundle_contents.py")
assert _spec is not None and _spec.loader is not None
bundle_contents = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bundle_contents)

# `iqpfr-studio --self-test ARGS` with the packages the bundle leaves out hidden from every import, as in the bundle
SELF_TEST_WITHOUT_LEFT_OUT_PACKAGES = """
import importlib.machinery
import sys

sys.path.insert(0, sys.argv[1])
from bundle_contents import EXCLUDED_PACKAGES


class WithoutLeftOut(importlib.machinery.PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        return None if name.partition(".")[0] in EXCLUDED_PACKAGES else super().find_spec(name, path, target)


sys.meta_path[sys.meta_path.index(importlib.machinery.PathFinder)] = WithoutLeftOut
from app.gui.self_test import main

sys.exit(main(sys.argv[2:]))
"""


def _self_test(*args):
    command = [
        sys.executable,
        "-c",
        SELF_TEST_WITHOUT_LEFT_OUT_PACKAGES,
        str(REPO / "packaging"),
        "--self-test",
        *map(str, args),
    ]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_the_window_restores_and_saves_a_photo_without_the_packages_the_bundle_leaves_out(tmp_path):
    output = tmp_path / "astronaut_restored.png"
    run = _self_test("--photo", default_photo(), "--output", output)
    assert run.returncode == 0, f"the self-test failed:\n{run.stdout}\n{run.stderr}"
    assert "Self-test passed" in run.stdout and "restored 1 face(s)" in run.stdout
    assert Image.open(output).size == (512, 512)


@pytest.mark.slow
def test_the_self_test_fails_with_a_message_on_a_photo_without_faces(tmp_path):
    photo = tmp_path / "sky.png"
    Image.fromarray(np.linspace(60, 200, 256 * 256 * 3).reshape(256, 256, 3).astype(np.uint8)).save(photo)
    run = _self_test("--photo", photo, "--timeout", 300)
    assert run.returncode == 1
    assert "Self-test failed: the window reported: No faces found in sky.png" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_astronaut_is_found_in_a_source_install():
    assert default_photo() is not None and default_photo().name == "astronaut.png"


def test_a_saved_photo_passes_only_with_the_input_size_and_changed_pixels(tmp_path):
    pixels = np.full((40, 60, 3), 100, np.uint8)
    original, same, changed, smaller = (tmp_path / f"{name}.png" for name in ("original", "same", "changed", "small"))
    Image.fromarray(pixels).save(original)
    Image.fromarray(pixels).save(same)
    Image.fromarray(pixels + 1).save(changed)
    Image.fromarray(pixels[:20]).save(smaller)
    assert check_saved(original, changed) == ""
    assert check_saved(original, same) == "the saved photo is the input unchanged"
    assert check_saved(original, smaller) == "the saved photo is 60×20, the input 60×40"
    assert check_saved(original, tmp_path / "missing.png").startswith("the saved photo does not read back")


def test_a_built_bundle_is_checked_for_what_it_should_leave_out(tmp_path):
    internal = tmp_path / "IQPFR Studio" / "_internal"
    for name in (
        "nvidia/cudnn/lib/libcudnn.so.9",
        "nvidia/cudnn/lib/libcudnn_cnn.so.9",
        "nvidia/cu13/lib/libcublas.so.13",
        "nvidia/cu13/lib/libcusolver.so.12",
        "torch/lib/libtorch_cpu.so",
        "torch/lib/libtorch_cuda_linalg.so",
        "triton/__init__.py",
    ):
        (internal / name).parent.mkdir(parents=True, exist_ok=True)
        (internal / name).write_bytes(b"")
    (internal / "libcusolver.so.12").symlink_to("nvidia/cu13/lib/libcusolver.so.12")
    (internal / "libcublas.so.13").symlink_to("nvidia/cu13/lib/libcublas.so.13")
    assert bundle_contents.left_in(tmp_path / "IQPFR Studio") == [
        "libcusolver.so.12",
        "nvidia/cu13/lib/libcusolver.so.12",
        "nvidia/cudnn/lib/libcudnn_cnn.so.9",
        "torch/lib/libtorch_cuda_linalg.so",
        "triton",
    ]


def test_the_libraries_that_torch_links_stay_in_the_bundle():
    """`import torch` needs these even without a GPU (libtorch_cuda.so is linked against them)."""
    for kept in (
        "nvidia/cudnn/lib/libcudnn.so.9",
        "nvidia/cu13/lib/libcublasLt.so.13",
        "torch/lib/libtorch_cuda.so",
        "nvidia/nccl/lib/libnccl.so.2",
        "libcusparseLt.so.0",
    ):
        assert not bundle_contents.is_gpu_only_library(kept), kept
