"""Command line: `iqpfr restore`, `iqpfr batch`, `iqpfr score`, `iqpfr models` (and training tools)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# Only light modules here: `iqpfr --help`, `iqpfr models list` and argument errors must answer without loading
# torch, OpenCV or the pipeline; the commands import what they need (tests/test_cli_startup.py checks it).
from app import __version__
from app.cli_training import add_training_parsers, run_pack_faces, run_train_recipe
from app.errors import PhotoTooSmallError, StudioError, failure_message, printable
from app.logging_setup import install_exception_hooks, setup_logging
from app.restore_defaults import DEFAULT_QUALITY
from app.restorer_options import MODEL_HELP, restorer_options
from app.training.config import STAGE_NAMES
from app.upscaling.whole_photo import BACKGROUNDS, NO_BACKGROUND, SCALES, WholePhotoSettings

if TYPE_CHECKING:
    from tqdm import tqdm

EXIT_OK, EXIT_ERROR, EXIT_NO_FACES = 0, 1, 3
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl+C

log = logging.getLogger(__name__)


def _quality(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"quality must be a number between 0 and 1, not {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("quality must be between 0 and 1")
    return value


def _weight_between(name: str, zero_means: str, one_means: str):
    """An argparse type for a weight in [0, 1] whose ends mean something to the user (NaN refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not 0.0 <= value <= 1.0:  # NaN too
            raise argparse.ArgumentTypeError(
                f"{name} must be a number between 0 ({zero_means}) and 1 ({one_means}), not {text!r}"
            )
        return value

    return parse


_fidelity = _weight_between("fidelity", "more restoration", "closer to the original")
_strength = _weight_between("strength", "the original face", "fully restored")


def _jpeg_quality(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"JPEG quality must be a whole number from 1 to 100, not {text!r}")
    return value


def _add_save_options(parser: argparse.ArgumentParser, batch: bool) -> None:
    from app.export_settings import DEFAULT_JPEG_QUALITY, FORMATS

    if batch:
        parser.add_argument(
            "--format",
            choices=[*FORMATS, "jpg", "tif"],
            default="same",
            help="format of the outputs (default: each photo's own)",
        )
        parser.add_argument(
            "--suffix",
            default="",
            help="added to each output's name (photo.jpg → photoSUFFIX.jpg; "
            "default: none, the outputs keep the photos' names)",
        )
        parser.add_argument(
            "--no-subfolders",
            action="store_true",
            help="only the photos directly in INPUT_DIR (default: its subfolders too, with the same "
            "tree in OUTPUT_DIR)",
        )
    parser.add_argument(
        "--jpeg-quality",
        type=_jpeg_quality,
        default=DEFAULT_JPEG_QUALITY,
        metavar="1-100",
        help="quality of JPEG outputs (default %(default)s)",
    )
    parser.add_argument(
        "--strip-metadata",
        action="store_true",
        help="leave the EXIF (camera, date, place, author) out of the outputs; the colour profile is kept",
    )


def _add_restore_settings(parser: argparse.ArgumentParser) -> None:
    """The restoration settings (the options choosing the restorer come from `restorer_options`)."""
    parser.add_argument(
        "--quality",
        type=_quality,
        default=DEFAULT_QUALITY,
        help="IQPFR: target quality score 0..1 that conditions the Transformer (default %(default)s)",
    )
    parser.add_argument(
        "--fidelity",
        type=_fidelity,
        default=None,
        metavar="W",
        help="IQPFR and CodeFormer, 0..1: 0 = more restoration, 1 = closer to the original "
        "(keeps its structure and identity); default: the model's stored default",
    )
    parser.add_argument(
        "--strength",
        type=_strength,
        default=None,
        metavar="S",
        help="GFPGAN and RestoreFormer, 0..1: blend of the restored face with the original "
        "(0 = the original, 1 = fully restored; default 1)",
    )
    parser.add_argument(
        "--upscale",
        type=int,
        choices=SCALES,
        default=1,
        help="output size: 1, 2 or 4 times the photo's (default %(default)s); faces are pasted at that scale",
    )
    parser.add_argument(
        "--background",
        choices=BACKGROUNDS,
        default=NO_BACKGROUND,
        help="realesrgan: clean the whole photo (grain, blur, JPEG blocks) with Real-ESRGAN x4plus, also at "
        "--upscale 1 (slow on a CPU: minutes per megapixel); none (default): only the faces are restored, a "
        "larger output is a bicubic resize",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs (never the inputs)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iqpfr", description="IQPFR Studio face restoration")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    restore = commands.add_parser("restore", help="restore the faces in one photo", parents=[restorer_options()])
    restore.add_argument("input", type=Path)
    restore.add_argument("output", type=Path)
    _add_restore_settings(restore)
    _add_save_options(restore, batch=False)

    batch = commands.add_parser("batch", help="restore every photo in a folder", parents=[restorer_options()])
    batch.add_argument("input_dir", type=Path)
    batch.add_argument("output_dir", type=Path)
    batch.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_restore_settings(batch)
    _add_save_options(batch, batch=True)

    score = commands.add_parser(
        "score", help="measured quality of a photo (no-reference metric as 0 worst … 1 best, as the window shows it)"
    )
    score.add_argument("file", type=Path)
    score.add_argument("--metric", default="piqe", help="pyiqa NR metric (default piqe, needs no weights)")
    score.add_argument(
        "--faces", action="store_true", help="also score each detected face (measured as the window's face strip does)"
    )
    score.add_argument(
        "--model",
        metavar="NAME|FILE",
        help="also restore the photo with this model (default settings) and score the result; "
        "with --faces, each face before and after. " + MODEL_HELP,
    )
    score.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda (with --model)")

    from app.cli_models import add_models_parser

    add_models_parser(commands)

    train = commands.add_parser("train", help="train one IQPFR stage (codebook → transformer → quality)")
    train.add_argument("stage", choices=STAGE_NAMES)
    train.add_argument("--config", type=Path, help="TOML config (default: configs/train_STAGE.toml)")
    train.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    train.add_argument("--resume", action="store_true", help="continue from the run folder's last.pt")
    train.add_argument("--iterations", type=int, help="override the config's iteration count")
    train.add_argument("--init-weights", help="override the config's init_weights (the previous stage's file)")
    train.add_argument("--run-dir", help="override the config's run folder (weights go to RUN_DIR/weights.pt)")
    train.add_argument("--max-minutes", type=float, help="stop (and save) after this much wall time")
    train.add_argument("--no-progress", action="store_true")

    evaluate = commands.add_parser("evaluate", help="measure a weights file (numbers for the model card)")
    evaluate.add_argument("--weights", type=Path, required=True)
    evaluate.add_argument(
        "--config", type=Path, help="config naming the data and held-out split (default: configs/train_codebook.toml)"
    )
    evaluate.add_argument("--test-data", type=Path, help="folder of real degraded faces (default: ../shared/data/test)")
    evaluate.add_argument(
        "--out", type=Path, default=Path("runs/evaluation/evaluation.json"), help="JSON results (default %(default)s)"
    )
    evaluate.add_argument(
        "--compare-weights",
        type=Path,
        help="also measure this weights file, labelled 'previous shipped model' "
        "(e.g. runs/previous_default.pt from `git show HEAD:models/iqpfr_default.pt`)",
    )
    evaluate.add_argument(
        "--contact-sheet",
        type=Path,
        default=Path("runs/evaluation/contact_sheet.png"),
        help="PNG of inputs and outputs side by side (default %(default)s)",
    )
    evaluate.add_argument(
        "--max-faces", type=int, help="measure at most this many faces per set, spread evenly (quick checks)"
    )
    evaluate.add_argument(
        "--codebook-weights",
        type=Path,
        help="Stage I weights, for the codebook's reconstruction row when --weights is Stage II",
    )
    evaluate.add_argument(
        "--pairs-per-size",
        type=int,
        default=None,
        help="synthetic whole photos per face size (64, 128, 256, 512 px; default 42, 0 to skip)",
    )
    evaluate.add_argument("--device", default="auto")

    photos = commands.add_parser(
        "evaluate-photos",
        help="whole-photo figures at 2×: bicubic input, classical baseline and the app's whole-photo path",
        parents=[restorer_options()],
    )
    photos.add_argument(
        "--old-photos",
        type=Path,
        help="folder of real old photos, scored without reference (default: "
        "../shared/data/test/bopbtl-test_images/old when present)",
    )
    photos.add_argument("--no-old-photos", action="store_true", help="only the synthetic pairs")
    photos.add_argument(
        "--restored",
        type=Path,
        help="the app's 2× outputs of the old photos (NAME.png, e.g. from `iqpfr batch --upscale 2 --background "
        "realesrgan --format png`), instead of making them again",
    )
    photos.add_argument("--size", type=int, default=384, help="clean photos are cropped to this side (default 384)")
    photos.add_argument("--max-photos", type=int, help="at most this many photos per set (quick checks)")
    photos.add_argument(
        "--out", type=Path, default=Path("runs/evaluation/photos.json"), help="JSON results (default %(default)s)"
    )
    photos.add_argument(
        "--contact-sheet",
        type=Path,
        default=Path("runs/evaluation/photos_contact_sheet.png"),
        help="PNG of crops of every output side by side (default %(default)s)",
    )

    prepare = commands.add_parser(
        "prepare-faces",
        help="re-align a folder of face chips to the FFHQ template (256 px PNGs + manifest.json, resumable)",
    )
    prepare.add_argument("source", type=Path)
    prepare.add_argument("destination", type=Path)
    prepare.add_argument("--limit", type=int, help="only the first N images (by name)")
    prepare.add_argument("--no-progress", action="store_true")
    add_training_parsers(commands)
    return parser


def _make_restorer(args: argparse.Namespace):
    from app.pipeline import FaceRestorer

    restorer = FaceRestorer.create(args.weights, args.detector, args.device, model=args.model)
    if not restorer.model_info.trained or restorer.model_info.note:
        print(f"warning: {restorer.model_info.describe()}", file=sys.stderr)
    if args.fidelity is not None and not restorer.has_fidelity:
        if restorer.has_quality_score:
            print(
                "note: this model has no fidelity path (older weights format); --fidelity is ignored", file=sys.stderr
            )
        else:
            print(
                "note: this model has no fidelity control (its setting is --strength); --fidelity is ignored",
                file=sys.stderr,
            )
    if args.strength is not None and not restorer.has_strength:
        print("note: --strength is for GFPGAN and RestoreFormer; this model ignores it", file=sys.stderr)
    return restorer


def _settings_text(restorer, quality: float, fidelity: float | None, strength: float | None = None) -> str:
    """'target quality 0.90, fidelity 0.50 (the model's default)' — what the restoration ran with."""
    if restorer.has_strength:
        return f"strength {1.0 if strength is None else strength:.2f}"
    parts = [f"target quality {quality:.2f}"] if restorer.has_quality_score else []
    if not restorer.has_fidelity:
        return f"{parts[0]} (this model has no fidelity control)" if parts else "the model's only setting"
    if fidelity is None:
        parts.append(f"fidelity {restorer.default_fidelity:.2f} (the model's default)")
    else:
        parts.append(f"fidelity {fidelity:.2f}")
    return ", ".join(parts)


def cmd_restore(args: argparse.Namespace) -> int:
    from app.fileutil import Originals
    from app.photo_io import load_photo, save_photo

    if Originals([args.input]).include(args.output):  # device and inode: also through links and second mounts
        raise StudioError("OUT is the input file; originals are never overwritten. Choose another name.")
    photo = load_photo(args.input)
    whole = WholePhotoSettings(args.upscale, args.background)
    restorer = _make_restorer(args)
    progress = _ProgressBar("tile", enabled=whole.enhanced)
    try:
        restored = restorer.restore(
            photo,
            args.quality,
            args.fidelity,
            strength=args.strength,
            whole=whole,
            progress=lambda done, total: progress(done, total, args.input),
        )
    finally:
        progress.close()
    if not restored.restored_faces and not whole.changes_photo:
        print(_printable(f"No faces found in '{args.input.name}'; nothing written."), file=sys.stderr)
        return EXIT_NO_FACES
    save_photo(
        restored.photo,
        args.output,
        overwrite=args.overwrite,
        jpeg_quality=args.jpeg_quality,
        keep_metadata=not args.strip_metadata,
    )
    for note in restored.photo.notes:
        print(_printable(f"note: {note}"), file=sys.stderr)
    for warning in restored.photo.warnings:
        print(_printable(f"warning: {warning}"), file=sys.stderr)
    faces = (
        f"Restored {len(restored.restored_faces)} face(s) at "
        f"{_settings_text(restorer, args.quality, args.fidelity, args.strength)}"
        if restored.restored_faces
        else f"No faces found in '{args.input.name}'"
    )
    whole_text = f"; whole photo {whole.describe()}" if whole.changes_photo else ""
    print(_printable(f"{faces}{whole_text} → {args.output}"))
    return EXIT_OK


class _ProgressBar:
    """A `progress(done, total, path)` callback drawing a tqdm bar on stderr, made on first use."""

    def __init__(self, unit: str, enabled: bool = True) -> None:
        self.unit, self.enabled = unit, enabled
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int, path: Path) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=self.unit, file=sys.stderr)
        self.bar.n = done
        self.bar.set_postfix_str(_printable(path.name) if done < total else "done")
        self.bar.refresh()

    def tile(self, done: int, total: int) -> None:
        """Within the current photo: tiles of its background done (shown after its name)."""
        if self.bar is not None:
            name = str(self.bar.postfix or "").split(" · tile ")[0]
            self.bar.set_postfix_str(f"{name} · tile {done}/{total}" if done < total else name)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_batch(args: argparse.Namespace) -> int:
    from app.batch import BatchInterrupted, run_batch
    from app.export_settings import ExportSettings

    export = ExportSettings(args.format, args.jpeg_quality, args.suffix, not args.strip_metadata)
    whole = WholePhotoSettings(args.upscale, args.background)
    restorer = _make_restorer(args)
    progress = _ProgressBar("photo", enabled=not args.no_progress)

    print(
        f"Restoring at {_settings_text(restorer, args.quality, args.fidelity, args.strength)}"
        + (f"; whole photos {whole.describe()}" if whole.changes_photo else ""),
        file=sys.stderr,
    )
    try:
        report = run_batch(
            restorer,
            args.input_dir,
            args.output_dir,
            args.quality,
            args.overwrite,
            progress,
            fidelity=args.fidelity,
            strength=args.strength,
            export=export,
            include_subfolders=not args.no_subfolders,
            whole=whole,
            tile_progress=progress.tile,
        )
    except BatchInterrupted as stop:
        progress.close()
        _print_batch_report(stop.report)
        return EXIT_INTERRUPTED
    progress.close()
    return _print_batch_report(report)


