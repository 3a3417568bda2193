"""Errors that carry a message meant for the person using the app, `failure_message` for any other
exception, and `printable` for the file names inside those messages (no Qt here: the CLI, batch and GUI
share them)."""

import errno
import os
import unicodedata

# Format characters that reorder or hide text on screen (bidi overrides and isolates).
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(text: str) -> str:
    """`text` safe to show: control characters (ANSI escapes included), bidi overrides and file-name bytes
    that are not valid UTF-8 (surrogate escapes) are shown as backslash escapes; newlines and tabs stay."""
    if text.isprintable():
        return text
    shown = []
    for char in text:
        code = ord(char)
        if char in "\n\t" or (unicodedata.category(char) not in ("Cc", "Cs") and char not in _BIDI_CONTROLS):
            shown.append(char)
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by os.fsdecode as a surrogate
            shown.append(f"\\x{code - 0xDC00:02x}")
        else:
            shown.append(char.encode("unicode_escape").decode("ascii"))
    return "".join(shown)


class Stopped(Exception):
    """Work was stopped between two steps because `should_stop()` said so (a newer request, cancel, or closing)."""


class StudioError(Exception):
    """Base class: str(error) is a complete, user-readable sentence."""


class ImageLoadError(StudioError):
    """A file could not be read as a photo."""


class ImageSaveError(StudioError):
    """A result could not be written (or writing it would lose the original)."""


class WeightsMissingError(StudioError):
    """A model weight file is not on this machine and could not be fetched."""


class DownloadCancelled(WeightsMissingError):
    """The user cancelled a download; its partial file is kept so that the next try resumes."""


class CheckpointError(StudioError):
    """A weights file exists but is not a usable IQPFR Studio checkpoint."""


class QualityMetricError(StudioError):
    """An image-quality metric is unknown or cannot run here."""


class TrainingSetupError(StudioError):
    """A training run cannot start or resume: missing config, data or state."""


class PhotoTooSmallError(StudioError):
    """A photo is too small (or too thin) to hold a face, or to be scored."""


class FaceNotFoundError(StudioError):
    """No (new) face where the user asked for one: inside a box drawn around a face the detector missed."""


class DeviceError(StudioError):
    """A compute device was asked for that this machine does not offer."""


# What an OSError means, in the words of someone saving photos (else the system's own words).
_OS_REASONS: dict[int | None, str] = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the drive is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOENT: "it does not exist",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EIO: "the drive reported a read or write error",
    errno.ENOTDIR: "a file is where a folder should be",
    errno.EISDIR: "it is a folder",
}


def os_reason(exc: OSError) -> str:
    """Why an OSError happened, in plain words ('the disk is full')."""
    return _OS_REASONS.get(exc.errno, exc.strerror or str(exc) or type(exc).__name__)


def _path_text(filename: object) -> str:
    return os.fsdecode(filename) if isinstance(filename, (str, bytes, os.PathLike)) else str(filename)


def failure_message(exc: BaseException, doing: str, name: str = "") -> str:
    """What went wrong while trying to `doing` ("open 'a.jpg'"), as a sentence for the user (no traceback).

    `name`: the photo's file name, put in front of a message that does not say which photo it is about."""
    if isinstance(exc, StudioError):
        return str(exc) if name in str(exc) else f"{name}: {exc}"
    if isinstance(exc, MemoryError):
        return f"Not enough memory to {doing}; close other programs or try a smaller photo."
    if isinstance(exc, OSError) and (exc.errno or exc.strerror):
        where = f" ('{printable(_path_text(exc.filename))}')" if exc.filename not in (None, "") else ""
        return f"Could not {doing}: {os_reason(exc)}{where}."
    first_line = (str(exc).strip().splitlines() or [""])[0][:300]
    return printable(f"Could not {doing}: unexpected error ({type(exc).__name__}: {first_line}).")
