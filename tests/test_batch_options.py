"""Batch options (issue 10, items 5 and 6): subfolders, output format, suffix and metadata, re-runs with
other settings, and the report's history. Uses the fast fake restorer (tests/batch_fakes.py)."""

import json
import os

import numpy as np
import pytest
from PIL import Image

import app.batch as batch
from app.batch import (
    ALREADY_DONE,
    EXISTS,
    FAILED,
    NO_FACES,
    OTHER_SETTINGS,
    REPORT_NAME,
    RESTORED,
    SKIPPED,
    run_batch,
    run_files,
)
from app.cli import EXIT_OK, main
from app.export_settings import ExportSettings
from batch_fakes import FAKE_CAVEAT, FakeRestorer

MAKE = 0x010F


def _photo(path, value=90, exif_make=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((30, 40, 3), value, np.uint8)
    pixels[::3] = 255 - value  # some structure, so that JPEG qualities differ
    exif = None
    if exif_make:
        exif = Image.Exif()
        exif[MAKE] = exif_make
    Image.fromarray(pixels).save(path, **({"exif": exif.tobytes()} if exif else {}))
    return path


def _report(out):
    return json.loads((out / REPORT_NAME).read_text())


def _statuses(items, root):
    return {
        os.path.relpath(item["source"] if isinstance(item, dict) else item.source, root): item["status"]
        if isinstance(item, dict)
        else item.status
        for item in items
    }


def _tree(out):
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != REPORT_NAME)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "in"
    _photo(folder / "a.png", 60, exif_make="TestCam")
    _photo(folder / "sub" / "b.png", 120)
    _photo(folder / "sub" / "deeper" / "c.jpg", 180)
    return folder


@pytest.fixture
def fake(monkeypatch):
    restorer = FakeRestorer()
    monkeypatch.setattr("app.cli._make_restorer", lambda args: restorer)
    return restorer


# ------------------------------------------------------------------ subfolders


def test_subfolders_are_included_with_their_tree_or_left_out_and_listed(photos, tmp_path, fake):
    assert main(["batch", str(photos), str(tmp_path / "all"), "--no-progress"]) == EXIT_OK
    assert _tree(tmp_path / "all") == ["a.png", "sub/b.png", "sub/deeper/c.jpg"]
    assert _report(tmp_path / "all")["include_subfolders"] is True

    assert main(["batch", str(photos), str(tmp_path / "top"), "--no-progress", "--no-subfolders"]) == EXIT_OK
    assert _tree(tmp_path / "top") == ["a.png"]
    report = _report(tmp_path / "top")
    assert report["include_subfolders"] is False
    assert report["not_processed"] == [
        {"path": str(photos / "sub"), "reason": "subfolder: not searched (subfolders are not included)"}
    ]


def test_without_subfolders_an_output_folder_inside_the_input_is_still_recognised(photos):
    out = photos / "restored"
    report = run_batch(FakeRestorer(), photos, out, include_subfolders=False)
    assert _statuses(report.items, photos) == {"a.png": RESTORED}
    assert report.output_folder_inside_input == str(out)
    assert [item.path for item in report.not_processed] == [str(photos / "sub")]


# ------------------------------------------------------------------ format, suffix, quality, metadata


@pytest.mark.parametrize(
    "fmt, extension, pil_format",
    [("jpeg", ".jpg", "JPEG"), ("png", ".png", "PNG"), ("tiff", ".tif", "TIFF"), ("webp", ".webp", "WEBP")],
)
def test_each_output_format_reads_back_under_the_same_tree(photos, tmp_path, fake, fmt, extension, pil_format):
    out = tmp_path / "out"
    assert main(["batch", str(photos), str(out), "--no-progress", "--format", fmt, "--suffix", "_r"]) == EXIT_OK
    assert _tree(out) == [f"a_r{extension}", f"sub/b_r{extension}", f"sub/deeper/c_r{extension}"]
    for name in _tree(out):
        saved = Image.open(out / name)
        saved.load()
        assert saved.format == pil_format and saved.size == (40, 30)
    restored = np.asarray(Image.open(out / f"a_r{extension}").convert("RGB")).astype(int)
    assert np.abs(restored - (255 - np.asarray(Image.open(photos / "a.png")).astype(int))).mean() < 3
    assert Image.open(out / f"a_r{extension}").getexif()[MAKE] == "TestCam"
    item = _report(out)["items"][0]
    assert item["settings"]["format"] == pil_format and item["settings"]["suffix"] == "_r"
    assert item["settings"]["jpeg_quality"] == (95 if fmt == "jpeg" else None)


