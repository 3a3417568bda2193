"""Batch export of a folder (and of a list of open photos): never touches inputs, resumes what is already
done with the same settings, reports failures.

One bad file never stops a batch: whatever goes wrong with a photo is recorded in the report and
the next photo is processed. Files and folders that are left out are listed with the reason. The
output folder is checked for writing and locked before any photo is processed, and the report is
written atomically, also when the run is cancelled or interrupted (Ctrl+C), and every
REPORT_CHECKPOINT_S while it runs (a killed run leaves a report of what it did).

Each output's record says what it was made with (model, quality, fidelity/strength, output scale and background,
format, JPEG quality, suffix, metadata). A re-run keeps an existing output made with the same settings ("already
done"); one made with other settings is replaced only with `overwrite` or when `ask_redo` says so, else it is kept
and listed.
The report keeps what earlier runs recorded: outputs this run did not touch (`earlier_items`) and one
summary per run (`runs`).
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from app.batch_scan import InputScan, NotProcessed, scan_input
from app.errors import StudioError, failure_message, printable
from app.export_settings import ExportSettings, describe_output, export_photo, name_output, output_format, output_path
from app.fileutil import (
    Originals,
    atomic_target,
    check_writable,
    file_identity,
    remove_stale_temp_files,
    same_file,
    write_text_atomically,
)
from app.folder_lock import FolderLock
from app.photo_io import SUPPORTED_SUFFIXES, load_photo
from app.pipeline import DEFAULT_QUALITY, DEFAULT_STRENGTH, FaceRestorer, Stopped, check_fidelity, check_strength
from app.upscaling.tiles import TileProgress
from app.upscaling.whole_photo import WholePhotoSettings

REPORT_NAME = "iqpfr-batch-report.json"
RESTORED, NO_FACES, ALREADY_DONE, FAILED = "restored", "no_faces", "already_done", "failed"
SKIPPED = "skipped"  # not restored because writing its output could replace an original
OTHER_SETTINGS = "other_settings"  # its output was made earlier with other settings and was kept as it is
EXISTS = "exists"  # exporting open photos: a file of the output's name exists and was not replaced
_EARLIER_OUTPUT_STATUSES = (RESTORED, NO_FACES, ALREADY_DONE, OTHER_SETTINGS)
BATCH_EXPORT = ExportSettings(suffix="")  # a batch writes into its own folder: same names, same formats
REPORT_CHECKPOINT_S = 10.0
# What an output is made with, in the order differences are named; the export part alone for a copied photo.
_RESTORE_KEYS = ("model", "quality", "fidelity", "strength")
_WHOLE_PHOTO_KEYS = ("upscale", "background")  # also for a photo without faces: it is upscaled all the same
_EXPORT_KEYS = ("format", "jpeg_quality", "keep_metadata", "suffix")
# What outputs recorded before a setting existed were made with.
_RECORDED_BEFORE = {"upscale": WholePhotoSettings().upscale, "background": WholePhotoSettings().background}

ProgressCallback = Callable[[int, int, Path], None]
ItemCallback = Callable[["BatchItem"], None]
RedoQuestion = Callable[[list[str]], bool]  # outputs made with other settings → True to redo them


@dataclass
class BatchItem:
    source: str
    output: str | None
    status: str
    faces: int = 0
    message: str = ""
    settings: dict | None = None  # what the output was made with (for an earlier output: what it was made with)


@dataclass
class BatchReport:
    input_dir: str
    output_dir: str
    quality: float
    fidelity: float | None  # the fidelity weight used; None when the model has no fidelity path
    model: str  # its name (each item's settings name it the same way)
    strength: float | None = None  # blend of restored and original face; None: the model has none
    model_caveat: str = ""  # what to know about the model's output, said once here (not in every item)
    upscale: int = 1  # output scale
    background: str = "none"  # "realesrgan": the whole photo cleaned by Real-ESRGAN
    items: list[BatchItem] = field(default_factory=list)
    cancelled: bool = False
    interrupted: bool = False  # stopped by Ctrl+C (SIGINT): items hold what was done
    not_processed: list[NotProcessed] = field(default_factory=list)  # files and folders left out, and why
    output_folder_inside_input: str | None = None  # that folder of the input was not searched
    removed_temp_files: list[str] = field(default_factory=list)  # left by an earlier run that was killed
    export: dict = field(default_factory=dict)  # format, JPEG quality, suffix, metadata of this run
    include_subfolders: bool = True
    earlier_items: list[dict] = field(default_factory=list)  # outputs earlier runs recorded that this one kept
    runs: list[dict] = field(default_factory=list)  # one summary per run into this folder, oldest first
    started: str = field(default_factory=lambda: datetime.now().astimezone().isoformat(timespec="seconds"))
    write_error: str = ""  # why the report file could not be written (not saved in it)

    def counts(self) -> Counter:
        return Counter(item.status for item in self.items)

    def summary(self) -> str:
        counts = self.counts()
        text = (
            f"{counts[RESTORED]} restored, {counts[NO_FACES]} without faces (saved unchanged), "
            f"{counts[ALREADY_DONE]} already done, {counts[FAILED]} failed"
        )
        if counts[OTHER_SETTINGS]:
            text += f", {counts[OTHER_SETTINGS]} made earlier with other settings and kept (not redone)"
        if counts[EXISTS]:
            text += f", {counts[EXISTS]} not replaced (a file of that name exists)"
        if counts[SKIPPED]:
            text += f", {counts[SKIPPED]} skipped to protect originals"
        if self.not_processed:
            text += f"; {len(self.not_processed)} other file(s) or folder(s) not processed (listed in the report)"
        if self.output_folder_inside_input:
            text += (
                f"; the output folder '{self.output_folder_inside_input}' inside the input folder was not "
                "searched for photos"
            )
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
        write_text_atomically(path, json.dumps(_json_paths(data), indent=2))


# Report fields that hold paths (or lists of them). A name that is not UTF-8 is stored readably in the field
# (each byte that is not UTF-8 as \xNN) and exactly in FIELD_bytes: its bytes percent-encoded (RFC 3986),
# as urllib.parse.unquote_to_bytes reads them back.
_PATH_FIELDS = (
    "source",
    "output",
    "path",
    "input_dir",
    "output_dir",
    "output_folder_inside_input",
    "removed_temp_files",
)
_BYTES = "_bytes"


def _json_paths(value: object) -> object:
    """`value` (the report as plain data) with every text valid Unicode, and the exact bytes of each path field
    that is not UTF-8 beside it."""
    if isinstance(value, list):
        return [_json_paths(entry) for entry in value]
    if isinstance(value, str):
        return os.fsencode(value).decode("utf-8", "backslashreplace")
    if not isinstance(value, dict):
        return value
    data = {}
    for key, entry in value.items():
        data[key] = _json_paths(entry)
        if key in _PATH_FIELDS and data[key] != entry and not key.endswith(_BYTES):
            texts = entry if isinstance(entry, list) else [entry]
            encoded = [urllib.parse.quote_from_bytes(os.fsencode(text), safe="/") for text in texts]
            data[key + _BYTES] = encoded if isinstance(entry, list) else encoded[0]
    return data


def recorded_path(record: dict, key: str) -> str | None:
    """A path field of a report record, exactly (from FIELD_bytes when the name is not UTF-8); None if absent."""
    exact = record.get(key + _BYTES)
    if isinstance(exact, str):
        return os.fsdecode(urllib.parse.unquote_to_bytes(exact))
    value = record.get(key)
    return value if isinstance(value, str) else None


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl+C during a batch, raised after the report of what was done has been written."""

    def __init__(self, report: BatchReport) -> None:
        super().__init__()
        self.report = report


