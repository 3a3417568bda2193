"""Command line: `iqpfr restore`, `iqpfr batch`, `iqpfr score`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from app import __version__
from app.errors import StudioError
from app.faces import DETECTOR_NAMES
from app.pipeline import DEFAULT_QUALITY

EXIT_OK, EXIT_ERROR, EXIT_NO_FACES = 0, 1, 3
TRAIN_STAGES = ("codebook", "transformer", "quality")


def _quality(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"quality must be a number between 0 and 1, not {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("quality must be between 0 and 1")
    return value


def _fidelity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # NaN too
        raise argparse.ArgumentTypeError(f"fidelity must be a number between 0 (more restoration) and "
                                         f"1 (closer to the original), not {text!r}")
    return value


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quality", type=_quality, default=DEFAULT_QUALITY,
                        help="target quality score 0..1 that conditions the Transformer (default %(default)s)")
    parser.add_argument("--fidelity", type=_fidelity, default=None, metavar="W",
                        help="0..1: 0 = more restoration (codebook only), 1 = closer to the original "
                             "(keeps its structure and identity); default: the model's stored default")
    parser.add_argument("--weights", help="IQPFR weights file (default: the installed default model)")
    parser.add_argument("--detector", choices=DETECTOR_NAMES, default="mtcnn", help="face detector")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs (never the inputs)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iqpfr", description="IQPFR Studio face restoration")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    restore = commands.add_parser("restore", help="restore the faces in one photo")
    restore.add_argument("input", type=Path)
    restore.add_argument("output", type=Path)
    _add_model_options(restore)

    batch = commands.add_parser("batch", help="restore every photo in a folder")
    batch.add_argument("input_dir", type=Path)
    batch.add_argument("output_dir", type=Path)
    batch.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_model_options(batch)

    score = commands.add_parser("score", help="no-reference quality score of a photo")
    score.add_argument("file", type=Path)
    score.add_argument("--metric", default="piqe", help="pyiqa NR metric (default piqe, needs no weights)")
    score.add_argument("--faces", action="store_true", help="also score each detected, aligned face")

    train = commands.add_parser("train", help="train one IQPFR stage (codebook → transformer → quality)")
    train.add_argument("stage", choices=TRAIN_STAGES)
    train.add_argument("--config", type=Path, help="TOML config (default: configs/train_STAGE.toml)")
    train.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    train.add_argument("--resume", action="store_true", help="continue from the run folder's last.pt")
    train.add_argument("--iterations", type=int, help="override the config's iteration count")
    train.add_argument("--max-minutes", type=float, help="stop (and save) after this much wall time")
    train.add_argument("--no-progress", action="store_true")

    evaluate = commands.add_parser("evaluate", help="measure a weights file (numbers for the model card)")
    evaluate.add_argument("--weights", type=Path, required=True)
    evaluate.add_argument("--config", type=Path, help="config naming the data and held-out split "
                                                       "(default: configs/train_codebook.toml)")
    evaluate.add_argument("--test-data", type=Path, help="folder of real degraded faces "
                                                          "(default: ../shared/data/test)")
    evaluate.add_argument("--out", type=Path, default=Path("runs/evaluation/evaluation.json"),
                          help="JSON results (default %(default)s)")
    evaluate.add_argument("--compare-weights", type=Path,
                          help="also measure this weights file, labelled 'previous shipped model' "
                               "(e.g. runs/previous_default.pt from `git show HEAD:models/iqpfr_default.pt`)")
    evaluate.add_argument("--contact-sheet", type=Path, default=Path("runs/evaluation/contact_sheet.png"),
                          help="PNG of inputs and outputs side by side (default %(default)s)")
    evaluate.add_argument("--max-faces", type=int,
                          help="measure at most this many faces per set, spread evenly (quick checks)")
    evaluate.add_argument("--device", default="auto")

    prepare = commands.add_parser("prepare-faces", help="re-align a folder of face chips to the FFHQ template "
                                                        "(256 px PNGs + manifest.json, resumable)")
    prepare.add_argument("source", type=Path)
    prepare.add_argument("destination", type=Path)
    prepare.add_argument("--limit", type=int, help="only the first N images (by name)")
    prepare.add_argument("--no-progress", action="store_true")
    return parser


def _make_restorer(args: argparse.Namespace):
    from app.pipeline import FaceRestorer

    restorer = FaceRestorer.create(args.weights, args.detector, args.device)
    if not restorer.model_info.trained or restorer.model_info.note:
        print(f"warning: {restorer.model_info.describe()}", file=sys.stderr)
    if args.fidelity is not None and not restorer.has_fidelity:
        print("note: this model has no fidelity path (older weights format); --fidelity is ignored",
              file=sys.stderr)
    return restorer


def _settings_text(restorer, quality: float, fidelity: float | None) -> str:
    """'quality 0.90, fidelity 0.50 (the model's default)' — what the restoration ran with."""
    if not restorer.has_fidelity:
        return f"quality {quality:.2f} (this model has no fidelity control)"
    if fidelity is None:
        return f"quality {quality:.2f}, fidelity {restorer.default_fidelity:.2f} (the model's default)"
    return f"quality {quality:.2f}, fidelity {fidelity:.2f}"