_MAX_LISTED = 100  # the report lists every file; the terminal gets the first ones


def _print_batch_report(report) -> int:
    """Per-file problems on stderr, the summary on stdout; EXIT_ERROR when the report could not be written."""
    from app.batch import EXISTS, FAILED, OTHER_SETTINGS, REPORT_NAME, SKIPPED

    shown_as = {FAILED: "failed", SKIPPED: "skipped", EXISTS: "not replaced"}  # the report's status, in words
    for item in report.items:
        if item.status in shown_as:
            print(_printable(f"{shown_as[item.status]} {item.source}: {item.message}"), file=sys.stderr)
        elif item.status == OTHER_SETTINGS:
            print(_printable(f"kept {item.output}: {item.message}"), file=sys.stderr)
    kept = report.counts()[OTHER_SETTINGS]
    if kept:
        print(
            f"{kept} output(s) were made by an earlier run with other settings and were kept as they are; run "
            "again with --overwrite to redo them with these settings, or choose another output folder.",
            file=sys.stderr,
        )
    for item in report.not_processed[:_MAX_LISTED]:
        print(_printable(f"not processed {item.path}: {item.reason}"), file=sys.stderr)
    if len(report.not_processed) > _MAX_LISTED:
        print(
            f"… and {len(report.not_processed) - _MAX_LISTED} more not processed, listed in the report", file=sys.stderr
        )
    if report.write_error:
        print(_printable(f"error: {report.summary()}."), file=sys.stderr)
        return EXIT_ERROR
    print(_printable(f"{report.summary()}. Report: {Path(report.output_dir) / REPORT_NAME}"))
    return EXIT_INTERRUPTED if report.interrupted else EXIT_OK


