import io
import os
import shutil

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from app.errors import ImageLoadError, ImageSaveError
from app.photo_io import load_photo, save_photo

ORIENTATION = 0x0112


def _gradient(height=40, width=60):
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack([x * 4 % 256, y * 6 % 256, (x + y) % 256]).astype(np.uint8)


def test_exif_orientation_is_applied_and_reset(tmp_path):
    pixels = _gradient(40, 60)
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # rotate 90° clockwise for display
    exif[0x010F] = "TestCam"
    source = tmp_path / "rotated.jpg"
    Image.fromarray(pixels).save(source, exif=exif.tobytes(), quality=100)

    photo = load_photo(source)
    assert photo.pixels.shape == (60, 40, 3)  # portrait after rotation
    expected = np.asarray(Image.fromarray(pixels).transpose(Image.Transpose.ROTATE_270))
    assert np.abs(photo.pixels.astype(int) - expected.astype(int)).mean() < 6

    out = save_photo(photo, tmp_path / "out.jpg")
    saved_exif = Image.open(out).getexif()
    assert saved_exif[0x010F] == "TestCam"
    assert saved_exif.get(ORIENTATION, 1) == 1
    assert Image.open(out).size == (40, 60)


def test_alpha_and_icc_profile_survive_png_round_trip(tmp_path):
    rgba = np.dstack([_gradient(), np.linspace(0, 255, 60, dtype=np.uint8)[None, :].repeat(40, 0)])
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(source, icc_profile=icc)

    photo = load_photo(source)
    assert photo.alpha is not None and photo.icc_profile == icc
    out = save_photo(photo, tmp_path / "alpha_out.png")
    reloaded = Image.open(out)
    assert reloaded.mode == "RGBA"
    assert reloaded.info["icc_profile"] == icc
    np.testing.assert_array_equal(np.asarray(reloaded), rgba)


def test_grayscale_stays_grayscale(tmp_path):
    source = tmp_path / "gray.png"
    Image.fromarray(_gradient()[..., 0], "L").save(source)
    photo = load_photo(source)
    assert photo.grayscale and photo.pixels.shape == (40, 60, 3)
    assert Image.open(save_photo(photo, tmp_path / "gray_out.png")).mode == "L"


def test_palette_with_transparency_gets_alpha(tmp_path):
    image = Image.fromarray(_gradient()).convert("P")
    image.info["transparency"] = 0
    source = tmp_path / "palette.png"
    image.save(source, transparency=0)
    photo = load_photo(source)
    assert photo.alpha is not None and photo.alpha.min() == 0


def test_sixteen_bit_colour_png_keeps_depth_and_icc(tmp_path):
    rgb16 = (np.random.default_rng(0).random((30, 50, 3)) * 65535).astype(np.uint16)
    source = tmp_path / "deep.png"
    cv2.imwrite(str(source), cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))
    photo = load_photo(source)
    assert photo.bit_depth == 16
    np.testing.assert_array_equal(photo.pixels, rgb16)

    photo.icc_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = save_photo(photo, tmp_path / "deep_out.png")
    reread = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert reread.dtype == np.uint16
    np.testing.assert_array_equal(cv2.cvtColor(reread, cv2.COLOR_BGR2RGB), rgb16)
    assert Image.open(out).info.get("icc_profile") == photo.icc_profile


def test_sixteen_bit_grayscale_png(tmp_path):
    gray16 = (np.random.default_rng(1).random((20, 30)) * 65535).astype(np.uint16)
    source = tmp_path / "gray16.png"
    cv2.imwrite(str(source), gray16)
    photo = load_photo(source)
    assert photo.bit_depth == 16 and photo.grayscale
    np.testing.assert_array_equal(photo.pixels[..., 1], gray16)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    source = tmp_path / "cmyk.jpg"
    Image.fromarray(_gradient()).convert("CMYK").save(source)
    photo = load_photo(source)
    assert photo.pixels.dtype == np.uint8 and photo.pixels.shape == (40, 60, 3)
    assert any("CMYK" in note for note in photo.notes)
    assert np.abs(photo.pixels.astype(int) - _gradient().astype(int)).mean() < 20


def test_webp_and_tiff_load(tmp_path):
    for name in ("a.webp", "a.tif"):
        Image.fromarray(_gradient()).save(tmp_path / name)
        assert load_photo(tmp_path / name).pixels.shape == (40, 60, 3)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty"),
        (b"this is not an image at all", "not an image"),
    ],
)
def test_unreadable_files_give_clear_errors(tmp_path, content, reason):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(content)
    with pytest.raises(ImageLoadError, match=reason):
        load_photo(bad)