@dataclass
class _Job:
    """What every photo of one run is processed with."""

    restorer: FaceRestorer
    quality: float
    fidelity: float | None
    strength: float | None
    overwrite: bool
    export: ExportSettings  # with the folder outputs go to (None: beside each original)
    scan: InputScan
    whole: WholePhotoSettings = field(default_factory=WholePhotoSettings)
    tile_progress: TileProgress | None = None  # each photo's tiles, when its background is enhanced
    should_cancel: Callable[[], bool] | None = None  # asked between photos, and between tiles
    input_dir: Path | None = None  # a folder batch: outputs keep the tree under it, the report goes to output_dir
    output_dir: Path | None = None
    earlier: dict[str, _EarlierOutput] = field(default_factory=dict)  # by output path relative to output_dir
    redo_other_settings: bool = False  # replace outputs made with other settings (the user said so)
    targets: dict[Path, Path] = field(default_factory=dict)  # where each photo's output goes
    refusals: dict[Path, str] = field(default_factory=dict)  # photos whose output cannot be named, and why

    def restore_settings(self) -> dict:
        return {
            "model": self.restorer.model_info.name(),
            "quality": self.quality if getattr(self.restorer, "has_quality_score", True) else None,
            "fidelity": self.fidelity,
            "strength": self.strength,
        }

    def whole_photo_settings(self) -> dict:
        return {"upscale": self.whole.upscale, "background": self.whole.background}

    def relative_output(self, target: Path) -> str | None:
        return target.relative_to(self.output_dir).as_posix() if self.output_dir is not None else None


