import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from app.batch import REPORT_NAME
from app.cli import EXIT_ERROR, EXIT_NO_FACES, EXIT_OK, main
from conftest import REPO, WHOLE_PHOTOS, fidelity_model, shared


def _weights_file(path, fidelity_scales=None, metadata=None):
    """Random weights with a working fidelity path, or without one (fidelity_scales=())."""
    from app.model import save_checkpoint

    model, _ = fidelity_model(fidelity_scales)
    return save_checkpoint(model, path, trained=False, metadata=metadata)


@pytest.fixture
def fidelity_weights(tmp_path):
    return _weights_file(tmp_path / "fidelity.pt", metadata={"default_fidelity": 0.3})


@pytest.fixture
def photo_folder(tmp_path, blake_photo_path):
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    shutil.copy(blake_photo_path, folder / "blake.jpg")
    shutil.copy(shared(WHOLE_PHOTOS / "10045.png"), folder / "nested" / "group.png")
    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(folder / "wall.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _snapshot(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_restore_writes_output_and_never_touches_input(tmp_path, blake_photo_path, capsys):
    out = tmp_path / "restored.jpg"
    before = blake_photo_path.read_bytes()
    assert main(["restore", str(blake_photo_path), str(out), "--quality", "0.9", "--device", "cpu"]) == EXIT_OK
    assert Image.open(out).size == Image.open(blake_photo_path).size
    assert blake_photo_path.read_bytes() == before
    assert "Restored 2 face(s)" in capsys.readouterr().out

    assert main(["restore", str(blake_photo_path), str(out)]) == EXIT_ERROR  # exists, no --overwrite
    assert "already exists" in capsys.readouterr().err


def test_untrained_model_is_announced(tmp_path, blake_photo_path, capsys, monkeypatch):
    monkeypatch.setattr("app.paths.bundled_models_dir", lambda: tmp_path / "no-models")
    assert main(["restore", str(blake_photo_path), str(tmp_path / "r.jpg"), "--device", "cpu"]) == EXIT_OK
    assert "UNTRAINED" in capsys.readouterr().err  # no restoration quality is claimed


def test_restore_refuses_to_write_over_its_input(tmp_path, blake_photo_path, capsys):
    source = tmp_path / "me.jpg"
    shutil.copy(blake_photo_path, source)
    assert main(["restore", str(source), str(source), "--overwrite"]) == EXIT_ERROR
    assert "never overwritten" in capsys.readouterr().err
    assert source.read_bytes() == blake_photo_path.read_bytes()


def test_restore_reports_bad_input_and_no_faces(tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert main(["restore", str(broken), str(tmp_path / "o.png")]) == EXIT_ERROR
    assert "cannot be read" in capsys.readouterr().err
    wall = tmp_path / "wall.png"
    Image.fromarray(np.full((100, 100, 3), 90, np.uint8)).save(wall)
    assert main(["restore", str(wall), str(tmp_path / "o.png")]) == EXIT_NO_FACES
    assert not (tmp_path / "o.png").exists()


def test_quality_must_be_in_range(tmp_path, blake_photo_path):
    with pytest.raises(SystemExit):
        main(["restore", str(blake_photo_path), str(tmp_path / "o.jpg"), "--quality", "1.5"])


def test_restore_fidelity_defaults_to_the_model_and_changes_the_output(
    tmp_path, blake_photo_path, fidelity_weights, capsys
):
    common = ["--weights", str(fidelity_weights), "--device", "cpu"]
    assert main(["restore", str(blake_photo_path), str(tmp_path / "d.png"), *common]) == EXIT_OK
    assert "fidelity 0.30 (the model's default)" in capsys.readouterr().out
    for value in ("0", "1"):
        assert (
            main(["restore", str(blake_photo_path), str(tmp_path / f"{value}.png"), "--fidelity", value, *common])
            == EXIT_OK
        )
        assert f"fidelity {float(value):.2f} →" in capsys.readouterr().out
    restored, original_like = (np.asarray(Image.open(tmp_path / f"{v}.png")) for v in ("0", "1"))
    assert not np.array_equal(restored, original_like)


@pytest.mark.parametrize("command", ["restore", "batch"])
@pytest.mark.parametrize("value", ["2", "-0.5", "nan", "lots"])
def test_fidelity_must_be_between_0_and_1(tmp_path, blake_photo_path, capsys, command, value):
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                command,
                str(blake_photo_path if command == "restore" else blake_photo_path.parent),
                str(tmp_path / "o.jpg"),
                "--fidelity",
                value,
            ]
        )
    assert exit_info.value.code == 2
    assert (
        "fidelity must be a number between 0 (more restoration) and 1 (closer to the original)"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "o.jpg").exists()


