"""The whole hostile set end to end: through `iqpfr batch` with the real pipeline, and through the window.

A run must reach the end with a complete report (every file restored, failed or listed as not processed,
with its reason), leave every input byte-identical and leave nothing half-written; the window must show a
result or a message for every file, and close cleanly while working.
"""

from __future__ import annotations

import json
import os

import pytest
from PIL import Image

from app.batch import REPORT_NAME, recorded_path
from app.cli import main
from app.gui.main_window import MainWindow
from app.gui.worker import SharedRestorer
from hostile_corpus import make_hostile_folder, snapshot, unlock

WAIT_MS = 90_000


@pytest.fixture
def hostile_folder(tmp_path, face_photo_rgb):
    folder = tmp_path / "hostile"
    written = make_hostile_folder(folder, face_photo_rgb)
    yield folder, written
    unlock(folder)


def _listed(report: dict) -> set[str]:
    """Every path the report names, exactly (a name that is not UTF-8 through its `…_bytes` field)."""
    return {recorded_path(item, "source") for item in report["items"]} | {
        recorded_path(item, "path") for item in report["not_processed"]
    }


def test_the_hostile_set_runs_through_batch_to_the_end(hostile_folder, tmp_path, restorer, monkeypatch, capsys):
    folder, written = hostile_folder
    before = snapshot(written)
    monkeypatch.setattr("app.cli._make_restorer", lambda args: restorer)
    out = tmp_path / "out"
    code = main(["batch", str(folder), str(out), "--no-progress"])
    assert code in (0, 1)  # 1: some photos failed (reported), never a crash
    report = json.loads((out / REPORT_NAME).read_text())
    listed = _listed(report)
    for path in written:  # every file is accounted for, with a status or a reason
        inside_loop = "loop" in path.relative_to(folder).parts
        assert inside_loop or str(path) in listed or any(str(path).startswith(entry + os.sep) for entry in listed), path
    statuses = {os.path.basename(item["source"]): item["status"] for item in report["items"]}
    assert statuses["face.jpg"] == "restored"
    for item in report["items"]:
        assert item["status"] != "failed" or item["message"], item  # a failure always says why
    assert snapshot(written) == before  # inputs byte-identical
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".saving-") or p.name.endswith(".part")]
    assert leftovers == []
    for output in (item["output"] for item in report["items"] if item["status"] == "restored"):
        with Image.open(output) as image:  # every output written is a complete, readable image
            image.load()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err


def test_the_window_survives_the_hostile_set_and_closing_mid_work(qtbot, hostile_folder, restorer):
    folder, written = hostile_folder
    before = snapshot(written)
    window = MainWindow(SharedRestorer(lambda: restorer))
    qtbot.addWidget(window)
    window.show()
    files = sorted(path for path in folder.iterdir() if path.is_file() or path.is_symlink())
    window.add_photos(files)
    shown = [window.photo_list.item(row).data(256) for row in range(window.photo_list.count())]
    assert shown, "no photo was added"
    for row in range(window.photo_list.count()):
        window.photo_list.setCurrentRow(row)
        qtbot.waitUntil(lambda: window.last_restored is not None or window.banner.isVisible(), timeout=WAIT_MS)
        assert "Traceback" not in window.banner.text()
        if window.last_restored is None:  # no result: the window says why
            assert window.banner.text().strip()
        assert window.statusBar().isEnabled()
    face_row = next(row for row, path in enumerate(shown) if path.endswith("face.jpg"))
    window.photo_list.setCurrentRow(face_row)
    qtbot.waitUntil(
        lambda: window.worker.thread() is not None and window.statusBar().currentMessage() == "Working…",
        timeout=WAIT_MS,
    )
    window.close()  # while the photo is being worked on
    qtbot.waitUntil(lambda: window.worker_thread.isFinished() and not window.isVisible(), timeout=WAIT_MS)
    assert snapshot(written) == before
