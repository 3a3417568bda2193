"""The window under faults (issue 8): every worker error reaches the user and ends the job, closing
mid-work stops the workers cooperatively, and a burst of photo switches drops the stale opens."""

import threading
import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox

import app.gui.batch_dialog as batch_dialog
from app.gui.main_window import MainWindow
from app.gui.worker import SharedRestorer
from test_gui import WAIT_MS, close_window


class SlowRestorer:
    """The test restorer with a pause in one step (and an optional fault), to act while it works."""

    def __init__(self, real, slow_step="", seconds=0.0, fail_step="", error=None):
        self._real, self.slow_step, self.seconds = real, slow_step, seconds
        self.fail_step, self.error = fail_step, error
        self.calls: list[tuple[str, str]] = []
        self.in_slow_step = threading.Event()

    def __getattr__(self, name):
        return getattr(self._real, name)

    def _step(self, step, name):
        self.calls.append((step, name))
        if step == self.fail_step:
            raise self.error
        if step == self.slow_step:
            self.in_slow_step.set()
            time.sleep(self.seconds)

    def prepare(self, photo):
        self._step("prepare", photo.source_path.name)
        return self._real.prepare(photo)

    def restore_faces(self, prepared, *args, **kwargs):  # what the window calls on each slider move
        self._step("restore_faces", prepared.photo.source_path.name)
        return self._real.restore_faces(prepared, *args, **kwargs)

    def restore(self, photo, *args, **kwargs):  # what a batch calls
        self._step("restore", photo.source_path.name)
        return self._real.restore(photo, *args, **kwargs)

    def steps(self, step):
        return [name for kind, name in self.calls if kind == step]


def _window(qtbot, restorer):
    win = MainWindow(SharedRestorer(lambda: restorer))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model_ready is not None or win.banner.isVisible(), timeout=WAIT_MS)
    return win


def _plain_photo(path, size=(96, 128), value=90):
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(path)
    return path


def _answer_quit_question(monkeypatch, answer):
    asked = []

    def question(*args, **kwargs):
        asked.append(args[2])
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


# ---------------------------------------------------------------------------------------- worker errors
def test_a_photo_that_crashes_the_pipeline_shows_a_message_and_ends_the_job(qtbot, restorer, tmp_path):
    fragile = SlowRestorer(restorer, fail_step="prepare", error=IndexError("list index out of range"))
    win = _window(qtbot, fragile)
    win.add_photos([_plain_photo(tmp_path / "thin.png")])
    qtbot.waitUntil(win.banner.isVisible, timeout=WAIT_MS)
    assert win.banner.text() == ("Could not open 'thin.png': unexpected error (IndexError: list index out of range).")
    assert "detecting faces" not in win.compare.before_caption
    assert "could not open this photo" in win.compare.before_caption
    qtbot.waitUntil(lambda: win.statusBar().currentMessage() == "Ready", timeout=WAIT_MS)  # the job has ended
    fragile.fail_step = ""  # the worker is still alive: the next photo opens
    win.add_photos([_plain_photo(tmp_path / "next.png")])
    qtbot.waitUntil(lambda: win.last_restored is not None, timeout=WAIT_MS)
    close_window(qtbot, win)


def test_a_failing_restoration_after_a_slider_move_is_reported(qtbot, restorer, tmp_path):
    fragile = SlowRestorer(restorer)
    win = _window(qtbot, fragile)
    win.add_photos([_plain_photo(tmp_path / "wall.png")])
    qtbot.waitUntil(lambda: win.last_restored is not None, timeout=WAIT_MS)
    fragile.fail_step, fragile.error = "restore_faces", AssertionError("shapes differ")
    win.slider.setValue(3)  # quality 0.30
    qtbot.waitUntil(lambda: "Could not restore" in win.banner.text(), timeout=WAIT_MS)
    assert "'wall.png'" in win.banner.text() and "AssertionError: shapes differ" in win.banner.text()
    assert "could not restore this photo" in win.compare.after_caption
    close_window(qtbot, win)


@pytest.mark.parametrize("size", [(1, 1), (100_000, 3)], ids=["1x1", "3x100000"])
def test_tiny_and_thin_photos_end_with_a_message(qtbot, restorer, tmp_path, size):
    win = _window(qtbot, restorer)
    win.add_photos([_plain_photo(tmp_path / "odd.png", size=size)])
    qtbot.waitUntil(win.banner.isVisible, timeout=WAIT_MS)
    assert "odd.png" in win.banner.text() and "Traceback" not in win.banner.text()
    assert "detecting faces" not in win.compare.before_caption
    close_window(qtbot, win)


def test_a_model_that_cannot_load_is_reported(qtbot):
    def broken():
        raise RuntimeError("CUDA error: no kernel image is available")

    win = MainWindow(SharedRestorer(broken))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(win.banner.isVisible, timeout=WAIT_MS)
    assert win.model_label.text() == "No model loaded"
    assert win.banner.text().startswith("Could not load the model: unexpected error (RuntimeError: CUDA error")
    close_window(qtbot, win)


