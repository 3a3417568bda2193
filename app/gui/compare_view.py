"""The before/after compare view: side by side, a split with a draggable divider, or one image at a time.

- Both images live in one coordinate space, the before photo's pixels: an after image of another size (a
  screen-resolution preview of a big photo) is drawn scaled onto the before's size. Face boxes are in those pixels.
- One `ViewState` (view_state.py) holds the zoom and the region shown. Side by side, both sides are drawn from
  it, so they always show the same region at the same zoom.
- Modes: 'side_by_side'; 'split' (the before left of a vertical divider, the after right of it; drag the
  divider); 'before'; 'after'. Holding Space shows the before where the after is, in every mode.
- While no photo is shown, the placeholder (what to do, or which photo is opening) is centred on the whole view.
  The face boxes are drawn on the before unless `set_show_boxes(False)`.
- Zoom: the wheel (about the cursor), `zoom_in`/`zoom_out` (stops of 25 %, 50 %, 100 %, 200 % …), `zoom_fit`
  (the default: it follows resizes until the user zooms), `zoom_actual` (1:1, one photo pixel on one screen
  pixel, also on high-DPI screens), `zoom_to_box`. Pan: drag with the left button (off the divider) or with the
  middle button. A click in a face box emits `face_clicked`; `start_box_drawing` lets the user drag a new box.
- Drawing: QPainter from QPixmaps, with area-averaged smaller copies for zoomed-out views (no aliasing); smooth
  (bilinear) below 200 %, nearest from 200 % (crisp photo pixels to inspect), except for an after preview smaller
  than the photo, which stays smooth (its blocks would not be the result's pixels); only the visible part is drawn.
"""

from __future__ import annotations

import html
import math

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QCursor, QFontMetricsF, QKeyEvent, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.gui.convert import rgb_to_qimage
from app.gui.view_state import WHEEL_STEP, ViewState

MODES = ("side_by_side", "split", "before", "after")
BEFORE_PLACEHOLDER = "Open photos (Ctrl+O) or drop them here"
CAPTION_LINES = 3  # "Before"/"After" and up to two lines under it
CAPTION_MARGIN = 6  # px between a caption's text and its edge
AFTER_PLACEHOLDER = "The restored photo appears here"
BACKGROUND = QColor(40, 40, 44)
PLACEHOLDER_COLOUR = QColor(170, 170, 170)
BOX_COLOUR = QColor(60, 220, 120)
SIDE_GAP = 6  # view pixels between the two images side by side
DIVIDER_GRAB = 8  # view pixels either side of the divider that pick it up
CLICK_SLOP = 4  # view pixels a press may move and still count as a click
NEAREST_FROM_ZOOM = 2.0  # zoom from which photo pixels are drawn crisp (nearest), not smooth
BUSY_FRAME_MS = 80


