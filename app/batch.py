"""Batch export of a folder: never touches inputs, skips what is already done, reports failures."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.errors import StudioError
from app.fileutil import atomic_target
from app.photo_io import is_supported_image, load_photo, save_photo
from app.pipeline import DEFAULT_QUALITY, FaceRestorer, check_fidelity

REPORT_NAME = "iqpfr-batch-report.json"
RESTORED, NO_FACES, ALREADY_DONE, FAILED = "restored", "no_faces", "already_done", "failed"

ProgressCallback = Callable[[int, int, Path], None]


@dataclass
class BatchItem:
    source: str
    output: str | None
    status: str
    faces: int = 0
    message: str = ""


@dataclass
class BatchReport:
    input_dir: str
    output_dir: str
    quality: float
    fidelity: float | None      # the fidelity weight used; None when the model has no fidelity path
    model: str
    items: list[BatchItem] = field(default_factory=list)
    cancelled: bool = False

    def counts(self) -> Counter:
        return Counter(item.status for item in self.items)

    def summary(self) -> str:
        counts = self.counts()
        text = (f"{counts[RESTORED]} restored, {counts[NO_FACES]} without faces (copied unchanged), "
                f"{counts[ALREADY_DONE]} already done, {counts[FAILED]} failed")
        return text + (" — cancelled" if self.cancelled else "")

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")


def find_images(input_dir: Path, exclude: Path | None = None) -> list[Path]:
    """Supported image files under `input_dir` (recursive, sorted), leaving out `exclude`."""
    exclude = exclude.resolve() if exclude else None
    found = []
    for path in sorted(input_dir.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or not is_supported_image(path):
            continue
        if exclude and exclude in path.resolve().parents:
            continue
        found.append(path)
    return found


def run_batch(restorer: FaceRestorer, input_dir: str | os.PathLike, output_dir: str | os.PathLike,
              quality: float = DEFAULT_QUALITY, overwrite: bool = False,
              progress: ProgressCallback | None = None,
              should_cancel: Callable[[], bool] | None = None, fidelity: float | None = None) -> BatchReport:
    """Restore every photo under `input_dir` into `output_dir`; `fidelity` None = the model's default."""
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if not input_dir.is_dir():
        raise StudioError(f"Input folder '{input_dir}' does not exist.")
    if output_dir.resolve() == input_dir.resolve():
        raise StudioError("The output folder must differ from the input folder (originals are never overwritten).")
    if restorer.has_fidelity:
        fidelity = restorer.default_fidelity if fidelity is None else check_fidelity(fidelity)
    else:
        fidelity = None  # ignored by this model; the report says so
    output_dir.mkdir(parents=True, exist_ok=True)
    sources = find_images(input_dir, exclude=output_dir)
    report = BatchReport(str(input_dir), str(output_dir), quality, fidelity, restorer.model_info.describe())
    for index, source in enumerate(sources):
        if should_cancel and should_cancel():
            report.cancelled = True
            break
        if progress:
            progress(index, len(sources), source)
        report.items.append(_process_one(restorer, source, output_dir / source.relative_to(input_dir),
                                         quality, fidelity, overwrite))
    if progress and not report.cancelled:
        progress(len(sources), len(sources), input_dir)
    report.write(output_dir / REPORT_NAME)
    return report


def _process_one(restorer: FaceRestorer, source: Path, target: Path, quality: float, fidelity: float | None,
                 overwrite: bool) -> BatchItem:
    if target.exists() and not overwrite:
        return BatchItem(str(source), str(target), ALREADY_DONE, message="output exists; skipped")
    try:
        photo = load_photo(source)
        restored = restorer.restore(photo, quality, fidelity)
        if not restored.restored_faces:
            _copy_atomically(source, target)
            return BatchItem(str(source), str(target), NO_FACES, message="no faces found; copied unchanged")
        save_photo(restored.photo, target, overwrite=overwrite)
        return BatchItem(str(source), str(target), RESTORED, len(restored.restored_faces),
                         "; ".join(restored.photo.notes))
    except StudioError as exc:
        return BatchItem(str(source), None, FAILED, message=str(exc))
    except (OSError, ValueError, RuntimeError) as exc:  # keep going: one bad file must not stop a batch
        return BatchItem(str(source), None, FAILED, message=f"{type(exc).__name__}: {exc}")


def _copy_atomically(source: Path, target: Path) -> None:
    with atomic_target(target) as tmp:
        shutil.copy2(source, tmp)