@dataclass
class _EarlierOutput:
    """An output an earlier run recorded: its report entry, the photo it was made from and its settings."""

    record: dict
    source_relative: str | None
    settings: dict


@dataclass
class _EarlierReport:
    outputs: dict[str, _EarlierOutput] = field(default_factory=dict)
    runs: list[dict] = field(default_factory=list)


def run_batch(
    restorer: FaceRestorer,
    input_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    quality: float = DEFAULT_QUALITY,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    should_cancel: Callable[[], bool] | None = None,
    fidelity: float | None = None,
    strength: float | None = None,
    export: ExportSettings | None = None,
    include_subfolders: bool = True,
    on_item: ItemCallback | None = None,
    ask_redo: RedoQuestion | None = None,
    whole: WholePhotoSettings | None = None,
    tile_progress: TileProgress | None = None,
) -> BatchReport:
    """Restore every photo under `input_dir` into `output_dir` (the same tree), written with `export`
    (default BATCH_EXPORT; its folder is `output_dir`); `fidelity` None = the model's default, `strength`
    None = fully restored (for models blended by strength); `whole`: output scale and background (default: the
    photos as they are, only their faces restored). `on_item` gets each photo's result as it is done,
    `tile_progress` each tile of an enhanced background; `should_cancel` is asked between photos and tiles.

    Existing outputs made with the same settings are kept ("already done"). Those made with other settings
    are replaced with `overwrite`, or when `ask_redo(their paths)` answers True; else kept and listed.

    Raises StudioError before processing anything if the folders cannot be used, and BatchInterrupted
    (a KeyboardInterrupt) after writing the report if Ctrl+C stops the run."""
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    fidelity, strength = _resolve_settings(restorer, fidelity, strength)
    whole = whole or WholePhotoSettings()
    export = (export or BATCH_EXPORT).with_folder(output_dir)
    _prepare_output_folder(input_dir, output_dir)
    with FolderLock(output_dir):
        scan = scan_input(input_dir, output_dir, include_subfolders)
        earlier = _read_earlier_report(output_dir / REPORT_NAME)
        report = BatchReport(
            str(input_dir),
            str(output_dir),
            quality,
            fidelity,
            restorer.model_info.name(),
            strength=strength,
            model_caveat=restorer.model_info.caveat,
            upscale=whole.upscale,
            background=whole.background,
            not_processed=scan.not_processed,
            output_folder_inside_input=str(scan.output_inside) if scan.output_inside else None,
            export=_export_record(export),
            include_subfolders=include_subfolders,
        )
        report.removed_temp_files = [str(path) for path in remove_stale_temp_files(output_dir, scan.folder_ids)]
        job = _Job(
            restorer,
            quality,
            fidelity,
            strength,
            overwrite,
            export,
            scan,
            whole,
            tile_progress,
            should_cancel,
            input_dir,
            output_dir,
            earlier.outputs,
        )
        _plan_outputs(job)
        differing = [str(target) for source, target in job.targets.items() if _made_with_other_settings(job, source)]
        if differing and not overwrite and ask_redo is not None:
            job.redo_other_settings = bool(ask_redo(differing))

        def write(finished: bool) -> None:
            _write_report(report, output_dir, earlier, finished)

        try:
            _process_all(job, report, progress, should_cancel, on_item, checkpoint=lambda: write(False))
        except KeyboardInterrupt:
            report.interrupted = True
            write(True)
            raise BatchInterrupted(report) from None
        write(True)
    return report


