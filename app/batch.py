"""Batch export of a folder: never touches inputs, skips what is already done, reports failures.

One bad file never stops a batch: whatever goes wrong with a photo is recorded in the report and
the next photo is processed. Files and folders that are left out are listed with the reason. The
output folder is checked for writing and locked before any photo is processed, and the report is
written atomically, also when the run is cancelled or interrupted (Ctrl+C).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.batch_scan import InputScan, NotProcessed, scan_input
from app.errors import StudioError
from app.fileutil import (atomic_target, check_writable, file_identity, remove_stale_temp_files, same_file,
                          write_text_atomically)
from app.folder_lock import FolderLock
from app.photo_io import load_photo, save_photo
from app.pipeline import DEFAULT_QUALITY, DEFAULT_STRENGTH, FaceRestorer, check_fidelity, check_strength

REPORT_NAME = "iqpfr-batch-report.json"
RESTORED, NO_FACES, ALREADY_DONE, FAILED = "restored", "no_faces", "already_done", "failed"
SKIPPED = "skipped"  # not restored because writing its output could replace an original
_EARLIER_OUTPUT_STATUSES = (RESTORED, NO_FACES, ALREADY_DONE)

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
    strength: float | None = None               # blend of restored and original face; None: the model has none
    items: list[BatchItem] = field(default_factory=list)
    cancelled: bool = False
    interrupted: bool = False                   # stopped by Ctrl+C (SIGINT): items hold what was done
    not_processed: list[NotProcessed] = field(default_factory=list)   # files and folders left out, and why
    output_folder_inside_input: str | None = None   # that folder of the input was not searched
    removed_temp_files: list[str] = field(default_factory=list)       # left by an earlier run that was killed
    write_error: str = ""                       # why the report file could not be written (not saved in it)

    def counts(self) -> Counter:
        return Counter(item.status for item in self.items)

    def summary(self) -> str:
        counts = self.counts()
        text = (f"{counts[RESTORED]} restored, {counts[NO_FACES]} without faces (copied unchanged), "
                f"{counts[ALREADY_DONE]} already done, {counts[FAILED]} failed")
        if counts[SKIPPED]:
            text += f", {counts[SKIPPED]} skipped to protect originals"
        if self.not_processed:
            text += f"; {len(self.not_processed)} other file(s) or folder(s) not processed (listed in the report)"
        if self.output_folder_inside_input:
            text += (f"; the output folder '{self.output_folder_inside_input}' inside the input folder was not "
                     "searched for photos")
        if self.cancelled:
            text += " — cancelled"
        if self.interrupted:
            text += " — interrupted"
        if self.write_error:
            text += f". {self.write_error}"
        return text

    def write(self, path: Path) -> None:
        data = asdict(self)
        del data["write_error"]
        write_text_atomically(path, json.dumps(data, indent=2))


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl+C during a batch, raised after the report of what was done has been written."""

    def __init__(self, report: BatchReport) -> None:
        super().__init__()
        self.report = report


@dataclass
class _Job:
    """What every photo of one batch run is processed with."""

    restorer: FaceRestorer
    input_dir: Path
    output_dir: Path
    quality: float
    fidelity: float | None
    overwrite: bool
    scan: InputScan
    earlier_outputs: set[str]   # outputs (relative to output_dir) that an earlier batch wrote here
    strength: float | None = None


def run_batch(restorer: FaceRestorer, input_dir: str | os.PathLike, output_dir: str | os.PathLike,
              quality: float = DEFAULT_QUALITY, overwrite: bool = False,
              progress: ProgressCallback | None = None,
              should_cancel: Callable[[], bool] | None = None, fidelity: float | None = None,
              strength: float | None = None) -> BatchReport:
    """Restore every photo under `input_dir` into `output_dir`; `fidelity` None = the model's default,
    `strength` None = fully restored (for models blended by strength).

    Raises StudioError before processing anything if the folders cannot be used, and BatchInterrupted
    (a KeyboardInterrupt) after writing the report if Ctrl+C stops the run."""
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    fidelity = _resolve_fidelity(restorer, fidelity)
    if restorer.has_strength:
        strength = DEFAULT_STRENGTH if strength is None else check_strength(strength)
    else:
        strength = None
    _prepare_output_folder(input_dir, output_dir)
    with FolderLock(output_dir):
        scan = scan_input(input_dir, output_dir)
        report = BatchReport(str(input_dir), str(output_dir), quality, fidelity, restorer.model_info.describe(),
                             strength=strength,
                             not_processed=scan.not_processed,
                             output_folder_inside_input=str(scan.output_inside) if scan.output_inside else None)
        report.removed_temp_files = [str(path) for path in remove_stale_temp_files(output_dir, scan.folder_ids)]
        job = _Job(restorer, input_dir, output_dir, quality, fidelity, overwrite, scan,
                   _earlier_outputs(output_dir / REPORT_NAME), strength)
        try:
            _process_all(job, report, progress, should_cancel)
        except KeyboardInterrupt:
            report.interrupted = True
            _write_report(report, output_dir)
            raise BatchInterrupted(report) from None
        _write_report(report, output_dir)
    return report


def _resolve_fidelity(restorer: FaceRestorer, fidelity: float | None) -> float | None:
    if not restorer.has_fidelity:
        return None  # ignored by this model; the report says so
    return restorer.default_fidelity if fidelity is None else check_fidelity(fidelity)


