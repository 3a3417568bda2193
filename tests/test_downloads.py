import hashlib

import pytest

from app.downloads import WeightSource, download_file, ensure_weights
from app.errors import WeightsMissingError


def test_download_verifies_checksum_and_writes_atomically(tmp_path):
    source = tmp_path / "remote.bin"
    source.write_bytes(b"weights" * 1000)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    target = tmp_path / "models" / "local.bin"
    download_file(source.as_uri(), target, sha256=digest)
    assert target.read_bytes() == source.read_bytes()

    with pytest.raises(WeightsMissingError, match="checksum"):
        download_file(source.as_uri(), tmp_path / "models" / "bad.bin", sha256="0" * 64)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["local.bin"]


def test_unreachable_url_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsMissingError, match="Could not download"):
        download_file((tmp_path / "missing.bin").as_uri(), tmp_path / "x.bin", timeout_s=2)


def test_ensure_weights_finds_local_file_and_respects_offline(isolated_model_dirs, monkeypatch, tmp_path):
    source = WeightSource("thing.pth", (tmp_path / "remote.pth").as_uri(), description="Thing weights")
    with pytest.raises(WeightsMissingError, match="Thing weights is not on this machine"):
        ensure_weights(source)
    (tmp_path / "remote.pth").write_bytes(b"abc")
    monkeypatch.setenv("IQPFR_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    fetched = ensure_weights(source)  # online: downloads into the user models folder
    assert fetched == isolated_model_dirs / "thing.pth" and fetched.read_bytes() == b"abc"