def test_jpeg_quality_and_stripped_metadata_are_used_and_recorded(photos, tmp_path, fake):
    sizes = {}
    for quality in ("20", "95"):
        out = tmp_path / f"q{quality}"
        assert (
            main(
                [
                    "batch",
                    str(photos),
                    str(out),
                    "--no-progress",
                    "--format",
                    "jpg",
                    "--jpeg-quality",
                    quality,
                    "--strip-metadata",
                    "--no-subfolders",
                ]
            )
            == EXIT_OK
        )
        sizes[quality] = (out / "a.jpg").stat().st_size
        assert MAKE not in Image.open(out / "a.jpg").getexif()
        settings = _report(out)["items"][0]["settings"]
        assert (settings["jpeg_quality"], settings["keep_metadata"]) == (int(quality), False)
    assert sizes["20"] < sizes["95"]


def test_a_photo_without_faces_is_copied_or_converted_as_the_format_asks(photos, tmp_path):
    restorer = FakeRestorer(no_faces={"a.png"})
    same = run_batch(restorer, photos, tmp_path / "same", include_subfolders=False)
    assert same.items[0].message == "no faces found; copied unchanged"
    assert (tmp_path / "same" / "a.png").read_bytes() == (photos / "a.png").read_bytes()

    converted = run_batch(
        restorer, photos, tmp_path / "jpeg", export=ExportSettings("jpeg", suffix=""), include_subfolders=False
    )
    assert (converted.items[0].status, converted.items[0].message) == (
        NO_FACES,
        "no faces found; saved unchanged as JPEG",
    )
    assert Image.open(tmp_path / "jpeg" / "a.jpg").format == "JPEG"
    assert "model" not in converted.items[0].settings  # only how it was written matters for a copy


def test_two_photos_that_would_share_an_output_name_are_not_both_written(tmp_path):
    folder = tmp_path / "in"
    _photo(folder / "a.jpg", 30)
    _photo(folder / "a.png", 200)
    report = run_batch(FakeRestorer(), folder, tmp_path / "out", export=ExportSettings("png", suffix=""))
    assert _statuses(report.items, folder) == {"a.jpg": RESTORED, "a.png": FAILED}
    assert "would also be the output of 'a.jpg'" in report.items[1].message
    assert np.asarray(Image.open(tmp_path / "out" / "a.png"))[1, 0, 0] == 255 - 30  # the first one's


# ------------------------------------------------------------------ re-runs with other settings


def test_a_rerun_resumes_only_what_was_made_with_the_same_settings(photos, tmp_path):
    out = tmp_path / "out"
    run_batch(FakeRestorer(), photos, out, quality=0.5)
    made = {name: (out / name).stat().st_mtime_ns for name in _tree(out)}

    same = run_batch(FakeRestorer(), photos, out, quality=0.5)
    assert set(_statuses(same.items, photos).values()) == {ALREADY_DONE}
    assert same.items[0].settings["quality"] == 0.5 and same.items[0].faces == 1

    restorer = FakeRestorer()
    other = run_batch(restorer, photos, out, quality=0.9)
    assert set(_statuses(other.items, photos).values()) == {OTHER_SETTINGS} and restorer.seen == []
    assert other.items[0].message == "made earlier with other settings (quality 0.50 → 0.90); kept as it is"
    assert other.items[0].settings["quality"] == 0.5  # what the kept output was made with
    assert {name: (out / name).stat().st_mtime_ns for name in _tree(out)} == made
    assert "3 made earlier with other settings and kept (not redone)" in other.summary()


def test_a_rerun_names_every_setting_that_differs(photos, tmp_path):
    out = tmp_path / "out"
    export = ExportSettings("jpeg", 90, "", True)
    run_batch(FakeRestorer(), photos, out, export=export, include_subfolders=False)
    other = run_batch(
        FakeRestorer(model="another model"),
        photos,
        out,
        quality=0.3,
        export=ExportSettings("jpeg", 70, "", False),
        include_subfolders=False,
    )
    assert other.items[0].message == (
        "made earlier with other settings (model fake restorer for tests → another "
        "model; quality 0.90 → 0.30; jpeg quality 90 → 70; metadata kept → metadata "
        "stripped); kept as it is"
    )


def test_the_gui_question_redoes_only_the_outputs_made_with_other_settings(photos, tmp_path):
    out = tmp_path / "out"
    run_batch(FakeRestorer(), photos, out, quality=0.5, include_subfolders=False)
    run_batch(FakeRestorer(), photos, out, quality=0.9)  # adds sub/ at 0.9; a.png stays at 0.5
    asked = []
    refused = run_batch(FakeRestorer(), photos, out, quality=0.9, ask_redo=lambda paths: asked.append(paths) or False)
    assert asked == [[str(out / "a.png")]]
    assert _statuses(refused.items, photos) == {
        "a.png": OTHER_SETTINGS,
        "sub/b.png": ALREADY_DONE,
        "sub/deeper/c.jpg": ALREADY_DONE,
    }
    restorer = FakeRestorer()
    redone = run_batch(restorer, photos, out, quality=0.9, ask_redo=lambda paths: True)
    assert restorer.seen == ["a.png"]
    assert _statuses(redone.items, photos) == {
        "a.png": RESTORED,
        "sub/b.png": ALREADY_DONE,
        "sub/deeper/c.jpg": ALREADY_DONE,
    }
    never_asked = run_batch(FakeRestorer(), photos, out, quality=0.9, ask_redo=lambda paths: pytest.fail("asked"))
    assert set(_statuses(never_asked.items, photos).values()) == {ALREADY_DONE}


