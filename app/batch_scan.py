"""Finding the photos of a batch, and naming every file or folder it leaves out, with the reason.

Folders are compared by device and inode, never by spelling, so the output folder is recognised
inside the input folder even when it is reached through a link or a second mount.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from app.fileutil import Originals
from app.photo_io import is_supported_image, unsupported_format_reason


@dataclass
class NotProcessed:
    path: str
    reason: str


@dataclass
class InputScan:
    photos: list[Path] = field(default_factory=list)
    not_processed: list[NotProcessed] = field(default_factory=list)
    originals: Originals = field(default_factory=Originals)  # every file of the input: never an output
    folder_ids: set[tuple[int, int]] = field(default_factory=set)  # every folder searched: never written into
    output_inside: Path | None = None  # the output folder, when it lies in the input (not searched)

    def skip(self, path: Path, reason: str) -> None:
        self.not_processed.append(NotProcessed(str(path), reason))


def scan_input(input_dir: Path, output_dir: Path | None, include_subfolders: bool = True) -> InputScan:
    """Photos under `input_dir` (sorted; in its subfolders too unless `include_subfolders` is False, when each
    subfolder is listed as not searched), leaving out the folder that is `output_dir` (None: no output folder,
    e.g. File → Open folder)."""
    scan = InputScan()
    output_id = _identity(os.stat(output_dir)) if output_dir is not None and output_dir.exists() else None
    scan.folder_ids.add(_identity(os.stat(input_dir)))
    _scan_folder(input_dir, output_id, scan, include_subfolders)
    scan.photos.sort()
    scan.not_processed.sort(key=lambda item: item.path)
    return scan


def _scan_folder(folder: Path, output_id: tuple[int, int] | None, scan: InputScan, recursive: bool = True) -> None:
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as exc:
        scan.skip(folder, f"folder cannot be read ({_os_reason(exc)}); nothing in it was processed")
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith("."):
            scan.skip(path, "hidden folder: not searched" if _is_dir(entry) else "hidden file")
            continue
        try:
            info = os.stat(path)  # follows links: a link stands for what it points to
        except OSError as exc:
            scan.skip(path, _unreachable_reason(path, exc))
            continue
        if stat.S_ISDIR(info.st_mode):
            _enter_folder(path, _identity(info), output_id, scan, recursive)
        elif stat.S_ISREG(info.st_mode):
            scan.originals.add(path, _identity(info))
            if is_supported_image(path):
                scan.photos.append(path)
            else:
                scan.skip(path, unsupported_format_reason(path))
        else:
            scan.skip(path, "not a regular file (a device, pipe or socket)")


def _enter_folder(
    path: Path, identity: tuple[int, int], output_id: tuple[int, int] | None, scan: InputScan, recursive: bool
) -> None:
    if identity == output_id:  # its files are outputs, never photos to restore
        scan.output_inside = path
    elif not recursive:
        scan.skip(path, "subfolder: not searched (subfolders are not included)")
    elif identity in scan.folder_ids:
        scan.skip(path, "link to a folder that is already searched (a loop or a second path): not searched again")
    else:
        scan.folder_ids.add(identity)
        _scan_folder(path, output_id, scan, recursive)


def _identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _unreachable_reason(path: Path, exc: OSError) -> str:
    if path.is_symlink():
        if exc.errno == errno.ELOOP:
            return "link loop: the link leads back to itself"
        if exc.errno == errno.ENOENT:
            return f"broken link: it points to '{os.readlink(path)}', which does not exist"
    return f"cannot be read ({_os_reason(exc)})"


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
