"""Pasted images live in the per-user cache; old ones are removed when a new one is pasted, nothing else is."""

from __future__ import annotations

import os
import time

from PySide6.QtGui import QColor, QImage

from app.gui.photo_sources import PASTED_FOLDER, PASTED_KEEP_DAYS, save_pasted_image


def _image() -> QImage:
    image = QImage(8, 6, QImage.Format.Format_RGB32)
    image.fill(QColor(10, 200, 30))
    return image


def test_pasting_removes_only_old_pasted_images(tmp_path, monkeypatch):
    monkeypatch.setenv("IQPFR_CACHE_DIR", str(tmp_path))
    folder = tmp_path / PASTED_FOLDER
    folder.mkdir()
    now = time.time()
    old = folder / "Pasted image 01-02-03.png"
    recent = folder / "Pasted image 04-05-06.png"
    not_ours = folder / "holiday.png"
    for path in (old, recent, not_ours):
        path.write_bytes(b"x")
    long_ago = now - (PASTED_KEEP_DAYS + 1) * 86400
    os.utime(old, (long_ago, long_ago))
    os.utime(not_ours, (long_ago, long_ago))
    os.utime(recent, (now - 86400, now - 86400))

    new = save_pasted_image(_image(), now=now)

    assert new.parent == folder and new.is_file()
    assert not old.exists()
    assert recent.exists() and not_ours.exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted([new.name, recent.name, not_ours.name])
