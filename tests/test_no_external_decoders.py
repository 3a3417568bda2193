"""A "photo" never reaches a decoder that runs another program, and every entry point reads the same formats.

A PostScript file named .jpg or .png would make Pillow, opened without a format list, start Ghostscript
(`gs`), whose PostScript can write files. A fake `gs` on PATH writes a marker when it runs: it must never run
from `iqpfr restore`, `iqpfr score`, `iqpfr batch` or the window.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from app.batch import REPORT_NAME
from app.cli import EXIT_ERROR, main
from app.errors import ImageLoadError
from app.gui.main_window import MainWindow
from app.gui.worker import SharedRestorer
from app.photo_io import load_photo

WAIT_MS = 90_000
POSTSCRIPT = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nnewpath 0 0 moveto 64 64 lineto stroke\nshowpage\n"


@pytest.fixture
def fake_ghostscript(tmp_path, monkeypatch):
    """A `gs` first on PATH that leaves a marker file whenever it is run; returns the marker's path."""
    folder = tmp_path / "bin"
    folder.mkdir()
    marker = tmp_path / "ghostscript-ran"
    gs = folder / "gs"
    gs.write_text(f'#!/bin/sh\necho "$@" >> "{marker}"\nexit 0\n')
    gs.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)  # Pillow looks for gs again, and finds the fake
    return marker


def _postscript_photos(folder):
    folder.mkdir(exist_ok=True)
    paths = [folder / "holiday.jpg", folder / "portrait.png", folder / "scan.tif"]
    for path in paths:
        path.write_bytes(POSTSCRIPT)
    return paths


def test_the_fake_ghostscript_is_what_pillow_would_run(fake_ghostscript, tmp_path):
    """The check below is real: opened without a format list, the file does start `gs`."""
    [photo, *_] = _postscript_photos(tmp_path / "in")
    with pytest.raises(OSError), Image.open(photo) as image:
        image.load()
    assert fake_ghostscript.exists()


def test_load_photo_refuses_postscript_under_a_photo_name(fake_ghostscript, tmp_path):
    for path in _postscript_photos(tmp_path / "in"):
        with pytest.raises(ImageLoadError, match="not an image this app can read"):
            load_photo(path)
    assert not fake_ghostscript.exists()


def test_restore_and_score_never_run_ghostscript(fake_ghostscript, tmp_path, restorer, monkeypatch, capsys):
    monkeypatch.setattr("app.cli._make_restorer", lambda args: restorer)
    for path in _postscript_photos(tmp_path / "in"):
        assert main(["restore", str(path), str(tmp_path / f"out-{path.name}")]) == EXIT_ERROR
        assert main(["score", str(path)]) == EXIT_ERROR
        assert f"'{path.name}' is not an image this app can read" in capsys.readouterr().err
    assert not fake_ghostscript.exists()
    assert not list(tmp_path.glob("out-*"))


def test_batch_never_runs_ghostscript(fake_ghostscript, tmp_path, restorer, monkeypatch):
    monkeypatch.setattr("app.cli._make_restorer", lambda args: restorer)
    paths = _postscript_photos(tmp_path / "in")
    (tmp_path / "in" / "drawing.eps").write_bytes(POSTSCRIPT)
    main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--no-progress"])
    report = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    assert {item["source"]: item["status"] for item in report["items"]} == {str(path): "failed" for path in paths}
    assert [item["path"] for item in report["not_processed"]] == [str(tmp_path / "in" / "drawing.eps")]
    assert not fake_ghostscript.exists()


def test_the_window_never_runs_ghostscript(fake_ghostscript, tmp_path, qtbot, restorer):
    window = MainWindow(SharedRestorer(lambda: restorer))
    qtbot.addWidget(window)
    window.show()
    for path in _postscript_photos(tmp_path / "in"):
        window.banner.clear_lasting_messages()
        window.add_photos([path])
        expected = f"'{path.name}' is not an image this app can read"
        qtbot.waitUntil(lambda expected=expected: expected in window.banner.text(), timeout=WAIT_MS)
    window.close()
    qtbot.waitUntil(lambda: window.worker_thread.isFinished() and not window.isVisible(), timeout=WAIT_MS)
    assert not fake_ghostscript.exists()


def test_a_photo_under_another_photo_formats_extension_is_named_not_decoded(tmp_path):
    png_named_jpeg = tmp_path / "photo.jpg"
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(png_named_jpeg, format="PNG")
    with pytest.raises(ImageLoadError, match=r"named as JPEG but holds a PNG image.*Rename it to \.png"):
        load_photo(png_named_jpeg)


def _write(path, kind):
    picture = Image.fromarray(np.full((48, 48, 3), 120, np.uint8))
    if kind == "EPS":
        path.write_bytes(POSTSCRIPT)
    else:
        picture.save(path, format=kind)
    return path


@pytest.mark.parametrize(("suffix", "kind"), [(".gif", "GIF"), (".avif", "AVIF"), (".eps", "EPS"), (".bmp", "BMP")])
def test_restore_and_score_read_the_formats_batch_and_the_window_read(
    suffix, kind, tmp_path, restorer, monkeypatch, capsys
):
    """One list of formats: what `batch` leaves out (and the window refuses), `restore` and `score` refuse too,
    with the same reason."""
    from app.batch_scan import scan_input

    monkeypatch.setattr("app.cli._make_restorer", lambda args: restorer)
    (tmp_path / "in").mkdir()
    photo = _write(tmp_path / "in" / f"picture{suffix}", kind)
    [left_out] = scan_input(tmp_path / "in", None).not_processed
    assert left_out.reason == f"'{suffix}' is not a supported photo format (JPEG, PNG, TIFF, WEBP)"
    assert main(["restore", str(photo), str(tmp_path / "out.png")]) == EXIT_ERROR
    assert main(["score", str(photo)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count(f"'picture{suffix}' cannot be opened: {left_out.reason}.") == 2, err
    assert not (tmp_path / "out.png").exists()