def run_files(
    restorer: FaceRestorer,
    sources: Sequence[str | os.PathLike],
    export: ExportSettings,
    quality: float = DEFAULT_QUALITY,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    should_cancel: Callable[[], bool] | None = None,
    fidelity: float | None = None,
    strength: float | None = None,
    on_item: ItemCallback | None = None,
    whole: WholePhotoSettings | None = None,
    tile_progress: TileProgress | None = None,
) -> BatchReport:
    """Restore each of `sources` (e.g. the photos open in the window) and write it with `export`: beside its
    original, or into `export.folder` (by name). A file of an output's name is replaced only with `overwrite`
    (status EXISTS otherwise); an output that would be one of `sources` is never written. No report file."""
    fidelity, strength = _resolve_settings(restorer, fidelity, strength)
    whole = whole or WholePhotoSettings()
    if export.folder is not None:
        _prepare_folder(export.folder)
    scan = InputScan(photos=[Path(source) for source in sources])
    scan.originals = Originals(scan.photos)
    report = BatchReport(
        "",
        str(export.folder or ""),
        quality,
        fidelity,
        restorer.model_info.name(),
        strength=strength,
        model_caveat=restorer.model_info.caveat,
        upscale=whole.upscale,
        background=whole.background,
        export=_export_record(export),
    )
    job = _Job(restorer, quality, fidelity, strength, overwrite, export, scan, whole, tile_progress, should_cancel)
    _plan_outputs(job)
    _process_all(job, report, progress, should_cancel, on_item)
    return report


def existing_outputs(sources: Sequence[str | os.PathLike], export: ExportSettings) -> list[Path]:
    """The outputs of `sources` under `export` that are already there (to ask before replacing them)."""
    found = []
    for source in sources:
        try:
            target = output_path(source, export)
        except StudioError:
            continue
        if os.path.lexists(target):
            found.append(target)
    return found


def _resolve_settings(
    restorer: FaceRestorer, fidelity: float | None, strength: float | None
) -> tuple[float | None, float | None]:
    """The fidelity (None when the model has none; its default when not given) and the strength (None when the
    model is not blended by strength; fully restored when not given)."""
    if not restorer.has_fidelity:
        fidelity = None  # ignored by this model; the report says so
    else:
        fidelity = restorer.default_fidelity if fidelity is None else check_fidelity(fidelity)
    if restorer.has_strength:
        strength = DEFAULT_STRENGTH if strength is None else check_strength(strength)
    else:
        strength = None
    return fidelity, strength


def _export_record(export: ExportSettings) -> dict:
    return {
        "format": export.format,
        "jpeg_quality": export.jpeg_quality,
        "suffix": export.suffix,
        "keep_metadata": export.keep_metadata,
    }


def _prepare_output_folder(input_dir: Path, output_dir: Path) -> None:
    """Create the output folder and make sure it can be written, before any photo is processed."""
    if not input_dir.is_dir():
        raise StudioError(f"Input folder '{input_dir}' does not exist.")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudioError(
            f"Cannot create the output folder '{output_dir}': {_write_problem(exc)}. Nothing was processed."
        ) from exc
    if same_file(input_dir, output_dir):  # device and inode: also through links and second mounts
        raise StudioError(
            f"The output folder must differ from the input folder (originals are never "
            f"overwritten): '{output_dir}' is the input folder '{input_dir}'."
        )
    _check_writable(output_dir)


