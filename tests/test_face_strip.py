"""The face strip on its own (pytest-qt, offscreen): one card per face with its thumbnails and scores before →
after, ticks that say which faces go into the result, clicks that ask to zoom, the empty state."""

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.gui.face_strip import NO_FACES_TEXT, FaceStrip
from app.pipeline import RestoredFaces
from app.quality import QualityScore
from app.session import PhotoPrepared, PhotoRestored

COLOURS = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]


def face(colour, size=96) -> np.ndarray:
    return np.tile(np.array(colour, np.uint8), (size, size, 1))


def score(normalized: float) -> QualityScore:
    return QualityScore("piqe", 100 * (1 - normalized), normalized)


def prepared(count=3) -> PhotoPrepared:
    boxes = [(10.0 + 50 * i, 10.0, 50.0 + 50 * i, 60.0) for i in range(count)]
    return PhotoPrepared(
        1,
        Path("crowd.jpg"),
        np.zeros((80, 200, 3), np.uint8),
        boxes,
        None,
        [],
        face_images=[face(COLOURS[i % 3]) for i in range(count)],
        face_scores=[score(0.1 * (i + 1)) for i in range(count)],
    )


def restored(count=3, include=None) -> PhotoRestored:
    faces = RestoredFaces([255 - face(COLOURS[i % 3]) for i in range(count)], 0.5, 0.5)
    return PhotoRestored(
        2,
        0.5,
        0.5,
        np.zeros((80, 200, 3), np.uint8),
        None,
        count,
        0.1,
        faces=faces,
        include=include,
        face_scores=[score(0.5 + 0.1 * i) for i in range(count)],
    )


def pixel(label, x=None, y=None) -> tuple[int, int, int]:
    image = label.grab().toImage()
    colour = image.pixelColor(image.width() // 2 if x is None else x, image.height() // 2 if y is None else y)
    return colour.red(), colour.green(), colour.blue()


@pytest.fixture
def strip(qtbot):
    widget = FaceStrip()
    qtbot.addWidget(widget)
    widget.resize(700, 200)
    return widget


def test_one_card_per_face_with_its_thumbnail_and_scores(qtbot, strip):
    assert strip.isHidden()  # no photo yet
    strip.show_prepared(prepared(3))
    strip.show()
    assert not strip.isHidden() and len(strip.cards) == 3
    assert strip.scroll_area.isVisible() and not strip.empty_label.isVisible()
    assert [card.include_box.text() for card in strip.cards] == ["Face 1", "Face 2", "Face 3"]
    assert [card.score_label.text() for card in strip.cards] == ["0.10 → …", "0.20 → …", "0.30 → …"]
    assert all(card.include_box.isChecked() for card in strip.cards)
    assert pixel(strip.cards[1].before_thumb) == COLOURS[1]  # each card shows its own face
    assert "3 of 3 included" in strip.summary.text()
    strip.show_restored(restored(3))
    assert [card.score_label.text() for card in strip.cards] == ["0.10 → 0.50", "0.20 → 0.60", "0.30 → 0.70"]
    assert pixel(strip.cards[2].after_thumb) == tuple(255 - v for v in COLOURS[2])
    assert "PIQE" in strip.cards[0].score_label.toolTip() and "before" in strip.cards[0].score_label.toolTip()


def test_unticking_and_ticking_a_face_emits_the_faces_included(qtbot, strip):
    strip.show_prepared(prepared(3))
    strip.show_restored(restored(3))
    emitted = []
    strip.include_changed.connect(emitted.append)
    strip.cards[1].include_box.click()
    assert emitted == [frozenset({0, 2})] and strip.included == frozenset({0, 2})
    assert "2 of 3 included" in strip.summary.text()
    strip.cards[1].include_box.click()
    assert emitted[-1] == frozenset({0, 1, 2})


def test_a_face_left_out_has_its_after_thumbnail_faded(qtbot, strip):
    strip.show_prepared(prepared(2))
    strip.show_restored(restored(2))
    strip.show()
    bright = pixel(strip.cards[0].after_thumb)
    strip.cards[0].include_box.click()
    qtbot.wait(10)
    faded = pixel(strip.cards[0].after_thumb)
    assert faded != bright and sum(faded) < sum(bright)


def test_set_include_ticks_without_emitting(qtbot, strip):
    strip.show_prepared(prepared(3), frozenset({2}))
    assert [card.included for card in strip.cards] == [False, False, True]
    emitted = []
    strip.include_changed.connect(emitted.append)
    strip.set_include(None)
    assert [card.included for card in strip.cards] == [True, True, True] and emitted == []


def test_clicking_a_card_asks_to_zoom_to_that_face(qtbot, strip):
    strip.show_prepared(prepared(3))
    strip.show()
    activated = []
    strip.face_activated.connect(activated.append)
    qtbot.mouseClick(strip.cards[2].before_thumb, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(strip.cards[0], Qt.MouseButton.LeftButton)
    assert activated == [2, 0]
    strip.cards[1].include_box.click()  # ticking is not a click on the face
    assert activated == [2, 0]


def test_a_new_photo_replaces_the_cards_and_restored_faces_added_later_wait(qtbot, strip):
    strip.show_prepared(prepared(3))
    strip.show_restored(restored(3))
    strip.show_prepared(prepared(4))  # a face added: its restoration is still to come
    row = [strip._row.itemAt(i).widget() for i in range(strip._row.count())]
    assert row == [*strip.cards, None]  # at once only the new cards (and the stretch after them)
    strip.show_restored(restored(3))
    assert len(strip.cards) == 4 and strip.cards[3].score_label.text() == "0.40 → …"
    assert strip.cards[3].after_thumb.text() == "…" and strip.cards[2].after_thumb.pixmap().width() > 0


def test_no_faces_says_so_and_still_offers_to_add_one(qtbot, strip):
    strip.show_prepared(prepared(0))
    strip.show()
    assert strip.cards == [] and strip.empty_label.isVisible() and strip.empty_label.text() == NO_FACES_TEXT
    assert not strip.scroll_area.isVisible()
    requested = []
    strip.add_face_requested.connect(lambda: requested.append(True))
    qtbot.mouseClick(strip.add_button, Qt.MouseButton.LeftButton)
    assert requested == [True]
    strip.show_prepared(None)
    assert strip.isHidden()


def test_many_faces_scroll_sideways(qtbot, strip):
    strip.show_prepared(prepared(30))
    strip.show()
    qtbot.wait(10)
    assert strip.scroll_area.horizontalScrollBar().maximum() > 0
    assert strip.height() < 260  # the strip stays one row high
