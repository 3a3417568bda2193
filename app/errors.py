"""Errors that carry a message meant for the person using the app, and `printable` for the
file names inside those messages."""

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


class DeviceError(StudioError):
    """A compute device was asked for that this machine does not offer."""
