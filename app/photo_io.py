"""Reading and writing photos without losing what the user cares about.

Loading applies EXIF orientation and turns every colour mode into RGB pixels
(8- or 16-bit) plus an optional alpha plane. Saving keeps EXIF (orientation reset),
the ICC profile, alpha and 16-bit depth where the format allows, writes atomically,
and refuses to overwrite the original.

Only metadata that still holds for the new pixels is kept: EXIF tags describing the photo, its camera and
its author (not a TIFF's layout: size, samples, compression, colour map), and an ICC profile only if it
parses. What the output cannot carry (the first frame of an animation is all that is restored; EXIF beyond
what a JPEG holds) is said in `Photo.warnings`.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError

from app.errors import ImageLoadError, ImageSaveError, printable
from app.fileutil import Originals, atomic_target

# The one list of photo formats every entry point reads and writes (window, restore, score, batch, training data):
# file name extension → the Pillow format its content must be. Only these decoders ever see a file, never one
# that hands the file to another program (EPS/PS/PDF go to Ghostscript).
SUPPORTED_SUFFIXES = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
DEFAULT_MAX_PIXELS = 150_000_000  # ~150 MP: larger files get a clear "too large" message
_EXIF_ORIENTATION = 0x0112
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
# First-level EXIF/TIFF tags that describe the photo, its camera and its author, so they still hold for the
# restored pixels; every other first-level tag (a TIFF's size, samples, compression, predictor, colour map,
# strips, ink set …) describes how the source file was encoded, and is not copied.
_EXIF_KEPT_TAGS = {
    int(tag)
    for tag in (
        ExifTags.Base.ImageDescription,
        ExifTags.Base.Make,
        ExifTags.Base.Model,
        ExifTags.Base.Orientation,
        ExifTags.Base.XResolution,
        ExifTags.Base.YResolution,
        ExifTags.Base.ResolutionUnit,
        ExifTags.Base.Software,
        ExifTags.Base.DateTime,
        ExifTags.Base.Artist,
        ExifTags.Base.HostComputer,
        ExifTags.Base.Copyright,
        ExifTags.Base.XPTitle,
        ExifTags.Base.XPComment,
        ExifTags.Base.XPAuthor,
        ExifTags.Base.XPKeywords,
        ExifTags.Base.XPSubject,
        ExifTags.Base.Rating,
        ExifTags.Base.RatingPercent,
        ExifTags.IFD.Exif,
        ExifTags.IFD.GPSInfo,
    )
}
JPEG_MAX_EXIF_BYTES = 65533  # one APP1 marker segment; Pillow refuses more
WEBP_QUALITY = 95
# Formats whose extra frames are an animation or pages the user sees; an MPO's extra images are the camera's
# previews (or a stereo pair's second eye), not content that is lost.
_MULTI_FRAME_FORMATS = {"PNG", "WEBP", "TIFF"}


def to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """8-bit or 16-bit RGB pixels as 8-bit (the array itself when already 8-bit)."""
    if pixels.dtype == np.uint8:
        return pixels
    return (pixels.astype(np.uint32) * 255 // 65535).astype(np.uint8)


@dataclass
class Photo:
    """Decoded photo: RGB pixels (uint8 or uint16), optional alpha, and metadata to keep."""

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    exif: bytes | None = None
    icc_profile: bytes | None = None
    source_path: Path | None = None
    grayscale: bool = False
    notes: list[str] = field(default_factory=list)  # what was done to read or write it (conversions)
    warnings: list[str] = field(default_factory=list)  # what of the input is not in the output

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    def rgb8(self) -> np.ndarray:
        """8-bit RGB view for detection, scoring and display."""
        return to_rgb8(self.pixels)

    def with_pixels(self, pixels: np.ndarray) -> Photo:
        return replace(self, pixels=pixels, notes=list(self.notes), warnings=list(self.warnings))

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


def is_supported_image(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def unsupported_format_reason(path: Path) -> str:
    """Why `path` is not opened as a photo, judged by its extension ('' when its extension is supported)."""
    if is_supported_image(path):
        return ""
    formats = ", ".join(sorted(set(SUPPORTED_SUFFIXES.values())))
    if not path.suffix:
        return f"no file extension: not a supported photo format ({formats})"
    return f"'{printable(path.suffix)}' is not a supported photo format ({formats})"


def load_photo(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Read an image file; raise ImageLoadError with a readable reason on any problem.

    Only the formats of SUPPORTED_SUFFIXES are read, and only the one the file's extension names: a file whose
    content is another format (say PostScript named .jpg, which Pillow would hand to Ghostscript) is refused."""
    path = Path(path)
    name = printable(path.name)
    try:
        if not path.is_file():
            raise ImageLoadError(f"'{name}' does not exist or is not a file.")
        reason = unsupported_format_reason(path)
        if reason:
            raise ImageLoadError(f"'{name}' cannot be opened: {reason}.")
        if path.stat().st_size == 0:
            raise ImageLoadError(f"'{name}' is empty (0 bytes).")
        with Image.open(path, formats=[SUPPORTED_SUFFIXES[path.suffix.lower()]]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageLoadError(_too_large(name, max_pixels, (width, height)))
            image.load()
            return _photo_from_pil(image, path)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:  # larger than Pillow's own limit, which lies above ours
        raise ImageLoadError(_too_large(name, max_pixels, pixels=_bomb_pixels(exc))) from exc
    except PermissionError as exc:
        raise ImageLoadError(f"'{name}' cannot be read: permission denied. Check the file's permissions.") from exc
    except UnidentifiedImageError as exc:
        if _is_tiff(path):
            raise ImageLoadError(
                f"'{name}' is a TIFF this app cannot read: its sample format (e.g. floating-point "
                f"colour) or layout is not supported, or it is damaged. Save it as an 8- or "
                f"16-bit TIFF or PNG."
            ) from exc
        raise ImageLoadError(_not_readable(path, name)) from exc
    except OSError as exc:
        if exc.errno is not None:  # the file system failed, not the decoder (which raises OSErrors without errno)
            raise ImageLoadError(f"'{name}' could not be read: {exc.strerror or exc}.") from exc
        raise ImageLoadError(f"'{name}' is corrupt or truncated and cannot be read ({exc}).") from exc
    except (SyntaxError, ValueError, struct.error, zlib.error) as exc:
        raise ImageLoadError(f"'{name}' is corrupt or truncated and cannot be read ({exc}).") from exc


def _too_large(name: str, max_pixels: int, size: tuple[int, int] | None = None, pixels: int | None = None) -> str:
    if size is not None:
        shown = f"{size[0]}×{size[1]} ({size[0] * size[1] / 1e6:.0f} MP)"
    else:
        shown = f"{pixels / 1e6:.0f} MP" if pixels is not None else "too large"
    return f"'{name}' is {shown}, larger than the {max_pixels / 1e6:.0f} MP this app handles. Downscale it first."


def _bomb_pixels(exc: Image.DecompressionBombError) -> int | None:
    """The pixel count Pillow's refusal names ('Image size (3600000000 pixels) exceeds …'), if it does."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return int(found.group(1)) if found else None


def _not_readable(path: Path, name: str) -> str:
    """The message for a file its extension's decoder cannot read: another supported format under the wrong
    extension is named (never decoded: only the supported decoders look at it), else unknown or corrupt."""
    expected = SUPPORTED_SUFFIXES[path.suffix.lower()]
    try:
        with Image.open(path, formats=sorted(set(SUPPORTED_SUFFIXES.values()))) as image:
            actual = image.format
    except (OSError, ValueError, SyntaxError, struct.error, zlib.error):
        actual = None
    if actual is not None and actual != expected and actual in SUPPORTED_SUFFIXES.values():
        extensions = " or ".join(suffix for suffix, fmt in SUPPORTED_SUFFIXES.items() if fmt == actual)
        return (
            f"'{name}' is named as {expected} but holds a {actual} image; it is not opened under the wrong "
            f"extension. Rename it to {extensions}."
        )
    return f"'{name}' is not an image this app can read (unknown or corrupt format, or not a {expected} file)."


def _orientation(exif: Image.Exif, notes: list[str]) -> int:
    """The EXIF orientation (1-8); a tag that is not one of those numbers is ignored (with a note), not an error."""
    value = exif.get(_EXIF_ORIENTATION, 1)
    if isinstance(value, int) and 1 <= value <= 8:
        return value
    if value not in (0, None, b"", ""):
        notes.append(f"The EXIF orientation {printable(repr(value))[:40]} is not valid; it was ignored.")
    return 1


def _photo_from_pil(image: Image.Image, path: Path) -> Photo:
    exif = image.getexif()
    notes: list[str] = []
    orientation = _orientation(exif, notes)
    warnings: list[str] = []
    icc = _valid_icc_profile(image.info.get("icc_profile") or None, warnings)
    fmt = image.format
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and fmt in _MULTI_FRAME_FORMATS:
        warnings.append(
            f"First frame only: '{printable(path.name)}' has {frames} frames (animation or pages); "
            f"only the first is restored and saved."
        )

    if _has_16bit_colour(image, path):
        pixels, alpha = _decode_16bit_colour(path)
        pixels = _apply_orientation(pixels, orientation)
        alpha = _apply_orientation(alpha, orientation) if alpha is not None else None
        return Photo(pixels, alpha, _exif_bytes(exif), icc, path, False, notes, warnings)

    image = ImageOps.exif_transpose(image) if orientation != 1 else image
    mode = image.mode
    alpha = None
    grayscale = False
    if mode.startswith("I;16") or mode == "I":
        gray16 = np.asarray(image).astype(np.int64)
        pixels = np.repeat(np.clip(gray16, 0, 65535).astype(np.uint16)[..., None], 3, axis=2)
        grayscale = True
    elif mode == "F":
        pixels = np.repeat(_float_to_uint16(np.asarray(image), notes)[..., None], 3, axis=2)
        grayscale = True
    elif mode == "CMYK":
        pixels, icc = _cmyk_to_rgb(image, icc, notes)
    else:
        if mode == "P" and "transparency" in image.info:
            image = image.convert("RGBA")
        grayscale = mode in {"1", "L", "LA", "La"}
        has_alpha = image.mode in _ALPHA_MODES
        rgba = image.convert("RGBA") if has_alpha else None
        pixels = np.asarray(rgba.convert("RGB") if rgba else image.convert("RGB")).copy()
        if rgba is not None:
            alpha = np.asarray(rgba.getchannel("A")).copy()
    return Photo(np.ascontiguousarray(pixels), alpha, _exif_bytes(exif), icc, path, grayscale, notes, warnings)


def _has_16bit_colour(image: Image.Image, path: Path) -> bool:
    """Pillow silently truncates 16-bit RGB(A) PNG/TIFF to 8 bits; detect those files."""
    if image.mode not in {"RGB", "RGBA"}:
        return False
    if image.format == "PNG":
        with open(path, "rb") as handle:
            header = handle.read(26)
        return len(header) == 26 and header[24] == 16
    if image.format == "TIFF":
        bits = image.tag_v2.get(258) if hasattr(image, "tag_v2") else None
        bits = bits if isinstance(bits, tuple) else (bits,)
        return 16 in bits
    return False


def _decode_16bit_colour(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    data = np.fromfile(str(path), dtype=np.uint8)
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint16 or decoded.ndim != 3:
        raise ImageLoadError(f"'{printable(path.name)}' looks like a 16-bit image but could not be decoded.")
    alpha = decoded[..., 3].copy() if decoded.shape[2] == 4 else None
    rgb = cv2.cvtColor(decoded[..., :3], cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(rgb), alpha


def _apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Numpy version of EXIF orientation (same result as ImageOps.exif_transpose)."""
    if orientation in (1, 0):
        return array
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.swapaxes(a[::-1, ::-1], 0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(ops.get(orientation, lambda a: a)(array))


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None, notes: list[str]) -> tuple[np.ndarray, bytes | None]:
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            rgb = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
            notes.append("CMYK converted to sRGB using the embedded colour profile.")
            return np.asarray(rgb).copy(), ImageCms.ImageCmsProfile(srgb).tobytes()
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    notes.append("CMYK converted to RGB without a colour profile; colours may shift slightly.")
    return np.asarray(image.convert("RGB")).copy(), None


def _float_to_uint16(values: np.ndarray, notes: list[str]) -> np.ndarray:
    """32-bit float samples → uint16. White is 1.0 (the usual float convention), or 255 / 65535 for
    whole-number data in those ranges, else the brightest pixel; NaN and negatives become black."""
    values = values.astype(np.float64)
    finite = values[np.isfinite(values)]
    peak = float(finite.max()) if finite.size else 0.0
    whole = finite.size > 0 and bool(np.all(finite == np.round(finite)))
    if peak <= 1.0:
        white = 1.0
    elif whole and peak <= 255.0:
        white = 255.0
    elif whole and peak <= 65535.0:
        white = 65535.0
    else:
        white = peak
    notes.append(f"32-bit float image converted to 16-bit (white = {white:g}).")
    values = np.nan_to_num(values, nan=0.0, posinf=white, neginf=0.0)
    return np.round(np.clip(values / white, 0.0, 1.0) * 65535.0).astype(np.uint16)


def _is_tiff(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # TIFF, BigTIFF


def _valid_icc_profile(icc: bytes | None, warnings: list[str]) -> bytes | None:
    """The embedded ICC profile if it parses; an unreadable one is not copied into the output."""
    if not icc:
        return None
    try:
        ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        warnings.append("The embedded colour profile is damaged and was not kept; the output has none.")
        return None
    return icc


def _exif_bytes(exif: Image.Exif) -> bytes | None:
    """The EXIF tags that still hold for the restored pixels (see _EXIF_KEPT_TAGS), orientation reset."""
    for tag in [tag for tag in exif if tag not in _EXIF_KEPT_TAGS]:
        del exif[tag]
    if not len(exif):
        return None
    if _EXIF_ORIENTATION in exif:
        exif[_EXIF_ORIENTATION] = 1  # pixels are stored upright from here on
    return exif.tobytes()


# ----------------------------------------------------------------------------------------- saving


def save_photo(
    photo: Photo, path: str | os.PathLike, overwrite: bool = False, jpeg_quality: int = 95, keep_metadata: bool = True
) -> Path:
    """Write `photo` to `path` (format from the suffix). Never replaces the photo's source file.

    `jpeg_quality` is for JPEG (WebP is written at WEBP_QUALITY); `keep_metadata` False leaves out the EXIF
    (camera, date, place, author) but keeps the colour profile, which the colours depend on."""
    path = Path(path)
    fmt = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ImageSaveError(
            f"Cannot save as '{printable(path.suffix or path.name)}': use one of "
            f"{', '.join(sorted(set(SUPPORTED_SUFFIXES)))}."
        )
    if photo.source_path is not None and Originals([Path(photo.source_path)]).include(path):
        raise ImageSaveError(
            f"Refusing to overwrite the original photo '{printable(path.name)}' (it is the same file, also "
            "through a link or a second mount). Choose another file name."
        )
    if path.exists() and not overwrite:
        raise ImageSaveError(f"'{printable(str(path))}' already exists; not overwriting it.")
    try:
        data = _encode(photo, fmt, jpeg_quality, photo.exif if keep_metadata else None)
        with atomic_target(path) as tmp:
            tmp.write_bytes(data)
    except ImageSaveError:
        raise
    except (OSError, ValueError) as exc:
        raise ImageSaveError(f"Could not write '{printable(str(path))}': {printable(str(exc))}") from exc
    return path


def _encode(photo: Photo, fmt: str, jpeg_quality: int, exif: bytes | None) -> bytes:
    if photo.bit_depth == 16 and fmt in {"PNG", "TIFF"}:
        return _encode_16bit(photo, fmt, exif)
    if photo.bit_depth == 16:
        photo.warn(
            f"Saved as 8-bit: {'WebP' if fmt == 'WEBP' else fmt} holds 8 bits per channel (PNG or TIFF "
            "keep the 16 bits)."
        )
    if fmt == "JPEG" and photo.alpha is not None and int(photo.alpha.min()) < np.iinfo(photo.alpha.dtype).max:
        photo.warn("Transparency flattened onto white: JPEG has no transparency (PNG, WebP or TIFF keep it).")
    image = _to_pil(photo, keep_alpha=fmt != "JPEG")
    options: dict = {}
    exif = _exif_for_jpeg(photo, exif) if fmt == "JPEG" else exif
    if exif:
        options["exif"] = exif
    if photo.icc_profile:
        options["icc_profile"] = photo.icc_profile
    if fmt == "JPEG":
        options["quality"] = jpeg_quality
    elif fmt == "WEBP":
        options["quality"] = WEBP_QUALITY
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _to_pil(photo: Photo, keep_alpha: bool) -> Image.Image:
    rgb = photo.rgb8()
    alpha = photo.alpha
    if alpha is not None and alpha.dtype == np.uint16:
        alpha = (alpha.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    if alpha is not None and not keep_alpha:  # JPEG: flatten onto white, as viewers show it
        weight = alpha.astype(np.float32)[..., None] / 255.0
        rgb = np.round(rgb * weight + 255.0 * (1.0 - weight)).astype(np.uint8)
        alpha = None
    if photo.grayscale:
        image = Image.fromarray(rgb).convert("L")
        return Image.merge("LA", (image, Image.fromarray(alpha))) if alpha is not None else image
    image = Image.fromarray(rgb)
    if alpha is not None:
        image.putalpha(Image.fromarray(alpha))
    return image


def _encode_16bit(photo: Photo, fmt: str, exif: bytes | None) -> bytes:
    bgr = cv2.cvtColor(photo.pixels, cv2.COLOR_RGB2BGR)
    if photo.grayscale and photo.alpha is None:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    elif photo.alpha is not None:
        alpha = photo.alpha if photo.alpha.dtype == np.uint16 else photo.alpha.astype(np.uint16) * 257
        bgr = np.dstack([bgr, alpha])
    ok, encoded = cv2.imencode(".png" if fmt == "PNG" else ".tiff", bgr)
    if not ok:
        raise ImageSaveError(f"Could not encode a 16-bit {fmt} image.")
    data = encoded.tobytes()
    if fmt == "PNG":
        return _png_with_metadata(data, photo.icc_profile, exif)
    if photo.icc_profile or exif:
        photo.warn("16-bit TIFF written without its EXIF/ICC metadata (use PNG to keep them).")
    return data


def _exif_for_jpeg(photo: Photo, exif_bytes: bytes | None) -> bytes | None:
    """`exif_bytes` (the photo's EXIF), or when it is larger than a JPEG can hold, without its largest entries
    (a maker note first) until it fits; what was dropped is added to `photo.warnings`."""
    if exif_bytes is None or len(exif_bytes) <= JPEG_MAX_EXIF_BYTES:
        return exif_bytes
    exif = Image.Exif()
    exif.load(exif_bytes)
    sub_ifds = [int(ifd) for ifd in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo) if ifd in exif]
    entries: list[tuple[int, int | None, int]] = [
        (_entry_size(value), None, tag) for tag, value in exif.items() if tag not in sub_ifds
    ]
    entries += [(_entry_size(value), ifd, tag) for ifd in sub_ifds for tag, value in exif.get_ifd(ifd).items()]
    dropped: list[str] = []
    data: bytes | None = exif_bytes
    for size, ifd, tag in sorted(entries, key=lambda entry: -entry[0]):
        del (exif if ifd is None else exif.get_ifd(ifd))[tag]
        if ifd is not None and not exif.get_ifd(ifd):
            del exif[ifd]
        dropped.append(
            f"{ExifTags.TAGS.get(tag, f'tag {tag:#06x}')} ({size / 1024:.0f} KB)"
            if size >= 1024
            else ExifTags.TAGS.get(tag, f"tag {tag:#06x}")
        )
        data = exif.tobytes()
        if len(data) <= JPEG_MAX_EXIF_BYTES:
            break
    else:
        data = None
    kept = "the rest of the EXIF is kept" if data else "no EXIF is kept"
    photo.warn(
        f"EXIF is {len(exif_bytes) / 1024:.0f} KB, more than a JPEG can hold (64 KB): dropped "
        f"{', '.join(dropped)}; {kept}. Save as PNG, WebP or TIFF to keep all of it."
    )
    return data


def _entry_size(value: object) -> int:
    """Rough bytes an EXIF value takes (for choosing what to drop first)."""
    if isinstance(value, (bytes, str)):
        return len(value)
    if isinstance(value, tuple):
        return 8 * len(value)
    return 4


def _png_with_metadata(png: bytes, icc: bytes | None, exif: bytes | None) -> bytes:
    """Insert iCCP and eXIf chunks right after IHDR (OpenCV cannot write them)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    extra = b""
    if icc:
        extra += chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc))
    if exif:
        extra += chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif)
    ihdr_end = 8 + 4 + 4 + 13 + 4
    return png[:ihdr_end] + extra + png[ihdr_end:]
