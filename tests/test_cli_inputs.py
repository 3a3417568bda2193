"""The CLI on hostile inputs and odd options: clear messages, never a traceback (issue 8, items 1, 7, 14)."""

import contextlib
import io
import os
import sys

import numpy as np
import pytest
from PIL import Image

from app.cli import EXIT_ERROR, EXIT_OK, main


def _png(path, height, width):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
    return path


@contextlib.contextmanager
def strict_stdout():
    """stdout as on a UTF-8 terminal: printing an undecodable file name raises, as it does there.
    (Set inside the test: pytest re-installs its own capture after fixtures run.)"""
    buffer = io.BytesIO()
    stream = io.TextIOWrapper(buffer, encoding="utf-8", errors="strict", write_through=True)
    saved, sys.stdout = sys.stdout, stream
    try:
        yield buffer
    finally:
        sys.stdout = saved
        stream.detach()  # leave the buffer open for the test's own reads


@pytest.mark.parametrize("device", ["bogus", "meta", "cuda:x"])
def test_device_that_cannot_run_models_is_a_clear_error(tmp_path, capsys, device):
    photo = _png(tmp_path / "in.png", 64, 64)
    assert main(["restore", str(photo), str(tmp_path / "out.png"), "--device", device]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"Unknown device '{device}'" in err and "cpu" in err
    assert not (tmp_path / "out.png").exists()


def test_restore_of_a_photo_too_small_for_a_face_says_so(tmp_path, capsys):
    photo = _png(tmp_path / "tiny.png", 11, 11)
    assert main(["restore", str(photo), str(tmp_path / "out.png"), "--device", "cpu"]) == EXIT_ERROR
    assert "11×11 pixels: too small to hold a face" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("height, width", [(1, 1), (3, 100_000)])
def test_score_of_a_tiny_or_thin_image_says_so(tmp_path, capsys, height, width):
    image = _png(tmp_path / "tiny.png", height, width)
    assert main(["score", str(image)]) == EXIT_ERROR
    assert f"{width}×{height} pixels: too small or too thin to score" in capsys.readouterr().err


def test_score_faces_of_a_small_image_says_it_cannot_hold_one(tmp_path, capsys):
    assert main(["score", str(_png(tmp_path / "small.png", 16, 16)), "--faces"]) == EXIT_OK
    assert "no faces: The photo is 16×16 pixels: too small to hold a face" in capsys.readouterr().out


def test_odd_file_names_are_printed_safely(tmp_path):
    image = _png(tmp_path / os.fsdecode(b"caf\xe9\x1b[2J.png"), 40, 40)  # not UTF-8, and a terminal escape
    with strict_stdout() as stdout:
        assert main(["score", str(image)]) == EXIT_OK
    out = stdout.getvalue().decode("utf-8")
    assert "caf\\xe9\\x1b[2J.png: measured quality " in out and "\x1b" not in out


def test_restore_prints_warnings_and_writes_to_a_non_utf8_name(tmp_path, blake_photo_path, capsys):
    frame = Image.open(blake_photo_path).convert("RGB")
    animated = tmp_path / "animated.png"
    frame.save(animated, save_all=True, append_images=[frame.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
    out = tmp_path / os.fsdecode(b"r\xe9sultat.png")
    with strict_stdout() as stdout:
        assert main(["restore", str(animated), str(out), "--device", "cpu"]) == EXIT_OK
    assert out.exists()
    assert "r\\xe9sultat.png" in stdout.getvalue().decode("utf-8")
    assert "warning: First frame only: 'animated.png' has 2 frames" in capsys.readouterr().err


def test_progress_bar_shows_file_names_safely(capsys):
    from pathlib import Path

    from app.cli import _ProgressBar

    bar = _ProgressBar("photo")
    bar(0, 2, Path("a\x1b[2Jb.png"))
    bar.close()
    err = capsys.readouterr().err
    assert "a\\x1b[2Jb.png" in err and "\x1b[2J" not in err


def test_relative_training_paths_on_the_command_line_are_the_current_folders(tmp_path, monkeypatch):
    """`--init-weights w.pt` means ./w.pt, not the project folder's w.pt (paths inside a config stay the
    project's); `--run-dir` likewise."""
    from app.paths import install_root

    started = []
    monkeypatch.setattr("app.training.stages.run_stage", lambda cfg, *args: started.append(cfg) or tmp_path / "w.pt")
    monkeypatch.chdir(tmp_path)
    config = install_root() / "configs" / "train_quality.toml"
    assert main(["train", "quality", "--config", str(config), "--init-weights", "w.pt", "--run-dir", "run"]) == EXIT_OK
    [cfg] = started
    assert cfg.resolve(cfg.init_weights) == tmp_path / "w.pt"
    assert (
        cfg.resolve(cfg.run_dir) == tmp_path / "run"
        and cfg.resolve(cfg.output_weights) == tmp_path / "run" / "weights.pt"
    )
    assert cfg.resolve("runs/cache") == install_root() / "runs" / "cache"  # a config's own paths: the project's