def test_batch_report_records_quality_and_fidelity(tmp_path, blake_photo_path, fidelity_weights, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(blake_photo_path, folder / "a.jpg")
    assert (
        main(
            [
                "batch",
                str(folder),
                str(tmp_path / "out"),
                "--no-progress",
                "--weights",
                str(fidelity_weights),
                "--quality",
                "0.7",
                "--fidelity",
                "0.25",
            ]
        )
        == EXIT_OK
    )
    report = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    assert (report["quality"], report["fidelity"]) == (0.7, 0.25)
    assert "quality 0.70, fidelity 0.25" in capsys.readouterr().err
    assert (
        main(
            [
                "restore",
                str(blake_photo_path),
                str(tmp_path / "single.jpg"),
                "--weights",
                str(fidelity_weights),
                "--quality",
                "0.7",
                "--fidelity",
                "0.25",
            ]
        )
        == EXIT_OK
    )
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "out" / "a.jpg")),  # used, not only recorded
        np.asarray(Image.open(tmp_path / "single.jpg")),
    )

    old_style = _weights_file(tmp_path / "old.pt", fidelity_scales=())
    assert (
        main(
            [
                "batch",
                str(folder),
                str(tmp_path / "out2"),
                "--no-progress",
                "--weights",
                str(old_style),
                "--fidelity",
                "0.25",
            ]
        )
        == EXIT_OK
    )
    assert json.loads((tmp_path / "out2" / REPORT_NAME).read_text())["fidelity"] is None
    assert "no fidelity path" in capsys.readouterr().err


@pytest.mark.slow
def test_batch_processes_folder_reports_failures_and_resumes(tmp_path, photo_folder, capsys):
    originals = _snapshot(photo_folder)
    out = tmp_path / "export"
    assert main(["batch", str(photo_folder), str(out), "--no-progress"]) == EXIT_OK
    assert _snapshot(photo_folder) == originals

    report = json.loads((out / REPORT_NAME).read_text())
    assert report["quality"] == 0.9 and "fidelity" in report
    status = {item["source"].split("/photos/")[1]: item["status"] for item in report["items"]}
    assert status == {
        "blake.jpg": "restored",
        "nested/group.png": "restored",
        "wall.png": "no_faces",
        "broken.jpg": "failed",
    }
    assert (out / "nested" / "group.png").is_file() and (out / "wall.png").read_bytes() == originals[
        photo_folder / "wall.png"
    ]
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "corrupt" in err
    assert f"failed {photo_folder / 'broken.jpg'}: " in err  # the terminal says what the report says
    assert f"skipped {photo_folder / 'broken.jpg'}" not in err

    first_mtime = (out / "blake.jpg").stat().st_mtime_ns
    assert main(["batch", str(photo_folder), str(out), "--no-progress"]) == EXIT_OK
    report = json.loads((out / REPORT_NAME).read_text())
    assert sorted(item["status"] for item in report["items"]) == [
        "already_done",
        "already_done",
        "already_done",
        "failed",
    ]
    assert (out / "blake.jpg").stat().st_mtime_ns == first_mtime


def test_batch_refuses_output_equal_to_input(photo_folder, capsys):
    assert main(["batch", str(photo_folder), str(photo_folder)]) == EXIT_ERROR
    assert "must differ" in capsys.readouterr().err


@pytest.mark.slow
def test_batch_output_inside_input_is_not_reprocessed(photo_folder):
    out = photo_folder / "restored"
    assert main(["batch", str(photo_folder), str(out), "--no-progress"]) == EXIT_OK
    assert main(["batch", str(photo_folder), str(out), "--no-progress", "--overwrite"]) == EXIT_OK
    assert not (out / "restored").exists()


def test_score_command(blake_photo_path, capsys):
    assert main(["score", str(blake_photo_path), "--faces"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "PIQE" in out and "face 1" in out and "face 2" in out
    assert out.count("measured quality ") == 3 and out.count("(0 worst … 1 best; PIQE ") == 3  # photo, 2 faces


def test_score_measures_faces_the_same_way_whatever_the_default_model(
    blake_photo_path, isolated_model_dirs, monkeypatch, capsys
):
    """Faces are scored on one crop size (app.face_scores), not the model's face size: the numbers do not change
    with the model, and are those of the window's face strip."""
    import app.face_scores
    from app.model import DEFAULT_WEIGHTS_FILE, IQPFRConfig, save_checkpoint, untrained_model

    model, _ = untrained_model(IQPFRConfig(image_size=64, fidelity_scales=(32, 64)))
    save_checkpoint(model, isolated_model_dirs / DEFAULT_WEIGHTS_FILE, trained=False)
    sizes, align_face = [], app.face_scores.align_face
    monkeypatch.setattr(
        app.face_scores,
        "align_face",
        lambda rgb, landmarks, size: sizes.append(size) or align_face(rgb, landmarks, size),
    )
    assert main(["score", str(blake_photo_path), "--faces"]) == EXIT_OK
    assert sizes == [app.face_scores.SCORE_FACE_SIZE] * 2 and "face 2" in capsys.readouterr().out


def test_installed_console_script_runs():
    script = REPO / ".venv" / "bin" / "iqpfr"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "app"]
    result = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "restore" in result.stdout and "batch" in result.stdout
