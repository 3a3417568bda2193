"""Re-align a folder of face chips (e.g. UTKFace's tight crops) to the app's FFHQ template, once.

Each source image is run through the app's own detector and aligner, so the cached faces sit on
exactly the template that inference uses. The crop is stored at 256 px (training resizes it);
where the template reaches past the source image it is filled by mirroring the image
(BORDER_REFLECT_101), and faces with too much of the template off-image are dropped.
Resumable: whatever `manifest.json` in the destination already records is skipped.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from app.errors import StudioError
from app.faces import FaceDetector, align_face, create_detector, detect_faces
from app.fileutil import atomic_target
from app.photo_io import is_supported_image, load_photo

MANIFEST_NAME = "manifest.json"
OUTPUT_SIZE = 256
MAX_MISSING = 0.35  # drop a face when more of its 256×256 crop than this lies outside the source
MIN_SCORE = 0.95  # detector confidence needed to keep a face (MTCNN itself reports ≥ 0.9)
SAVE_EVERY = 200  # manifest flushes, so an interrupted run loses little

KEPT, DROPPED = "kept", "dropped"
UNREADABLE, NO_FACE, LOW_CONFIDENCE, OFF_IMAGE = "unreadable", "no_face", "low_confidence", "off_image"

ProgressCallback = Callable[[int, int, Path], None]


@dataclass
class Entry:
    status: str  # kept / dropped
    reason: str | None = None  # why it was dropped
    missing: float | None = None  # fraction of the crop whose source pixel lies outside the image
    score: float | None = None  # detector confidence of the chosen face
    output: str | None = None  # file name in the destination


@dataclass
class RealignResult:
    manifest: Path
    entries: dict[str, Entry]
    processed: int  # newly handled in this run
    skipped: int  # already recorded by an earlier run

    def counts(self) -> Counter:
        return Counter(e.status if e.status == KEPT else e.reason for e in self.entries.values())


def missing_fraction(affine: np.ndarray, source_shape: tuple[int, ...], size: int) -> float:
    """Fraction of the size×size crop whose source pixel falls outside the source image."""
    inside = np.ones(source_shape[:2], dtype=np.float32)
    warped = cv2.warpAffine(
        inside, affine, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return float(1.0 - warped.mean())


def realign_image(
    detector: FaceDetector,
    rgb: np.ndarray,
    size: int = OUTPUT_SIZE,
    max_missing: float = MAX_MISSING,
    min_score: float = MIN_SCORE,
) -> tuple[np.ndarray | None, Entry]:
    """Align the largest face of an 8-bit RGB image; returns (crop or None, manifest entry)."""
    faces = detect_faces(detector, rgb)
    if not faces:
        return None, Entry(DROPPED, NO_FACE)
    face = max(faces, key=lambda f: (f.size, f.score))
    score = round(face.score, 4)
    if face.score < min_score:
        return None, Entry(DROPPED, LOW_CONFIDENCE, score=score)
    aligned = align_face(rgb, face.landmarks, size, border_mode=cv2.BORDER_REFLECT_101)
    missing = round(missing_fraction(aligned.affine, rgb.shape, size), 4)
    if missing > max_missing:
        return None, Entry(DROPPED, OFF_IMAGE, missing=missing, score=score)
    return aligned.image, Entry(KEPT, missing=missing, score=score)


def list_sources(src: Path) -> list[Path]:
    return [p for p in sorted(src.iterdir()) if p.is_file() and not p.name.startswith(".") and is_supported_image(p)]


def realign_folder(
    src: Path,
    dst: Path,
    limit: int | None = None,
    detector: FaceDetector | None = None,
    progress: ProgressCallback | None = None,
) -> RealignResult:
    """Align every image in `src` (the first `limit` by name) into `dst` as `<stem>.png`."""
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise StudioError(f"'{src}' is not a folder.")
    if dst.resolve() == src.resolve():
        raise StudioError("The destination must be another folder than the source.")
    settings = {
        "size": OUTPUT_SIZE,
        "max_missing": MAX_MISSING,
        "min_score": MIN_SCORE,
        "detector": "mtcnn",
        "border": "reflect101",
    }
    manifest_path = dst / MANIFEST_NAME
    entries = _load_entries(manifest_path, settings)
    sources = list_sources(src)[:limit]
    todo = [p for p in sources if p.name not in entries]
    for stale in dst.glob(".saving-*"):  # temp files of a run that was killed mid-write
        stale.unlink()
    try:
        if todo:
            active = detector or create_detector("mtcnn")  # loaded only when there is work
            for done, path in enumerate(todo, 1):
                entries[path.name] = _realign_file(active, path, dst)
                if done % SAVE_EVERY == 0:
                    _save_manifest(manifest_path, src, settings, entries)
                if progress:
                    progress(done, len(todo), path)
    finally:
        _save_manifest(manifest_path, src, settings, entries)
    return RealignResult(manifest_path, entries, len(todo), len(sources) - len(todo))


def _realign_file(detector: FaceDetector, path: Path, dst: Path) -> Entry:
    try:
        rgb = load_photo(path).rgb8()
    except StudioError:
        return Entry(DROPPED, UNREADABLE)
    crop, entry = realign_image(detector, rgb)
    if crop is not None:
        entry.output = path.stem + ".png"
        ok, png = cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        if not ok:
            raise StudioError(f"Could not encode the aligned face of '{path.name}' as PNG.")
        with atomic_target(dst / entry.output) as tmp:
            tmp.write_bytes(png.tobytes())
    return entry


def _load_entries(manifest_path: Path, settings: dict) -> dict[str, Entry]:
    if not manifest_path.exists():
        return {}
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    if data.get("settings") != settings:
        raise StudioError(
            f"'{manifest_path}' was written with other settings ({data.get('settings')}); use a new destination folder."
        )
    return {name: Entry(**fields) for name, fields in data["files"].items()}


def _save_manifest(manifest_path: Path, src: Path, settings: dict, entries: dict[str, Entry]) -> None:
    reasons = Counter(e.reason for e in entries.values() if e.status == DROPPED)
    kept = sum(e.status == KEPT for e in entries.values())
    data = {
        "source": str(src.resolve()),
        "settings": settings,
        "totals": {
            "files": len(entries),
            KEPT: kept,
            DROPPED: len(entries) - kept,
            "dropped_by_reason": dict(sorted(reasons.items())),
        },
        "files": {name: asdict(entry) for name, entry in sorted(entries.items())},
    }
    with atomic_target(manifest_path) as tmp:
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