def _printable(text: str) -> str:
    """`text` with undecodable file-name bytes and control characters (ANSI escapes) shown as escapes,
    so printing it never fails and never drives the terminal."""
    return printable(text)


def cmd_score(args: argparse.Namespace) -> int:
    from app.photo_io import load_photo
    from app.quality import QualityScorer

    photo = load_photo(args.file)
    for warning in photo.warnings:
        print(_printable(f"warning: {warning}"), file=sys.stderr)
    scorer = QualityScorer(args.metric)
    print(_printable(f"{args.file.name}: {scorer.score(photo.rgb8()).label()}"))
    if args.model is not None:
        return _score_restored(args, photo, scorer)
    if args.faces:
        from app.face_scores import score_face
        from app.faces import create_detector, detect_faces

        rgb = photo.rgb8()
        try:
            faces = detect_faces(create_detector("mtcnn"), rgb)
        except PhotoTooSmallError as exc:
            print(f"  no faces: {exc}")
            return EXIT_OK
        if not faces:
            print("  no faces found")
        for number, face in enumerate(faces, 1):
            print(f"  face {number}: {score_face(scorer, rgb, face.landmarks).label()}")
    return EXIT_OK


def _score_restored(args: argparse.Namespace, photo, scorer) -> int:
    """Scores of the photo restored by `--model`, and with --faces each face before and after (pasted back, as
    the window's face strip measures them)."""
    from app.face_scores import photo_face_scores, restored_face_scores
    from app.pipeline import FaceRestorer

    restorer = FaceRestorer.create(None, "mtcnn", args.device, model=args.model)
    prepared = restorer.prepare(photo)
    faces = restorer.restore_faces(prepared)
    result = faces.photo(prepared)
    print(
        f"restored with {restorer.model_info.name()} ({_settings_text(restorer, result.quality, None)}): "
        f"{scorer.score(result.photo.rgb8()).label()}"
    )
    if args.faces:
        if not prepared.faces:
            print("  no faces found")
        before, after = photo_face_scores(scorer, prepared), restored_face_scores(scorer, prepared, faces.faces)
        for number, (was, now) in enumerate(zip(before, after, strict=True), 1):
            print(f"  face {number}: before {was.label()} · after {now.label()}")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from app.device import describe_device, resolve_device
    from app.paths import install_root
    from app.training.config import load_config

    config_path = args.config or install_root() / "configs" / f"train_{args.stage}.toml"
    # Paths given on the command line are relative to the current folder (those in the config to the project's).
    run_dir = str(Path(args.run_dir).absolute()) if args.run_dir else None
    overrides = {
        "iterations": args.iterations,
        "init_weights": str(Path(args.init_weights).absolute()) if args.init_weights else None,
        "run_dir": run_dir,
        "output_weights": str(Path(run_dir) / "weights.pt") if run_dir else None,
    }
    cfg = load_config(config_path, overrides)
    if cfg.stage != args.stage:
        raise StudioError(f"{config_path} configures stage '{cfg.stage}', not '{args.stage}'.")
    device = resolve_device(args.device)
    print(
        f"Training stage '{args.stage}' on {describe_device(device)} for {cfg.iterations} iterations "
        f"(config {config_path})",
        file=sys.stderr,
    )
    from app.training.stages import run_stage

    weights = run_stage(cfg, device, args.resume, args.max_minutes, not args.no_progress)
    print(f"Weights written to {weights}")
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from app.device import resolve_device
    from app.paths import install_root
    from app.training.config import load_config
    from app.training.evaluate import evaluate, write_report

    cfg = load_config(args.config or install_root() / "configs" / "train_codebook.toml")
    test_root = args.test_data or install_root().parent / "shared" / "data" / "test"
    if args.max_faces is not None and args.max_faces < 1:
        raise StudioError("--max-faces must be at least 1.")
    if args.pairs_per_size is not None and args.pairs_per_size < 0:
        raise StudioError("--pairs-per-size must be 0 (skip) or more.")
    result = evaluate(
        args.weights,
        cfg,
        test_root,
        resolve_device(args.device),
        compare_weights=args.compare_weights,
        contact_sheet_path=args.contact_sheet,
        max_faces=args.max_faces,
        codebook_weights=args.codebook_weights,
        **({} if args.pairs_per_size is None else {"pairs_per_size": args.pairs_per_size}),
    )
    print(write_report(result, args.out))
    print(f"JSON: {args.out} · {result['seconds']:.0f} s", file=sys.stderr)
    return EXIT_OK


