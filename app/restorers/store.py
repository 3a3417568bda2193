"""The per-user models folder: which restorers are installed, adding a file the user already has,
downloading a catalogue file on request, removing one. The folder is `app.paths.user_models_dir()`.

Every file that enters the folder has been checked first (a downloaded one against the catalogue's
size and checksum, an added one by loading it), and its full SHA-256 is kept in `checksums.json`
beside it. Partial downloads are hidden files that no lookup ever returns.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.downloads import ProgressCallback, download_file, partial_path, sha256_of
from app.errors import StudioError, WeightsMissingError
from app.fileutil import atomic_target
from app.paths import ENV_OFFLINE, model_search_dirs, offline_mode, user_models_dir
from app.restorers.catalogue import CATALOGUE, CatalogueEntry, entry_for_content, find_entry
from app.restorers.loading import load_network_file

IQPFR_NAME = "iqpfr"
MODEL_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")
CHECKSUMS_FILE = "checksums.json"


@dataclass
class InstalledModel:
    name: str  # what `--model` accepts for it
    path: Path
    entry: CatalogueEntry | None  # the official file it is, if any
    sha256: str | None  # full digest recorded when it was added or downloaded

    @property
    def removable(self) -> bool:
        return self.path.parent == user_models_dir()


def installed_models() -> list[InstalledModel]:
    """Model files in the models folders (user folder first), official ones by their catalogue name."""
    found: dict[str, InstalledModel] = {}
    for folder in model_search_dirs():
        if not folder.is_dir():
            continue
        checksums = _read_checksums(folder)
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or path.suffix.lower() not in MODEL_SUFFIXES or not path.is_file():
                continue
            entry = find_entry(path.name)
            name = entry.name if entry else path.name
            found.setdefault(name, InstalledModel(name, path, entry, checksums.get(path.name, {}).get("sha256")))
    return list(found.values())


def model_path(name: str) -> Path:
    """The file `--model NAME|FILE` means: an existing path, else a catalogue name or a file in the models
    folders. A clear error says how to get a model that is not installed."""
    candidate = Path(name).expanduser()
    if candidate.is_file():
        return candidate
    entry = find_entry(name)
    wanted = entry.file_name if entry else name
    for model in installed_models():
        if model.path.name == wanted or (entry is None and model.path.stem == name):
            return model.path
    if entry is not None:
        raise WeightsMissingError(
            f"{entry.description} ('{entry.name}') is not installed. Download it with "
            f"`iqpfr models download {entry.name}` (licence: {entry.licence}), or add a copy you have with "
            f"`iqpfr models add FILE`. Models folder: {user_models_dir()}"
        )
    known = ", ".join([IQPFR_NAME] + [e.name for e in CATALOGUE])
    raise StudioError(
        f"No model file or known model called '{name}'. Known names: {known}; "
        f"`iqpfr models list` shows what is installed in {user_models_dir()}."
    )


def add_model(source: Path, overwrite: bool = False) -> InstalledModel:
    """Copy a model file the user has into the user models folder, after checking that it loads."""
    source = Path(source).expanduser()
    if not source.is_file():
        raise StudioError(f"'{source}' is not a file.")
    if source.suffix.lower() not in MODEL_SUFFIXES:
        raise StudioError(f"'{source.name}' is not a model file ({', '.join(MODEL_SUFFIXES)}).")
    size, digest = source.stat().st_size, sha256_of(source)
    entry = entry_for_content(size, digest)
    named_after = find_entry(source.name)
    if entry is None and named_after is not None:
        raise StudioError(
            f"'{source.name}' has the name of the official {named_after.file_name} but not its "
            f"content (size or checksum differ). Rename it to add it as a model of your own."
        )
    load_network_file(source, "cpu")  # raises a clear error for anything that is not a usable face model
    target = user_models_dir() / (entry.file_name if entry else source.name)
    if target.exists() and not overwrite:
        if target.stat().st_size == size and sha256_of(target) == digest:
            return InstalledModel(entry.name if entry else target.name, target, entry, digest)
        raise StudioError(
            f"A different '{target.name}' is already installed in {target.parent}; "
            f"remove it first, or add with --overwrite."
        )
    if target.resolve() != source.resolve():
        with atomic_target(target) as tmp:
            shutil.copyfile(source, tmp)
    _record_checksum(target, digest)
    return InstalledModel(entry.name if entry else target.name, target, entry, digest)


def download_model(
    name: str, progress: ProgressCallback | None = None, should_cancel: Callable[[], bool] | None = None
) -> InstalledModel:
    """Download catalogue model `name` into the user models folder (resuming a partial download)."""
    entry = find_entry(name)
    if entry is None:
        known = ", ".join(e.name for e in CATALOGUE)
        raise StudioError(f"'{name}' is not in the catalogue of downloadable models ({known}).")
    target = user_models_dir() / entry.file_name
    if target.is_file():
        recorded = _read_checksums(target.parent).get(target.name, {})
        return InstalledModel(entry.name, target, entry, recorded.get("sha256"))
    if offline_mode():
        raise WeightsMissingError(
            f"Downloads are off on this machine ({ENV_OFFLINE} or HF_HUB_OFFLINE is set). Download "
            f"{entry.url} on a machine with a network, then add it with `iqpfr models add FILE` or copy it "
            f"into {user_models_dir()}."
        )
    download_file(
        entry.url,
        target,
        size=entry.size,
        sha256_prefix=entry.sha256_prefix,
        progress=progress,
        should_cancel=should_cancel,
    )
    digest = sha256_of(target)
    _record_checksum(target, digest)
    return InstalledModel(entry.name, target, entry, digest)


def remove_model(name: str) -> Path:
    """Delete an installed model (and any partial download of it) from the user models folder."""
    entry = find_entry(name)
    file_name = entry.file_name if entry else name
    folder = user_models_dir()
    if Path(file_name).name != file_name:
        raise StudioError(f"Give a model name or a file name in {folder}, not a path.")
    target = folder / file_name
    part = partial_path(target)
    if not target.is_file() and not part.is_file():
        raise StudioError(f"No model '{name}' in {folder}; `iqpfr models list` shows what is installed.")
    for path in (target, part):
        path.unlink(missing_ok=True)
    checksums = _read_checksums(folder)
    if checksums.pop(file_name, None) is not None:
        _write_checksums(folder, checksums)
    return target


def partial_download(entry: CatalogueEntry) -> int:
    """Bytes of `entry` already downloaded (a partial file that the next download resumes), else 0."""
    part = partial_path(user_models_dir() / entry.file_name)
    return part.stat().st_size if part.is_file() else 0


def _read_checksums(folder: Path) -> dict:
    try:
        data = json.loads((folder / CHECKSUMS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_checksums(folder: Path, checksums: dict) -> None:
    with atomic_target(folder / CHECKSUMS_FILE) as tmp:
        tmp.write_text(json.dumps(checksums, indent=2, sort_keys=True), encoding="utf-8")


def _record_checksum(path: Path, digest: str) -> None:
    checksums = _read_checksums(path.parent)
    checksums[path.name] = {"sha256": digest, "size": path.stat().st_size}
    _write_checksums(path.parent, checksums)
