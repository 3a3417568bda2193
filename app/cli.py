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
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("quality must be between 0 and 1")
    return value


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quality", type=_quality, default=DEFAULT_QUALITY,
                        help="target quality score 0..1 that conditions the Transformer (default %(default)s)")
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
    evaluate.add_argument("--out", type=Path, default=Path("runs/evaluation.json"))
    evaluate.add_argument("--device", default="auto")
    return parser


def _make_restorer(args: argparse.Namespace):
    from app.pipeline import FaceRestorer

    restorer = FaceRestorer.create(args.weights, args.detector, args.device)
    if not restorer.model_info.trained or restorer.model_info.note:
        print(f"warning: {restorer.model_info.describe()}", file=sys.stderr)
    return restorer


def cmd_restore(args: argparse.Namespace) -> int:
    from app.photo_io import load_photo, save_photo

    if args.output.exists() and args.output.resolve() == args.input.resolve():
        raise StudioError("OUT is the input file; originals are never overwritten. Choose another name.")
    photo = load_photo(args.input)
    restored = _make_restorer(args).restore(photo, args.quality)
    if not restored.restored_faces:
        print(f"No faces found in '{args.input.name}'; nothing written.", file=sys.stderr)
        return EXIT_NO_FACES
    save_photo(restored.photo, args.output, overwrite=args.overwrite)
    for note in restored.photo.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"Restored {len(restored.restored_faces)} face(s) at quality {args.quality:.2f} → {args.output}")
    return EXIT_OK


def cmd_batch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app.batch import FAILED, REPORT_NAME, run_batch

    restorer = _make_restorer(args)
    bar = None

    def progress(done: int, total: int, path: Path) -> None:
        nonlocal bar
        if args.no_progress:
            return
        if bar is None:
            bar = tqdm(total=total, unit="photo", file=sys.stderr)
        bar.n = done
        bar.set_postfix_str(path.name if done < total else "done")
        bar.refresh()

    report = run_batch(restorer, args.input_dir, args.output_dir, args.quality, args.overwrite, progress)
    if bar is not None:
        bar.close()
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
    result = evaluate(args.weights, cfg, test_root, resolve_device(args.device))
    print(write_report(result, args.out))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s: %(message)s")
    args = build_parser().parse_args(argv)
    handler = {"restore": cmd_restore, "batch": cmd_batch, "score": cmd_score, "train": cmd_train,
               "evaluate": cmd_evaluate}[args.command]
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
