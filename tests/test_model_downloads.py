"""Model downloads against a local HTTP server on 127.0.0.1 (never the internet): resume, truncation,
wrong size or checksum, cancel, deadline, redirects; and the `iqpfr models` commands around them."""

import dataclasses
import hashlib
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.cli import EXIT_ERROR, EXIT_OK, main
from app.downloads import download_file, ensure_weights, partial_path
from app.errors import DownloadCancelled, StudioError, WeightsMissingError
from app.faces.detection import RETINAFACE_WEIGHTS
from app.restorers import catalogue
from app.restorers.catalogue import CatalogueEntry
from app.restorers.store import download_model, installed_models, model_path

PAYLOAD = bytes(range(256)) * (3 * 4096 + 17)  # 3 MB and a bit: several 1 MB chunks
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # http.server calls this name
        server = self.server
        server.ranges_asked.append(self.headers.get("Range"))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{server.server_port}/file")
            self.end_headers()
            return
        start = 0
        asked = self.headers.get("Range")
        if asked and server.honour_ranges:
            start = int(asked.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = server.cut_after.pop(0) if server.cut_after else None
        sent = body if cut is None else body[:cut]
        for offset in range(0, len(sent), 1 << 18):
            self.wfile.write(sent[offset : offset + (1 << 18)])
            self.wfile.flush()
            time.sleep(server.delay_s)
        self.close_connection = True  # a cut response ends here, short of its Content-Length

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.cut_after, httpd.ranges_asked, httpd.honour_ranges, httpd.delay_s = [], [], True, 0.0
    httpd.daemon_threads = True
    httpd.handle_error = lambda request, address: None  # a client that stops reading (cancel, deadline) is fine
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_port}/file"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def test_entry(server, monkeypatch):
    """A catalogue holding one entry served by the local server (and downloads switched on)."""
    entry = CatalogueEntry(
        "test-model",
        "TestModel.pth",
        "RestoreFormer",
        len(PAYLOAD),
        DIGEST[:8],
        server.url,
        "Test licence 1.0, non-commercial",
        False,
        "a test model",
    )
    monkeypatch.setattr(catalogue, "CATALOGUE", (entry,))
    monkeypatch.setenv("IQPFR_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    return entry


def test_download_checks_size_and_checksum_prefix_then_moves_into_place(server, tmp_path):
    target = tmp_path / "models" / "model.pth"
    seen = []
    download_file(
        server.url,
        target,
        size=len(PAYLOAD),
        sha256_prefix=DIGEST[:8],
        progress=lambda done, total: seen.append((done, total)),
    )
    assert target.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD)) and len(seen) >= 3
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.pth"]  # no partial file left


@pytest.mark.parametrize("check", [{"sha256_prefix": "00000000"}, {"sha256": "0" * 64}, {"size": len(PAYLOAD) + 1}])
def test_wrong_checksum_or_size_discards_the_file(server, tmp_path, check):
    target = tmp_path / "model.pth"
    with pytest.raises(WeightsMissingError, match=r"checksum is wrong|not the expected"):
        download_file(server.url, target, **check)
    assert list(tmp_path.iterdir()) == []  # neither the target nor a partial file to resume from