class _Pyramid:
    """An image as a QPixmap, plus smaller copies made on demand (1/2, 1/4 …, area-averaged by Qt's smooth
    scaling), so a zoomed-out view is drawn from a copy near the screen's resolution rather than aliased."""

    def __init__(self, rgb: np.ndarray) -> None:
        self.levels = {0: QPixmap.fromImage(rgb_to_qimage(rgb))}
        self.width, self.height = self.levels[0].width(), self.levels[0].height()

    def pixmap_for(self, screen_per_pixel: float) -> QPixmap:
        """The smallest copy that still has at least one pixel per screen pixel at this magnification."""
        level = 0 if screen_per_pixel >= 1 else int(math.floor(math.log2(1 / screen_per_pixel)))
        level = min(level, int(math.log2(max(1, min(self.width, self.height)))))
        if level not in self.levels:
            self.levels[level] = self.levels[0].scaled(
                max(1, round(self.width / 2**level)),
                max(1, round(self.height / 2**level)),
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        return self.levels[level]


class _Canvas(QWidget):
    """The drawing surface of a CompareView: it paints and takes the mouse; the view holds what is shown."""

    def __init__(self, view: CompareView) -> None:
        super().__init__(view)
        self.view = view
        self.setMinimumSize(240, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.drag: str | None = None  # 'divider', 'press' (may become a click or a pan), 'pan', 'box'
        self.press_pos = QPointF()
        self.last_pos = QPointF()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.view._paint(QPainter(self))

    def resizeEvent(self, event) -> None:  # noqa: N802
        self.view._sync_viewport()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self.view._mouse_press(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        self.view._mouse_move(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self.view._mouse_release(event)

    def wheelEvent(self, event) -> None:  # noqa: N802
        self.view._wheel(event)


class CompareView(QWidget):
    """Before and after of one photo, with captions above, a shared zoom and pan, and a busy indicator."""

    box_drawn = Signal(object)  # (x0, y0, x1, y1) in before-image pixels, from start_box_drawing
    box_drawing_cancelled = Signal()
    face_clicked = Signal(int)  # index into the boxes given to set_before

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view_state = ViewState()
        self._before: _Pyramid | None = None
        self._after: _Pyramid | None = None
        self._boxes: list[tuple[float, float, float, float]] = []
        self._show_boxes = True
        self._mode = "side_by_side"
        self._divider = 0.5
        self._placeholder = BEFORE_PLACEHOLDER
        self._holding_before = False  # Space held: the before is shown where the after is
        self._drawing_box = False
        self._busy = False
        self._busy_angle = 0
        self._busy_timer = QTimer(self, interval=BUSY_FRAME_MS)
        self._busy_timer.timeout.connect(self._advance_busy)

        self.before_label = self._caption_label()
        self.after_label = self._caption_label()
        self.set_before_caption("")
        self.set_after_caption("")
        self.canvas = _Canvas(self)
        captions = QHBoxLayout()
        captions.setContentsMargins(0, 0, 0, 0)
        captions.addWidget(self.before_label, 1)
        captions.addWidget(self.after_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(captions)
        layout.addWidget(self.canvas, 1)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._update_captions()

    def _caption_label(self) -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setMinimumHeight(round(CAPTION_LINES * label.fontMetrics().lineSpacing()) + 4)  # no jumps
        label.setContentsMargins(CAPTION_MARGIN, 0, CAPTION_MARGIN, 0)  # text never touches the window's edge
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # wraps, never widens
        return label

    # ------------------------------------------------------------------ images and captions
    def set_before(self, rgb: np.ndarray | None, boxes=()) -> None:
        """The photo as opened, with its face boxes (x0, y0, x1, y1) in its pixels. None clears it; a new photo
        (after a clear, or of another size) starts fitted, one of the same size keeps the zoom and region."""
        self._before = None if rgb is None else _Pyramid(rgb)
        self._boxes = [(float(box[0]), float(box[1]), float(box[2]), float(box[3])) for box in boxes]
        self._sync_image_size()

    def set_after(self, rgb: np.ndarray | None) -> None:
        """The result; of the before's size or smaller (a preview), drawn over the before's pixel coordinates."""
        self._after = None if rgb is None else _Pyramid(rgb)
        self._sync_image_size()

    def set_before_caption(self, detail: str) -> None:
        """The text under "Before" (plain text; a line break starts a new line)."""
        self.before_label.setText(_caption_html("Before", detail))

    def set_after_caption(self, detail: str) -> None:
        self.after_label.setText(_caption_html("After", detail))

    @property
    def before_caption(self) -> str:
        return self.before_label.text()

    @property
    def after_caption(self) -> str:
        return self.after_label.text()

    def set_placeholder(self, text: str) -> None:
        """What the view says, in its middle, while no photo is shown."""
        self._placeholder = text
        self.canvas.update()

    @property
    def placeholder(self) -> str:
        return self._placeholder

    @property
    def has_before(self) -> bool:
        return self._before is not None

    @property
    def has_after(self) -> bool:
        return self._after is not None

    @property
    def box_count(self) -> int:
        return len(self._boxes)

    @property
    def boxes(self) -> list[tuple[float, float, float, float]]:
        return list(self._boxes)

    @property
    def show_boxes(self) -> bool:
        return self._show_boxes

    def set_show_boxes(self, shown: bool) -> None:
        """Draw the face boxes on the before, or not (the faces stay clickable)."""
        self._show_boxes = bool(shown)
        self.canvas.update()

    def _sync_image_size(self) -> None:
        shown = self._before or self._after
        self.view_state.set_image_size(*((shown.width, shown.height) if shown else (0, 0)))
        self._sync_viewport()
        self.canvas.update()

    # ------------------------------------------------------------------ modes
    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown compare mode {mode!r}; one of {', '.join(MODES)}")
        self._mode = mode
        self._update_captions()
        self._sync_viewport()
        self.canvas.update()

    @property
    def divider(self) -> float:
        """Where the split divider is, 0 (left edge) … 1 (right edge) of the view."""
        return self._divider

    def set_divider(self, x: float) -> None:
        self._divider = min(max(float(x), 0.0), 1.0)
        self.canvas.update()

    @property
    def holding_before(self) -> bool:
        return self._holding_before

    def hold_before(self, held: bool) -> None:
        """Show the before in place of the after (what holding Space does)."""
        if held != self._holding_before:
            self._holding_before = held
            self.canvas.update()

    def _update_captions(self) -> None:
        centre, left, right = (Qt.AlignmentFlag.AlignHCenter, Qt.AlignmentFlag.AlignLeft, Qt.AlignmentFlag.AlignRight)
        before_align, after_align = (left, right) if self._mode == "split" else (centre, centre)
        self.before_label.setAlignment(before_align | Qt.AlignmentFlag.AlignVCenter)
        self.after_label.setAlignment(after_align | Qt.AlignmentFlag.AlignVCenter)
        self.before_label.setVisible(self._mode != "after")
        self.after_label.setVisible(self._mode != "before")

    # ------------------------------------------------------------------ zoom and pan
    @property
    def zoom(self) -> float:
        """Screen pixels per photo pixel: 1.0 is 1:1 (100 %)."""
        self._sync_viewport()
        return self.view_state.zoom

    def zoom_in(self) -> None:
        self._change_view(self.view_state.zoom_in)

    def zoom_out(self) -> None:
        self._change_view(self.view_state.zoom_out)

    def zoom_fit(self) -> None:
        self._change_view(self.view_state.zoom_fit)

    def zoom_actual(self) -> None:
        self._change_view(lambda: self.view_state.set_zoom(1.0))

    def zoom_to_box(self, box, margin: float = 0.25) -> None:
        """Show the image rectangle `box` (x0, y0, x1, y1; e.g. a face box) as large as it fits, with `margin`
        × its size of room around it."""
        x0, y0, x1, y1 = (float(v) for v in box[:4])
        self._change_view(lambda: self.view_state.zoom_to_rect(x0, y0, x1, y1, margin))

    def _change_view(self, change) -> None:
        self._sync_viewport()
        change()
        self.canvas.update()

    def _viewports(self) -> list[tuple[str, QRectF]]:
        """(role, rectangle) of each image area of the canvas: 'before' and 'after' side by side, else one."""
        width, height = self.canvas.width(), self.canvas.height()
        if self._mode != "side_by_side":
            return [(self._mode, QRectF(0, 0, width, height))]
        half = max(1.0, (width - SIDE_GAP) / 2)
        return [("before", QRectF(0, 0, half, height)), ("after", QRectF(width - half, 0, half, height))]

    def _sync_viewport(self) -> None:
        rect = self._viewports()[0][1]
        self.view_state.set_viewport(rect.width(), rect.height(), self.canvas.devicePixelRatioF())

    def _viewport_at(self, pos: QPointF) -> QRectF:
        viewports = self._viewports()
        return viewports[-1][1] if len(viewports) > 1 and pos.x() >= self.canvas.width() / 2 else viewports[0][1]

    def _image_point(self, pos: QPointF, viewport: QRectF | None = None) -> tuple[float, float]:
        viewport = viewport if viewport is not None else self._viewport_at(pos)
        return self.view_state.view_to_image(pos.x() - viewport.left(), pos.y() - viewport.top())

    # ------------------------------------------------------------------ busy
    @property
    def is_busy(self) -> bool:
        return self._busy

    def set_busy(self, busy: bool) -> None:
        """Show a spinning 'Working…' pill over the after side while work runs."""
        self._busy = bool(busy)
        if self._busy:
            self._busy_timer.start()
        else:
            self._busy_timer.stop()
        self.canvas.update()

    def _advance_busy(self) -> None:
        self._busy_angle = (self._busy_angle + 30) % 360
        self.canvas.update()

    # ------------------------------------------------------------------ box drawing
    @property
    def drawing_box(self) -> bool:
        return self._drawing_box

    def start_box_drawing(self) -> None:
        """The next rectangle the user drags emits `box_drawn` (Escape cancels)."""
        self._drawing_box = True
        self.canvas.setCursor(Qt.CursorShape.CrossCursor)
        self.setFocus()
        self.canvas.update()

    def cancel_box_drawing(self) -> None:
        if self._drawing_box:
            self._end_box_drawing()
            self.box_drawing_cancelled.emit()

    def _end_box_drawing(self) -> None:
        self._drawing_box = False
        self.canvas.drag = None
        self.canvas.unsetCursor()
        self.canvas.update()

    def _finish_box(self, start: QPointF, end: QPointF) -> None:
        if abs(end.x() - start.x()) < CLICK_SLOP or abs(end.y() - start.y()) < CLICK_SLOP:
            return  # a click, not a rectangle: keep waiting for one
        viewport = self._viewport_at(start)
        (ax, ay), (bx, by) = self._image_point(start, viewport), self._image_point(end, viewport)
        width, height = self.view_state.image_size
        x0, x1 = sorted((min(max(ax, 0.0), width), min(max(bx, 0.0), width)))
        y0, y1 = sorted((min(max(ay, 0.0), height), min(max(by, 0.0), height)))
        self._end_box_drawing()
        if x1 > x0 and y1 > y0:
            self.box_drawn.emit((x0, y0, x1, y1))
        else:
            self.box_drawing_cancelled.emit()  # dragged entirely outside the photo

    # ------------------------------------------------------------------ keys (Space is also watched elsewhere)
    def watch_space_on(self, widget: QWidget) -> None:
        """Let holding Space toggle before/after while `widget` (e.g. the photo list) has the keyboard focus."""
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return self._space_key(event)
        if event.type() == QEvent.Type.FocusOut:
            self.hold_before(False)
        return False

    def _space_key(self, event: QKeyEvent) -> bool:
        if event.key() != Qt.Key.Key_Space or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        if not event.isAutoRepeat():
            self.hold_before(event.type() == QEvent.Type.KeyPress)
        return True

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if self._space_key(event):
            return
        if event.key() == Qt.Key.Key_Escape and self._drawing_box:
            self.cancel_box_drawing()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if not self._space_key(event):
            super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802
        self.hold_before(False)  # a release we will not see must not leave the before stuck on
        super().focusOutEvent(event)

    # ------------------------------------------------------------------ mouse
    def _near_divider(self, pos: QPointF) -> bool:
        return (
            self._mode == "split"
            and self._after is not None
            and self._before is not None
            and abs(pos.x() - self._divider * self.canvas.width()) <= DIVIDER_GRAB
        )

    def _face_at(self, pos: QPointF) -> int | None:
        x, y = self._image_point(pos)
        inside = [
            (abs((x1 - x0) * (y1 - y0)), index)
            for index, (x0, y0, x1, y1) in enumerate(self._boxes)
            if min(x0, x1) <= x <= max(x0, x1) and min(y0, y1) <= y <= max(y0, y1)
        ]
        return min(inside)[1] if inside else None  # the smallest box holding the point

    def _can_pan(self) -> bool:
        state = self.view_state
        width, height = state.image_size
        return width * state.scale > state.view_size[0] + 0.5 or height * state.scale > state.view_size[1] + 0.5

    def _mouse_press(self, event) -> None:
        canvas, pos = self.canvas, event.position()
        canvas.press_pos = canvas.last_pos = pos
        if event.button() == Qt.MouseButton.LeftButton:
            if self._drawing_box:
                canvas.drag = "box"
            elif self._near_divider(pos):
                canvas.drag = "divider"
                self.set_divider(pos.x() / max(1, canvas.width()))
            else:
                canvas.drag = "press"
        elif event.button() == Qt.MouseButton.MiddleButton:
            canvas.drag = "pan"
            canvas.setCursor(Qt.CursorShape.ClosedHandCursor)

    def _mouse_move(self, event) -> None:
        canvas, pos = self.canvas, event.position()
        if canvas.drag == "divider":
            self.set_divider(pos.x() / max(1, canvas.width()))
        elif canvas.drag == "press" and (pos - canvas.press_pos).manhattanLength() > CLICK_SLOP:
            canvas.drag = "pan"
            canvas.setCursor(Qt.CursorShape.ClosedHandCursor)
        if canvas.drag == "pan":
            delta = pos - canvas.last_pos
            self._change_view(lambda: self.view_state.pan_by(delta.x(), delta.y()))
        elif canvas.drag == "box":
            canvas.update()
        elif canvas.drag is None:
            self._update_cursor(pos)
        canvas.last_pos = pos

    def _mouse_release(self, event) -> None:
        canvas, pos = self.canvas, event.position()
        drag, canvas.drag = canvas.drag, None
        if drag == "box":
            self._finish_box(canvas.press_pos, pos)
            canvas.update()
        elif drag == "press":
            face = self._face_at(pos)
            if face is not None:
                self.face_clicked.emit(face)
        self._update_cursor(pos)

    def _update_cursor(self, pos: QPointF) -> None:
        if self._drawing_box:
            shape = Qt.CursorShape.CrossCursor
        elif self._near_divider(pos):
            shape = Qt.CursorShape.SplitHCursor
        elif self._face_at(pos) is not None:
            shape = Qt.CursorShape.PointingHandCursor
        elif self._can_pan():
            shape = Qt.CursorShape.OpenHandCursor
        else:
            shape = Qt.CursorShape.ArrowCursor
        if self.canvas.cursor().shape() != shape:
            self.canvas.setCursor(QCursor(shape))

    def _wheel(self, event) -> None:
        steps = event.angleDelta().y() / 120
        if not steps or self.view_state.image_size == (0, 0):
            event.ignore()
            return
        pos = event.position()
        viewport = self._viewport_at(pos)
        anchor = (pos.x() - viewport.left(), pos.y() - viewport.top())
        self._change_view(lambda: self.view_state.zoom_by(WHEEL_STEP**steps, anchor))
        event.accept()

    # ------------------------------------------------------------------ painting
    def _paint(self, painter: QPainter) -> None:
        canvas = self.canvas
        painter.fillRect(canvas.rect(), BACKGROUND)
        self._sync_viewport()
        if self._before is None:  # nothing to compare yet: what to do, or what is opening, in the middle
            painter.setPen(PLACEHOLDER_COLOUR)
            margin = max(12, canvas.width() // 8)
            painter.drawText(
                QRectF(canvas.rect()).adjusted(margin, 12, -margin, -12),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._placeholder,
            )
        for role, rect in self._viewports():
            painter.save()
            painter.setClipRect(rect)
            painter.translate(rect.topLeft())
            self._paint_viewport(painter, role, QRectF(0, 0, rect.width(), rect.height()))
            painter.restore()
        if self.view_state.has_image:
            bottom_left = QPointF(8, canvas.height() - 8)
            self._pill(painter, self.view_state.describe_zoom(), bottom_left, Qt.AlignmentFlag.AlignBottom)
        after_rect = self._viewports()[-1][1]
        if self._busy:
            self._paint_busy(painter, after_rect)
        if self._drawing_box:
            self._paint_box_drawing(painter)
        painter.end()

    def _paint_viewport(self, painter: QPainter, role: str, rect: QRectF) -> None:
        shown_after = self._before if self._holding_before else self._after
        if self._before is None:
            return  # the placeholder is drawn across the whole view
        if role == "before" or (role == "split" and shown_after is None):
            self._paint_image(painter, self._before, rect, "", boxes=True)
        elif role == "after":
            self._paint_image(painter, shown_after, rect, AFTER_PLACEHOLDER, boxes=False)
        else:  # split: before | after
            x = round(self._divider * rect.width())
            painter.save()
            painter.setClipRect(QRectF(0, 0, x, rect.height()), Qt.ClipOperation.IntersectClip)
            self._paint_image(painter, self._before, rect, "", boxes=True)
            painter.restore()
            painter.save()
            painter.setClipRect(QRectF(x, 0, rect.width() - x, rect.height()), Qt.ClipOperation.IntersectClip)
            self._paint_image(painter, shown_after, rect, "", boxes=False)
            painter.restore()
            self._paint_divider(painter, x, rect.height())
            self._pill(painter, "Before", QPointF(x - 8, 8), Qt.AlignmentFlag.AlignRight)
            if not self._holding_before:
                self._pill(painter, "After", QPointF(x + 8, 8), Qt.AlignmentFlag.AlignLeft)
        if self._holding_before and role in ("after", "split") and self._before is not None:
            self._pill(painter, "Before (Space held)", QPointF(rect.width() - 8, 8), Qt.AlignmentFlag.AlignRight)

    def _paint_image(
        self, painter: QPainter, image: _Pyramid | None, rect: QRectF, placeholder: str, boxes: bool
    ) -> None:
        state = self.view_state
        if image is None or not state.has_image:
            if placeholder:
                painter.setPen(PLACEHOLDER_COLOUR)
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, placeholder)
            return
        width, height = state.image_size
        x0, y0, x1, y1 = state.visible_image_rect()
        x0, y0, x1, y1 = math.floor(x0), math.floor(y0), min(width, math.ceil(x1)), min(height, math.ceil(y1))
        if x1 <= x0 or y1 <= y0:
            return
        pixmap = image.pixmap_for(state.zoom * width / image.width)
        kx, ky = pixmap.width() / width, pixmap.height() / height  # pixmap pixels per image pixel
        (tx0, ty0), (tx1, ty1) = state.image_to_view(x0, y0), state.image_to_view(x1, y1)
        crisp = state.zoom >= NEAREST_FROM_ZOOM and image.width >= width  # a preview's pixels are not the photo's
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not crisp)
        painter.drawPixmap(
            QRectF(tx0, ty0, tx1 - tx0, ty1 - ty0), pixmap, QRectF(x0 * kx, y0 * ky, (x1 - x0) * kx, (y1 - y0) * ky)
        )
        if boxes and self._show_boxes and self._boxes:
            pen = QPen(BOX_COLOUR, 2)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            for bx0, by0, bx1, by1 in self._boxes:
                (ax, ay), (bx, by) = state.image_to_view(bx0, by0), state.image_to_view(bx1, by1)
                painter.drawRect(QRectF(QPointF(ax, ay), QPointF(bx, by)).normalized())

    def _paint_divider(self, painter: QPainter, x: float, height: float) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(255, 255, 255, 230), 2))
        painter.drawLine(QPointF(x, 0), QPointF(x, height))
        centre = QPointF(x, height / 2)
        painter.setBrush(QColor(255, 255, 255, 235))
        painter.setPen(QPen(QColor(0, 0, 0, 120), 1))
        painter.drawEllipse(centre, 13, 13)
        painter.setBrush(QColor(60, 60, 66))
        painter.setPen(Qt.PenStyle.NoPen)
        for direction in (-1, 1):  # ◀ ▶
            arrow = QPainterPath()
            arrow.moveTo(centre + QPointF(direction * 9, 0))
            arrow.lineTo(centre + QPointF(direction * 3, -5))
            arrow.lineTo(centre + QPointF(direction * 3, 5))
            arrow.closeSubpath()
            painter.drawPath(arrow)
        painter.restore()

    def _pill(
        self, painter: QPainter, text: str, anchor: QPointF, align: Qt.AlignmentFlag, icon_width: float = 0.0
    ) -> QRectF:
        """A rounded dark label with white text; `anchor` is its top-left corner, its top-right (AlignRight), the
        middle of its top (AlignHCenter) or its bottom-left (AlignBottom). Returns its rectangle."""
        metrics = QFontMetricsF(painter.font())
        width = metrics.horizontalAdvance(text) + 16 + icon_width
        height = metrics.height() + 6
        left = (
            anchor.x() - width
            if align & Qt.AlignmentFlag.AlignRight
            else anchor.x() - width / 2
            if align & Qt.AlignmentFlag.AlignHCenter
            else anchor.x()
        )
        top = anchor.y() - height if align & Qt.AlignmentFlag.AlignBottom else anchor.y()
        rect = QRectF(left, top, width, height)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 165))
        painter.drawRoundedRect(rect, height / 2, height / 2)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(rect.adjusted(8 + icon_width, 0, -8, 0), Qt.AlignmentFlag.AlignVCenter, text)
        painter.restore()
        return rect

    def _paint_busy(self, painter: QPainter, after_rect: QRectF) -> None:
        size = QFontMetricsF(painter.font()).height()
        top = 8 + (QFontMetricsF(painter.font()).height() + 10 if self._holding_before else 0)
        rect = self._pill(
            painter,
            "Working…",
            QPointF(after_rect.right() - 8, after_rect.top() + top),
            Qt.AlignmentFlag.AlignRight,
            icon_width=size + 4,
        )
        spinner = QRectF(rect.left() + 8, rect.center().y() - size / 2, size, size).adjusted(1, 1, -1, -1)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor(120, 200, 255), 2.5)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawArc(spinner, -self._busy_angle * 16, 270 * 16)
        painter.restore()

    def _paint_box_drawing(self, painter: QPainter) -> None:
        canvas = self.canvas
        self._pill(
            painter,
            "Drag a rectangle around the face · Esc cancels",
            QPointF(canvas.width() / 2, 8),
            Qt.AlignmentFlag.AlignHCenter,
        )
        if canvas.drag == "box":
            pen = QPen(BOX_COLOUR, 1.5, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(QColor(60, 220, 120, 40))
            painter.drawRect(QRectF(canvas.press_pos, canvas.last_pos).normalized())


def _caption_html(title: str, detail: str) -> str:
    """A caption: the title in bold, then `detail` (plain text, its line breaks kept)."""
    lines = [f"<b>{html.escape(title)}</b>", *(html.escape(line) for line in detail.splitlines())]
    return "<br>".join(lines)
