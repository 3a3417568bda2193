"""Export settings (issue 10, item 4), without Qt: validation, output names and writing each format."""

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from app.errors import ImageSaveError, StudioError
from app.export_settings import ExportSettings, ExportSettingsError, export_photo, output_path
from app.photo_io import load_photo

MAKE = 0x010F


def _gradient(height=40, width=60):
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack([x * 4 % 256, y * 6 % 256, (x + y) % 256]).astype(np.uint8)


def _photo_with_metadata(path):
    exif = Image.Exif()
    exif[MAKE] = "TestCam"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(_gradient()).save(path, exif=exif.tobytes(), icc_profile=icc)
    return path, icc


def _read_back(path):
    image = Image.open(path)
    image.load()  # decodes every pixel: fails on a malformed file
    return image


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "suffix, words",
    [
        ("/x", "cannot hold a folder"),
        ("a\\b", "cannot hold a folder"),
        ("../up", "cannot hold a folder"),
        ("x:y", "cannot hold a folder"),
        ("tab\there", "control characters"),
        ("end.", "cannot end with a dot"),
        ("x" * 65, "at most 64"),
    ],
)
def test_a_suffix_that_is_not_part_of_a_file_name_is_refused(suffix, words):
    with pytest.raises(ExportSettingsError, match=words) as caught:
        ExportSettings(suffix=suffix)
    assert isinstance(caught.value, StudioError) and "\t" not in str(caught.value)


@pytest.mark.parametrize("quality", [0, 101, 9.5, True, "90"])
def test_jpeg_quality_must_be_1_to_100(quality):
    with pytest.raises(ExportSettingsError, match="from 1 to 100"):
        ExportSettings("jpeg", quality)


def test_format_names_are_checked_and_aliases_accepted():
    assert ExportSettings("JPG").format == "jpeg" and ExportSettings("tif").format == "tiff"
    with pytest.raises(ExportSettingsError, match="Unknown export format 'bmp'"):
        ExportSettings("bmp")
    with pytest.raises(ExportSettingsError, match="folder is empty"):
        ExportSettings(folder=" ")


def test_settings_survive_a_round_trip_and_bad_stored_values_fall_back(tmp_path):
    settings = ExportSettings("webp", 80, "_x", False, tmp_path)
    assert ExportSettings.from_dict(settings.to_dict()) == settings
    assert ExportSettings.from_dict({"format": "bmp", "suffix": "/"}) == ExportSettings()
    assert ExportSettings.from_dict("garbage") == ExportSettings()


# ------------------------------------------------------------------ naming


def test_output_names_beside_the_original_in_a_folder_and_in_a_tree(tmp_path):
    source = tmp_path / "in" / "Portrait.JPEG"
    assert output_path(source, ExportSettings()) == tmp_path / "in" / "Portrait_restored.JPEG"
    assert output_path(source, ExportSettings("png", suffix="-v2")) == tmp_path / "in" / "Portrait-v2.png"
    folder = ExportSettings("tiff", folder=tmp_path / "out")
    assert output_path(source, folder) == tmp_path / "out" / "Portrait_restored.tif"
    assert (
        output_path(source, folder, "sub/deeper/Portrait.JPEG")
        == tmp_path / "out" / "sub" / "deeper" / "Portrait_restored.tif"
    )


def test_an_output_that_would_be_the_original_is_refused(tmp_path):
    source = tmp_path / "a.jpg"
    Image.fromarray(_gradient()).save(source)
    with pytest.raises(ImageSaveError, match="would replace the original"):
        output_path(source, ExportSettings(suffix=""))
    (tmp_path / "link").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ImageSaveError, match="would replace the original"):  # the same file through a link
        output_path(source, ExportSettings(suffix="", folder=tmp_path / "link"))
    assert output_path(source, ExportSettings("png", suffix="")) == tmp_path / "a.png"  # another file


# ------------------------------------------------------------------ writing


@pytest.mark.parametrize("fmt, pil_format", [("jpeg", "JPEG"), ("png", "PNG"), ("tiff", "TIFF"), ("webp", "WEBP")])
def test_each_format_reads_back_with_its_metadata(tmp_path, fmt, pil_format):
    source, icc = _photo_with_metadata(tmp_path / "photo.png")
    photo = load_photo(source)
    settings = ExportSettings(fmt, folder=tmp_path / "out")
    saved = _read_back(export_photo(photo, output_path(source, settings), settings))
    assert saved.format == pil_format and saved.size == (60, 40)
    assert saved.getexif()[MAKE] == "TestCam" and saved.info.get("icc_profile") == icc
    pixels = np.asarray(saved.convert("RGB")).astype(int)
    assert np.abs(pixels - _gradient()).mean() < (3 if fmt in ("jpeg", "webp") else 1e-9)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "tiff", "webp"])
def test_strip_metadata_leaves_the_exif_out_but_keeps_the_colour_profile(tmp_path, fmt):
    source, icc = _photo_with_metadata(tmp_path / "photo.png")
    settings = ExportSettings(fmt, keep_metadata=False)
    saved = _read_back(export_photo(load_photo(source), output_path(source, settings), settings))
    assert MAKE not in saved.getexif() and saved.info.get("icc_profile") == icc


def test_jpeg_quality_is_used(tmp_path):
    source = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), np.uint8)).save(source)
    photo = load_photo(source)
    sizes = {}
    for quality in (30, 95):
        settings = ExportSettings("jpeg", quality, suffix=f"_{quality}")
        sizes[quality] = export_photo(photo, output_path(source, settings), settings).stat().st_size
    assert sizes[30] < sizes[95] * 0.6


def test_what_a_format_cannot_hold_is_said(tmp_path):
    deep = tmp_path / "deep.png"
    rgba = np.dstack([_gradient(), np.full((40, 60), 128, np.uint8)]).astype(np.uint16) * 257
    Image.fromarray(_gradient()).save(tmp_path / "plain.png")
    cv2.imwrite(str(deep), rgba)
    photo = load_photo(deep)
    assert photo.bit_depth == 16 and photo.alpha is not None
    settings = ExportSettings("jpeg")
    export_photo(photo, output_path(deep, settings), settings)
    assert any("Saved as 8-bit: JPEG" in warning for warning in photo.warnings)
    assert any("Transparency flattened onto white" in warning for warning in photo.warnings)
    kept = load_photo(tmp_path / "plain.png")
    export_photo(kept, output_path(tmp_path / "plain.png", ExportSettings("tiff")), ExportSettings("tiff"))
    assert kept.warnings == []


def test_a_failing_save_leaves_the_target_untouched_and_nothing_half_written(tmp_path, monkeypatch):
    source = tmp_path / "a.png"
    Image.fromarray(_gradient()).save(source)
    settings = ExportSettings("webp")
    target = output_path(source, settings)
    target.write_bytes(b"an earlier export")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("app.photo_io.Image.Image.save", disk_full)
    with pytest.raises(ImageSaveError, match="No space left"):
        export_photo(load_photo(source), target, settings, overwrite=True)
    assert target.read_bytes() == b"an earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a_restored.webp"]
    with pytest.raises(ImageSaveError, match="already exists"):  # never replaced unless asked
        export_photo(load_photo(source), target, settings)
