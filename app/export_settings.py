"""How restored photos are written: format, JPEG quality, name suffix, folder and metadata.

One set of rules for every way of saving (Save result, Export all open photos, batch): `output_path`
names the file, `export_photo` writes it through `app.photo_io.save_photo` (atomic, never over the
original). Validation gives a `StudioError` whose text is meant for the user.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import ImageSaveError, StudioError, printable
from app.fileutil import Originals

if TYPE_CHECKING:  # app.photo_io loads OpenCV and NumPy: imported where a photo is named or written, so that
    from app.photo_io import Photo  # the command line offers these settings without them

SAME = "same"
FORMATS = (SAME, "jpeg", "png", "tiff", "webp")
FORMAT_LABELS = {SAME: "Same as the original", "jpeg": "JPEG", "png": "PNG", "tiff": "TIFF", "webp": "WebP"}
_FORMAT_ALIASES = {"jpg": "jpeg", "tif": "tiff"}
_EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "tiff": ".tif", "webp": ".webp"}
DEFAULT_JPEG_QUALITY = 95
DEFAULT_SUFFIX = "_restored"
MAX_SUFFIX_LENGTH = 64
_FORBIDDEN_IN_SUFFIX = set('/\\<>:"|?*')  # path separators, and what Windows refuses in a file name
EMPTY_FOLDER = "The export folder is empty: choose a folder, or save beside the original."


class ExportSettingsError(StudioError):
    """Export settings that cannot be used (a suffix with a folder in it, a JPEG quality of 0 …)."""


@dataclass(frozen=True)
class ExportSettings:
    """`format` 'same' keeps each photo's own format; `folder` None = beside the original."""

    format: str = SAME
    jpeg_quality: int = DEFAULT_JPEG_QUALITY
    suffix: str = DEFAULT_SUFFIX
    keep_metadata: bool = True  # EXIF (camera, date, place, author); the colour profile is always kept
    folder: Path | None = None

    def __post_init__(self) -> None:
        fmt = self.format.strip().lower() if isinstance(self.format, str) else self.format
        fmt = _FORMAT_ALIASES.get(fmt, fmt)
        if fmt not in FORMATS:
            raise ExportSettingsError(
                f"Unknown export format {printable(repr(self.format))}: use one of {', '.join(FORMATS)}."
            )
        object.__setattr__(self, "format", fmt)
        quality = self.jpeg_quality
        if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
            raise ExportSettingsError(
                f"JPEG quality must be a whole number from 1 to 100, not {printable(repr(quality))}."
            )
        check_suffix(self.suffix)
        if not isinstance(self.keep_metadata, bool):
            raise ExportSettingsError("keep_metadata must be true or false.")
        if self.folder is not None:
            if not isinstance(self.folder, (str, os.PathLike)) or not str(self.folder).strip():
                raise ExportSettingsError(EMPTY_FOLDER)
            object.__setattr__(self, "folder", Path(self.folder))

    def to_dict(self) -> dict:
        """Plain values (for remembering them between sessions)."""
        data = asdict(self)
        data["folder"] = str(self.folder) if self.folder is not None else None
        return data

    @classmethod
    def from_dict(cls, data: object, default: ExportSettings | None = None) -> ExportSettings:
        """Settings read back from `to_dict`; what is missing or unusable is taken from `default`."""
        default = default or cls()
        values = default.to_dict()
        if isinstance(data, dict):
            values.update({key: value for key, value in data.items() if key in values})
        try:
            return cls(**values)
        except (StudioError, TypeError):
            return default

    def with_folder(self, folder: str | os.PathLike | None) -> ExportSettings:
        return ExportSettings(
            self.format,
            self.jpeg_quality,
            self.suffix,
            self.keep_metadata,
            Path(folder) if folder is not None else None,
        )


def check_suffix(suffix: object) -> str:
    """`suffix` if it can end a file name; else an ExportSettingsError saying why."""
    if not isinstance(suffix, str):
        raise ExportSettingsError("The name suffix must be text.")
    shown = printable(repr(suffix))
    bad = sorted(_FORBIDDEN_IN_SUFFIX & set(suffix))
    if bad:
        raise ExportSettingsError(
            f"The name suffix {shown} contains {' '.join(bad)}: it is added to the file name, "
            "so it cannot hold a folder or these characters. Choose the folder separately."
        )
    if any(not char.isprintable() for char in suffix):
        raise ExportSettingsError(f"The name suffix {shown} contains control characters.")
    if suffix.strip() in (".", "..") or suffix.endswith((" ", ".")):
        raise ExportSettingsError(f"The name suffix {shown} cannot end with a dot or a space.")
    if len(suffix) > MAX_SUFFIX_LENGTH:
        raise ExportSettingsError(f"The name suffix is {len(suffix)} characters long; at most {MAX_SUFFIX_LENGTH}.")
    return suffix


def output_extension(source: Path, settings: ExportSettings) -> str:
    """The output's extension: the source's own (spelling kept) for 'same', else the format's."""
    from app.photo_io import SUPPORTED_SUFFIXES

    if settings.format != SAME:
        return _EXTENSIONS[settings.format]
    if source.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise ImageSaveError(
            f"'{printable(source.name)}' has no photo format this app writes; choose an export format."
        )
    return source.suffix


def output_format(source: Path, settings: ExportSettings) -> str:
    """'JPEG', 'PNG', 'TIFF' or 'WEBP': what the output of `source` is written as."""
    from app.photo_io import SUPPORTED_SUFFIXES

    return SUPPORTED_SUFFIXES[output_extension(source, settings).lower()]


def output_path(source: str | os.PathLike, settings: ExportSettings, relative: str | os.PathLike | None = None) -> Path:
    """Where the export of `source` goes (see `name_output`); raises ImageSaveError when that would be the
    original itself (also through a link or a second mount)."""
    source = Path(source)
    target = name_output(source, settings, relative)
    if target == source or Originals([source]).include(target):
        raise ImageSaveError(
            f"Exporting '{printable(source.name)}' as '{printable(str(target))}' would replace the "
            "original; originals are never overwritten. Add a name suffix, choose another "
            "format or another folder."
        )
    return target


def name_output(source: str | os.PathLike, settings: ExportSettings, relative: str | os.PathLike | None = None) -> Path:
    """NAME + suffix + extension, beside the original (no folder) or in `settings.folder`; with `relative` (the
    source's path inside a batch's input folder) at the same place of the folder's tree. Only names it: a batch
    compares what is there with its inputs by device and inode itself."""
    source = Path(source)
    name = f"{source.stem}{settings.suffix}{output_extension(source, settings)}"
    if relative is not None:
        if settings.folder is None:
            raise ValueError("a relative output path needs an export folder")
        return settings.folder / Path(relative).parent / name
    return (settings.folder if settings.folder is not None else source.parent) / name


def export_photo(photo: Photo, target: str | os.PathLike, settings: ExportSettings, overwrite: bool = False) -> Path:
    """Write `photo` to `target` (from `output_path`) with the settings' JPEG quality and metadata choice."""
    from app.photo_io import save_photo

    return save_photo(
        photo, target, overwrite=overwrite, jpeg_quality=settings.jpeg_quality, keep_metadata=settings.keep_metadata
    )


def describe_output(source: Path, settings: ExportSettings) -> dict:
    """What an output of `source` is written with, as recorded in a batch report."""
    fmt = output_format(source, settings)
    return {
        "format": fmt,
        "jpeg_quality": settings.jpeg_quality if fmt == "JPEG" else None,
        "suffix": settings.suffix,
        "keep_metadata": settings.keep_metadata,
    }