def test_cli_rerun_with_other_settings_needs_overwrite(photos, tmp_path, fake, capsys):
    out = tmp_path / "out"
    assert main(["batch", str(photos), str(out), "--no-progress", "--quality", "0.5"]) == EXIT_OK
    before = (out / "a.png").read_bytes()
    capsys.readouterr()
    assert main(["batch", str(photos), str(out), "--no-progress", "--quality", "0.8"]) == EXIT_OK
    captured = capsys.readouterr()
    assert f"kept {out / 'a.png'}: made earlier with other settings (quality 0.50 → 0.80)" in captured.err
    assert "run again with --overwrite to redo them with these settings" in captured.err
    assert "3 made earlier with other settings and kept (not redone)" in captured.out
    assert (out / "a.png").read_bytes() == before and fake.seen == ["a.png", "b.png", "c.jpg"]

    assert main(["batch", str(photos), str(out), "--no-progress", "--quality", "0.8", "--overwrite"]) == EXIT_OK
    assert set(_statuses(_report(out)["items"], photos).values()) == {RESTORED}
    assert main(["batch", str(photos), str(out), "--no-progress", "--quality", "0.8"]) == EXIT_OK
    assert set(_statuses(_report(out)["items"], photos).values()) == {ALREADY_DONE}


def test_a_report_written_before_settings_were_recorded_per_output_still_resumes(photos, tmp_path):
    out = tmp_path / "out"
    run_batch(FakeRestorer(), photos, out, quality=0.5)
    old = _report(out)
    for key in ("export", "include_subfolders", "earlier_items", "runs", "started"):
        del old[key]
    for item in old["items"]:
        del item["settings"]
    (out / REPORT_NAME).write_text(json.dumps(old))
    assert set(_statuses(run_batch(FakeRestorer(), photos, out, quality=0.5).items, photos).values()) == {ALREADY_DONE}
    (out / REPORT_NAME).write_text(json.dumps(old))
    other = run_batch(FakeRestorer(), photos, out, quality=0.6)
    assert set(_statuses(other.items, photos).values()) == {OTHER_SETTINGS}
    assert _report(out)["runs"][0]["quality"] == 0.5  # the old run is in the history


def test_the_models_caveat_is_said_once_in_the_report_not_in_every_item(photos, tmp_path):
    """Issue 20, item 10: the report names the model in each item and gives its caveat once."""
    out = tmp_path / "out"
    run_batch(FakeRestorer(), photos, out, quality=0.5)
    text = (out / REPORT_NAME).read_text()
    report = json.loads(text)
    assert text.count(FAKE_CAVEAT) == 1 and report["model_caveat"] == FAKE_CAVEAT
    assert report["model"] == "fake restorer for tests"
    assert {item["settings"]["model"] for item in report["items"]} == {"fake restorer for tests"}


def test_a_report_that_gave_the_caveat_in_every_item_still_resumes(photos, tmp_path):
    """Older reports named the model with its caveat in every item: their outputs are still this model's."""
    out = tmp_path / "out"
    run_batch(FakeRestorer(), photos, out, quality=0.5)
    old = _report(out)
    old["model"] = f"fake restorer for tests: {FAKE_CAVEAT}"
    del old["model_caveat"]
    for item in old["items"]:
        item["settings"]["model"] = old["model"]
    (out / REPORT_NAME).write_text(json.dumps(old))
    again = run_batch(FakeRestorer(), photos, out, quality=0.5)
    assert set(_statuses(again.items, photos).values()) == {ALREADY_DONE}
    (out / REPORT_NAME).write_text(json.dumps(old))
    other = run_batch(FakeRestorer(model="another model"), photos, out, quality=0.5)
    assert set(_statuses(other.items, photos).values()) == {OTHER_SETTINGS}


# ------------------------------------------------------------------ the report keeps the history


