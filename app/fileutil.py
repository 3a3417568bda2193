"""Writing files so that a crash or an error never leaves a half-written result behind."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from pathlib import Path


def _read_umask() -> int:
    """Read once at import: os.umask is process-wide, so it must not be toggled while threads write."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
TEMP_PREFIX = ".saving-"
_OWN_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"[a-z0-9_]{8}(\.[^.]+)?")  # what mkstemp makes below


@contextlib.contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp_name)
        os.chmod(tmp_name, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def write_text_atomically(path: Path, text: str) -> None:
    """Write UTF-8 text so that `path` holds either its old content or all of `text`, never a part."""
    with atomic_target(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def is_own_temp_file(name: str) -> bool:
    """True for the name of a temporary file `atomic_target` makes (left behind only if the process was killed)."""
    return _OWN_TEMP_NAME.fullmatch(name) is not None


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of what `path` points to, or None if it cannot be reached; equal for every alias."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def same_file(first: Path, second: Path) -> bool:
    """Whether two paths are the same file or folder (device and inode), whatever links or mounts lie between."""
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):
        return False


def check_writable(folder: Path, probe_bytes: int = 64 * 1024) -> None:
    """Create, fill, flush and remove a probe file in `folder`; raise OSError if any step fails
    (read-only medium, no permission, full disk)."""
    fd, probe = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
    try:
        os.write(fd, b"\0" * probe_bytes)
        os.fsync(fd)
    finally:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):  # a run cleaning its leftovers may have taken it
            os.unlink(probe)


def remove_stale_temp_files(folder: Path, skip_folders: AbstractSet[tuple[int, int]] = frozenset()) -> list[Path]:
    """Delete the temporary files `atomic_target` left under `folder` when a run was killed mid-write.

    Call only while no other writer of ours uses `folder` (hold its lock). Links are not followed and
    folders whose (device, inode) is in `skip_folders` are not entered. Returns what was removed."""
    removed = []
    for root, folders, files in os.walk(folder, followlinks=False):
        folders[:] = [name for name in folders if file_identity(Path(root, name)) not in skip_folders]
        for name in files:
            path = Path(root, name)
            if is_own_temp_file(name) and not path.is_symlink():
                with contextlib.suppress(OSError):  # gone meanwhile, or not ours to delete: leave it
                    path.unlink()
                    removed.append(path)
    return removed
