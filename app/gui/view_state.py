"""Zoom and pan arithmetic of the compare view, free of Qt so that it is easy to test.

Coordinates:
- *image*: the before photo's pixels (x to the right, y down; pixel (i, j) covers [i, i+1) × [j, j+1)).
  An after image of another size (a preview) is mapped onto these coordinates by the view.
- *view*: one viewport's device-independent (logical) pixels, origin at its top-left corner.

`zoom` counts physical screen pixels per image pixel, so 1.0 is a true 1:1 (100 %): one photo pixel on one
screen pixel whatever the desktop's scaling (device pixel ratio, `dpr`). `scale` = zoom / dpr is what maps
image to view coordinates. Until the user zooms, the view *fits* the whole image and follows resizes.
The image never leaves the viewport: along an axis where it is smaller than the viewport it is centred,
along one where it is larger its edges stay outside the viewport.
"""

from __future__ import annotations

import math

ZOOM_STEPS = (
    1 / 16,
    1 / 8,
    1 / 6,
    1 / 4,
    1 / 3,
    1 / 2,
    2 / 3,
    1.0,
    1.5,
    2.0,
    3.0,
    4.0,
    6.0,
    8.0,
    12.0,
    16.0,
    24.0,
    32.0,
)  # the stops of zoom in / zoom out, as in most image viewers
MAX_ZOOM = ZOOM_STEPS[-1]
WHEEL_STEP = 1.25  # zoom factor of one wheel notch (120 units of angle delta)