def test_truncated_jpeg_is_reported(tmp_path, blake_photo_path):
    data = blake_photo_path.read_bytes()
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageLoadError, match="corrupt or truncated"):
        load_photo(truncated)


def test_huge_image_is_refused_before_decoding(tmp_path):
    source = tmp_path / "big.png"
    Image.new("RGB", (400, 300)).save(source)
    with pytest.raises(ImageLoadError, match="larger than"):
        load_photo(source, max_pixels=100_000)


def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="does not exist"):
        load_photo(tmp_path / "nope.jpg")


def test_save_never_overwrites_the_original(tmp_path, blake_photo_path):
    source = tmp_path / "original.jpg"
    shutil.copy(blake_photo_path, source)
    before = source.read_bytes()
    photo = load_photo(source)
    with pytest.raises(ImageSaveError, match="original"):
        save_photo(photo, source, overwrite=True)
    with pytest.raises(ImageSaveError, match="already exists"):
        save_photo(photo, blake_photo_path.parent / blake_photo_path.name)
    assert source.read_bytes() == before


def test_unknown_output_format_and_jpeg_alpha_flattening(tmp_path):
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 200  # red, fully transparent
    source = tmp_path / "t.png"
    Image.fromarray(rgba, "RGBA").save(source)
    photo = load_photo(source)
    with pytest.raises(ImageSaveError, match="Cannot save"):
        save_photo(photo, tmp_path / "out.bmpx")
    flattened = np.asarray(Image.open(save_photo(photo, tmp_path / "out.jpg")))
    assert flattened.min() > 240  # transparent pixels become the white background


def test_saved_files_get_the_usual_permissions(tmp_path):
    import stat

    from app import fileutil

    Image.fromarray(_gradient()).save(tmp_path / "in.png")
    out = save_photo(load_photo(tmp_path / "in.png"), tmp_path / "out.png")
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~fileutil._UMASK
    assert stat.S_IMODE(out.stat().st_mode) & 0o044  # readable by others, like any saved photo


def test_save_writes_atomically_without_leftovers(tmp_path):
    Image.fromarray(_gradient()).save(tmp_path / "in.png")
    save_photo(load_photo(tmp_path / "in.png"), tmp_path / "sub" / "out.png")
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["out.png"]
    assert io.BytesIO((tmp_path / "sub" / "out.png").read_bytes()).getbuffer().nbytes > 0


def test_a_save_that_fails_part_way_leaves_the_target_untouched(tmp_path, monkeypatch):
    """The disk fills up half-way through writing over an earlier output: that output stays as it was."""
    import errno
    from pathlib import Path

    Image.fromarray(_gradient()).save(tmp_path / "in.png")
    target = tmp_path / "out.png"
    target.write_bytes(b"the earlier output")
    write_bytes = Path.write_bytes

    def half_then_disk_full(path, data):
        write_bytes(path, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", half_then_disk_full)
    with pytest.raises(ImageSaveError, match="No space left"):
        save_photo(load_photo(tmp_path / "in.png"), target, overwrite=True)
    assert target.read_bytes() == b"the earlier output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.png"]  # no half-written temp file


# ------------------------------------------------------------------ hostile inputs (issue 8, items 6, 7, 14)


def _read_back(path):
    """Open a saved file with Pillow and decode every pixel (fails on a malformed file)."""
    image = Image.open(path)
    image.load()
    return image


@pytest.mark.parametrize("mode", ["CMYK", "P"])
def test_cmyk_and_palette_tiffs_come_out_as_valid_rgb_tiffs(tmp_path, mode):
    source = tmp_path / f"{mode}.tif"
    Image.fromarray(_gradient()).convert(mode).save(source)
    photo = load_photo(source)
    out = _read_back(save_photo(photo, tmp_path / "out.tif"))
    assert out.mode == "RGB"
    tags = out.tag_v2
    assert tags[262] == 2 and tags[277] == 3  # PhotometricInterpretation RGB, 3 samples
    assert not {320, 332, 334} & set(tags)  # no colour map, ink set or ink count left from the source
    np.testing.assert_array_equal(np.asarray(out), photo.pixels)


