"""Public face models as plug-in restorers, offline: each architecture is built with random weights from
spandrel's own classes, saved as a state dict in the official file's layout ({'params_ema': ...}, official
file name), loaded through the normal detection path and run end to end on a real photo.

Random weights cost the same as the real ones (about 3-8 s per 512 px face on a 2-core CPU), so each
architecture is built and run as few times as possible (module-scoped fixtures, one face)."""

import numpy as np
import pytest
import torch

from app.errors import CheckpointError, StudioError
from app.photo_io import load_photo
from app.restorers import Slider, load_network, load_network_file
from app.restorers.reference_builds import official_layout_state
from conftest import TEST_DATA, shared

ONE_FACE_PHOTO = TEST_DATA / "codeformer-inputs" / "whole_imgs" / "04.jpg"  # 225×225, one face


# architecture → (official file name, slider)
ARCHITECTURES = {
    "GFPGAN": ("GFPGANv1.4.pth", Slider.STRENGTH),
    "RestoreFormer": ("RestoreFormer.pth", Slider.STRENGTH),
    "CodeFormer": ("codeformer.pth", Slider.FIDELITY),
}


@pytest.fixture(scope="module", params=list(ARCHITECTURES))
def official_file(request, tmp_path_factory):
    """(architecture, path of a random-weight file laid out like the official one, one saved tensor)."""
    architecture = request.param
    contents = official_layout_state(architecture)
    path = tmp_path_factory.mktemp(architecture) / ARCHITECTURES[architecture][0]
    torch.save(contents, path)
    state = contents["params_ema"]
    key = next(k for k in state if k.endswith("weight") and state[k].ndim == 4)
    yield architecture, path, (key, state[key])
    path.unlink()


@pytest.fixture(scope="module")
def plugin_restorer(official_file, restorer):
    from app.pipeline import FaceRestorer

    _, path, _ = official_file
    return FaceRestorer(load_network_file(path), None, restorer.detector, "cpu")


def test_official_layout_is_detected_and_loaded(official_file, plugin_restorer):
    architecture, path, (key, saved) = official_file
    descriptor = plugin_restorer.descriptor
    assert (descriptor.architecture, descriptor.face_size, descriptor.slider) == (
        architecture,
        512,
        ARCHITECTURES[architecture][1],
    )
    assert descriptor.input_range == (-1.0, 1.0) and not descriptor.has_quality_score
    assert plugin_restorer.has_strength == (descriptor.slider is Slider.STRENGTH)
    assert plugin_restorer.has_fidelity == (architecture == "CodeFormer")
    assert torch.equal(plugin_restorer.model.state_dict()[key], saved)  # the file's weights, not fresh ones
    assert plugin_restorer.model_info.name() == f"{architecture} weights {path.name}"


def _touched_box(prepared, shape):
    """Bounding box of every pixel paste-back may change (each aligned square mapped into the photo, +2 px)."""
    height, width = shape
    boxes = []
    for face in prepared.faces:
        size = face.aligned.image.shape[0]
        corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], float) @ face.aligned.inverse.T
        x0, y0 = np.floor(corners.min(0)).astype(int) - 2
        x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
        boxes.append((max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)))
    return boxes


def _assert_restored_photo(result, photo, prepared):
    assert result.photo.pixels.shape == photo.pixels.shape and result.photo.pixels.dtype == photo.pixels.dtype
    assert [face.shape for face in result.restored_faces] == [(512, 512, 3)]
    untouched = np.ones(photo.pixels.shape[:2], bool)
    for x0, y0, x1, y1 in _touched_box(prepared, photo.pixels.shape[:2]):
        untouched[y0:y1, x0:x1] = False
    assert untouched.mean() > 0.3  # the photo has background away from the face
    np.testing.assert_array_equal(result.photo.pixels[untouched], photo.pixels[untouched])
    assert not np.array_equal(result.photo.pixels, photo.pixels)