def cmd_evaluate_photos(args: argparse.Namespace) -> int:
    from app.paths import install_root
    from app.pipeline import FaceRestorer
    from app.training.evaluate_photos import evaluate_photos, write_photo_report

    if args.size < 64 or (args.max_photos is not None and args.max_photos < 1):
        raise StudioError("--size must be at least 64 and --max-photos at least 1.")
    old_photos = args.old_photos or install_root().parent / "shared/data/test/bopbtl-test_images/old"
    if args.no_old_photos or (args.old_photos is None and not old_photos.is_dir()):
        old_photos = None
    restorer = FaceRestorer.create(args.weights, args.detector, args.device, model=args.model)
    result = evaluate_photos(
        restorer, old_photos, args.size, args.restored, args.contact_sheet, max_photos=args.max_photos
    )
    print(write_photo_report(result, args.out))
    print(f"JSON: {args.out} · {result['seconds']:.0f} s", file=sys.stderr)
    return EXIT_OK


def cmd_prepare_faces(args: argparse.Namespace) -> int:
    from app.training.realign import realign_folder

    if args.limit is not None and args.limit < 1:
        raise StudioError("--limit must be at least 1.")
    progress = _ProgressBar("face", enabled=not args.no_progress)

    try:
        result = realign_folder(args.source, args.destination, args.limit, progress=progress)
    finally:
        progress.close()
    counts = result.counts()
    dropped = ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items()) if reason != "kept") or "none"
    print(
        f"{result.processed} processed, {result.skipped} already done. "
        f"Kept {counts['kept']}; dropped: {dropped}. Manifest: {result.manifest}"
    )
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from app.cli_models import run_models_command

    return run_models_command(args)


def _report_uncaught(message: str) -> None:
    print(_printable(f"error: {message}"), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    setup_logging("iqpfr")
    install_exception_hooks(_report_uncaught)
    args = build_parser().parse_args(argv)
    handler = {
        "restore": cmd_restore,
        "batch": cmd_batch,
        "score": cmd_score,
        "train": cmd_train,
        "evaluate": cmd_evaluate,
        "evaluate-photos": cmd_evaluate_photos,
        "prepare-faces": cmd_prepare_faces,
        "pack-faces": run_pack_faces,
        "train-recipe": run_train_recipe,
        "models": cmd_models,
    }[args.command]
    try:
        return handler(args)
    except (StudioError, ValueError) as exc:
        log.info("iqpfr %s: %s", args.command, exc)
        print(_printable(f"error: {exc}"), file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # a file or folder that cannot be read or written, a full disk...
        log.warning("iqpfr %s failed", args.command, exc_info=True)
        print(_printable(f"error: {failure_message(exc, f'finish iqpfr {args.command}')}"), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
