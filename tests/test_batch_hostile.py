"""Batch runs against hostile inputs and faults (issue 8): bad files, aliases of the input, files left
out, unwritable outputs, Ctrl+C, killed runs and two runs at once. Inputs are generated in tmp_path;
most tests use a fast fake restorer (tests/batch_fakes.py)."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from app.batch import REPORT_NAME, BatchInterrupted, run_batch
from app.cli import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, main
from app.errors import StudioError
from app.folder_lock import LOCK_NAME
from batch_fakes import FakeRestorer
from conftest import REPO

RUNNER = REPO / "tests" / "batch_fakes.py"


def _photo(path, width=40, height=30, value=90, noise=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (
        np.random.default_rng(width * height).integers(0, 256, (height, width, 3), np.uint8)
        if noise
        else np.full((height, width, 3), value, np.uint8)
    )
    Image.fromarray(pixels).save(path)
    return path


def _snapshot(folder):
    """Bytes and inode of every file under `folder` (links not followed)."""
    return {
        p: (p.read_bytes(), p.stat().st_ino) for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()
    }


def _report(output_dir):
    return json.loads((output_dir / REPORT_NAME).read_text())


def _statuses(report, root):
    return {os.path.relpath(item["source"], root): item["status"] for item in report["items"]}


def _use_fake_restorer(monkeypatch, restorer=None):
    restorer = restorer or FakeRestorer()
    monkeypatch.setattr("app.cli._make_restorer", lambda args: restorer)
    return restorer


def _runner(input_dir, output_dir, *options, delay=0.0):
    return [sys.executable, str(RUNNER), str(input_dir), str(output_dir), "--delay", str(delay), *options]


def _private_mounts(setup_shell, command, timeout=900):
    """Run `command` after `setup_shell` in a private mount namespace (mounts vanish with it); skip the test
    where this system allows no such namespace."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) for a private mount namespace")
    probe = subprocess.run(["unshare", "--mount", "--map-root-user", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.decode().strip()}")
    script = f'set -e; {setup_shell}; exec "$@"'
    return subprocess.run(
        ["unshare", "--mount", "--map-root-user", "sh", "-c", script, "sh", *map(str, command)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


# ------------------------------------------------------------------ 1. one bad file never stops a batch


def test_tiny_and_thin_images_never_stop_a_batch(tmp_path, restorer):
    """Real restorer: these sizes crashed the whole batch with raw OpenCV/torch errors, also on a re-run."""
    folder, out = tmp_path / "in", tmp_path / "out"
    _photo(folder / "a_1x1.png", 1, 1)
    _photo(folder / "b_11x11.png", 11, 11)
    _photo(folder / "c_thin.png", 3, 100_000)
    _photo(folder / "z_wall.png", 160, 120)  # comes after them: must still be processed
    originals = _snapshot(folder)
    for _run in range(2):  # the re-run does not crash on them either
        report = run_batch(restorer, folder, out)
        statuses = _statuses(_report(out), folder)
        assert statuses["z_wall.png"] in {"no_faces", "already_done"}
        for name in ("a_1x1.png", "b_11x11.png", "c_thin.png"):
            item = next(i for i in report.items if i.source.endswith(name))
            assert item.status in {"failed", "no_faces", "already_done"} and item.message, item
            assert "Traceback" not in item.message
    assert _snapshot(folder) == originals


def test_any_error_in_one_photo_is_reported_and_the_batch_goes_on(tmp_path, monkeypatch, capsys):
    class OddLibraryError(Exception):
        pass

    folder, out = tmp_path / "in", tmp_path / "out"
    errors = {
        "a.png": cv2.error("OpenCV(5.0) resize.cpp:4208: error: (-215:Assertion failed) inv_scale_x > 0"),
        "b.png": RuntimeError("torch.cat(): expected a non-empty list of Tensors"),
        "c.png": OddLibraryError("something no one foresaw"),
        "d.png": MemoryError(),
    }
    for name in [*errors, "e.png"]:
        _photo(folder / name)
    restorer = _use_fake_restorer(monkeypatch, FakeRestorer(errors))
    assert main(["batch", str(folder), str(out), "--no-progress"]) == EXIT_OK
    assert restorer.seen == ["a.png", "b.png", "c.png", "d.png", "e.png"]
    report = _report(out)
    assert _statuses(report, folder) == {
        "a.png": "failed",
        "b.png": "failed",
        "c.png": "failed",
        "d.png": "failed",
        "e.png": "restored",
    }
    messages = {os.path.basename(i["source"]): i["message"] for i in report["items"]}
    assert "inv_scale_x > 0" in messages["a.png"] and "OddLibraryError" in messages["c.png"]
    assert all(
        messages[name].startswith("Could not restore this photo: unexpected error")
        for name in ("a.png", "b.png", "c.png")
    )
    assert messages["d.png"].startswith("Not enough memory to restore this photo")
    err = capsys.readouterr().err
    assert f"failed {folder / 'd.png'}: Not enough memory" in err and "skipped" not in err  # as the report says
    assert main(["batch", str(folder), str(out), "--no-progress"]) == EXIT_OK  # re-run: retried, no crash


# ------------------------------------------------------------------ 4. aliases of the input, by device and inode


def test_output_folder_that_is_a_bind_mount_of_the_input_is_refused_even_with_overwrite(tmp_path):
    folder, alias = tmp_path / "in", tmp_path / "alias"
    _photo(folder / "a.png")
    alias.mkdir()
    originals = _snapshot(folder)
    result = _private_mounts(f"mount --bind '{folder}' '{alias}'", _runner(folder, alias, "--overwrite"))
    assert result.returncode == EXIT_ERROR, result.stdout + result.stderr
    assert "must differ from the input folder" in result.stderr and "restoring" not in result.stdout
    assert _snapshot(folder) == originals


def test_output_through_a_linked_folder_never_replaces_an_original(tmp_path, monkeypatch):
    folder, out = tmp_path / "in", tmp_path / "out"
    _photo(folder / "a" / "x.png", value=10)
    _photo(folder / "b" / "x.png", value=200)  # a different original, reached from out/a
    out.mkdir()
    (out / "a").symlink_to(folder / "b", target_is_directory=True)
    originals = _snapshot(folder)
    run_batch(FakeRestorer(), folder, out, overwrite=True)
    assert _snapshot(folder) == originals
    item = _report(out)["items"][0]
    assert (item["status"], item["output"]) == ("skipped", None) and "never" in item["message"]


def test_output_file_hard_linked_to_its_input_is_never_written(tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    _photo(folder / "a.png")
    _photo(folder / "b.png")
    out.mkdir()
    os.link(folder / "a.png", out / "a.png")
    originals = _snapshot(folder)
    report = run_batch(FakeRestorer(), folder, out, overwrite=True)
    assert [i.status for i in report.items] == ["skipped", "restored"]
    assert "is an input file" in report.items[0].message
    assert _snapshot(folder) == originals and os.path.samefile(out / "a.png", folder / "a.png")


# ------------------------------------------------------------------ 5. output folder inside the input folder


def test_output_inside_input_never_takes_its_photos_for_outputs(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "in"
    out = folder / "restored"
    _photo(folder / "photo.png", value=10)
    _photo(folder / "new.png", value=30)
    _photo(out / "photo.png", value=200)  # the user's own photo that happens to sit there
    _photo(out / "other.png", value=220)
    originals = _snapshot(out)
    _use_fake_restorer(monkeypatch)
    assert main(["batch", str(folder), str(out), "--no-progress", "--overwrite"]) == EXIT_OK
    assert _snapshot(out)[out / "photo.png"] == originals[out / "photo.png"]  # never replaced
    report = _report(out)
    assert _statuses(report, folder) == {"new.png": "restored", "photo.png": "skipped"}  # other.png: no input
    assert report["output_folder_inside_input"] == str(out)
    summary = capsys.readouterr().out
    assert f"the output folder '{out}' inside the input folder was not searched" in summary
    assert "1 skipped to protect originals" in summary

    restored_once = (out / "new.png").read_bytes()
    assert main(["batch", str(folder), str(out), "--no-progress"]) == EXIT_OK
    assert _statuses(_report(out), folder) == {"new.png": "already_done", "photo.png": "skipped"}
    assert main(["batch", str(folder), str(out), "--no-progress", "--overwrite"]) == EXIT_OK  # ours: redone
    assert _statuses(_report(out), folder) == {"new.png": "restored", "photo.png": "skipped"}
    assert (out / "new.png").read_bytes() == restored_once and not (out / "restored").exists()
    assert _snapshot(out)[out / "photo.png"] == originals[out / "photo.png"]


# ------------------------------------------------------------------ 8. every file left out is listed, with why


def test_every_file_left_out_is_listed_with_its_reason(tmp_path, monkeypatch, capsys):
    folder, out = tmp_path / "in", tmp_path / "out"
    _photo(folder / "good.png")
    Image.new("RGB", (8, 8)).save(folder / "anim.gif")
    for name in ("phone.heic", "new.avif", "notes.txt", "README"):
        (folder / name).write_bytes(b"data")
    _photo(folder / ".hidden.png")
    _photo(folder / ".thumbs" / "t.png")
    (folder / "dangling.png").symlink_to(folder / "missing.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / "sub").mkdir()
    (folder / "sub" / "back").symlink_to(folder, target_is_directory=True)
    os.mkfifo(folder / "pipe.png")  # opening it would wait forever
    locked = folder / "locked"
    _photo(locked / "inside.png")
    locked.chmod(0o000)
    if os.geteuid() == 0:  # root reads any folder: make this one fail as it does for everyone else
        real_scandir = os.scandir

        def scandir(path="."):
            if os.fspath(path) == str(locked):
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr("app.batch_scan.os.scandir", scandir)
    _use_fake_restorer(monkeypatch)
    try:
        assert main(["batch", str(folder), str(out), "--no-progress"]) == EXIT_OK
    finally:
        locked.chmod(0o755)
    report = _report(out)
    assert _statuses(report, folder) == {"good.png": "restored"}
    reasons = {os.path.relpath(item["path"], folder): item["reason"] for item in report["not_processed"]}
    expected = {
        "anim.gif": "'.gif' is not a supported photo format",
        "phone.heic": "'.heic' is not a supported",
        "new.avif": "'.avif' is not a supported",
        "notes.txt": "'.txt' is not a supported",
        "README": "no file extension",
        ".hidden.png": "hidden file",
        ".thumbs": "hidden folder",
        "dangling.png": "broken link",
        "loop.png": "link loop",
        "sub/back": "already searched",
        "pipe.png": "not a regular file",
        "locked": "folder cannot be read (Permission denied)",
    }
    assert set(reasons) == set(expected)
    for name, words in expected.items():
        assert words in reasons[name], (name, reasons[name])
    captured = capsys.readouterr()
    assert "12 other file(s) or folder(s) not processed" in captured.out
    for name in expected:
        assert f"not processed {folder / name}: {reasons[name]}" in captured.err


# ------------------------------------------------------------------ 9. read-only, full disk, report not writable


def test_read_only_output_is_refused_before_any_photo(tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    _photo(folder / "a.png")
    out.mkdir()
    result = _private_mounts(f"mount --bind '{out}' '{out}'; mount -o remount,bind,ro '{out}'", _runner(folder, out))
    assert result.returncode == EXIT_ERROR, result.stdout + result.stderr
    assert (
        f"Cannot write into the output folder '{out}': the drive is read-only. Nothing was processed." in result.stderr
    )
    assert "restoring" not in result.stdout and "Traceback" not in result.stderr
    assert list(out.iterdir()) == []


@pytest.mark.skipif(os.name == "posix" and os.geteuid() == 0, reason="root may write into any folder")
def test_output_without_write_permission_is_refused_before_any_photo(tmp_path, monkeypatch, capsys):
    folder, out = tmp_path / "in", tmp_path / "out"
    _photo(folder / "a.png")
    out.mkdir()
    out.chmod(0o555)
    restorer = _use_fake_restorer(monkeypatch)
    try:
        assert main(["batch", str(folder), str(out), "--no-progress"]) == EXIT_ERROR
    finally:
        out.chmod(0o755)
    assert "no permission to write there. Nothing was processed." in capsys.readouterr().err
    assert restorer.seen == []


@pytest.mark.slow
def test_full_disk_is_refused_before_any_photo_and_reported_per_photo_during_one(tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    _photo(folder / "a.png")
    out.mkdir()
    room = f"mount -t tmpfs -o size=256k tmpfs '{out}'"
    fill = f"dd if=/dev/zero of='{out}/filler' bs=4k count=64 2>/dev/null || true"
    result = _private_mounts(f"{room}; {fill}", _runner(folder, out))
    assert result.returncode == EXIT_ERROR, result.stdout + result.stderr
    assert "the disk is full. Nothing was processed." in result.stderr and "restoring" not in result.stdout

    _photo(folder / "b_big.png", 400, 400, noise=True)  # ~470 KB: does not fit in what is left
    _photo(folder / "c.png")
    run_then_keep_report = (
        " ".join(f"'{part}'" for part in _runner(folder, out))
        + f"; cp '{out / REPORT_NAME}' '{tmp_path}/report.json'; ls -a '{out}'"
    )  # the tmpfs goes with the run
    result = _private_mounts(room, ["sh", "-c", run_then_keep_report])
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert _statuses(report, folder) == {"a.png": "restored", "b_big.png": "failed", "c.png": "restored"}
    assert "No space left on device" in report["items"][1]["message"]
    assert ".saving-" not in result.stdout  # nothing half-written left behind


def test_report_that_cannot_be_written_says_where_the_results_are(tmp_path, monkeypatch, capsys):
    folder, out = tmp_path / "in", tmp_path / "out"
    _photo(folder / "a.png")
    (out / REPORT_NAME).mkdir(parents=True)  # something in the way of the report
    _use_fake_restorer(monkeypatch)
    assert main(["batch", str(folder), str(out), "--no-progress"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"The report could not be written to '{out / REPORT_NAME}'" in err
    assert f"the results are in '{out}'" in err and "1 restored" in err
    assert (out / "a.png").is_file() and not [p for p in out.iterdir() if p.name.startswith(".saving-")]


def test_report_is_written_atomically(tmp_path, monkeypatch):
    folder, out = tmp_path / "in", tmp_path / "out"
    _photo(folder / "a.png")
    run_batch(FakeRestorer(), folder, out)
    before = (out / REPORT_NAME).read_bytes()

    def disk_full_midway(self, data, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pathlib.Path.write_text", disk_full_midway)
    report = run_batch(FakeRestorer(), folder, out)
    assert "could not be written" in report.write_error and "the disk is full" in report.write_error
    assert (out / REPORT_NAME).read_bytes() == before  # the earlier report, whole; never a 0-byte file


# ------------------------------------------------------------------ 10. Ctrl+C and killed runs


def test_ctrl_c_writes_the_report_of_what_was_done(tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    for index in range(6):
        _photo(folder / f"p{index}.png")
    process = subprocess.Popen(
        _runner(folder, out, delay=1.0), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    for line in process.stdout:  # wait until the second photo is being restored
        if line.startswith("restoring p1.png"):
            break
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == EXIT_INTERRUPTED, stderr
    report = _report(out)
    assert report["interrupted"] is True
    assert _statuses(report, folder) == {"p0.png": "restored"}
    assert "1 restored" in stdout and "interrupted" in stdout and str(out / REPORT_NAME) in stdout
    assert not (out / "p1.png").exists() and not (out / LOCK_NAME).exists()


def test_interrupt_in_process_raises_after_writing_the_report(tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    for name in ("a.png", "b.png", "c.png"):
        _photo(folder / name)
    with pytest.raises(KeyboardInterrupt) as stop:
        run_batch(FakeRestorer({"b.png": KeyboardInterrupt()}), folder, out)
    assert isinstance(stop.value, BatchInterrupted) and stop.value.report.interrupted
    assert _statuses(_report(out), folder) == {"a.png": "restored"}


def test_temp_files_left_by_a_killed_run_are_removed_on_the_next(tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    _photo(folder / "sub" / "a.png")
    leftovers = [out / ".saving-k2_x9abc.png", out / "sub" / ".saving-0123abcd.jpg", out / ".saving-zzzzzzzz.json"]
    kept = [out / ".saving-my-notes.txt", out / "saving-abcdefgh.png"]  # not names we make
    for path in leftovers + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half-written")
    report = run_batch(FakeRestorer(), folder, out)
    assert not any(path.exists() for path in leftovers) and all(path.exists() for path in kept)
    assert sorted(report.removed_temp_files) == sorted(map(str, leftovers))
    assert (out / "sub" / "a.png").is_file()


# ------------------------------------------------------------------ 11. two runs into one output folder


def test_second_run_into_a_busy_output_folder_is_refused_and_a_killed_run_frees_it(tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    for index in range(4):
        _photo(folder / f"p{index}.png")
    first = subprocess.Popen(
        _runner(folder, out, delay=30.0), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        assert first.stdout.readline().startswith("restoring p0.png")
        with pytest.raises(StudioError, match=rf"Another batch run \(process {first.pid} on .*\) is writing into"):
            run_batch(FakeRestorer(), folder, out)
        assert list(out.glob("p*.png")) == []
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)
    report = run_batch(FakeRestorer(), folder, out)  # the killed run's lock does not block
    assert [item.status for item in report.items] == ["restored"] * 4
    assert not (out / LOCK_NAME).exists()


def test_lock_is_released_after_an_error(tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    _photo(folder / "a.png")
    for _ in range(2):
        with pytest.raises(KeyboardInterrupt):
            run_batch(FakeRestorer({"a.png": KeyboardInterrupt()}), folder, out)
        assert not (out / LOCK_NAME).exists()


def test_what_the_output_loses_is_in_the_report(tmp_path, monkeypatch):
    _use_fake_restorer(monkeypatch)
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    frame = Image.fromarray(np.full((30, 40, 3), 90, np.uint8))
    frame.save(source / "animated.png", save_all=True, append_images=[Image.fromarray(np.zeros((30, 40, 3), np.uint8))])
    assert main(["batch", str(source), str(out)]) == EXIT_OK
    [item] = _report(out)["items"]
    assert item["status"] == "restored" and "First frame only: 'animated.png' has 2 frames" in item["message"]


# ------------------------------------------------------------------ 12. file names that are not UTF-8 (issue 17)


def _texts(value):
    """Every string in a JSON value."""
    if isinstance(value, dict):
        for key, entry in value.items():
            yield key
            yield from _texts(entry)
    elif isinstance(value, list):
        for entry in value:
            yield from _texts(entry)
    elif isinstance(value, str):
        yield value


def test_a_name_that_is_not_utf8_is_stored_exactly_and_shown_readably(tmp_path, monkeypatch):
    import urllib.parse

    from app.batch import recorded_path

    _use_fake_restorer(monkeypatch)
    folder, out = tmp_path / "in", tmp_path / "out"
    photo = _photo(Path(os.fsdecode(os.fsencode(folder) + b"/sub\xff/caf\xe9.png")))
    (folder / "notes-\xe9.txt".encode("latin-1").decode("utf-8", "surrogateescape")).write_text("x")
    assert main(["batch", str(folder), str(out), "--no-progress"]) == EXIT_OK
    text = (out / REPORT_NAME).read_text(encoding="utf-8")
    report = json.loads(text)
    for value in _texts(report):  # every text is real Unicode: any JSON reader gets it as it is
        value.encode("utf-8")
    [item] = report["items"]
    assert item["source"] == f"{folder}/sub\\xff/caf\\xe9.png"  # readable
    assert urllib.parse.unquote_to_bytes(item["source_bytes"]) == os.fsencode(photo)  # exact
    assert recorded_path(item, "source") == str(photo)
    output = Path(recorded_path(item, "output"))
    assert output == out / photo.relative_to(folder) and output.is_file()
    [left_out] = report["not_processed"]
    assert os.path.exists(recorded_path(left_out, "path")) and left_out["path"].endswith("notes-\\xe9.txt")

    assert main(["batch", str(folder), str(out), "--no-progress"]) == EXIT_OK  # read back: resumed, not redone
    assert [item["status"] for item in _report(out)["items"]] == ["already_done"]
