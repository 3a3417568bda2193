"""Fetching weight files: resumable, size- and checksum-verified, atomic, with timeouts (never hangs)."""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app import APP_NAME, __version__
from app.errors import DownloadCancelled, WeightsMissingError
from app.paths import find_model_file, model_search_dirs, offline_mode, user_models_dir

DEFAULT_TIMEOUT_S = 20.0  # the longest wait for the network at any one point
DEFAULT_DEADLINE_S = 2 * 3600  # the longest a whole download may take
_CHUNK = 1 << 20

ProgressCallback = Callable[[int, int | None], None]  # (bytes done, total bytes if known)


@dataclass(frozen=True)
class WeightSource:
    """A weight file known by name, with where it can be downloaded from."""

    file_name: str
    url: str
    sha256: str | None = None  # a download that does not match is discarded
    description: str = ""
    size: int | None = None  # bytes; checked against Content-Length before the transfer and after it


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def partial_path(destination: Path) -> Path:
    """Where an unfinished download of `destination` is kept (hidden, beside it) until it is verified."""
    return destination.with_name(f".{destination.name}.part")


def download_file(
    url: str,
    destination: Path,
    sha256: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    *,
    size: int | None = None,
    sha256_prefix: str | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: Callable[[], bool] | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> Path:
    """Download `url` to `destination`: into a hidden partial file beside it (a later call resumes it),
    checked against `size` and `sha256` (or `sha256_prefix`), then moved into place in one step.

    `timeout_s` bounds each network wait, `deadline_s` the whole download; redirects must stay on
    HTTPS. `progress(done_bytes, total_bytes_or_None)` is called per chunk; `should_cancel()` True
    stops with DownloadCancelled. A failed check deletes the partial file; an interrupted transfer
    keeps it for the next try. Nothing reaches `destination` unverified."""
    destination = Path(destination)
    part = partial_path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        _fetch(url, part, destination.name, size, timeout_s, time.monotonic() + deadline_s, progress, should_cancel)
    except WeightsMissingError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
        kept = " The part already downloaded is kept; try again to resume." if part.exists() else ""
        raise WeightsMissingError(
            f"Could not download {destination.name} from {url}: {_reason(exc)}.{kept} {_where_to_put(destination.name)}"
        ) from exc
    _verify(part, destination.name, size, sha256, sha256_prefix)
    os.replace(part, destination)
    return destination


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme.lower() != "https":
            raise WeightsMissingError(
                f"The download of {req.full_url} was redirected to a non-HTTPS address ({newurl}); refused."
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpsOnlyRedirects)


def _fetch(
    url: str,
    part: Path,
    name: str,
    size: int | None,
    timeout_s: float,
    deadline: float,
    progress: ProgressCallback | None,
    should_cancel: Callable[[], bool] | None,
) -> None:
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:  # not a prefix of the expected file: start again
        part.unlink()
        have = 0
    if size is not None and have == size:
        return  # complete already (interrupted during the check): only verify
    request = urllib.request.Request(url, headers={"User-Agent": f"{APP_NAME}/{__version__}"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = _OPENER.open(request, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the partial file is complete
            return
        raise
    with response:
        if have and not _resumes_at(response, have):
            have = 0  # the server sent the whole file again
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        if size is not None and total is not None and total != size:
            part.unlink(missing_ok=True)
            raise WeightsMissingError(
                f"{name} at {url} has {total:,} bytes, not the expected {size:,}; "
                f"it is not the file this app knows, and was not downloaded."
            )
        total = size if total is None else total
        with open(part, "ab" if have else "wb") as out:
            while True:
                if should_cancel is not None and should_cancel():
                    raise DownloadCancelled(
                        f"Download of {name} cancelled; the {have:,} bytes "
                        f"received are kept, and the next download resumes from there."
                    )
                if time.monotonic() > deadline:
                    raise WeightsMissingError(
                        f"Download of {name} took too long and was stopped after {have:,} bytes; try again to resume."
                    )
                block = response.read(_CHUNK)
                if not block:
                    break
                out.write(block)
                have += len(block)
                if progress is not None:
                    progress(have, total)
    if total is not None and have < total:
        raise WeightsMissingError(
            f"The download of {name} stopped after {have:,} of {total:,} bytes; try again to resume."
        )


def _resumes_at(response, offset: int) -> bool:
    """True when the server answered a range request with the bytes from `offset` on."""
    content_range = response.headers.get("Content-Range", "")
    return getattr(response, "status", 200) == 206 and content_range.startswith(f"bytes {offset}-")


def _verify(part: Path, name: str, size: int | None, sha256: str | None, sha256_prefix: str | None) -> None:
    """Check the finished partial file; a file that fails is deleted (it must never be resumed or loaded)."""
    actual_size = part.stat().st_size
    problem = None
    if size is not None and actual_size != size:
        problem = f"its size is wrong (expected {size:,} bytes, got {actual_size:,})"
    elif sha256 is not None or sha256_prefix is not None:
        actual = sha256_of(part)
        expected = (sha256 or sha256_prefix or "").lower()
        if not actual.startswith(expected):
            problem = f"its checksum is wrong (expected {expected[:12]}…, got {actual[:12]}…)"
    if problem:
        part.unlink()
        raise WeightsMissingError(f"Downloaded {name} but {problem}; the file was discarded.")


def _reason(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"no connection ({exc.reason})"
    return str(exc) or type(exc).__name__


def ensure_weights(source: WeightSource, allow_download: bool = True) -> Path:
    """Path of the weight file: found locally, else downloaded when allowed and online."""
    found = find_model_file(source.file_name)
    if found is not None:
        return found
    if not allow_download or offline_mode():
        raise WeightsMissingError(
            f"{source.description or source.file_name} is not on this machine and downloads are off. "
            f"{_where_to_put(source.file_name)}"
        )
    return download_file(source.url, user_models_dir() / source.file_name, source.sha256, size=source.size)


def _where_to_put(file_name: str) -> str:
    folders = ", ".join(str(d) for d in model_search_dirs())
    return f"Place '{file_name}' in one of: {folders}."
