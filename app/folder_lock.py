"""A lock that keeps two batch runs from writing into the same folder at once.

The lock is an operating-system lock (flock) on a small file in the folder that names its owner
(process id, host, start time) for the "folder is busy" message. The kernel drops the lock when its
process ends in any way, SIGKILL and crashes included, so a lock left by a dead run never blocks
the next one: the file is simply locked again.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path

from app.errors import StudioError

if sys.platform == "win32":  # written as sys.platform tests so that mypy checks each platform's branch
    import msvcrt
else:
    import fcntl

LOCK_NAME = ".iqpfr-batch.lock"


class FolderBusyError(StudioError):
    """Another run is writing into the folder."""


class FolderLock:
    """`with FolderLock(folder):` holds the folder's lock for the block; raises FolderBusyError if taken."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()

    def acquire(self) -> None:
        while self._fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StudioError(
                    f"Cannot lock the output folder '{self.path.parent}' against a second run "
                    f"({exc.strerror or exc}). Nothing was processed."
                ) from exc
            if not _try_lock(fd):
                owner = _read_owner(fd)
                os.close(fd)
                raise FolderBusyError(_busy_message(self.path, owner))
            if _still_linked(fd, self.path):
                _write_owner(fd)
                self._fd = fd
            else:  # the previous holder removed the file between our open and our lock: lock the new one
                os.close(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if sys.platform != "win32":  # remove while still locked, so that no one locks a file that is going away
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        os.close(fd)  # drops the lock


def _try_lock(fd: int) -> bool:
    try:
        if sys.platform == "win32":
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # BlockingIOError on POSIX, PermissionError on Windows
        return False
    return True


def _still_linked(fd: int, path: Path) -> bool:
    if sys.platform == "win32":
        return True  # Windows does not remove open files
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _write_owner(fd: int) -> None:
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 1, os.SEEK_SET)  # byte 0 is the one Windows locks; readers skip it
        os.write(fd, json.dumps(owner).encode())
    except OSError:
        pass  # the owner is only named in messages; the lock holds without it


def _read_owner(fd: int) -> dict:
    try:
        os.lseek(fd, 1, os.SEEK_SET)
        owner = json.loads(os.read(fd, 4096).decode())
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


def _busy_message(path: Path, owner: dict) -> str:
    who = (
        f"process {owner['pid']} on {owner.get('host', '?')}, started {owner.get('started', '?')}"
        if owner.get("pid")
        else "another process"
    )
    return (
        f"Another batch run ({who}) is writing into '{path.parent}'. Wait for it to finish or choose "
        "another output folder."
    )