def test_source_tiff_tags_are_not_copied_and_orientation_is_applied_once(tmp_path):
    pixels = _gradient(40, 60)
    source = tmp_path / "tagged.tif"
    Image.fromarray(pixels).save(source, compression="tiff_lzw", tiffinfo={317: 2, ORIENTATION: 6, 0x010F: "TestCam"})
    assert Image.open(source).tag_v2[317] == 2  # LZW with a horizontal predictor

    photo = load_photo(source)
    assert photo.pixels.shape == (60, 40, 3)
    for suffix in (".tif", ".jpg", ".png"):
        out = _read_back(save_photo(photo, tmp_path / f"out{suffix}"))
        assert out.size == (40, 60)
        saved = out.getexif()
        assert saved[0x010F] == "TestCam"
        assert saved.get(ORIENTATION, 1) == 1
        if suffix == ".tif":
            assert 317 not in out.tag_v2 and out.tag_v2[259] == 1  # no predictor on uncompressed output
            np.testing.assert_array_equal(np.asarray(out), photo.pixels)
        else:  # EXIF of other formats carries none of the source TIFF's layout tags
            assert not {256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317} & set(saved)


def _exif_with_maker_note(size):
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif.get_ifd(0x8769)[0x927C] = b"M" * size  # MakerNote
    exif.get_ifd(0x8769)[0x9003] = "2020:01:02 03:04:05"  # DateTimeOriginal
    return exif.tobytes()


def test_exif_too_large_for_jpeg_loses_the_maker_note_with_a_warning(tmp_path):
    source = tmp_path / "big-exif.png"
    Image.fromarray(_gradient()).save(source, exif=_exif_with_maker_note(70_000))
    photo = load_photo(source)
    assert len(photo.exif) > 65_535

    out = _read_back(save_photo(photo, tmp_path / "out.jpg"))
    saved = out.getexif()
    assert saved[0x010F] == "TestCam"
    assert saved.get_ifd(0x8769).get(0x9003) == "2020:01:02 03:04:05"
    assert 0x927C not in saved.get_ifd(0x8769)
    assert any("MakerNote" in warning and "JPEG" in warning for warning in photo.warnings)

    kept = load_photo(save_photo(load_photo(source), tmp_path / "out.png"))  # PNG holds it all
    assert kept.warnings == [] and len(kept.exif) == len(photo.exif)


def test_damaged_icc_profile_is_not_kept(tmp_path):
    source = tmp_path / "bad-icc.png"
    Image.fromarray(_gradient()).save(source, icc_profile=b"not a colour profile" * 20)
    photo = load_photo(source)
    assert photo.icc_profile is None
    assert any("colour profile" in warning for warning in photo.warnings)
    for suffix in (".png", ".jpg", ".tif"):
        assert "icc_profile" not in _read_back(save_photo(photo, tmp_path / f"out{suffix}")).info


@pytest.mark.parametrize("white", [1.0, 255.0])
def test_float_tiff_keeps_its_brightness(tmp_path, white):
    gray = _gradient()[..., 0]
    source = tmp_path / "float.tif"
    Image.fromarray(gray.astype(np.float32) * (white / 255.0), "F").save(source)
    photo = load_photo(source)
    assert photo.grayscale and photo.bit_depth == 16
    np.testing.assert_allclose(photo.rgb8()[..., 0], gray, atol=1)
    saved = cv2.imread(str(save_photo(photo, tmp_path / "out.png")), cv2.IMREAD_UNCHANGED)
    assert saved.dtype == np.uint16
    np.testing.assert_allclose(saved, gray.astype(np.int64) * 257, atol=257)


def test_float_rgb_tiff_is_refused_with_its_reason(tmp_path):
    source = tmp_path / "float-rgb.tif"
    cv2.imwrite(str(source), cv2.cvtColor(_gradient(), cv2.COLOR_RGB2BGR).astype(np.float32) / 255.0)
    with pytest.raises(ImageLoadError, match="TIFF this app cannot read: its sample format"):
        load_photo(source)


@pytest.mark.parametrize("name", ["anim.webp", "anim.png", "pages.tif"])  # GIF is not a supported format
def test_animations_and_multi_page_files_say_first_frame_only(tmp_path, name):
    frames = [Image.fromarray(np.full((40, 60, 3), value, np.uint8)) for value in (30, 120, 210)]
    frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:], lossless=True)
    photo = load_photo(tmp_path / name)
    assert np.abs(photo.pixels.astype(int) - 30).max() <= 2  # the first frame
    assert [w for w in photo.warnings if "First frame only" in w and "3 frames" in w]

    frames[0].save(tmp_path / f"single-{name}")
    assert load_photo(tmp_path / f"single-{name}").warnings == []


