"""Fetching weight files: checksum-verified, atomic, with a timeout (never hangs)."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from app.errors import WeightsMissingError
from app.fileutil import atomic_target
from app.paths import find_model_file, model_search_dirs, offline_mode, user_models_dir

DEFAULT_TIMEOUT_S = 20.0
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightSource:
    """A weight file known by name, with where it can be downloaded from."""

    file_name: str
    url: str
    sha256: str | None = None
    description: str = ""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(url: str, destination: Path, sha256: str | None = None,
                  timeout_s: float = DEFAULT_TIMEOUT_S) -> Path:
    """Download `url` to `destination` atomically; verify the checksum when given."""
    try:
        with atomic_target(destination) as tmp_path:
            with open(tmp_path, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as response:
                for block in iter(lambda: response.read(_CHUNK), b""):
                    out.write(block)
            if sha256 is not None:
                actual = sha256_of(tmp_path)
                if actual != sha256.lower():
                    raise WeightsMissingError(
                        f"Downloaded {destination.name} but its checksum is wrong "
                        f"(expected {sha256[:12]}…, got {actual[:12]}…); the file was discarded.")
        return destination
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WeightsMissingError(
            f"Could not download {destination.name} from {url}: {exc}. {_where_to_put(destination.name)}"
        ) from exc


def ensure_weights(source: WeightSource, allow_download: bool = True) -> Path:
    """Path of the weight file: found locally, else downloaded when allowed and online."""
    found = find_model_file(source.file_name)
    if found is not None:
        return found
    if not allow_download or offline_mode():
        raise WeightsMissingError(
            f"{source.description or source.file_name} is not on this machine and downloads are off. "
            f"{_where_to_put(source.file_name)}")
    return download_file(source.url, user_models_dir() / source.file_name, source.sha256)


def _where_to_put(file_name: str) -> str:
    folders = ", ".join(str(d) for d in model_search_dirs())
    return f"Place '{file_name}' in one of: {folders}."
