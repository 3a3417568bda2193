"""No second path reaches an original: every writer compares the target with the inputs by device and inode,
also for a target that does not exist yet in the input's folder reached through another path.

The alias is a real bind mount (`mount --bind`), which needs root; elsewhere these tests are skipped and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from app.batch import SKIPPED, run_files
from app.cli import EXIT_ERROR, main
from app.errors import ImageSaveError
from app.export_settings import ExportSettings, output_path
from app.fileutil import Originals
from app.photo_io import load_photo, save_photo

WAIT_MS = 90_000


@pytest.fixture
def bind_mount(tmp_path):
    """(folder, alias): `alias` is a bind mount of `folder`, the same files through a second path."""
    if os.geteuid() != 0:
        pytest.skip("a bind mount (the second path to an original) needs root; these tests run as root in CI")
    if shutil.which("mount") is None:
        pytest.skip("no `mount` command here to make the bind mount")
    folder, alias = tmp_path / "in", tmp_path / "alias"
    folder.mkdir()
    alias.mkdir()
    made = subprocess.run(["mount", "--bind", str(folder), str(alias)], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"`mount --bind` is not allowed here ({made.stderr.strip() or made.returncode})")
    try:
        yield folder, alias
    finally:
        subprocess.run(["umount", str(alias)], check=True)


@pytest.fixture
def original(bind_mount, face_photo_rgb):
    folder, _ = bind_mount
    path = folder / "p.jpg"
    Image.fromarray(face_photo_rgb).save(path, quality=90)
    return path


def _restored_photo(path):
    photo = load_photo(path)
    return photo.with_pixels(np.ascontiguousarray(255 - photo.pixels))


def test_the_alias_is_a_second_path_to_the_same_file(bind_mount, original):
    _, alias = bind_mount
    assert alias / "p.jpg" != original and os.path.samefile(alias / "p.jpg", original)
    assert (alias / "p.jpg").resolve() != original.resolve()  # comparing resolved paths cannot see it


def test_restore_overwrite_refuses_the_original_through_a_second_mount(
    bind_mount, original, restorer, monkeypatch, capsys
):
    _, alias = bind_mount
    before = original.read_bytes()
    monkeypatch.setattr("app.cli._make_restorer", lambda args: restorer)
    assert main(["restore", str(original), str(alias / "p.jpg"), "--overwrite"]) == EXIT_ERROR
    assert "OUT is the input file" in capsys.readouterr().err  # refused before the model runs
    assert original.read_bytes() == before


def test_saving_refuses_the_original_through_a_second_mount(bind_mount, original):
    """`save_photo` is the one save path of restore, Save result, Export all and batch."""
    _, alias = bind_mount
    before = original.read_bytes()
    with pytest.raises(ImageSaveError, match=r"Refusing to overwrite the original photo 'p\.jpg'"):
        save_photo(_restored_photo(original), alias / "p.jpg", overwrite=True)
    assert original.read_bytes() == before
    with pytest.raises(ImageSaveError, match="would replace the original"):
        output_path(original, ExportSettings(suffix="", folder=alias))


def test_a_target_not_there_yet_in_the_originals_folder_through_a_second_mount_is_refused(bind_mount, original):
    """The original was moved away after it was opened: its name in its folder (compared by the folder's
    device and inode) is still never written, through any path."""
    folder, alias = bind_mount
    photo = _restored_photo(original)
    original.rename(folder.parent / "moved.jpg")
    for target in (alias / "p.jpg", original):
        assert Originals([original]).include(target)
        with pytest.raises(ImageSaveError, match="Refusing to overwrite the original photo"):
            save_photo(photo, target)
    with pytest.raises(ImageSaveError, match="would replace the original"):
        output_path(original, ExportSettings(suffix="", folder=alias))
    assert not original.exists()
    save_photo(photo, alias / "p_restored.jpg")  # another name in that folder is fine (Save beside the original)
    assert (folder / "p_restored.jpg").is_file()


def test_export_all_refuses_the_original_through_a_second_mount(bind_mount, original, restorer):
    _, alias = bind_mount
    before = original.read_bytes()
    report = run_files(restorer, [original], ExportSettings(suffix="", folder=alias), overwrite=True)
    [item] = report.items
    assert item.status == SKIPPED and "is an input file" in item.message
    assert original.read_bytes() == before


def test_the_windows_save_refuses_the_original_through_a_second_mount(bind_mount, original, qtbot, restorer):
    from app.gui.main_window import MainWindow
    from app.gui.worker import SharedRestorer

    _, alias = bind_mount
    before = original.read_bytes()
    window = MainWindow(SharedRestorer(lambda: restorer))
    qtbot.addWidget(window)
    window.show()
    window.add_photos([original])
    qtbot.waitUntil(lambda: window.last_restored is not None, timeout=WAIT_MS)
    assert window.save_result(alias / "p.jpg") is None
    assert "Refusing to overwrite the original photo" in window.banner.text()
    assert original.read_bytes() == before
    window.close()
    qtbot.waitUntil(lambda: window.worker_thread.isFinished() and not window.isVisible(), timeout=WAIT_MS)
