"""`iqpfr models list | add FILE | download NAME | remove NAME`: the face restorers in the per-user models folder;
`iqpfr models prepare-upscaler`: the background upscaler's one-time conversion.

Nothing is downloaded unless asked for by name, and a model's licence is shown before its download.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130


def add_models_parser(commands) -> None:
    models = commands.add_parser("models", help="list, add, download or remove face restorer models")
    actions = models.add_subparsers(dest="models_command", required=True)
    actions.add_parser("list", help="known and installed models: file, size, checksum, licence, source")
    add = actions.add_parser(
        "add", help="copy a model file you already have into the models folder (it is loaded first to check it)"
    )
    add.add_argument("file", type=Path)
    add.add_argument("--overwrite", action="store_true", help="replace a different file of the same name")
    download = actions.add_parser(
        "download", help="download a catalogue model (its licence is shown first); an interrupted download resumes"
    )
    download.add_argument("name", help="catalogue name, e.g. gfpgan-1.4 or codeformer (see `iqpfr models list`)")
    download.add_argument("--yes", action="store_true", help="accept the licence without being asked")
    download.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    remove = actions.add_parser("remove", help="delete a model (and any partial download) from the models folder")
    remove.add_argument("name")
    actions.add_parser(
        "prepare-upscaler",
        help="check the installed Real-ESRGAN files (SHA-256) and convert them to PyTorch once (setup runs it)",
    )


def run_models_command(args: argparse.Namespace) -> int:
    actions = {"list": _list, "add": _add, "download": _download, "remove": _remove, "prepare-upscaler": _prepare}
    return actions[args.models_command](args)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _list(args: argparse.Namespace) -> int:
    from app.paths import user_models_dir
    from app.restorers.catalogue import CATALOGUE
    from app.restorers.store import IQPFR_NAME, installed_models, partial_download

    installed = {model.name: model for model in installed_models()}
    print(f"Models folder: {user_models_dir()}")
    print(f"{IQPFR_NAME:<14} IQPFR, this app's own model (built in; slider: quality score)")
    for entry in CATALOGUE:
        model = installed.pop(entry.name, None)
        if model is not None:
            state = f"installed: {model.path}"
        elif partial_download(entry):
            state = (
                f"partly downloaded ({_megabytes(partial_download(entry))} of {_megabytes(entry.size)}); "
                f"`iqpfr models download {entry.name}` resumes"
            )
        else:
            state = f"not installed; `iqpfr models download {entry.name}`"
        print(
            f"{entry.name:<14} {entry.description}\n"
            f"{'':<14} {entry.file_name}, {_megabytes(entry.size)}, sha256 {entry.sha256_prefix}…\n"
            f"{'':<14} licence: {entry.licence}\n"
            f"{'':<14} from {entry.url}\n"
            f"{'':<14} {state}"
        )
    for model in installed.values():
        if model.path.name == "iqpfr_default.pt":
            continue
        print(f"{model.name:<14} added file {model.path}")
    return EXIT_OK


def _add(args: argparse.Namespace) -> int:
    from app.restorers.store import add_model

    model = add_model(args.file, overwrite=args.overwrite)
    print(f"Added {model.path.name} as '{model.name}' ({model.path.parent}); use it with --model {model.name}")
    if model.entry is not None:
        print(f"It is the official {model.entry.file_name}; licence: {model.entry.licence}")
    return EXIT_OK


def _download(args: argparse.Namespace) -> int:
    from app.errors import DownloadCancelled, StudioError
    from app.restorers.catalogue import CATALOGUE, find_entry
    from app.restorers.store import download_model, installed_models, partial_download

    entry = find_entry(args.name)
    if entry is None:
        raise StudioError(f"'{args.name}' is not in the catalogue ({', '.join(e.name for e in CATALOGUE)}).")
    installed = [model for model in installed_models() if model.name == entry.name]
    if installed:
        print(f"{entry.name} is already installed: {installed[0].path}")
        return EXIT_OK
    print(
        f"{entry.description}\n  file: {entry.file_name}, {_megabytes(entry.size)}\n  from: {entry.url}\n"
        f"  licence: {entry.licence}"
    )
    if not entry.commercial_use:
        print("  Its licence does not allow (all) commercial use; check it before using the results commercially.")
    if not args.yes and not _confirm("Download it under this licence? [y/N] "):
        print("Not downloaded.", file=sys.stderr)
        return EXIT_ERROR
    resumed = partial_download(entry)
    if resumed:
        print(f"Resuming: {_megabytes(resumed)} already downloaded.", file=sys.stderr)
    bar = _ByteBar(enabled=not args.no_progress, initial=resumed)
    try:
        model = download_model(entry.name, progress=bar)
    except (KeyboardInterrupt, DownloadCancelled):
        bar.close()
        print(
            f"Download cancelled; {_megabytes(partial_download(entry))} kept. Run the same command again to resume.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    finally:
        bar.close()
    print(f"Downloaded and verified {model.path} (sha256 {model.sha256}); use it with --model {entry.name}")
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    from app.restorers.store import remove_model

    print(f"Removed {remove_model(args.name)}")
    return EXIT_OK


def _prepare(args: argparse.Namespace) -> int:
    from app.upscaling.weights import LICENCE, ensure_converted, find_source_files

    source = find_source_files()
    print(f"Real-ESRGAN x4plus: {source.param} and {source.bin} (SHA-256 as recorded)\n  {LICENCE}")
    path, difference = ensure_converted()
    if difference is None:
        print(f"Already converted: {path}")
    else:
        print(f"Converted to {path} (largest difference from the ncnn graph on a probe: {difference:.2g})")
    return EXIT_OK


def _confirm(question: str) -> bool:
    from app.errors import StudioError

    if not sys.stdin.isatty():
        raise StudioError("Not downloaded: confirm the licence with --yes when not running interactively.")
    return input(question).strip().lower() in ("y", "yes")


class _ByteBar:
    """A `progress(done, total)` callback drawing a tqdm byte bar on stderr, made on first use."""

    def __init__(self, enabled: bool, initial: int = 0) -> None:
        self.enabled, self.initial = enabled, initial
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, initial=self.initial, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr
            )
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
