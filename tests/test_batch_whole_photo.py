"""Batch with whole-photo settings (output scale, background): recorded per output and per run, compared on
re-runs like the other settings, photos without faces still made at that scale, cancel between tiles. Uses the
fast fake restorer (tests/batch_fakes.py), which honours the scale by a plain resize."""

import json

import numpy as np
from PIL import Image

from app.batch import ALREADY_DONE, NO_FACES, OTHER_SETTINGS, REPORT_NAME, RESTORED, run_batch, run_files
from app.cli import EXIT_OK, main
from app.errors import Stopped
from app.export_settings import ExportSettings
from app.upscaling.whole_photo import WholePhotoSettings
from batch_fakes import FakeRestorer

TWICE = WholePhotoSettings(2, "realesrgan")


def _photos(folder):
    folder.mkdir(parents=True)
    for name, value in (("a.png", 60), ("b.png", 120)):
        Image.fromarray(np.full((30, 40, 3), value, np.uint8)).save(folder / name)
    return folder


def _report(out):
    return json.loads((out / REPORT_NAME).read_text())


def test_each_output_records_the_scale_and_background_it_was_made_with(tmp_path):
    photos, out = _photos(tmp_path / "in"), tmp_path / "out"
    report = run_batch(FakeRestorer(no_faces={"b.png"}), photos, out, whole=TWICE)
    assert [item.status for item in report.items] == [RESTORED, NO_FACES]
    for item in _report(out)["items"]:
        assert (item["settings"]["upscale"], item["settings"]["background"]) == (2, "realesrgan")
    assert (_report(out)["runs"][0]["upscale"], _report(out)["runs"][0]["background"]) == (2, "realesrgan")
    # the photo without faces is still made at 2×, not copied
    assert report.items[1].message == "no faces found; saved the whole photo at 2×, background enhanced (Real-ESRGAN)"
    for name in ("a.png", "b.png"):
        assert Image.open(out / name).size == (80, 60)


def test_a_rerun_compares_the_scale_and_background_like_the_other_settings(tmp_path):
    photos, out = _photos(tmp_path / "in"), tmp_path / "out"
    run_batch(FakeRestorer(no_faces={"b.png"}), photos, out)  # the defaults: 1×, no enhancement
    same = run_batch(FakeRestorer(no_faces={"b.png"}), photos, out, whole=WholePhotoSettings())
    assert [item.status for item in same.items] == [ALREADY_DONE, ALREADY_DONE]
    other = run_batch(FakeRestorer(no_faces={"b.png"}), photos, out, whole=TWICE)
    assert [item.status for item in other.items] == [OTHER_SETTINGS, OTHER_SETTINGS]
    assert "upscale 1× → 2×; background none → realesrgan" in other.items[0].message
    redone = run_batch(FakeRestorer(no_faces={"b.png"}), photos, out, whole=TWICE, overwrite=True)
    assert [item.status for item in redone.items] == [RESTORED, NO_FACES]
    assert Image.open(out / "a.png").size == (80, 60)


def test_outputs_recorded_before_the_scale_existed_count_as_1x_without_enhancement(tmp_path):
    photos, out = _photos(tmp_path / "in"), tmp_path / "out"
    run_batch(FakeRestorer(), photos, out)
    old = _report(out)
    for item in old["items"]:
        del item["settings"]["upscale"], item["settings"]["background"]
    (out / REPORT_NAME).write_text(json.dumps(old))
    assert {item.status for item in run_batch(FakeRestorer(), photos, out).items} == {ALREADY_DONE}
    (out / REPORT_NAME).write_text(json.dumps(old))
    assert {item.status for item in run_batch(FakeRestorer(), photos, out, whole=TWICE).items} == {OTHER_SETTINGS}


def test_the_cli_passes_the_whole_photo_settings_to_the_batch(tmp_path, monkeypatch):
    photos, out = _photos(tmp_path / "in"), tmp_path / "out"
    restorer = FakeRestorer()
    monkeypatch.setattr("app.cli._make_restorer", lambda args: restorer)
    assert main(["batch", str(photos), str(out), "--no-progress", "--upscale", "4"]) == EXIT_OK
    assert Image.open(out / "a.png").size == (160, 120)
    assert _report(out)["items"][0]["settings"]["upscale"] == 4


class _StopsInsideThePhoto(FakeRestorer):
    """Cancel is pressed while the second photo's background is being made: the pipeline stops between tiles."""

    def restore(self, photo, quality, fidelity, strength=None, whole=None, progress=None, should_stop=None):
        if photo.source_path.name == "b.png":
            self.cancel = True
            if should_stop():
                raise Stopped
        return super().restore(photo, quality, fidelity, strength, whole, progress, should_stop)


def test_cancel_between_tiles_stops_the_batch_and_writes_nothing_half_done(tmp_path):
    photos, out = _photos(tmp_path / "in"), tmp_path / "out"
    restorer = _StopsInsideThePhoto()
    restorer.cancel = False
    report = run_batch(restorer, photos, out, whole=TWICE, should_cancel=lambda: restorer.cancel)
    assert report.cancelled and [item.status for item in report.items] == [RESTORED]
    assert sorted(path.name for path in out.iterdir()) == ["a.png", REPORT_NAME]
    assert _report(out)["cancelled"] is True


def test_export_all_writes_the_photos_at_the_output_scale(tmp_path):
    photos = _photos(tmp_path / "in")
    export = ExportSettings(suffix="_r", folder=tmp_path / "out")
    report = run_files(FakeRestorer(), [photos / "a.png"], export, whole=WholePhotoSettings(2))
    assert report.items[0].settings["upscale"] == 2
    assert Image.open(tmp_path / "out" / "a_r.png").size == (80, 60)
