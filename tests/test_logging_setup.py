"""The log file in the per-user folder, the uncaught-exception hooks, and the CLI's OSError message."""

import os
import subprocess
import sys
import threading

from app.cli import EXIT_ERROR, main
from app.logging_setup import LOG_FILE_NAME, install_exception_hooks, setup_logging
from conftest import REPO


def test_the_cli_logs_to_the_per_user_log_file(isolated_log, tmp_path, capsys):
    assert main(["score", str(tmp_path / "missing.jpg")]) == EXIT_ERROR
    text = (isolated_log / LOG_FILE_NAME).read_text(encoding="utf-8")
    assert "iqpfr 0.1.0 started" in text and "iqpfr score: 'missing.jpg' does not exist" in text
    assert capsys.readouterr().err == "error: 'missing.jpg' does not exist or is not a file.\n"


def test_an_os_error_in_the_cli_is_one_clear_line_and_a_logged_traceback(isolated_log, tmp_path, capsys):
    (tmp_path / "faces").mkdir()
    (tmp_path / "a-file").write_text("in the way")
    destination = tmp_path / "a-file" / "aligned"
    assert main(["prepare-faces", str(tmp_path / "faces"), str(destination), "--no-progress"]) == EXIT_ERROR
    assert capsys.readouterr().err == (
        f"error: Could not finish iqpfr prepare-faces: a file is where a folder should be ('{destination}').\n"
    )
    log = (isolated_log / LOG_FILE_NAME).read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in log and "NotADirectoryError" in log


def test_uncaught_exceptions_in_any_thread_are_logged_and_reported(isolated_log):
    log_file = setup_logging("test")
    reported = []
    install_exception_hooks(reported.append)

    def fails():
        raise IndexError("list index out of range")

    thread = threading.Thread(target=fails, name="worker-7")
    thread.start()
    thread.join()
    try:
        raise KeyError("missing")
    except KeyError:
        sys.excepthook(*sys.exc_info())
    assert reported == [
        f"Could not finish what was asked: unexpected error (IndexError: list index out of range). "
        f"Details are in {log_file}.",
        f"Could not finish what was asked: unexpected error (KeyError: 'missing'). Details are in {log_file}.",
    ]
    log = log_file.read_text(encoding="utf-8")
    assert "Uncaught exception in thread worker-7" in log and "in fails" in log and "raise KeyError" in log


def test_a_crashing_program_leaves_its_traceback_in_the_log_and_one_line_on_the_terminal(isolated_log):
    code = (
        "from app.cli import _report_uncaught\n"
        "from app.logging_setup import install_exception_hooks, setup_logging\n"
        "setup_logging('iqpfr')\ninstall_exception_hooks(_report_uncaught)\n"
        "def deep_inside():\n    raise ZeroDivisionError('division by zero')\n"
        "deep_inside()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "IQPFR_LOG_DIR": str(isolated_log)},
    )
    log_file = isolated_log / LOG_FILE_NAME
    assert result.returncode == 1
    assert result.stderr == (
        f"error: Could not finish what was asked: unexpected error (ZeroDivisionError: "
        f"division by zero). Details are in {log_file}.\n"
    )
    assert "in deep_inside" in log_file.read_text(encoding="utf-8")


def test_without_a_writable_log_folder_the_program_goes_on(isolated_log, monkeypatch, tmp_path, capsys):
    (tmp_path / "a-file").write_text("in the way")
    monkeypatch.setenv("IQPFR_LOG_DIR", str(tmp_path / "a-file" / "log"))
    assert setup_logging("test") is None
    assert capsys.readouterr().err.startswith("ERROR: No log file: Could not write the log in ")