@pytest.mark.slow
def test_restores_a_real_photo_and_the_slider_changes_it(official_file, plugin_restorer, monkeypatch):
    architecture = official_file[0]
    photo = load_photo(shared(ONE_FACE_PHOTO))
    original = photo.pixels.copy()
    prepared = plugin_restorer.prepare(photo)
    assert prepared.face_count == 1 and prepared.faces[0].aligned.image.shape == (512, 512, 3)

    if plugin_restorer.has_strength:
        # the network ran once in prepare; strength changes only blend
        monkeypatch.setattr(plugin_restorer.model, "forward", lambda *a, **k: pytest.fail("network re-run"))
        full = plugin_restorer.restore_prepared(prepared, strength=1.0)
        part = plugin_restorer.restore_prepared(prepared, strength=0.3)
        none = plugin_restorer.restore_prepared(prepared, strength=0.0)
        assert (full.strength, part.strength, none.strength) == (1.0, 0.3, 0.0)
        aligned = prepared.faces[0].aligned.image.astype(float)
        np.testing.assert_array_equal(none.restored_faces[0], prepared.faces[0].aligned.image)
        expected = aligned + 0.3 * (full.restored_faces[0].astype(float) - aligned)
        assert np.abs(part.restored_faces[0] - expected).max() <= 1.0
        assert np.abs(full.restored_faces[0].astype(float) - aligned).mean() > 5  # it did restore something
        results = (full, part)
    else:
        assert plugin_restorer.default_fidelity == 0.5
        restored = plugin_restorer.restore_prepared(prepared, fidelity=0.0)
        faithful = plugin_restorer.restore_prepared(prepared, fidelity=1.0)
        assert (restored.fidelity, faithful.fidelity, restored.strength) == (0.0, 1.0, None)
        assert not np.array_equal(restored.restored_faces[0], faithful.restored_faces[0])
        results = (restored, faithful)
    for result in results:
        _assert_restored_photo(result, photo, prepared)
    assert not np.array_equal(results[0].photo.pixels, results[1].photo.pixels)
    np.testing.assert_array_equal(photo.pixels, original)  # the input is never changed
    assert architecture in ARCHITECTURES


@pytest.mark.slow
def test_cli_restores_and_batches_with_a_catalogue_name(official_file, isolated_model_dirs, tmp_path, capsys):
    """Once, with RestoreFormer: the file in the user models folder is found by its catalogue name."""
    from PIL import Image

    from app.batch import REPORT_NAME
    from app.cli import EXIT_OK, main

    architecture, path, _ = official_file
    if architecture != "RestoreFormer":
        pytest.skip("the CLI path is the same for every architecture; it runs once, with RestoreFormer")
    (isolated_model_dirs / path.name).symlink_to(path)
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "one.jpg").write_bytes(shared(ONE_FACE_PHOTO).read_bytes())

    assert (
        main(
            [
                "batch",
                str(folder),
                str(tmp_path / "out"),
                "--model",
                "restoreformer",
                "--strength",
                "0.6",
                "--device",
                "cpu",
                "--no-progress",
            ]
        )
        == EXIT_OK
    )
    captured = capsys.readouterr()
    assert "Restoring at strength 0.60" in captured.err and "1 restored" in captured.out
    report = (tmp_path / "out" / REPORT_NAME).read_text()
    assert '"strength": 0.6' in report and "RestoreFormer weights RestoreFormer.pth" in report
    assert Image.open(tmp_path / "out" / "one.jpg").size == Image.open(folder / "one.jpg").size

    assert (
        main(
            [
                "restore",
                str(folder / "one.jpg"),
                str(tmp_path / "one.png"),
                "--model",
                str(path),
                "--fidelity",
                "0.5",
                "--device",
                "cpu",
            ]
        )
        == EXIT_OK
    )
    captured = capsys.readouterr()
    assert "at strength 1.00" in captured.out and "--fidelity is ignored" in captured.err


def test_descriptor_of_the_iqpfr_restorer(restorer):
    descriptor = restorer.descriptor
    assert descriptor.architecture == "IQPFR" and descriptor.slider is Slider.QUALITY
    assert descriptor.face_size == restorer.model.cfg.image_size
    assert descriptor.quality_bins == restorer.model.cfg.quality_bins and descriptor.has_quality_score
    assert descriptor.has_fidelity == restorer.model.has_fidelity and not descriptor.has_strength
    assert not restorer.has_strength


def test_descriptor_converts_faces_both_ways_losslessly():
    from app.restorers import RestorerDescriptor

    faces = [np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)]
    for value_range in [(-1.0, 1.0), (0.0, 1.0)]:
        descriptor = RestorerDescriptor("x", 8, Slider.STRENGTH, value_range)
        tensor = descriptor.to_tensor(faces, "cpu")
        assert float(tensor.min()) >= value_range[0] and float(tensor.max()) <= value_range[1]
        np.testing.assert_array_equal(descriptor.to_images(tensor)[0], faces[0])


def _save(tmp_path, name, contents):
    path = tmp_path / name
    torch.save(contents, path)
    return path