def test_the_report_keeps_what_earlier_runs_recorded(photos, tmp_path):
    out = tmp_path / "out"
    run_batch(FakeRestorer(), photos, out, quality=0.5)
    run_batch(
        FakeRestorer(), photos, out, quality=0.5, include_subfolders=False, export=ExportSettings("webp", suffix="")
    )
    report = _report(out)
    assert _statuses(report["items"], photos) == {"a.png": RESTORED}  # a.webp, new
    assert _statuses(report["earlier_items"], photos) == {
        "a.png": RESTORED,
        "sub/b.png": RESTORED,
        "sub/deeper/c.jpg": RESTORED,
    }  # the PNG/JPEG outputs
    assert [
        (run["quality"], run["export"]["format"], run["include_subfolders"], run["counts"]) for run in report["runs"]
    ] == [(0.5, "same", True, {RESTORED: 3}), (0.5, "webp", False, {RESTORED: 1})]

    third = run_batch(FakeRestorer(), photos, out, quality=0.5)  # the first run's settings again
    assert set(_statuses(third.items, photos).values()) == {ALREADY_DONE}  # known from earlier_items
    report = _report(out)
    assert [item["output"] for item in report["earlier_items"]] == [str(out / "a.webp")]
    assert len(report["runs"]) == 3 and all(run["finished"] for run in report["runs"])


def test_earlier_outputs_that_were_deleted_are_dropped_from_the_report(photos, tmp_path):
    out = tmp_path / "out"
    run_batch(FakeRestorer(), photos, out)
    (out / "sub" / "b.png").unlink()
    run_batch(FakeRestorer(), photos, out, include_subfolders=False)
    assert _statuses(_report(out)["earlier_items"], photos) == {"sub/deeper/c.jpg": RESTORED}


def test_the_report_is_written_while_the_batch_runs(photos, tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "REPORT_CHECKPOINT_S", 0.0)
    out = tmp_path / "out"
    seen_in_report = []
    run_batch(
        FakeRestorer(),
        photos,
        out,
        on_item=lambda item: seen_in_report.append(
            len(_report(out)["items"]) if (out / REPORT_NAME).exists() else None
        ),
    )
    assert seen_in_report == [None, 1, 2]  # written after each photo (the first is read before its write)
    assert _report(out)["runs"][-1]["finished"] is True


# ------------------------------------------------------------------ exporting a list of photos (Export all)


def test_exporting_open_photos_beside_their_originals_or_into_a_folder(tmp_path):
    a, b = _photo(tmp_path / "x" / "a.png", 50), _photo(tmp_path / "y" / "b.jpg", 150)
    items = []
    report = run_files(FakeRestorer(), [a, b], ExportSettings("webp"), on_item=items.append)
    assert [item.status for item in items] == [RESTORED, RESTORED] and report.items == items
    assert (tmp_path / "x" / "a_restored.webp").is_file() and (tmp_path / "y" / "b_restored.webp").is_file()

    again = run_files(FakeRestorer(), [a, b], ExportSettings("webp"))
    assert [item.status for item in again.items] == [EXISTS, EXISTS]
    assert "already exists; it was not replaced" in again.items[0].message
    replaced = run_files(FakeRestorer(), [a, b], ExportSettings("webp"), overwrite=True)
    assert [item.status for item in replaced.items] == [RESTORED, RESTORED]

    into = run_files(FakeRestorer(), [a, b], ExportSettings(suffix="", folder=tmp_path / "new" / "folder"))
    assert [item.status for item in into.items] == [RESTORED, RESTORED]
    assert sorted(p.name for p in (tmp_path / "new" / "folder").iterdir()) == ["a.png", "b.jpg"]


def test_exporting_open_photos_never_writes_over_one_of_them(tmp_path):
    a_jpg, a_png = _photo(tmp_path / "a.jpg", 50), _photo(tmp_path / "a.png", 150)
    originals = {path: path.read_bytes() for path in (a_jpg, a_png)}
    report = run_files(FakeRestorer(), [a_jpg, a_png], ExportSettings("png", suffix=""), overwrite=True)
    assert [item.status for item in report.items] == [SKIPPED, FAILED]
    assert "is an input file" in report.items[0].message and "would also be the output of" in report.items[1].message
    alone = run_files(FakeRestorer(), [a_png], ExportSettings(suffix=""), overwrite=True)
    assert alone.items[0].status == SKIPPED and "originals are never overwritten" in alone.items[0].message
    assert {path: path.read_bytes() for path in originals} == originals


def test_restore_command_takes_the_jpeg_quality_and_strip_metadata(tmp_path, fake):
    source = _photo(tmp_path / "a.png", 60, exif_make="TestCam")
    sizes = {}
    for quality in ("20", "95"):
        out = tmp_path / f"a{quality}.jpg"
        assert main(["restore", str(source), str(out), "--jpeg-quality", quality, "--strip-metadata"]) == EXIT_OK
        sizes[quality] = out.stat().st_size
        assert MAKE not in Image.open(out).getexif()
    assert sizes["20"] < sizes["95"]
    assert main(["restore", str(source), str(tmp_path / "kept.jpg")]) == EXIT_OK
    assert Image.open(tmp_path / "kept.jpg").getexif()[MAKE] == "TestCam"
