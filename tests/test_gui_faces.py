"""Per-face control behind the window: the session's record of included and added faces (no Qt), and the restore
worker's face work: per-face scores, ticking faces in or out without running the network again (and the saved
photo following the ticks), adding a face from a box drawn on the preview."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.faces.in_box import NO_FACE_MESSAGE
from app.gui.worker import RestoreWorker, SharedRestorer
from app.photo_io import load_photo, save_photo
from app.pipeline import FaceRestorer
from app.session import EditingSession, Failure, PhotoPrepared
from test_add_face import MissesTheRightFace
from test_gui import WAIT_MS, close_window


def _prepared(request_id, faces):
    boxes = [(10.0 * i, 0.0, 10.0 * i + 8, 8.0) for i in range(faces)]
    return PhotoPrepared(request_id, Path("a.jpg"), np.zeros((4, 4, 3), np.uint8), boxes, None, [])


# ---------------------------------------------------------------------- the session (no Qt)
def test_ticks_are_kept_as_the_faces_left_in_and_all_ticked_is_all():
    session = EditingSession()
    session.accept_prepared(_prepared(session.begin_open(), 3))
    session.include_faces({0, 2})
    assert session.include == frozenset({0, 2})
    session.include_faces({0, 1, 2})
    assert session.include is None  # None: every face, also ones added later
    session.include_faces(set())
    assert session.include == frozenset()
    session.begin_open()
    assert session.include is None  # each photo starts with every face


def test_a_face_added_to_the_shown_photo_is_kept_and_included():
    session = EditingSession()
    opened = session.begin_open()
    session.accept_prepared(_prepared(opened, 2))
    session.include_faces({1})
    add = session.begin_add_face()
    assert not session.settings_wanted(add - 1) and session.settings_wanted(add)
    assert session.accept_prepared(_prepared(add, 3))  # the photo with the face added
    assert len(session.prepared.boxes) == 3 and session.include == frozenset({1, 2})
    assert not session.accept_prepared(_prepared(add - 1, 2))  # never back to an older one
    assert session.classify_failure(add) is Failure.ADD_FACE
    assert session.classify_failure(session.begin_settings()) is Failure.RESTORE
    session.begin_open()
    assert not session.accept_prepared(_prepared(add, 3))  # an add to a photo the user left
    assert session.classify_failure(add) is Failure.STALE


def test_each_photo_keeps_its_added_faces_and_ticks_for_when_it_is_shown_again():
    session = EditingSession()
    first, second = Path("first.jpg"), Path("second.jpg")
    opened = session.begin_open(first)
    session.accept_prepared(replace(_prepared(opened, 2), preview_scale=0.5))
    add = session.begin_add_face((20.0, 10.0, 40.0, 30.0))  # drawn on the half-size preview
    session.accept_prepared(replace(_prepared(add, 3), preview_scale=0.5))
    session.include_faces({0, 2})
    assert session.edits(first).added_boxes == ((40.0, 20.0, 80.0, 60.0),)  # in the photo's pixels
    assert session.edits(first).include == frozenset({0, 2})

    session.begin_open(second)
    assert session.include is None and session.edits(second).added_boxes == ()  # the other photo: untouched
    session.begin_open(first)
    assert session.include == frozenset({0, 2})  # as the user left it
    session.accept_prepared(_prepared(session.shown_photo_id, 2))  # the added face was not found again
    assert session.include == frozenset({0})
    assert session.begin_add_face() is not None and session.edits(first).added_boxes == ((40.0, 20.0, 80.0, 60.0),)


# ---------------------------------------------------------------------- the worker, on the test's thread
class Recorder:
    """A RestoreWorker driven directly (its slots run on the test's thread), with what it emits kept, and the
    session accepting results as the window does."""

    def __init__(self, restorer: FaceRestorer, preview_pixels: int = 8_000_000) -> None:
        self.session = EditingSession()
        self.worker = RestoreWorker(SharedRestorer(lambda: restorer), self.session, preview_pixels=preview_pixels)
        self.prepared, self.restored, self.failures = [], [], []
        self.worker.prepared.connect(
            lambda result: self.session.accept_prepared(result) and self.prepared.append(result)
        )
        self.worker.restored.connect(
            lambda result: self.session.accept_restored(result) and self.restored.append(result)
        )
        self.worker.failed.connect(lambda request_id, message: self.failures.append((request_id, message)))

    def open(self, path, quality=0.5):
        self.worker.open_photo(self.session.begin_open(), str(path), quality, None)
        assert not self.failures, self.failures
        return self.prepared[-1], self.restored[-1]

    def settings(self, quality=0.5, include=None, fidelity=None):
        self.session.include = include
        self.worker.change_settings(self.session.begin_settings(), quality, fidelity, include)
        return self.restored[-1]


def counting(monkeypatch, restorer) -> list:
    calls = []
    real = restorer.restore_faces
    monkeypatch.setattr(restorer, "restore_faces", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    return calls


def face_region(box, margin=0):
    x0, y0, x1, y1 = (round(v) for v in box)
    return slice(y0 - margin, y1 + margin), slice(x0 - margin, x1 + margin)


def test_every_face_has_its_score_before_and_after(restorer, blake_photo_path):
    recorder = Recorder(restorer)
    prepared, restored = recorder.open(blake_photo_path)
    assert len(prepared.face_scores) == len(prepared.face_images) == len(prepared.boxes) == 2
    assert prepared.face_images[1].shape == (restorer.face_size, restorer.face_size, 3)
    assert prepared.before_score.normalized == pytest.approx(np.mean([s.normalized for s in prepared.face_scores]))
    assert len(restored.face_scores) == 2 and restored.face_scores != prepared.face_scores
    assert restored.after_score.raw == pytest.approx(np.mean([s.raw for s in restored.face_scores]))
    left_out = recorder.settings(include=frozenset({1}))
    assert left_out.face_scores == restored.face_scores  # every face keeps its score; the caption's mean follows
    assert left_out.after_score.raw == pytest.approx(restored.face_scores[1].raw) and left_out.face_count == 1
    assert left_out.total_faces == 2


def test_ticking_faces_in_and_out_pastes_again_without_the_network_and_saving_follows(
    restorer, blake_photo_path, monkeypatch, tmp_path
):
    recorder = Recorder(restorer)
    prepared, everything = recorder.open(blake_photo_path)
    calls = counting(monkeypatch, restorer)
    original = load_photo(blake_photo_path).pixels
    right, left = face_region(prepared.boxes[1]), face_region(prepared.boxes[0])

    left_out = recorder.settings(include=frozenset({0}))  # the right face left out
    saved = load_photo(save_photo(left_out.full_photo(), tmp_path / "left_out.png")).pixels
    assert calls == []  # no network: the last restored faces are pasted again
    assert np.array_equal(saved[right], original[right])  # the face left out is the original's pixels
    assert not np.array_equal(saved[left], original[left])  # the other is restored
    assert np.array_equal(saved[left], everything.full_photo().pixels[left])
    assert not np.array_equal(left_out.rgb[right], everything.rgb[right])  # the preview follows too

    back_in = recorder.settings(include=None)  # ticked again
    saved = load_photo(save_photo(back_in.full_photo(), tmp_path / "back_in.png")).pixels
    assert calls == [] and np.array_equal(saved, everything.full_photo().pixels)
    assert not np.array_equal(saved[right], original[right])

    recorder.settings(include=frozenset({1}), fidelity=restorer.default_fidelity)  # the default, now by value
    assert calls == []
    recorder.settings(quality=0.7, include=frozenset({0}))  # another quality: the network runs, once
    assert calls == [pytest.approx(0.7)]


@pytest.fixture(scope="module")
def one_eyed(restorer, blake_photo_path):
    """A restorer whose detector misses the right face of the Blake photo on the whole photo."""
    shape = load_photo(blake_photo_path).pixels.shape[:2]
    return FaceRestorer(restorer.network, None, MissesTheRightFace(restorer.detector, shape), "cpu")


def test_a_face_drawn_on_the_preview_is_added_scored_and_restored(one_eyed, restorer, blake_photo_path):
    full = restorer.prepare(load_photo(blake_photo_path))
    recorder = Recorder(one_eyed, preview_pixels=100_000)  # a preview at about half the photo's size
    prepared, _ = recorder.open(blake_photo_path)

    assert len(prepared.boxes) == 1 and prepared.preview_scale < 0.6
    recorder.session.include_faces(set())  # the found face left out before adding one
    scale = prepared.preview_scale
    drawn = tuple(v * scale + pad for v, pad in zip(full.faces[1].detection.box, (-8, -8, 8, 8), strict=True))
    request = recorder.session.begin_add_face()
    recorder.worker.add_face(request, drawn, 0.5, None, recorder.session.include)
    assert not recorder.failures, recorder.failures
    added, result = recorder.prepared[-1], recorder.restored[-1]
    assert added.request_id == request and recorder.session.prepared is added
    assert len(added.boxes) == len(added.face_scores) == len(added.face_images) == 2
    assert added.rgb is prepared.rgb and added.face_scores[0] == prepared.face_scores[0]
    assert np.allclose(added.boxes[1], np.asarray(full.faces[1].detection.box) * scale, atol=6)  # preview pixels
    assert recorder.session.include == frozenset({1})  # the new face is in, the one left out stays out
    assert result.request_id == request and result.include == frozenset({1}) and result.total_faces == 2
    assert len(result.face_scores) == 2
    saved = result.full_photo().pixels
    original = load_photo(blake_photo_path).pixels
    assert np.array_equal(
        saved[face_region(full.faces[0].detection.box)], original[face_region(full.faces[0].detection.box)]
    )
    assert not np.array_equal(
        saved[face_region(full.faces[1].detection.box)], original[face_region(full.faces[1].detection.box)]
    )


def test_a_photo_reopened_finds_the_faces_added_before_and_pastes_the_ones_ticked(one_eyed, restorer, blake_photo_path):
    missed = restorer.prepare(load_photo(blake_photo_path)).faces[1].detection.box
    drawn = (missed[0] - 10, missed[1] - 10, missed[2] + 10, missed[3] + 10)  # photo pixels
    nowhere = (610.0, 380.0, 690.0, 455.0)  # a box without a face (the photo changed since, say)
    recorder = Recorder(one_eyed)
    request = recorder.session.begin_open(Path(blake_photo_path))
    recorder.worker.open_photo(request, str(blake_photo_path), 0.5, None, (drawn, nowhere), frozenset({1}))
    assert not recorder.failures, recorder.failures
    prepared, restored = recorder.prepared[-1], recorder.restored[-1]
    assert len(prepared.boxes) == 2 and np.allclose(prepared.boxes[1], missed, atol=6)
    assert "A face you added to this photo was not found again." in prepared.notes
    assert restored.include == frozenset({1}) and restored.face_count == 1 and restored.total_faces == 2


def test_a_box_without_a_face_gives_the_message_and_changes_nothing(one_eyed, blake_photo_path):
    recorder = Recorder(one_eyed)
    prepared, _restored = recorder.open(blake_photo_path)
    sent = list(recorder.restored)  # the restoration, then the same with its scores
    request = recorder.session.begin_add_face()
    recorder.worker.add_face(request, (610.0, 380.0, 690.0, 455.0), 0.5, None, None)  # the bottom right corner
    assert len(recorder.failures) == 1
    request_id, message = recorder.failures[0]
    assert request_id == request and NO_FACE_MESSAGE in message and "Traceback" not in message
    assert recorder.session.classify_failure(request_id) is Failure.ADD_FACE
    assert recorder.prepared == [prepared] and recorder.restored == sent
    assert recorder.settings().total_faces == 1  # the photo is as it was


def test_a_face_added_while_newer_settings_wait_is_kept_and_restored_by_them(
    one_eyed, restorer, blake_photo_path, monkeypatch
):
    full = restorer.prepare(load_photo(blake_photo_path))
    recorder = Recorder(one_eyed)
    recorder.open(blake_photo_path)
    add = recorder.session.begin_add_face()
    newer = recorder.session.begin_settings()  # a slider moved while the face was being found
    calls = counting(monkeypatch, one_eyed)
    recorder.worker.add_face(add, full.faces[1].detection.box, 0.5, None, None)
    assert len(recorder.prepared[-1].boxes) == 2 and calls == []  # added, not restored: a newer request waits
    recorder.worker.change_settings(newer, 0.6, None, None)
    assert len(calls) == 1 and recorder.restored[-1].total_faces == 2


# ---------------------------------------------------------------------- the window (pytest-qt, offscreen)
def _window(qtbot, restorer):
    from app.gui.main_window import MainWindow

    win = MainWindow(SharedRestorer(lambda: restorer))
    qtbot.addWidget(win)
    win.show()
    return win


def _open(qtbot, win, path):
    """Open `path` once the model is known (its sliders set), and wait until its restoration is in the strip."""
    qtbot.waitUntil(lambda: win.model_ready is not None, timeout=WAIT_MS)
    win.add_photos([path])
    qtbot.waitUntil(
        lambda: (
            win.last_restored is not None and win.face_strip.cards and win.face_strip.cards[0].after_score is not None
        ),
        timeout=WAIT_MS,
    )


@pytest.fixture
def window(qtbot, restorer):
    win = _window(qtbot, restorer)
    yield win
    close_window(qtbot, win)


def test_the_strip_shows_each_face_with_its_scores(qtbot, window, blake_photo_path):
    assert window.face_strip.isHidden()  # no photo yet
    _open(qtbot, window, blake_photo_path)
    strip, prepared, restored = window.face_strip, window.last_prepared, window.last_restored
    assert strip.isVisible() and len(strip.cards) == 2
    for card, before, after in zip(strip.cards, prepared.face_scores, restored.face_scores, strict=True):
        assert card.score_label.text() == f"{before.normalized:.2f} → {after.normalized:.2f}"
        assert card.included and card.after_thumb.pixmap().width() > 0
    assert "2 faces restored" in window.compare.after_caption


def test_unticking_a_face_changes_the_saved_photo_without_the_network(
    qtbot, window, blake_photo_path, monkeypatch, tmp_path
):
    _open(qtbot, window, blake_photo_path)
    calls = counting(monkeypatch, window.restorer.get())
    original = load_photo(blake_photo_path).pixels
    right = face_region(window.last_prepared.boxes[1])
    everything = window.save_result(tmp_path / "all.png")

    window.face_strip.cards[1].include_box.click()  # the right face left out
    assert window.session.include == frozenset({0})
    qtbot.waitUntil(lambda: window.last_restored.include == frozenset({0}), timeout=WAIT_MS)
    assert "1 of 2 faces restored" in window.compare.after_caption
    saved = load_photo(window.save_result(tmp_path / "left_out.png")).pixels
    assert np.array_equal(saved[right], original[right])  # that face is the original's pixels
    assert not np.array_equal(load_photo(everything).pixels[right], original[right])

    window.face_strip.cards[1].include_box.click()  # and back in
    qtbot.waitUntil(lambda: window.last_restored.include is None, timeout=WAIT_MS)
    saved = load_photo(window.save_result(tmp_path / "back_in.png")).pixels
    assert np.array_equal(saved, load_photo(everything).pixels)
    assert calls == []  # ticking only pasted the restored faces again
    assert "2 faces restored" in window.compare.after_caption


def test_every_face_left_out_saves_nothing_and_says_why(qtbot, window, blake_photo_path, tmp_path):
    _open(qtbot, window, blake_photo_path)
    for card in window.face_strip.cards:
        card.include_box.click()
    qtbot.waitUntil(lambda: window.last_restored.include == frozenset(), timeout=WAIT_MS)
    assert "0 of 2 faces restored" in window.compare.after_caption
    assert window.save_result(tmp_path / "none.png") is None and not (tmp_path / "none.png").exists()
    assert "every face is left out" in window.banner.text()


def test_clicking_a_face_in_the_strip_zooms_to_it(qtbot, window, blake_photo_path):
    _open(qtbot, window, blake_photo_path)
    state = window.compare.view_state
    width = state.image_size[0]
    for index in (1, 0):
        qtbot.mouseClick(window.face_strip.cards[index].before_thumb, Qt.MouseButton.LeftButton)
        x0, y0, x1, y1 = state.visible_image_rect()
        bx0, by0, bx1, by1 = window.last_prepared.boxes[index]
        other = window.last_prepared.boxes[1 - index]
        assert x0 <= bx0 and bx1 <= x1 and y0 <= by0 and by1 <= y1  # that face is in view …
        assert x1 - x0 < width and not (x0 <= other[0] and other[2] <= x1)  # … zoomed in, the other face is not


@pytest.fixture
def one_eyed_window(qtbot, one_eyed):
    win = _window(qtbot, one_eyed)
    yield win
    close_window(qtbot, win)


def test_a_face_the_detector_missed_is_added_by_drawing_a_box(
    qtbot, one_eyed_window, restorer, blake_photo_path, tmp_path
):
    from test_compare_view import drag

    window = one_eyed_window
    _open(qtbot, window, blake_photo_path)
    assert len(window.face_strip.cards) == 1 and window.compare.box_count == 1
    qtbot.mouseClick(window.face_strip.add_button, Qt.MouseButton.LeftButton)
    assert window.compare.drawing_box
    window.compare.set_mode("before")  # the whole canvas shows the before photo
    missed = restorer.prepare(load_photo(blake_photo_path)).faces[1].detection.box
    state, canvas = window.compare.view_state, window.compare.canvas
    start = state.image_to_view(missed[0] - 10, missed[1] - 10)
    end = state.image_to_view(missed[2] + 10, missed[3] + 10)
    drag(canvas, start, end)
    qtbot.waitUntil(
        lambda: (
            len(window.face_strip.cards) == 2
            and window.last_restored.total_faces == 2
            and window.face_strip.cards[1].after_score is not None
        ),
        timeout=WAIT_MS,
    )
    assert window.compare.box_count == 2 and "2 faces found" in window.compare.before_caption
    assert np.allclose(window.last_prepared.boxes[1], missed, atol=6)
    assert "2 faces restored" in window.compare.after_caption
    saved = load_photo(window.save_result(tmp_path / "added.png")).pixels
    region = face_region(missed)
    assert not np.array_equal(saved[region], load_photo(blake_photo_path).pixels[region])  # restored too


def test_a_box_without_a_face_shows_the_message(qtbot, one_eyed_window, blake_photo_path):
    window = one_eyed_window
    _open(qtbot, window, blake_photo_path)
    before = window.last_restored
    window.start_adding_face()
    window.compare.box_drawn.emit((610.0, 380.0, 690.0, 455.0))  # as the view emits it: the bottom right corner
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=WAIT_MS)
    assert NO_FACE_MESSAGE in window.banner.text() and "Traceback" not in window.banner.text()
    assert "could not" not in window.compare.after_caption  # the result shown is still good
    assert window.last_restored is before and len(window.face_strip.cards) == 1


def test_a_face_added_to_a_photo_where_none_was_found(restorer, blake_photo_path):
    class MissesEveryFace(MissesTheRightFace):
        def detect_raw(self, rgb):
            return [] if rgb.shape[:2] == self.photo_shape else self.real.detect_raw(rgb)

    shape = load_photo(blake_photo_path).pixels.shape[:2]
    blind = FaceRestorer(restorer.network, None, MissesEveryFace(restorer.detector, shape), "cpu")
    recorder = Recorder(blind)
    prepared, restored = recorder.open(blake_photo_path)
    assert prepared.boxes == [] and prepared.before_score is not None and restored.total_faces == 0
    missed = restorer.prepare(load_photo(blake_photo_path)).faces[0].detection.box
    recorder.worker.add_face(recorder.session.begin_add_face(), missed, 0.5, None, None)
    assert not recorder.failures, recorder.failures
    assert len(recorder.prepared[-1].boxes) == 1 and recorder.restored[-1].face_count == 1
    assert recorder.prepared[-1].before_score == recorder.prepared[-1].face_scores[0]  # the face's, not the photo's


def test_a_face_added_while_faces_are_left_out_ends_up_in_the_result(
    qtbot, one_eyed_window, restorer, blake_photo_path
):
    """A slider moved right after the box was drawn sends the faces ticked before the face was added: once the
    face is in, the window asks again, so the result the user ends with has the new face pasted in."""
    window = one_eyed_window
    _open(qtbot, window, blake_photo_path)
    window.face_strip.cards[0].include_box.click()  # the face found, left out
    qtbot.waitUntil(lambda: window.last_restored.include == frozenset(), timeout=WAIT_MS)
    missed = restorer.prepare(load_photo(blake_photo_path)).faces[1].detection.box
    window._add_face_in_box(missed)
    window._request_restoration()  # as a slider's move would, before the face is found
    qtbot.waitUntil(lambda: len(window.face_strip.cards) == 2, timeout=WAIT_MS)
    assert window.session.include == frozenset({1}) and window.face_strip.included == frozenset({1})
    qtbot.waitUntil(lambda: window.last_restored.include == frozenset({1}), timeout=WAIT_MS)
    qtbot.wait(300)
    assert window.last_restored.include == frozenset({1}) and window.last_restored.face_count == 1


def _shown(window) -> Path | None:
    return window.last_prepared.path if window.last_prepared is not None else None


def test_going_back_to_a_photo_shows_the_face_added_and_the_ticks_as_left(
    qtbot, one_eyed_window, restorer, blake_photo_path, tmp_path
):
    window = one_eyed_window
    other = tmp_path / "other.png"
    save_photo(load_photo(blake_photo_path), other)
    _open(qtbot, window, blake_photo_path)
    missed = restorer.prepare(load_photo(blake_photo_path)).faces[1].detection.box
    window._add_face_in_box(missed)  # as drawn on the before image (the preview is the whole photo here)
    qtbot.waitUntil(lambda: len(window.face_strip.cards) == 2, timeout=WAIT_MS)
    window.face_strip.cards[0].include_box.click()  # the face the detector found, left out
    qtbot.waitUntil(lambda: window.last_restored.include == frozenset({1}), timeout=WAIT_MS)

    window.add_photos([other])  # another photo shown …
    qtbot.waitUntil(lambda: _shown(window) == other and window.last_restored is not None, timeout=WAIT_MS)
    assert len(window.face_strip.cards) == 1 and window.session.include is None
    window.select_photo(-1)  # … and back
    qtbot.waitUntil(
        lambda: (
            _shown(window) == Path(blake_photo_path)
            and window.last_restored is not None
            and len(window.face_strip.cards) == 2
        ),
        timeout=WAIT_MS,
    )
    assert window.face_strip.included == frozenset({1}) and window.last_restored.include == frozenset({1})
    assert "1 of 2 faces restored" in window.compare.after_caption
