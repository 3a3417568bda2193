"""Outputs every evaluation compares against, and the contact sheet they are shown on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SHEET_TILE = 128


def classical_baseline(face: np.ndarray) -> np.ndarray:
    """Non-learned reference: (already resized) → non-local-means denoise → unsharp mask."""
    denoised = cv2.fastNlMeansDenoisingColored(face, None, 6, 6, 5, 15)
    blurred = cv2.GaussianBlur(denoised, (0, 0), 1.2)
    return cv2.addWeighted(denoised, 1.7, blurred, -0.7, 0)


def write_contact_sheet(
    path: Path, columns: list[str], sections: list[tuple[str, list[list[np.ndarray | None]]]], tile: int = SHEET_TILE
) -> Path:
    """A grid of faces (RGB uint8, any size: shown at `tile` px) with a text header per column and a
    title band per section; None cells are left grey. Written as PNG."""
    font, scale, line = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 14
    header_lines = max(label.count("\n") + 1 for label in columns)
    header = 8 + line * header_lines
    band, gap = 20, 2
    width = len(columns) * (tile + gap) + gap
    height = header + sum(band + len(rows) * (tile + gap) for _, rows in sections) + gap
    sheet = np.full((height, width, 3), 255, np.uint8)
    for c, label in enumerate(columns):
        for n, text in enumerate(label.split("\n")):
            cv2.putText(
                sheet,
                text,
                (gap + c * (tile + gap) + 3, 4 + line * (n + 1) - 3),
                font,
                scale,
                (0, 0, 0),
                1,
                cv2.LINE_AA,
            )
    y = header
    for title, rows in sections:
        cv2.putText(sheet, title, (gap + 3, y + band - 6), font, 0.45, (0, 0, 160), 1, cv2.LINE_AA)
        y += band
        for row in rows:
            for c, face in enumerate(row):
                x = gap + c * (tile + gap)
                if face is None:
                    sheet[y : y + tile, x : x + tile] = 220
                else:
                    interpolation = cv2.INTER_AREA if face.shape[0] > tile else cv2.INTER_CUBIC
                    sheet[y : y + tile, x : x + tile] = cv2.resize(face, (tile, tile), interpolation=interpolation)
            y += tile + gap
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path
