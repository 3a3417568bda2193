"""The before/after compare view: split divider, shared zoom and pan, 1:1, wheel anchor, Space, box drawing,
a smaller after preview, face clicks, the busy pill (pytest-qt, offscreen; pixels read from grabs)."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QListWidget

from app.gui.compare_view import BACKGROUND, CompareView
from app.gui.convert import qimage_to_rgb
from app.gui.view_state import ViewState
from conftest import REPO

RED, BLUE, YELLOW, GREY = (220, 30, 30), (30, 40, 220), (240, 220, 20), (128, 128, 128)


def solid(colour, width=400, height=300) -> np.ndarray:
    return np.tile(np.array(colour, np.uint8), (height, width, 1))


def noise(width=300, height=200, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def grab(view: CompareView) -> np.ndarray:
    """The canvas as drawn, RGB, one array row per view pixel row (offscreen: device pixel ratio 1)."""
    return qimage_to_rgb(view.canvas.grab().toImage())


def colour_at(view, x, y) -> tuple[int, int, int]:
    return tuple(int(v) for v in grab(view)[round(y), round(x)])


def close_to(colour, expected, tolerance=12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


def mouse(widget, kind, pos, button=Qt.MouseButton.LeftButton):
    """Send a press / move (with `button` held) / release at `pos` (widget coordinates)."""
    types = {
        "press": QEvent.Type.MouseButtonPress,
        "move": QEvent.Type.MouseMove,
        "release": QEvent.Type.MouseButtonRelease,
    }
    held = Qt.MouseButton.NoButton if kind == "release" else button
    event = QMouseEvent(
        types[kind],
        QPointF(*pos),
        widget.mapToGlobal(QPointF(*pos)),
        Qt.MouseButton.NoButton if kind == "move" else button,
        held,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)


def drag(widget, start, end, button=Qt.MouseButton.LeftButton, steps=4):
    mouse(widget, "press", start, button)
    for i in range(1, steps + 1):
        mouse(
            widget,
            "move",
            (start[0] + (end[0] - start[0]) * i / steps, start[1] + (end[1] - start[1]) * i / steps),
            button,
        )
    mouse(widget, "release", end, button)


def wheel(widget, pos, notches=1):
    event = QWheelEvent(
        QPointF(*pos),
        widget.mapToGlobal(QPointF(*pos)),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def key(widget, kind, which=Qt.Key.Key_Space, auto_repeat=False):
    event_type = QEvent.Type.KeyPress if kind == "press" else QEvent.Type.KeyRelease
    QApplication.sendEvent(widget, QKeyEvent(event_type, which, Qt.KeyboardModifier.NoModifier, "", auto_repeat))


@pytest.fixture
def view(qtbot):
    widget = CompareView()
    qtbot.addWidget(widget)
    widget.resize(820, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def fit_geometry(view, image_w, image_h, viewport_w=None):
    """Scale and top-left of a fitted image, computed here from the canvas size (not by the view's code)."""
    viewport_w = viewport_w or view.canvas.width()
    height = view.canvas.height()
    scale = min(viewport_w / image_w, height / image_h)
    return scale, (viewport_w - image_w * scale) / 2, (height - image_h * scale) / 2


# ---------------------------------------------------------------------------------------------- split divider
def test_split_shows_before_left_and_after_right_and_the_divider_follows_a_drag(view):
    view.set_before(solid(RED))
    view.set_after(solid(BLUE))
    view.set_mode("split")
    width, y = view.canvas.width(), view.canvas.height() / 2 + 60  # below the divider's handle
    assert view.divider == 0.5
    assert close_to(colour_at(view, width * 0.5 - 30, y), RED)
    assert close_to(colour_at(view, width * 0.5 + 30, y), BLUE)

    drag(view.canvas, (width * 0.5, view.canvas.height() / 2), (width * 0.3, view.canvas.height() / 2))
    assert view.divider == pytest.approx(0.3, abs=0.01)
    assert close_to(colour_at(view, width * 0.3 - 20, y), RED)
    assert close_to(colour_at(view, width * 0.3 + 20, y), BLUE)
    assert close_to(colour_at(view, width * 0.5 - 30, y), BLUE)  # was before, now after

    drag(view.canvas, (width * 0.7, y), (width * 0.8, y))  # off the divider: not a divider drag
    assert view.divider == pytest.approx(0.3, abs=0.01)


def test_side_by_side_keeps_both_images_and_a_mode_shows_one(view):
    view.set_before(solid(RED))
    view.set_after(solid(BLUE))
    width, y = view.canvas.width(), view.canvas.height() / 2
    assert close_to(colour_at(view, width * 0.25, y), RED) and close_to(colour_at(view, width * 0.75, y), BLUE)
    view.set_mode("after")
    assert close_to(colour_at(view, width * 0.4, y), BLUE) and close_to(colour_at(view, width * 0.6, y), BLUE)
    assert view.before_label.isHidden() and not view.after_label.isHidden()
    view.set_mode("before")
    assert close_to(colour_at(view, width * 0.6, y), RED)
    with pytest.raises(ValueError):
        view.set_mode("sideways")


def test_empty_view_shows_the_placeholder_and_captions_hold_the_scores(view):
    view.set_placeholder("Open photos (Ctrl+O) or drop them here")
    before_side = grab(view)[:, : view.canvas.width() // 2]
    assert (np.abs(before_side.astype(int) - BACKGROUND.getRgb()[:3]).sum(axis=2) > 60).any()  # text is drawn
    view.set_before_caption("2 faces found\nthe faces: measured quality 0.41 (0 worst … 1 best; PIQE 59.0)")
    assert view.before_caption == (
        "<b>Before</b><br>2 faces found<br>the faces: measured quality 0.41 (0 worst … 1 best; PIQE 59.0)"
    )
    view.set_after_caption("")
    assert view.after_caption == "<b>After</b>"
    assert not view.has_before and not view.has_after and view.box_count == 0


def test_the_placeholder_is_centred_on_the_whole_view_not_on_the_before_half(view):
    """Issue 20, item 7: side by side or split, what to do is written in the middle of the empty view."""
    view.set_placeholder("Open photos (Ctrl+O) or drop them here")
    for mode in ("side_by_side", "split"):
        view.set_mode(mode)
        text = np.argwhere(np.abs(grab(view).astype(int) - BACKGROUND.getRgb()[:3]).sum(axis=2) > 60)
        assert abs(text[:, 1].mean() / view.canvas.width() - 0.5) < 0.05, mode


def test_face_boxes_can_be_hidden(view):
    view.set_before(solid(GREY), [(100, 80, 300, 220)])
    boxed = grab(view)
    view.set_show_boxes(False)
    plain = grab(view)
    green = [(np.abs(pixels.astype(int) - (60, 220, 120)).sum(axis=2) < 30).sum() for pixels in (boxed, plain)]
    assert green[0] > 300 and green[1] == 0
    assert view.box_count == 1  # still there to click


# ---------------------------------------------------------------------------------------------- zoom and pan
def test_side_by_side_zoom_and_pan_show_the_same_region_on_both_sides(view):
    before = noise(400, 300)
    view.set_before(before)
    view.set_after(255 - before)  # the after is the negative: each pixel tells which side it is on
    width, height = view.canvas.width(), view.canvas.height()
    half = (width - 6) // 2

    def halves():
        shot = grab(view).astype(int)
        return shot[20 : height - 40, :half], shot[20 : height - 40, width - half :]

    fitted_left, _ = halves()
    view.zoom_in()
    view.zoom_in()
    wheel(view.canvas, (width - half / 3, height / 3))  # a wheel notch over the after side
    drag(view.canvas, (half / 2, height / 2), (half / 2 - 70, height / 2 - 40))  # pan on the before side
    drag(
        view.canvas, (width - 50, height / 2), (width - 20, height / 2 + 25), button=Qt.MouseButton.MiddleButton
    )  # and on the after side
    assert view.zoom > 2.0
    left, right = halves()
    assert np.abs(left - fitted_left).mean() > 20  # the view did change
    assert np.abs(left - (255 - right)).max() <= 2  # and both sides show the same region


def test_zoom_actual_draws_one_photo_pixel_per_screen_pixel(view):
    photo = noise(300, 200)
    view.set_before(photo)
    view.set_mode("before")
    view.zoom_actual()
    assert view.zoom == 1.0
    x, y = round((view.canvas.width() - 300) / 2), round((view.canvas.height() - 200) / 2)
    shot = grab(view)
    found = [
        (dx, dy)
        for dx in (-1, 0, 1)
        for dy in (-1, 0, 1)
        if np.array_equal(shot[y + dy : y + dy + 200, x + dx : x + dx + 300], photo)
    ]
    assert found, "the photo's pixels are not on the screen one to one"


HIGH_DPI_CHECK = """
import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from app.gui.compare_view import CompareView
app = QApplication([])
view = CompareView()
view.resize(600, 400)
view.show()
photo = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
view.set_before(photo)
view.set_mode("before")
view.zoom_actual()
image = view.canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
assert image.devicePixelRatio() == 2.0, image.devicePixelRatio()
width, height = image.width(), image.height()
shot = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * height).reshape(height, -1)
shot = shot[:, :width * 3].reshape(height, width, 3)
found = [(x, y) for y in range(height - 199) for x in range(width - 299)
         if (shot[y, x] == photo[0, 0]).all() and np.array_equal(shot[y:y + 200, x:x + 300], photo)]
print("FOUND", found)
"""


def test_one_to_one_is_one_photo_pixel_per_device_pixel_on_a_high_dpi_screen():
    """At 200 % desktop scaling, 1:1 still puts one photo pixel on one physical pixel (not 2 × 2)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2"}
    run = subprocess.run(
        [sys.executable, "-c", HIGH_DPI_CHECK], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "FOUND [(" in run.stdout, run.stdout[-500:]


def test_wheel_zoom_keeps_the_photo_point_under_the_cursor(view):
    view.set_before(noise(400, 300))
    view.set_mode("before")
    scale, left, top = fit_geometry(view, 400, 300)
    cursor = (view.canvas.width() * 0.38, view.canvas.height() * 0.42)
    point = ((cursor[0] - left) / scale, (cursor[1] - top) / scale)
    wheel(view.canvas, cursor, notches=3)
    assert view.zoom == pytest.approx(scale * 1.25**3, rel=1e-3)
    state = view.view_state
    assert state.view_to_image(*cursor) == pytest.approx(point, abs=0.5)
    wheel(view.canvas, cursor, notches=-1)  # still larger than the view both ways (smaller would be centred)
    assert state.view_to_image(*cursor) == pytest.approx(point, abs=0.5)


def test_fit_follows_resizes_until_the_user_zooms(view, qtbot):
    view.set_before(solid(RED, 400, 300))
    fitted = view.zoom
    view.resize(1100, 700)
    qtbot.waitUntil(lambda: view.zoom > fitted * 1.2)
    view.zoom_in()
    zoomed = view.zoom
    view.resize(820, 500)
    qtbot.waitUntil(lambda: view.canvas.height() < 500)
    assert view.zoom == zoomed
    view.zoom_fit()
    assert view.zoom == pytest.approx(fit_geometry(view, 400, 300, (view.canvas.width() - 6) / 2)[0])


def test_zoom_to_box_shows_a_face_large_and_centred(view):
    view.set_before(noise(1200, 900), boxes=[(600, 300, 700, 420)])
    view.set_mode("split")
    view.zoom_to_box((600, 300, 700, 420), margin=0.25)
    state = view.view_state
    assert state.image_to_view(650, 360) == pytest.approx((view.canvas.width() / 2, view.canvas.height() / 2), abs=1)
    assert 120 * 1.5 * view.zoom == pytest.approx(view.canvas.height(), rel=0.01)  # the box fills the height


def test_a_large_photo_zoomed_out_is_area_averaged_not_aliased(view):
    checker = (np.indices((1600, 2000)).sum(axis=0) % 2 * 255).astype(np.uint8)  # 1-pixel black/white
    view.set_before(np.dstack([checker] * 3))
    view.set_mode("before")
    assert view.zoom < 0.3
    width, height = view.canvas.width(), view.canvas.height()
    centre = grab(view)[height // 2 - 40 : height // 2 + 40, width // 2 - 40 : width // 2 + 40].astype(int)
    assert np.abs(centre - 128).max() < 40  # grey, as the eye sees it; aliasing shows black and white


# ---------------------------------------------------------------------------------------------- keys and mouse
def test_holding_space_shows_the_before_in_place_of_the_after(view):
    view.set_before(solid(RED))
    view.set_after(solid(BLUE))
    after_side = (view.canvas.width() * 0.75, view.canvas.height() / 2)
    key(view, "press")
    assert close_to(colour_at(view, *after_side), RED)
    key(view, "release", auto_repeat=True)  # key repeat while held: still held
    assert view.holding_before and close_to(colour_at(view, *after_side), RED)
    key(view, "press", auto_repeat=True)
    assert view.holding_before
    key(view, "release")
    assert close_to(colour_at(view, *after_side), BLUE)

    view.set_mode("split")
    photo_list = QListWidget()
    view.watch_space_on(photo_list)  # Space also works while the photo list has the focus
    key(photo_list, "press")
    assert close_to(colour_at(view, view.canvas.width() * 0.6, view.canvas.height() / 2 + 60), RED)
    key(photo_list, "release")
    assert not view.holding_before


def test_a_drawn_box_is_emitted_in_photo_pixels_and_escape_cancels(view, qtbot):
    view.set_before(solid(GREY, 400, 300))
    view.set_mode("before")
    scale, left, top = fit_geometry(view, 400, 300)
    drawn = []
    view.box_drawn.connect(drawn.append)

    view.start_box_drawing()
    mouse(view.canvas, "press", (left + 50 * scale, top + 40 * scale))
    mouse(view.canvas, "move", (left + 100 * scale, top + 80 * scale))
    key(view, "press", Qt.Key.Key_Escape)
    mouse(view.canvas, "release", (left + 150 * scale, top + 120 * scale))
    assert not drawn and not view.drawing_box

    view.start_box_drawing()
    drag(view.canvas, (left + 150 * scale, top + 120 * scale), (left + 50 * scale, top + 40 * scale))
    assert len(drawn) == 1 and not view.drawing_box
    assert drawn[0] == pytest.approx((50, 40, 150, 120), abs=1)


def test_clicking_a_face_box_says_which_face(view):
    view.set_before(solid(GREY, 400, 300), boxes=[(20, 20, 120, 140), (200, 50, 320, 200)])
    view.set_mode("before")
    scale, left, top = fit_geometry(view, 400, 300)
    clicked = []
    view.face_clicked.connect(clicked.append)
    for x, y in ((250, 100), (60, 60), (380, 280)):  # second face, first face, no face
        mouse(view.canvas, "press", (left + x * scale, top + y * scale))
        mouse(view.canvas, "release", (left + x * scale, top + y * scale))
    assert clicked == [1, 0]
    drag(view.canvas, (left + 220 * scale, top + 100 * scale), (left + 300 * scale, top + 100 * scale))
    assert clicked == [1, 0]  # a drag (a pan) inside a face is not a click


def test_a_smaller_after_preview_covers_the_same_photo_coordinates(view):
    view.set_before(solid(GREY, 400, 300))
    preview = solid(BLUE, 100, 75)
    preview[:, 50:] = YELLOW  # the boundary lies at x = 200 of the photo
    view.set_after(preview)
    view.set_mode("after")
    view.zoom_actual()
    left, top = round((view.canvas.width() - 400) / 2), round((view.canvas.height() - 300) / 2)
    y = top + 150
    assert close_to(colour_at(view, left + 190, y), BLUE) and close_to(colour_at(view, left + 210, y), YELLOW)
    assert close_to(colour_at(view, left + 4, y), BLUE) and close_to(colour_at(view, left + 395, y), YELLOW)
    assert close_to(colour_at(view, left - 4, y), BACKGROUND.getRgb()[:3], 4)
    assert close_to(colour_at(view, left + 404, y), BACKGROUND.getRgb()[:3], 4)
    assert close_to(colour_at(view, left + 300, top + 296), YELLOW)
    assert close_to(colour_at(view, left + 300, top + 304), BACKGROUND.getRgb()[:3], 4)


def test_the_busy_pill_shows_over_the_after_side_and_spins(view, qtbot):
    view.set_before(solid(RED))
    view.set_after(solid(BLUE, 400, 300))
    view.set_mode("after")
    view.zoom_to_box((150, 120, 250, 180), margin=0)  # the after fills the view
    width = view.canvas.width()

    def corner():
        return grab(view)[4:40, width - 160 : width - 4].astype(int)

    assert (np.abs(corner() - BLUE).sum(axis=2) < 10).all()
    view.set_busy(True)
    first = corner()
    assert (np.abs(first - BLUE).sum(axis=2) > 60).mean() > 0.2
    qtbot.waitUntil(lambda: not np.array_equal(corner(), first), timeout=2000)  # the spinner turns
    view.set_busy(False)
    assert (np.abs(corner() - BLUE).sum(axis=2) < 10).all()


# ---------------------------------------------------------------------------------------------- the state alone
def test_view_state_clamps_steps_and_maps_both_ways():
    state = ViewState()
    state.set_viewport(400, 300, dpr=2.0)
    state.set_image_size(800, 600)
    assert state.fitting and state.zoom == pytest.approx(1.0)  # 400 view px = 800 device px
    state.zoom_in()
    assert state.zoom == 1.5 and not state.fitting
    state.pan_by(-10_000, -10_000)  # dragged far: the corner stops at the edge
    assert state.image_to_view(800, 600) == pytest.approx((400, 300))
    assert state.view_to_image(*state.image_to_view(123.0, 456.0)) == pytest.approx((123.0, 456.0))
    state.zoom_out()
    state.zoom_out()
    assert state.zoom == pytest.approx(2 / 3) and state.image_to_view(400, 300) == pytest.approx((200, 150), abs=0.5)
    assert state.origin()[0] * 2 == round(state.origin()[0] * 2)  # on a whole device pixel
    assert state.describe_zoom() == "67 %"
    state.set_image_size(800, 600)
    assert not state.fitting  # the same size keeps the view
    state.set_image_size(1000, 600)
    assert state.fitting and state.describe_zoom() == "Fit · 80 %"


# ---------------------------------------------------------------------------------------------- in the window
def test_the_window_view_menu_busy_signal_and_space_drive_the_compare_view(qtbot, restorer):
    from app.gui.main_window import MainWindow
    from app.gui.worker import SharedRestorer

    window = MainWindow(SharedRestorer(lambda: restorer))
    qtbot.addWidget(window)
    window.show()
    try:
        compare = window.compare
        compare.set_before(noise(400, 300))
        compare.set_after(noise(400, 300, seed=1))
        view_menu = next(action.menu() for action in window.menuBar().actions() if action.text() == "&View")
        actions = {action.text(): action for action in view_menu.actions()}
        assert compare.mode == "side_by_side" and actions["&Side by side"].isChecked()
        actions["S&plit"].trigger()
        assert compare.mode == "split" and not actions["&Side by side"].isChecked()
        assert "Ctrl+0" in [key.toString() for key in actions["&Fit to window"].shortcuts()]
        assert "Ctrl+1" in [key.toString() for key in actions["&Actual size (1:1)"].shortcuts()]
        assert "Ctrl+=" in [key.toString() for key in actions["Zoom &in"].shortcuts()]
        fitted = compare.zoom
        actions["Zoom &in"].trigger()
        assert compare.zoom > fitted
        actions["&Actual size (1:1)"].trigger()
        assert compare.zoom == 1.0
        actions["&Fit to window"].trigger()
        assert compare.zoom == pytest.approx(fitted)

        qtbot.waitUntil(lambda: window.model_ready is not None, timeout=90_000)  # no other work under way
        window.worker.busy.emit(True)
        assert compare.is_busy
        window.worker.busy.emit(False)
        assert not compare.is_busy
        key(window.photo_list, "press")  # Space while the photo list has the focus
        assert compare.holding_before
        key(window.photo_list, "release")
        assert not compare.holding_before
    finally:
        window.close()
        qtbot.waitUntil(lambda: window.worker_thread.isFinished() and not window.isVisible(), timeout=90_000)