@pytest.mark.parametrize("variant", sorted(RETINAFACE_WEIGHTS))
def test_a_retinaface_download_that_is_not_the_known_file_is_discarded(
    server, isolated_model_dirs, monkeypatch, variant
):
    monkeypatch.setenv("IQPFR_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    known = RETINAFACE_WEIGHTS[variant]
    assert known.size and known.sha256 and len(known.sha256) == 64
    served = dataclasses.replace(known, url=server.url)
    with pytest.raises(WeightsMissingError, match="not the expected"):  # another size: refused before the transfer
        ensure_weights(served)
    assert list(isolated_model_dirs.iterdir()) == []
    if known.size < 10_000_000:  # the size of the known file, other bytes: refused by the checksum, then deleted
        with monkeypatch.context() as patch, pytest.raises(WeightsMissingError, match="checksum is wrong"):
            patch.setattr(sys.modules[__name__], "PAYLOAD", bytes(known.size))
            ensure_weights(served)
        assert list(isolated_model_dirs.iterdir()) == []
    accepted = ensure_weights(dataclasses.replace(served, size=len(PAYLOAD), sha256=DIGEST))  # the check refused it
    assert accepted.read_bytes() == PAYLOAD and list(isolated_model_dirs.iterdir()) == [accepted]


def test_truncated_transfer_keeps_the_part_and_the_next_try_resumes(server, tmp_path):
    target = tmp_path / "model.pth"
    server.cut_after = [1_000_000]
    with pytest.raises(WeightsMissingError, match="stopped after 1,000,000 of"):
        download_file(server.url, target, size=len(PAYLOAD), sha256_prefix=DIGEST[:8])
    assert not target.exists() and partial_path(target).stat().st_size == 1_000_000

    download_file(server.url, target, size=len(PAYLOAD), sha256_prefix=DIGEST[:8])
    assert server.ranges_asked == [None, "bytes=1000000-"]
    assert target.read_bytes() == PAYLOAD and not partial_path(target).exists()


def test_truncation_without_a_known_size_is_caught_by_content_length(server, tmp_path):
    server.cut_after = [500_000]
    with pytest.raises(WeightsMissingError, match="stopped after 500,000 of"):
        download_file(server.url, tmp_path / "model.pth")
    assert not (tmp_path / "model.pth").exists()


def test_server_ignoring_the_range_restarts_from_zero(server, tmp_path):
    target = tmp_path / "model.pth"
    partial_path(target).write_bytes(b"x" * 1000)  # not a prefix of the file: must not be kept
    server.honour_ranges = False
    download_file(server.url, target, size=len(PAYLOAD), sha256_prefix=DIGEST[:8])
    assert target.read_bytes() == PAYLOAD


def test_cancel_stops_keeps_the_part_and_a_later_download_resumes(server, tmp_path):
    target = tmp_path / "model.pth"
    started = []
    with pytest.raises(DownloadCancelled, match="cancelled"):
        download_file(
            server.url,
            target,
            size=len(PAYLOAD),
            progress=lambda done, total: started.append(done),
            should_cancel=lambda: bool(started),
        )
    kept = partial_path(target).stat().st_size
    assert not target.exists() and 0 < kept < len(PAYLOAD)

    download_file(server.url, target, size=len(PAYLOAD), sha256_prefix=DIGEST[:8])
    assert server.ranges_asked[-1] == f"bytes={kept}-" and target.read_bytes() == PAYLOAD


def test_total_deadline_stops_a_slow_download(server, tmp_path):
    server.delay_s = 0.3
    target = tmp_path / "model.pth"
    with pytest.raises(WeightsMissingError, match="took too long"):
        download_file(server.url, target, size=len(PAYLOAD), deadline_s=0.5)
    assert not target.exists() and partial_path(target).exists()


def test_redirect_to_plain_http_is_refused(server, tmp_path):
    target = tmp_path / "model.pth"
    with pytest.raises(WeightsMissingError, match="non-HTTPS"):
        download_file(server.url.replace("/file", "/redirect"), target)
    assert list(tmp_path.iterdir()) == []


def test_nothing_half_downloaded_is_ever_found_as_a_model(server, test_entry, isolated_model_dirs):
    server.cut_after = [700_000]
    with pytest.raises(WeightsMissingError, match="try again to resume"):
        download_model("test-model")
    assert partial_path(isolated_model_dirs / "TestModel.pth").exists()
    assert "test-model" not in [m.name for m in installed_models()]
    assert not any(m.path.name.startswith(".") for m in installed_models())
    with pytest.raises(WeightsMissingError, match="is not installed"):
        model_path("test-model")

    installed = download_model("test-model")
    assert installed.path == isolated_model_dirs / "TestModel.pth" and installed.sha256 == DIGEST
    assert model_path("test-model") == installed.path


def test_offline_download_names_the_models_folder(isolated_model_dirs, capsys):
    assert main(["models", "download", "codeformer", "--yes"]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert "NTU S-Lab" in captured.out and "non-commercial" in captured.out  # licence shown first
    assert "Downloads are off" in captured.err and str(isolated_model_dirs) in captured.err
    assert list(isolated_model_dirs.iterdir()) == []


def test_unreachable_server_names_the_models_folder(test_entry, isolated_model_dirs, monkeypatch):
    entry = CatalogueEntry("gone", "Gone.pth", "GFPGAN", 10, "00000000", "http://127.0.0.1:9/file", "MIT", True, "x")
    monkeypatch.setattr(catalogue, "CATALOGUE", (entry,))
    with pytest.raises(WeightsMissingError, match="Could not download") as error:
        download_model("gone")
    assert str(isolated_model_dirs) in str(error.value)


def test_cli_download_shows_licence_progress_and_resumes(server, test_entry, isolated_model_dirs, capsys):
    server.cut_after = [1_500_000]
    assert main(["models", "download", "test-model", "--yes"]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert "Test licence 1.0" in captured.out and "try again to resume" in captured.err

    assert main(["models", "download", "test-model", "--yes"]) == EXIT_OK
    captured = capsys.readouterr()
    assert "Resuming: 1.5 MB already downloaded" in captured.err and "Downloaded and verified" in captured.out
    assert (isolated_model_dirs / "TestModel.pth").read_bytes() == PAYLOAD

    assert main(["models", "list"]) == EXIT_OK
    listing = capsys.readouterr().out
    assert str(isolated_model_dirs) in listing and "installed:" in listing and test_entry.url in listing

    assert main(["models", "remove", "test-model"]) == EXIT_OK
    assert not (isolated_model_dirs / "TestModel.pth").exists()
    assert main(["models", "remove", "test-model"]) == EXIT_ERROR


def test_download_without_confirmation_is_refused_when_not_interactive(test_entry, isolated_model_dirs, capsys):
    assert main(["models", "download", "test-model"]) == EXIT_ERROR
    assert "--yes" in capsys.readouterr().err
    assert list(isolated_model_dirs.iterdir()) == []


def test_unknown_names_are_clear_errors(isolated_model_dirs):
    with pytest.raises(StudioError, match="No model file or known model called 'nonesuch'"):
        model_path("nonesuch")
    with pytest.raises(StudioError, match="not in the catalogue"):
        download_model("nonesuch")