def _prepare_folder(folder: Path) -> None:
    """Create an export folder and make sure it can be written, before any photo is processed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudioError(
            f"Cannot create the export folder '{folder}': {_write_problem(exc)}. Nothing was exported."
        ) from exc
    _check_writable(folder)


def _check_writable(folder: Path) -> None:
    try:
        check_writable(folder)
    except OSError as exc:
        raise StudioError(
            f"Cannot write into the output folder '{folder}': {_write_problem(exc)}. Nothing was processed."
        ) from exc


def _write_problem(exc: OSError) -> str:
    known = {
        errno.EROFS: "the drive is read-only",
        errno.EACCES: "no permission to write there",
        errno.EPERM: "no permission to write there",
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
        errno.EEXIST: "a file with that name is in the way",
        errno.ENOTDIR: "a file with that name is in the way",
    }
    return known.get(exc.errno or 0, exc.strerror or str(exc))


def _plan_outputs(job: _Job) -> None:
    """Name every photo's output; two photos that would get the same output (a.png and a.jpg both exported as
    JPEG) are refused after the first, and so is an output that would be the original."""
    first_for: dict[Path, Path] = {}
    for source in job.scan.photos:
        try:
            relative = source.relative_to(job.input_dir) if job.input_dir is not None else None
            target = name_output(source, job.export, relative)
        except StudioError as exc:
            job.refusals[source] = str(exc)
            continue
        if target in first_for:
            job.refusals[source] = (
                f"its output '{printable(str(target))}' would also be the output of "
                f"'{printable(first_for[target].name)}' (same name once written as "
                f"{output_format(source, job.export)}); rename one of them or keep the "
                "photos' own formats"
            )
            continue
        first_for[target] = source
        job.targets[source] = target


def _process_all(
    job: _Job,
    report: BatchReport,
    progress: ProgressCallback | None,
    should_cancel: Callable[[], bool] | None,
    on_item: ItemCallback | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> None:
    photos = job.scan.photos
    last_checkpoint = time.monotonic()
    for index, source in enumerate(photos):
        if should_cancel and should_cancel():
            report.cancelled = True
            break
        if progress:
            progress(index, len(photos), source)
        try:
            item = _process_one(job, source)
        except Stopped:  # cancelled between the tiles of its background: nothing of it was written
            report.cancelled = True
            break
        report.items.append(item)
        if on_item:
            on_item(item)
        if checkpoint and time.monotonic() - last_checkpoint >= REPORT_CHECKPOINT_S:
            checkpoint()
            last_checkpoint = time.monotonic()
    if progress and not report.cancelled:
        progress(len(photos), len(photos), job.input_dir or Path())


# ----------------------------------------------------------------------------------------- the report


def _write_report(report: BatchReport, output_dir: Path, earlier: _EarlierReport, finished: bool) -> None:
    """Write the report with what earlier runs recorded and this run did not replace, and the runs' history.
    A checkpoint (not `finished`) that cannot be written is left for the next one; the final write says why."""
    path = output_dir / REPORT_NAME
    written_now = {item.output for item in report.items if item.output}
    report.earlier_items = [
        entry.record
        for entry in earlier.outputs.values()
        if (output := recorded_path(entry.record, "output")) not in written_now and os.path.isfile(output or "")
    ]
    report.runs = [*earlier.runs, _run_record(report, finished)]
    try:
        report.write(path)
        report.write_error = ""
    except OSError as exc:
        if finished:
            report.write_error = (
                f"The report could not be written to '{path}' ({_write_problem(exc)}); "
                f"the results are in '{output_dir}'"
            )


def _run_record(report: BatchReport, finished: bool) -> dict:
    return {
        "started": report.started,
        "finished": finished,
        "model": report.model,
        "quality": report.quality,
        "fidelity": report.fidelity,
        "strength": report.strength,
        "upscale": report.upscale,
        "background": report.background,
        "export": report.export,
        "include_subfolders": report.include_subfolders,
        "counts": dict(report.counts()),
        "cancelled": report.cancelled,
        "interrupted": report.interrupted,
    }


def _read_earlier_report(report_path: Path) -> _EarlierReport:
    """The outputs an earlier report in this folder recorded (with the settings each was made with) and its
    runs. A report from before settings were recorded per output: its run's settings, as it wrote them."""
    try:
        data = json.loads(report_path.read_text(encoding="utf-8"))
        base, items = Path(recorded_path(data, "output_dir") or ""), data["items"]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return _EarlierReport()
    if not isinstance(items, list):
        return _EarlierReport()
    runs = data.get("runs")
    runs = [run for run in runs if isinstance(run, dict)] if isinstance(runs, list) else [_legacy_run(data)]
    earlier = _EarlierReport(runs=runs)
    earlier_items = data.get("earlier_items")
    records = [*(earlier_items if isinstance(earlier_items, list) else []), *items]
    input_dir = recorded_path(data, "input_dir")
    for item in records:  # this run's items last: they replace what was recorded before them
        try:
            output = recorded_path(item, "output")
            if item["status"] not in _EARLIER_OUTPUT_STATUSES or not output:
                continue
            relative = Path(output).relative_to(base).as_posix()
        except (TypeError, KeyError, ValueError, AttributeError):
            continue
        settings = item.get("settings")
        if not isinstance(settings, dict):
            settings = _legacy_settings(data, Path(output), item["status"])
        source = recorded_path(item, "source")
        earlier.outputs[relative] = _EarlierOutput(item, _relative_or_none(source, input_dir), settings)
    return earlier


def _relative_or_none(source: object, input_dir: object) -> str | None:
    if not isinstance(source, str) or not isinstance(input_dir, str) or not input_dir:
        return None
    try:
        return Path(source).relative_to(input_dir).as_posix()
    except ValueError:
        return None


