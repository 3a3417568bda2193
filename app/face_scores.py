"""How the quality of a face is measured, in one place: the window's captions and face strip and `iqpfr score`
use these functions, so they give the same numbers for the same pixels (no Qt).

A face is aligned from the photo at SCORE_FACE_SIZE px, whatever model restores it, and scored by the no-reference
metric on GRID_OFFSETS² windows of the crop shifted against the metric's block grid; the score is their mean. PIQE
works on 16 px blocks, so one crop's score moves by several hundredths when the face is found a pixel away (as it
is when `iqpfr score` detects the faces of a saved result again); the mean over the shifts moves far less.

A restored face is measured where it ends up: pasted back into its part of the full-resolution photo, as saving
writes it, not as the model's own square output (whose missing fine detail the paste-back restores for large faces).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from app.faces import align_face, paste_face
from app.faces.alignment import face_region
from app.photo_io import to_rgb8
from app.pipeline import PreparedPhoto, Stopped
from app.quality import QualityScore, QualityScorer

SCORE_FACE_SIZE = 256  # px: the aligned face that is scored, for every model
GRID_OFFSETS = (0, 8)  # px: shifts of the scored window against the metric's 16 px block grid, each way
REGION_MARGIN = 8  # px of the photo kept around a face's square when it is pasted back to be scored


def score_face(scorer: QualityScorer, rgb: np.ndarray, landmarks: np.ndarray) -> QualityScore:
    """The score of the face with these five landmarks in `rgb` (8-bit RGB)."""
    crop = align_face(rgb, landmarks, SCORE_FACE_SIZE).image
    side = SCORE_FACE_SIZE - max(GRID_OFFSETS)
    raws = [
        scorer.score(np.ascontiguousarray(crop[dy : dy + side, dx : dx + side])).raw
        for dy in GRID_OFFSETS
        for dx in GRID_OFFSETS
    ]
    raw = float(np.mean(raws))
    return QualityScore(scorer.metric, raw, scorer.normalize(raw))


def photo_face_scores(scorer: QualityScorer, prepared: PreparedPhoto) -> list[QualityScore]:
    """The score of each face of the photo as it was opened."""
    rgb = prepared.photo.rgb8()
    return [score_face(scorer, rgb, face.detection.landmarks) for face in prepared.faces]


def restored_face_scores(
    scorer: QualityScorer,
    prepared: PreparedPhoto,
    restored: Sequence[np.ndarray],
    should_stop: Callable[[], bool] | None = None,
) -> list[QualityScore]:
    """The score of each restored face (the model's aligned outputs, in the photo's face order) pasted back into
    its part of the full-resolution photo, as saving pastes it. `should_stop()` is asked before each face; True
    raises `Stopped`."""
    pixels = prepared.photo.pixels
    scores = []
    for face, output in zip(prepared.faces, restored, strict=True):
        if should_stop is not None and should_stop():
            raise Stopped
        x0, y0, x1, y1 = face_region(face.aligned.inverse, output.shape[0], REGION_MARGIN, pixels.shape)
        region = pixels[y0:y1, x0:x1].copy()
        inverse = face.aligned.inverse.astype(np.float64).copy()
        inverse[:, 2] -= (x0, y0)
        paste_face(region, output, inverse)
        scores.append(score_face(scorer, to_rgb8(region), face.detection.landmarks - np.array([x0, y0])))
    return scores


def mean_score(scores: Sequence[QualityScore]) -> QualityScore | None:
    """The mean of some faces' scores (for a photo's caption); None for no faces."""
    if not scores:
        return None
    return QualityScore(
        scores[0].metric, float(np.mean([s.raw for s in scores])), float(np.mean([s.normalized for s in scores]))
    )