def test_a_super_resolution_model_is_refused_as_a_face_restorer(tmp_path):
    from spandrel.architectures.ESRGAN import ESRGAN

    state = ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=2).state_dict()
    with pytest.raises(CheckpointError, match=r"ESRGAN.*not a face restorer"):
        load_network_file(_save(tmp_path, "RealESRGAN_x2plus.pth", {"params_ema": state}))


@pytest.mark.parametrize("contents", [{"params_ema": {"conv.weight": torch.zeros(3, 3, 1, 1)}}, {"x": 1}, {}])
def test_an_unknown_model_file_is_a_clear_error(tmp_path, contents):
    with pytest.raises(CheckpointError, match=r"not a model file IQPFR Studio recognises|holds no model weights"):
        load_network_file(_save(tmp_path, "mystery.pth", contents))


def test_truncated_or_foreign_files_are_clear_errors(tmp_path):
    good = _save(tmp_path, "good.pth", {"params_ema": {"w": torch.zeros(1000)}})
    truncated = tmp_path / "codeformer.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or not a model file"):
        load_network_file(truncated)
    text = tmp_path / "notes.pth"
    text.write_text("not weights")
    with pytest.raises(CheckpointError, match="truncated or not a model file"):
        load_network_file(text)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_network_file(tmp_path / "missing.pth")


def test_a_file_that_looks_like_an_architecture_but_does_not_fit_it(tmp_path):
    from app.restorers.plugin import load_plugin

    state = official_layout_state("RestoreFormer")["params_ema"]
    state["quant_conv.weight"] = state["quant_conv.weight"][:, :, :1, :1].repeat(1, 1, 3, 3)  # wrong shape
    with pytest.raises(CheckpointError, match="looks like RestoreFormer but does not match it"):
        load_plugin(tmp_path / "RestoreFormer.pth", "cpu", {"params_ema": state})


def test_a_catalogue_model_that_is_not_installed_says_how_to_get_it(isolated_model_dirs):
    from app.errors import WeightsMissingError

    with pytest.raises(WeightsMissingError, match=r"models download codeformer.*NTU S-Lab.*models add FILE") as error:
        load_network("codeformer")
    assert str(isolated_model_dirs) in str(error.value)
    with pytest.raises(StudioError, match="--weights names IQPFR weights"):
        load_network("codeformer", weights="x.pt")


def test_models_add_checks_the_file_and_refuses_a_non_face_model(tmp_path, isolated_model_dirs, capsys):
    from spandrel.architectures.ESRGAN import ESRGAN

    from app.cli import EXIT_ERROR, main

    upscaler = _save(tmp_path, "x2.pth", {"params_ema": ESRGAN(num_filters=8, num_blocks=1, scale=2).state_dict()})
    assert main(["models", "add", str(upscaler)]) == EXIT_ERROR
    assert "not a face restorer" in capsys.readouterr().err
    fake_official = _save(tmp_path, "codeformer.pth", {"x": torch.zeros(1)})
    assert main(["models", "add", str(fake_official)]) == EXIT_ERROR
    assert "name of the official codeformer.pth but not its content" in capsys.readouterr().err
    assert list(isolated_model_dirs.iterdir()) == []


@pytest.mark.slow
def test_models_add_installs_a_face_model_under_its_own_name(official_file, tmp_path, isolated_model_dirs, capsys):
    from app.cli import EXIT_OK, main

    architecture, path, _ = official_file
    if architecture != "GFPGAN":
        pytest.skip("adding runs the same loader for every architecture; once, with GFPGAN")
    mine = tmp_path / "my-gfpgan.pth"
    mine.symlink_to(path)
    assert main(["models", "add", str(mine)]) == EXIT_OK
    assert "as 'my-gfpgan.pth'" in capsys.readouterr().out
    added = isolated_model_dirs / "my-gfpgan.pth"
    assert added.is_file() and not added.is_symlink() and added.stat().st_size == path.stat().st_size
    from app.restorers.store import model_path

    assert model_path("my-gfpgan") == added  # `--model my-gfpgan` finds it
    assert main(["models", "list"]) == EXIT_OK and str(added) in capsys.readouterr().out
    assert main(["models", "remove", "my-gfpgan.pth"]) == EXIT_OK and not added.exists()


def test_score_with_a_model_shows_each_face_before_and_after(capsys):
    from app.cli import EXIT_OK, main

    assert main(["score", str(shared(ONE_FACE_PHOTO)), "--faces", "--model", "iqpfr", "--device", "cpu"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("restored with IQPFR") and "quality 0.90" in lines[1]
    assert len(lines) == 3 and lines[2].startswith("  face 1: before measured quality ")
    assert " · after measured quality " in lines[2]
