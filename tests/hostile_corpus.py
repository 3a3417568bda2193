"""A folder of unusual and broken image files, made on the fly (nothing committed), for end-to-end runs.

Each entry is one kind of trouble a user's folder can hold: damaged or empty files, odd sizes, odd
pixel formats, odd metadata, animations, odd names, links and unreadable parts. `make_hostile_folder`
writes them and returns the files a run must leave byte-identical.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, TiffImagePlugin


def _gradient(height: int = 48, width: int = 64) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack(
        [xs * 255 // max(width - 1, 1), ys * 255 // max(height - 1, 1), (xs + ys) * 255 // max(width + height - 2, 1)],
        axis=2,
    ).astype(np.uint8)


def _exif_with_maker_note(size: int) -> bytes:
    exif = Image.Exif()
    exif[0x927C] = b"M" * size  # MakerNote
    return exif.tobytes()


def _writers(face_rgb: np.ndarray | None):
    gradient = _gradient()
    image = Image.fromarray(gradient)

    def pil(name, picture, **options):
        return name, lambda path: picture.save(path, **options)

    def raw(name, data: bytes):
        return name, lambda path: path.write_bytes(data)

    def jpeg_bytes(picture: Image.Image) -> bytes:
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG")
        return buffer.getvalue()

    frames = [Image.fromarray(np.full((32, 32, 3), value, np.uint8)) for value in (40, 160)]
    orientation = Image.Exif()
    orientation[0x0112] = 6
    entries = [
        raw("empty.jpg", b""),
        raw("text-named-as.png", b"this is not an image\n"),
        raw("truncated.jpg", jpeg_bytes(image)[:200]),
        raw("garbage.webp", os.urandom(512)),
        raw(
            "huge-dimensions.png",
            b"\x89PNG\r\n\x1a\n"
            + struct.pack(">I", 13)
            + b"IHDR"
            + struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
            + b"\0\0\0\0",
        ),
        pil("one-pixel.png", Image.fromarray(np.full((1, 1, 3), 128, np.uint8))),
        pil("eleven.png", Image.fromarray(np.full((11, 11, 3), 128, np.uint8))),
        pil("thin.png", Image.fromarray(np.full((3, 20000, 3), 90, np.uint8))),
        pil("cmyk.jpg", image.convert("CMYK")),
        pil("grey.png", image.convert("L")),
        pil("alpha.png", image.convert("RGBA")),
        pil("palette.png", image.convert("P")),
        ("sixteen-bit.png", lambda path: cv2.imwrite(str(path), (gradient.astype(np.uint16) * 257)[..., ::-1])),
        pil("rotated-exif.jpg", image, exif=orientation.tobytes()),
        pil("maker-note.png", image, exif=_exif_with_maker_note(70_000)),
        pil("bad-icc.png", image, icc_profile=b"not a profile"),
        pil("cmyk.tif", image.convert("CMYK")),
        pil("palette.tif", image.convert("P")),
        pil(
            "lzw-predictor.tif",
            image,
            compression="tiff_lzw",
            tiffinfo={TiffImagePlugin.PREDICTOR: 2} if hasattr(TiffImagePlugin, "PREDICTOR") else {},
        ),
        pil("float.tif", Image.fromarray(gradient[..., 0].astype(np.float32) / 255.0, "F")),
        pil("multi-page.tif", frames[0], save_all=True, append_images=frames[1:]),
        pil("animated.webp", frames[0], save_all=True, append_images=frames[1:], duration=100),
        pil("animated.png", frames[0], save_all=True, append_images=frames[1:], duration=100),
        pil("animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=100),
        raw("photo.heic", b"\0\0\0\x18ftypheic" + os.urandom(64)),
        pil(".hidden.png", image),
        pil("name with spaces and ünïcödé.png", image),
    ]
    if face_rgb is not None:
        entries.append(pil("face.jpg", Image.fromarray(face_rgb)))
    return entries


def make_hostile_folder(folder: Path, face_rgb: np.ndarray | None = None) -> list[Path]:
    """Write the hostile set into `folder` (created); returns every regular file written, to check that a
    run leaves each byte-identical. `face_rgb`: a real face photo to include, so one file restores."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, write in _writers(face_rgb):
        path = folder / name
        write(path)
        written.append(path)
    nested = folder / "nested" / "deeper"
    nested.mkdir(parents=True)
    Image.fromarray(_gradient(30, 30)).save(nested / "small.png")
    written.append(nested / "small.png")
    non_utf8 = os.fsencode(folder) + b"/caf\xe9.png"  # a file name that is not valid UTF-8
    Image.fromarray(_gradient()).save(os.fsdecode(non_utf8))
    written.append(Path(os.fsdecode(non_utf8)))
    (folder / "dangling.jpg").symlink_to(folder / "no-such-file.jpg")
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    locked = folder / "locked"
    locked.mkdir()
    Image.fromarray(_gradient()).save(locked / "inside.png")
    written.append(locked / "inside.png")
    locked.chmod(0o000)
    return written


def unlock(folder: Path) -> None:
    """Make the hostile folder's unreadable part readable again (for checks and clean-up)."""
    (folder / "locked").chmod(0o755)


def snapshot(paths: list[Path]) -> dict[str, bytes]:
    return {os.fsencode(path).decode("utf-8", "surrogateescape"): path.read_bytes() for path in paths}
