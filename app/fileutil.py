"""Writing files so that a crash or an error never leaves a half-written result behind."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
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
def interrupts_deferred() -> Iterator[None]:
    """Hold back Ctrl+C (SIGINT) until the block has ended, then deliver it as it would have been: for steps that
    must not be cut in two (creating a temporary file and taking note of its name). Only the main thread receives
    signals; elsewhere, or where Python does not own the handler, the block just runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # installed from outside Python: cannot be restored
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            signal.raise_signal(signal.SIGINT)


@contextlib.contextmanager
def _temp_file(folder: Path, suffix: str = "") -> Iterator[tuple[int, str]]:
    """A new temporary file in `folder` (its open descriptor and name), removed when the block ends unless it was
    renamed away meanwhile. Ctrl+C cannot fall between its creation and the point from which it is removed."""
    name = None
    try:
        with interrupts_deferred():
            fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=folder)
        yield fd, name
    finally:
        if name is not None:
            with interrupts_deferred(), contextlib.suppress(FileNotFoundError):
                os.unlink(name)


@contextlib.contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds. Nothing is left
    behind when it does not, whatever stops it (an error, Ctrl+C)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _temp_file(path.parent, path.suffix) as (fd, tmp_name):
        os.close(fd)
        yield Path(tmp_name)
        os.chmod(tmp_name, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp_name, path)


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


class Originals:
    """Files that are never written: the inputs of a restore, a save or a batch. One check for every writer.

    A target is an original when it is one by device and inode (through a symbolic or hard link, a bind mount,
    another spelling), or when it names the same entry of the same folder, compared by the folder's device and
    inode: writing a file replaces that entry, even where nothing is there now."""

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        self.files: set[tuple[int, int]] = set()
        self.entries: set[tuple[tuple[int, int], str]] = set()
        for path in paths:
            self.add(Path(path))

    def add(self, path: Path, identity: tuple[int, int] | None = None) -> None:
        """Protect `path` (`identity`: its device and inode, when already known)."""
        identity = identity or file_identity(path)
        if identity is not None:
            self.files.add(identity)
        folder = file_identity(path.parent)
        if folder is not None:
            self.entries.add((folder, path.name))

    def include(self, target: Path) -> bool:
        """Whether writing `target` would write one of these files."""
        if file_identity(target) in self.files:
            return True
        folder = file_identity(target.parent)
        return folder is not None and (folder, target.name) in self.entries


def same_file(first: Path, second: Path) -> bool:
    """Whether two paths are the same file or folder (device and inode), whatever links or mounts lie between."""
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):
        return False


def check_writable(folder: Path, probe_bytes: int = 64 * 1024) -> None:
    """Create, fill, flush and remove a probe file in `folder`; raise OSError if any step fails
    (read-only medium, no permission, full disk)."""
    with _temp_file(folder) as (fd, _probe):  # a run cleaning its leftovers may take it meanwhile: no matter
        try:
            os.write(fd, b"\0" * probe_bytes)
            os.fsync(fd)
        finally:
            os.close(fd)


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