def _legacy_settings(data: dict, output: Path, status: str) -> dict:
    """What an output recorded by an earlier version was made with: its run's settings, the photo's own format,
    no suffix, metadata kept, JPEG quality 95 (what that version always wrote)."""
    fmt = SUPPORTED_SUFFIXES.get(output.suffix.lower())
    settings = {"format": fmt, "jpeg_quality": 95 if fmt == "JPEG" else None, "suffix": "", "keep_metadata": True}
    if status != NO_FACES:
        strength = data.get("strength")
        settings.update(
            model=data.get("model"),
            quality=None if strength is not None else data.get("quality"),
            fidelity=data.get("fidelity"),
            strength=strength,
        )
    return settings


def _legacy_run(data: dict) -> dict:
    items = data.get("items")
    counts = Counter(
        item.get("status") for item in (items if isinstance(items, list) else []) if isinstance(item, dict)
    )
    return {
        "started": None,
        "finished": not data.get("interrupted"),
        "model": data.get("model"),
        "quality": data.get("quality"),
        "fidelity": data.get("fidelity"),
        "strength": data.get("strength"),
        "counts": dict(counts),
        "cancelled": data.get("cancelled"),
        "interrupted": data.get("interrupted"),
    }


# ----------------------------------------------------------------------------------------- one photo


def _process_one(job: _Job, source: Path) -> BatchItem:
    try:
        return _check_and_restore(job, source)
    except Stopped:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever goes wrong with one photo, the batch goes on
        return BatchItem(str(source), None, FAILED, message=failure_message(exc, "restore this photo"))


def _check_and_restore(job: _Job, source: Path) -> BatchItem:
    if source in job.refusals:
        return BatchItem(str(source), None, FAILED, message=job.refusals[source])
    target = job.targets[source]
    refusal = _unsafe_output_reason(target, job.scan)
    if refusal:
        return BatchItem(str(source), None, SKIPPED, message=refusal)
    replacing = os.path.lexists(target)
    if replacing:
        existing = _existing_output_item(job, source, target)
        if existing is not None:
            return existing
    return _restore_one(job, source, target, replacing)


def _unsafe_output_reason(target: Path, scan: InputScan) -> str:
    """Why writing `target` could replace or add to the input (compared by device and inode), or ''."""
    if scan.originals.include(target):
        return (
            f"the output '{target}' is an input file (the same file through a link or a second mount); "
            "originals are never overwritten"
        )
    if file_identity(_nearest_existing(target.parent)) in scan.folder_ids:
        return (
            f"the output '{target}' would be written into the input folder (through a link or a second "
            "mount); originals are never touched"
        )
    return ""


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _settings_for(job: _Job, source: Path, status: str = RESTORED) -> dict:
    """What the output of `source` is made with; for a photo without faces only its scale and background and how
    it is written count."""
    restore = {} if status == NO_FACES else job.restore_settings()
    return {**restore, **job.whole_photo_settings(), **describe_output(source, job.export)}


def _made_with_other_settings(job: _Job, source: Path) -> bool:
    target = job.targets[source]
    earlier = job.earlier.get(job.relative_output(target) or "")
    return earlier is not None and os.path.isfile(target) and bool(_differences(job, source, earlier))


def _differences(job: _Job, source: Path, earlier: _EarlierOutput) -> list[str]:
    """How the settings an earlier output was made with differ from this run's ('quality 0.50 → 0.90')."""
    relative = source.relative_to(job.input_dir).as_posix() if job.input_dir is not None else None
    if earlier.source_relative is not None and relative is not None and earlier.source_relative != relative:
        return [f"made from another photo ('{printable(earlier.source_relative)}')"]
    status = earlier.record.get("status")
    now = _settings_for(job, source, NO_FACES if status == NO_FACES else RESTORED)
    recorded = {**_RECORDED_BEFORE, **earlier.settings}
    return [
        _difference(key, recorded.get(key), now.get(key))
        for key in (*_RESTORE_KEYS, *_WHOLE_PHOTO_KEYS, *_EXPORT_KEYS)
        if key in now and not _same_value(recorded.get(key), now.get(key), key)
    ]


def _same_value(before: object, now: object, key: str = "") -> bool:
    if isinstance(before, (int, float)) and isinstance(now, (int, float)) and not isinstance(before, bool):
        return math.isclose(before, now, abs_tol=1e-9)
    if key == "model" and isinstance(before, str) and isinstance(now, str):
        return before == now or before.startswith(f"{now}: ")  # older reports: 'NAME: CAVEAT' in every item
    return before == now