def test_a_batch_worker_exception_ends_the_job_with_a_message(qtbot, restorer, tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise IndexError("list index out of range")

    monkeypatch.setattr(batch_dialog, "run_batch", crash)
    win = _window(qtbot, restorer)
    folder = tmp_path / "in"
    folder.mkdir()
    _plain_photo(folder / "a.png")
    dialog = win.open_batch_dialog(str(folder))
    dialog.output_edit.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(dialog.job_done, timeout=WAIT_MS):
        dialog.start()
    assert not dialog.running and dialog.report is None
    log = dialog.log.toPlainText()
    assert "Error: Could not finish the batch export: unexpected error (IndexError: list index out of range)" in log
    assert "The batch export stopped" in log
    assert dialog.cancel_button.text() == "Close" and dialog.cancel_button.isEnabled()
    assert dialog.start_button.isEnabled()
    dialog.cancel_or_close()  # Close works
    assert not dialog.isVisible()
    close_window(qtbot, win)


# ---------------------------------------------------------------------------------------- closing mid-work
def test_closing_during_a_long_restore_stops_between_steps_without_freezing(qtbot, restorer, tmp_path):
    slow = SlowRestorer(restorer, slow_step="prepare", seconds=3.0)
    win = _window(qtbot, slow)
    win.add_photos([_plain_photo(tmp_path / "big.png")])
    assert slow.in_slow_step.wait(WAIT_MS / 1000)
    started = time.monotonic()
    win.close()
    assert time.monotonic() - started < 1.5  # the GUI does not wait for the step
    assert win.isVisible() and win.closing and not win.centralWidget().isEnabled()
    assert "Stopping" in win.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=WAIT_MS)  # closes itself when the step ends
    assert win.worker_thread.isFinished()  # nothing left to abort the process
    assert slow.steps("restore_faces") == []  # the cancel flag stopped the work after the slow step


def test_closing_during_a_batch_asks_and_keeps_working_on_no(qtbot, restorer, tmp_path, monkeypatch):
    slow = SlowRestorer(restorer, slow_step="restore", seconds=0.5)
    win = _window(qtbot, slow)
    dialog = _start_batch(qtbot, win, tmp_path, photos=4)
    asked = _answer_quit_question(monkeypatch, QMessageBox.StandardButton.No)
    win.close()
    assert asked and "A batch export is running" in asked[0]
    assert win.isVisible() and not win.closing and dialog.running
    qtbot.waitUntil(lambda: not dialog.running, timeout=WAIT_MS)
    assert not dialog.report.cancelled and len(dialog.report.items) == 4
    close_window(qtbot, win)


def test_closing_during_a_batch_stops_after_the_current_photo_and_closes(qtbot, restorer, tmp_path, monkeypatch):
    slow = SlowRestorer(restorer, slow_step="restore", seconds=1.0)
    win = _window(qtbot, slow)
    dialog = _start_batch(qtbot, win, tmp_path, photos=6)
    asked = _answer_quit_question(monkeypatch, QMessageBox.StandardButton.Yes)
    started = time.monotonic()
    win.close()
    assert time.monotonic() - started < 1.5 and asked
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=WAIT_MS)
    assert not dialog.running and win.worker_thread.isFinished()  # no thread left to abort the process
    assert dialog.report.cancelled and len(dialog.report.items) < 6
    assert "The app is closing" in dialog.log.toPlainText()
    written = {path.name for path in (tmp_path / "out").iterdir()}
    assert not [name for name in written if name.startswith(".saving-")]  # nothing half-written
    assert len(written - {"iqpfr-batch-report.json"}) == len(dialog.report.items)


def _start_batch(qtbot, win, tmp_path, photos):
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(photos):
        _plain_photo(folder / f"p{index}.png", value=40 + index)
    dialog = win.open_batch_dialog(str(folder))
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.start()
    qtbot.waitUntil(lambda: win.restorer.get().in_slow_step.is_set(), timeout=WAIT_MS)
    return dialog


# ---------------------------------------------------------------------------------------- rapid switching
def test_rapid_photo_switching_drops_stale_opens(qtbot, restorer, tmp_path):
    slow = SlowRestorer(restorer, slow_step="prepare", seconds=0.5)
    win = _window(qtbot, slow)
    paths = [_plain_photo(tmp_path / f"photo{index}.png", value=30 + 20 * index) for index in range(6)]
    win.add_photos(paths)  # shows the first
    assert slow.in_slow_step.wait(WAIT_MS / 1000)
    for row in range(1, 6):  # the user clicks through the list faster than photos open
        win.photo_list.setCurrentRow(row)
    qtbot.waitUntil(lambda: win.last_restored is not None, timeout=WAIT_MS)
    assert win.last_prepared.path == paths[-1]
    qtbot.wait(300)
    assert slow.steps("prepare") == ["photo0.png", "photo5.png"]  # the four photos in between: dropped
    assert slow.steps("restore_faces") == ["photo5.png"]  # the first was stopped after its slow step
    close_window(qtbot, win)