def test_permission_problem_is_not_called_corrupt(tmp_path, monkeypatch):
    source = tmp_path / "locked.png"
    Image.fromarray(_gradient()).save(source)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(source))

    monkeypatch.setattr("app.photo_io.Image.open", refuse)
    with pytest.raises(ImageLoadError, match="permission denied") as caught:
        load_photo(source)
    assert "corrupt" not in str(caught.value)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_a_permission_problem(tmp_path):
    source = tmp_path / "locked.png"
    Image.fromarray(_gradient()).save(source)
    source.chmod(0)
    try:
        with pytest.raises(ImageLoadError, match="permission denied"):
            load_photo(source)
    finally:
        source.chmod(0o644)


def test_messages_never_carry_raw_control_characters_from_file_names(tmp_path):
    bad = tmp_path / "evil\x1b[2J\x1b[31m.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageLoadError) as caught:
        load_photo(bad)
    message = str(caught.value)
    assert "\x1b" not in message and "evil\\x1b[2J\\x1b[31m.jpg" in message


# ------------------------------------------------------------------ issue 17: small holes


def _exif_with_text_orientation(text: bytes) -> bytes:
    """EXIF whose orientation tag is ASCII text (Pillow writes the tag only as a number), and a camera make."""
    import struct

    make = b"TestCam\x00"
    entries = struct.pack("<HHI4s", ORIENTATION, 2, len(text) + 1, text + b"\x00")  # type 2: ASCII
    entries += struct.pack("<HHII", 0x010F, 2, len(make), 8 + 2 + 2 * 12 + 4)  # the make, after the IFD
    return b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, 2) + entries + struct.pack("<I", 0) + make


@pytest.mark.parametrize("value", ["abc", 0, 9])
def test_a_bad_exif_orientation_is_ignored_and_the_photo_kept(tmp_path, value):
    if isinstance(value, str):
        exif_bytes = _exif_with_text_orientation(value.encode())
    else:
        exif = Image.Exif()
        exif[ORIENTATION] = value
        exif[0x010F] = "TestCam"
        exif_bytes = exif.tobytes()
    source = tmp_path / "odd-orientation.jpg"
    Image.fromarray(_gradient(40, 60)).save(source, exif=exif_bytes, quality=100)
    with Image.open(source) as image:
        assert image.getexif()[ORIENTATION] == value  # the file says what the test means
    photo = load_photo(source)
    assert photo.pixels.shape == (40, 60, 3)  # as stored: no rotation
    if value != 0:  # 0 is a common "unset"; the others are said
        assert any("EXIF orientation" in note and "ignored" in note for note in photo.notes), photo.notes
    kept = Image.Exif()
    kept.load(photo.exif)
    assert kept[ORIENTATION] == 1 and kept[0x010F] == "TestCam"


def test_too_large_quotes_the_apps_limit_not_pillows(tmp_path):
    """Above Pillow's own limit (178,956,970 pixels) Pillow refuses at opening; the message is still the app's."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    source = tmp_path / "huge-dimensions.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")))
    with pytest.raises(ImageLoadError) as error:
        load_photo(source)
    message = str(error.value)
    assert message == "'huge-dimensions.png' is 3600 MP, larger than the 150 MP this app handles. Downscale it first."
    assert "178" not in message and "decompression bomb" not in message.lower()


def test_ctrl_c_just_after_the_temporary_file_is_made_leaves_nothing(tmp_path, monkeypatch):
    """SIGINT arriving the moment the temporary file exists (before its name is known to the code that removes
    it) is held back until the removal is certain, then delivered: nothing is left behind."""
    import signal
    import tempfile

    from app import fileutil

    make_temp = tempfile.mkstemp

    def mkstemp_then_ctrl_c(*args, **kwargs):
        made = make_temp(*args, **kwargs)
        signal.raise_signal(signal.SIGINT)  # Python raises KeyboardInterrupt at its next step, here
        return made

    handler = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp_then_ctrl_c)
    Image.fromarray(_gradient()).save(tmp_path / "in.png")
    photo = load_photo(tmp_path / "in.png")
    with pytest.raises(KeyboardInterrupt):
        save_photo(photo, tmp_path / "out" / "out.png")
    with pytest.raises(KeyboardInterrupt):
        fileutil.write_text_atomically(tmp_path / "out" / "report.json", "{}")
    with pytest.raises(KeyboardInterrupt):
        fileutil.check_writable(tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is handler  # the handler is back


def test_an_interrupt_between_creating_and_renaming_leaves_nothing(tmp_path, monkeypatch):
    """Any BaseException between the temporary file's creation and its rename removes it."""
    from app import fileutil

    closing = fileutil.os.close

    def close_then_interrupt(fd):
        closing(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(fileutil.os, "close", close_then_interrupt)
    with pytest.raises(KeyboardInterrupt), fileutil.atomic_target(tmp_path / "out.png"):
        pass
    assert list(tmp_path.iterdir()) == []