def _difference(key: str, before: object, now: object) -> str:
    def shown(value: object) -> str:
        if value is None:
            return "none"
        if key == "keep_metadata":
            return "metadata kept" if value else "metadata stripped"
        if key == "suffix":
            return repr(value)
        if key == "upscale":
            return f"{value}×"
        return f"{value:.2f}" if isinstance(value, float) else printable(str(value))

    if key == "keep_metadata":
        return f"{shown(before)} → {shown(now)}"
    return f"{key.replace('_', ' ')} {shown(before)} → {shown(now)}"


def _existing_output_item(job: _Job, source: Path, target: Path) -> BatchItem | None:
    """The item for a photo whose output path is taken, or None to restore it (and replace the output)."""
    if not target.is_file():
        return BatchItem(
            str(source), None, FAILED, message=f"'{target}' is in the way (not a file); it was left as it is"
        )
    if job.output_dir is None:  # exporting open photos: no report says what the file is
        if job.overwrite:
            return None
        return BatchItem(str(source), None, EXISTS, message=f"'{target}' already exists; it was not replaced")
    earlier = job.earlier.get(job.relative_output(target) or "")
    if job.scan.output_inside and earlier is None:  # a photo of the input folder, not an output of ours
        return BatchItem(
            str(source),
            None,
            SKIPPED,
            message=(
                f"'{target}' was already in the output folder, which is inside the input folder, and no earlier "
                "batch report lists it as an output: it is treated as an original and left untouched. Delete or "
                "move it to restore this photo there."
            ),
        )
    if job.overwrite:
        return None
    if earlier is None:  # e.g. written by a run that was killed before its report: resumed as done
        return BatchItem(
            str(source),
            str(target),
            ALREADY_DONE,
            message="output exists (no earlier report says which settings made it); kept",
        )
    differences = _differences(job, source, earlier)
    faces = earlier.record.get("faces")
    faces = faces if isinstance(faces, int) else 0
    if not differences:
        return BatchItem(
            str(source), str(target), ALREADY_DONE, faces, "made earlier with the same settings; kept", earlier.settings
        )
    if job.redo_other_settings:
        return None
    return BatchItem(
        str(source),
        str(target),
        OTHER_SETTINGS,
        faces,
        f"made earlier with other settings ({'; '.join(differences)}); kept as it is",
        earlier.settings,
    )


def _restore_one(job: _Job, source: Path, target: Path, replacing: bool) -> BatchItem:
    photo = load_photo(source)
    restored = job.restorer.restore(
        photo,
        job.quality,
        job.fidelity,
        strength=job.strength,
        whole=job.whole,
        progress=job.tile_progress,
        should_stop=job.should_cancel,
    )
    if not restored.restored_faces:
        if job.whole.changes_photo:  # upscaled and enhanced all the same
            export_photo(restored.photo, target, job.export, overwrite=replacing)
            how = f"saved the whole photo at {job.whole.describe()}"
        else:
            how = _write_unchanged(job, source, photo, target, replacing)
        return BatchItem(
            str(source),
            str(target),
            NO_FACES,
            message=f"no faces found; {how}",
            settings=_settings_for(job, source, NO_FACES),
        )
    export_photo(restored.photo, target, job.export, overwrite=replacing)
    return BatchItem(
        str(source),
        str(target),
        RESTORED,
        len(restored.restored_faces),
        "; ".join(restored.photo.notes + restored.photo.warnings),
        _settings_for(job, source),
    )


def _write_unchanged(job: _Job, source: Path, photo, target: Path, replacing: bool) -> str:
    """A photo without faces: copied byte for byte when it keeps its format and metadata, else re-saved."""
    fmt = output_format(source, job.export)
    if fmt == SUPPORTED_SUFFIXES[source.suffix.lower()] and job.export.keep_metadata:
        _copy_atomically(source, target)
        return "copied unchanged"
    export_photo(photo, target, job.export, overwrite=replacing)
    shown = "WebP" if fmt == "WEBP" else fmt
    return f"saved unchanged as {shown}" + ("" if job.export.keep_metadata else " without its metadata")


def _copy_atomically(source: Path, target: Path) -> None:
    with atomic_target(target) as tmp:
        shutil.copy2(source, tmp)