class ViewState:
    """What one viewport shows: the image region and its zoom. Side by side, both sides share one."""

    def __init__(self) -> None:
        self.image_size: tuple[int, int] = (0, 0)
        self.view_size: tuple[float, float] = (1.0, 1.0)
        self.dpr = 1.0
        self.fitting = True  # the zoom is the fit zoom and follows viewport resizes
        self._zoom = 1.0  # the user's zoom, used when not fitting
        self.center = (0.0, 0.0)  # the image point at the viewport's centre

    # ------------------------------------------------------------------ inputs
    @property
    def has_image(self) -> bool:
        return self.image_size[0] > 0 and self.image_size[1] > 0

    def set_image_size(self, width: int, height: int) -> None:
        """The image shown. A new size fits the view to it; the same size keeps the zoom and region."""
        if (width, height) != self.image_size:
            self.image_size = (int(width), int(height))
            self.zoom_fit()

    def set_viewport(self, width: float, height: float, dpr: float = 1.0) -> None:
        self.view_size = (max(1.0, float(width)), max(1.0, float(height)))
        self.dpr = dpr if dpr > 0 else 1.0
        self._clamp()

    # ------------------------------------------------------------------ the mapping
    @property
    def fit_zoom(self) -> float:
        if not self.has_image:
            return 1.0
        (image_w, image_h), (view_w, view_h) = self.image_size, self.view_size
        return min(view_w / image_w, view_h / image_h) * self.dpr

    @property
    def min_zoom(self) -> float:
        return min(self.fit_zoom, 1.0) / 2

    @property
    def max_zoom(self) -> float:
        return max(MAX_ZOOM, self.fit_zoom)

    @property
    def zoom(self) -> float:
        return self.fit_zoom if self.fitting else self._zoom

    @property
    def scale(self) -> float:
        """View (logical) pixels per image pixel."""
        return self.zoom / self.dpr

    def origin(self) -> tuple[float, float]:
        """Where the image's top-left corner lies in the view, on a whole device pixel (so 1:1 is exact)."""
        scale = self.scale
        x = self.view_size[0] / 2 - self.center[0] * scale
        y = self.view_size[1] / 2 - self.center[1] * scale
        return round(x * self.dpr) / self.dpr, round(y * self.dpr) / self.dpr

    def image_to_view(self, x: float, y: float) -> tuple[float, float]:
        origin_x, origin_y = self.origin()
        return origin_x + x * self.scale, origin_y + y * self.scale

    def view_to_image(self, x: float, y: float) -> tuple[float, float]:
        origin_x, origin_y = self.origin()
        return (x - origin_x) / self.scale, (y - origin_y) / self.scale

    def visible_image_rect(self) -> tuple[float, float, float, float]:
        """The part of the image inside the viewport, (x0, y0, x1, y1) in image pixels (empty: x0 >= x1)."""
        x0, y0 = self.view_to_image(0, 0)
        x1, y1 = self.view_to_image(*self.view_size)
        width, height = self.image_size
        return max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)

    # ------------------------------------------------------------------ changes
    def set_zoom(self, zoom: float, anchor: tuple[float, float] | None = None) -> None:
        """Zoom to `zoom`, keeping the image point under `anchor` (a view point; default: the centre) in place."""
        view_w, view_h = self.view_size
        anchor_x, anchor_y = anchor if anchor is not None else (view_w / 2, view_h / 2)
        image_x, image_y = self.view_to_image(anchor_x, anchor_y)
        self._zoom = min(max(zoom, self.min_zoom), self.max_zoom)
        self.fitting = False
        scale = self.scale
        self.center = (image_x - (anchor_x - view_w / 2) / scale, image_y - (anchor_y - view_h / 2) / scale)
        self._clamp()

    def zoom_by(self, factor: float, anchor: tuple[float, float] | None = None) -> None:
        self.set_zoom(self.zoom * factor, anchor)

    def zoom_in(self, anchor: tuple[float, float] | None = None) -> None:
        """The next zoom stop above the current zoom."""
        bigger = [step for step in ZOOM_STEPS if step > self.zoom * 1.001]
        self.set_zoom(bigger[0] if bigger else self.max_zoom, anchor)

    def zoom_out(self, anchor: tuple[float, float] | None = None) -> None:
        """The next zoom stop below the current zoom."""
        smaller = [step for step in ZOOM_STEPS if step < self.zoom / 1.001]
        self.set_zoom(smaller[-1] if smaller else self.min_zoom, anchor)

    def zoom_fit(self) -> None:
        self.fitting = True
        self.center = (self.image_size[0] / 2, self.image_size[1] / 2)

    def zoom_to_rect(self, x0: float, y0: float, x1: float, y1: float, margin: float = 0.25) -> None:
        """Show the image rectangle as large as it fits, with `margin` × its size of room on each side."""
        width = max(abs(x1 - x0), 1.0) * (1 + 2 * margin)
        height = max(abs(y1 - y0), 1.0) * (1 + 2 * margin)
        view_w, view_h = self.view_size
        self._zoom = min(max(min(view_w / width, view_h / height) * self.dpr, self.min_zoom), self.max_zoom)
        self.fitting = False
        self.center = ((x0 + x1) / 2, (y0 + y1) / 2)
        self._clamp()

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the image by (dx, dy) view pixels (as a hand dragging it)."""
        scale = self.scale
        self.center = (self.center[0] - dx / scale, self.center[1] - dy / scale)
        self._clamp()

    def _clamp(self) -> None:
        if not self.has_image:
            return
        scale = self.scale
        center = []
        for position, image_extent, view_extent in zip(self.center, self.image_size, self.view_size, strict=True):
            half_view = view_extent / 2 / scale  # half the viewport, in image pixels
            if image_extent <= 2 * half_view:
                center.append(image_extent / 2)  # smaller than the viewport: centred
            else:
                center.append(min(max(position, half_view), image_extent - half_view))
        self.center = (center[0], center[1])

    def describe_zoom(self) -> str:
        """'Fit · 34 %' or '200 %'."""
        percent = self.zoom * 100
        text = f"{percent:.0f} %" if percent >= 10 or math.isclose(percent, round(percent)) else f"{percent:.1f} %"
        return f"Fit · {text}" if self.fitting else text