def cmd_restore(args: argparse.Namespace) -> int:
    from app.photo_io import load_photo, save_photo

    if args.output.exists() and args.output.resolve() == args.input.resolve():
        raise StudioError("OUT is the input file; originals are never overwritten. Choose another name.")
    photo = load_photo(args.input)
    restorer = _make_restorer(args)
    restored = restorer.restore(photo, args.quality, args.fidelity)
    if not restored.restored_faces:
        print(f"No faces found in '{args.input.name}'; nothing written.", file=sys.stderr)
        return EXIT_NO_FACES
    save_photo(restored.photo, args.output, overwrite=args.overwrite)
    for note in restored.photo.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"Restored {len(restored.restored_faces)} face(s) at "
          f"{_settings_text(restorer, args.quality, args.fidelity)} → {args.output}")
    return EXIT_OK


class _ProgressBar:
    """A `progress(done, total, path)` callback drawing a tqdm bar on stderr, made on first use."""

    def __init__(self, unit: str, enabled: bool = True) -> None:
        self.unit, self.enabled, self.bar = unit, enabled, None

    def __call__(self, done: int, total: int, path: Path) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=self.unit, file=sys.stderr)
        self.bar.n = done
        self.bar.set_postfix_str(path.name if done < total else "done")
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_batch(args: argparse.Namespace) -> int:
    from app.batch import FAILED, REPORT_NAME, run_batch

    restorer = _make_restorer(args)
    progress = _ProgressBar("photo", enabled=not args.no_progress)

    print(f"Restoring at {_settings_text(restorer, args.quality, args.fidelity)}", file=sys.stderr)
    report = run_batch(restorer, args.input_dir, args.output_dir, args.quality, args.overwrite, progress,
                       fidelity=args.fidelity)
    progress.close()
    for item in report.items:
        if item.status == FAILED:
            print(f"skipped {item.source}: {item.message}", file=sys.stderr)
    print(f"{report.summary()}. Report: {Path(args.output_dir) / REPORT_NAME}")
    return EXIT_OK


def cmd_score(args: argparse.Namespace) -> int:
    from app.photo_io import load_photo
    from app.quality import QualityScorer

    photo = load_photo(args.file)
    scorer = QualityScorer(args.metric)
    print(f"{args.file.name}: {scorer.score(photo.rgb8()).label()}")
    if args.faces:
        from app.faces import align_face, create_detector, detect_faces

        rgb = photo.rgb8()
        faces = detect_faces(create_detector("mtcnn"), rgb)
        if not faces:
            print("  no faces found")
        for number, face in enumerate(faces, 1):
            crop = align_face(rgb, face.landmarks, 256).image
            print(f"  face {number}: {scorer.score(crop).label()}")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    import importlib

    from app.device import describe_device, resolve_device
    from app.paths import install_root
    from app.training.config import load_config

    config_path = args.config or install_root() / "configs" / f"train_{args.stage}.toml"
    cfg = load_config(config_path, {"iterations": args.iterations})
    if cfg.stage != args.stage:
        raise StudioError(f"{config_path} configures stage '{cfg.stage}', not '{args.stage}'.")
    device = resolve_device(args.device)
    print(f"Training stage '{args.stage}' on {describe_device(device)} for {cfg.iterations} iterations "
          f"(config {config_path})", file=sys.stderr)
    module = importlib.import_module(f"app.training.stage_{args.stage}")
    weights = getattr(module, f"train_{args.stage}")(cfg, device, args.resume, args.max_minutes,
                                                     not args.no_progress)
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
    result = evaluate(args.weights, cfg, test_root, resolve_device(args.device), compare_weights=args.compare_weights,
                      contact_sheet_path=args.contact_sheet, max_faces=args.max_faces)
    print(write_report(result, args.out))
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
    print(f"{result.processed} processed, {result.skipped} already done. "
          f"Kept {counts['kept']}; dropped: {dropped}. Manifest: {result.manifest}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s: %(message)s")
    args = build_parser().parse_args(argv)
    handler = {"restore": cmd_restore, "batch": cmd_batch, "score": cmd_score, "train": cmd_train,
               "evaluate": cmd_evaluate, "prepare-faces": cmd_prepare_faces}[args.command]
    try:
        return handler(args)
    except (StudioError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