def _prepare_output_folder(input_dir: Path, output_dir: Path) -> None:
    """Create the output folder and make sure it can be written, before any photo is processed."""
    if not input_dir.is_dir():
        raise StudioError(f"Input folder '{input_dir}' does not exist.")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudioError(f"Cannot create the output folder '{output_dir}': {_write_problem(exc)}. "
                          "Nothing was processed.") from exc
    if same_file(input_dir, output_dir):  # device and inode: also through links and second mounts
        raise StudioError(f"The output folder must differ from the input folder (originals are never "
                          f"overwritten): '{output_dir}' is the input folder '{input_dir}'.")
    try:
        check_writable(output_dir)
    except OSError as exc:
        raise StudioError(f"Cannot write into the output folder '{output_dir}': {_write_problem(exc)}. "
                          "Nothing was processed.") from exc


def _write_problem(exc: OSError) -> str:
    known = {errno.EROFS: "the drive is read-only", errno.EACCES: "no permission to write there",
             errno.EPERM: "no permission to write there", errno.ENOSPC: "the disk is full",
             errno.EDQUOT: "the disk quota is used up", errno.EEXIST: "a file with that name is in the way",
             errno.ENOTDIR: "a file with that name is in the way"}
    return known.get(exc.errno, exc.strerror or str(exc))


def _process_all(job: _Job, report: BatchReport, progress: ProgressCallback | None,
                 should_cancel: Callable[[], bool] | None) -> None:
    photos = job.scan.photos
    for index, source in enumerate(photos):
        if should_cancel and should_cancel():
            report.cancelled = True
            break
        if progress:
            progress(index, len(photos), source)
        report.items.append(_process_one(job, source))
    if progress and not report.cancelled:
        progress(len(photos), len(photos), job.input_dir)


def _write_report(report: BatchReport, output_dir: Path) -> None:
    path = output_dir / REPORT_NAME
    try:
        report.write(path)
    except OSError as exc:
        report.write_error = (f"The report could not be written to '{path}' ({_write_problem(exc)}); "
                              f"the results are in '{output_dir}'")


def _earlier_outputs(report_path: Path) -> set[str]:
    """Outputs an earlier batch recorded in `report_path`, relative to its output folder."""
    try:
        data = json.loads(report_path.read_text(encoding="utf-8"))
        base, items = Path(data["output_dir"]), data["items"]
    except (OSError, ValueError, TypeError, KeyError):
        return set()
    found = set()
    for item in items if isinstance(items, list) else []:
        try:
            if item["status"] in _EARLIER_OUTPUT_STATUSES and item["output"]:
                found.add(Path(item["output"]).relative_to(base).as_posix())
        except (TypeError, KeyError, ValueError):
            continue
    return found


def _process_one(job: _Job, source: Path) -> BatchItem:
    try:
        return _check_and_restore(job, source)
    except Exception as exc:  # noqa: BLE001 - whatever goes wrong with one photo, the batch goes on
        return BatchItem(str(source), None, FAILED, message=_failure_message(exc))


def _check_and_restore(job: _Job, source: Path) -> BatchItem:
    relative = source.relative_to(job.input_dir)
    target = job.output_dir / relative
    refusal = _unsafe_output_reason(target, job.scan)
    if refusal:
        return BatchItem(str(source), None, SKIPPED, message=refusal)
    if os.path.lexists(target):
        existing = _existing_output_item(job, source, target, relative.as_posix())
        if existing is not None:
            return existing
    return _restore_one(job, source, target)


def _unsafe_output_reason(target: Path, scan: InputScan) -> str:
    """Why writing `target` could replace or add to the input (compared by device and inode), or ''."""
    if file_identity(target) in scan.file_ids:
        return (f"the output '{target}' is an input file (the same file through a link or a second mount); "
                "originals are never overwritten")
    if file_identity(_nearest_existing(target.parent)) in scan.folder_ids:
        return (f"the output '{target}' would be written into the input folder (through a link or a second "
                "mount); originals are never touched")
    return ""


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _existing_output_item(job: _Job, source: Path, target: Path, relative: str) -> BatchItem | None:
    """The item for a photo whose output path is taken, or None to restore it (and replace the output)."""
    if not target.is_file():
        return BatchItem(str(source), None, FAILED,
                         message=f"'{target}' is in the way (not a file); it was left as it is")
    ours = relative in job.earlier_outputs
    if job.scan.output_inside and not ours:  # a photo of the input folder, not an output of ours
        return BatchItem(str(source), None, SKIPPED, message=(
            f"'{target}' was already in the output folder, which is inside the input folder, and no earlier "
            "batch report lists it as an output: it is treated as an original and left untouched. Delete or "
            "move it to restore this photo there."))
    if job.overwrite:
        return None
    return BatchItem(str(source), str(target), ALREADY_DONE, message="output exists; skipped")


def _restore_one(job: _Job, source: Path, target: Path) -> BatchItem:
    photo = load_photo(source)
    restored = job.restorer.restore(photo, job.quality, job.fidelity, strength=job.strength)
    if not restored.restored_faces:
        _copy_atomically(source, target)
        return BatchItem(str(source), str(target), NO_FACES, message="no faces found; copied unchanged")
    save_photo(restored.photo, target, overwrite=job.overwrite)
    return BatchItem(str(source), str(target), RESTORED, len(restored.restored_faces),
                     "; ".join(restored.photo.notes + restored.photo.warnings))


def _failure_message(exc: Exception) -> str:
    if isinstance(exc, StudioError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f" '{exc.filename}'" if exc.filename else ""
        return f"could not read or write{where}: {_write_problem(exc)}"
    first_line = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"unexpected error while restoring this photo ({type(exc).__name__}: {first_line})"


def _copy_atomically(source: Path, target: Path) -> None:
    with atomic_target(target) as tmp:
        shutil.copy2(source, tmp)
