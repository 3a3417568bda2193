"""`iqpfr pack-faces` and `iqpfr train-recipe`: training faces in one file, and the whole recipe in one command."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from app.errors import StudioError

DEFAULT_PACK = Path("runs/pack/faces128.npz")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 0, not {text!r}")
    return value


def add_training_parsers(commands) -> None:
    from app.training.config import DEFAULT_PACK_JPEG_QUALITY

    pack = commands.add_parser(
        "pack-faces",
        help="pack a config's training faces, their quality priors and the held-out faces into one file",
        description="The training split of a config's data folders at the model size, with the quality priors "
        "training computes and the held-out faces, in one .npz (JPEG faces) for `iqpfr train-recipe` or a config's "
        "`pack`. The faces are non-commercial research data: keep the pack in an ignored folder such as runs/.",
    )
    pack.add_argument("out", type=Path, nargs="?", default=DEFAULT_PACK, help="the pack (default %(default)s)")
    pack.add_argument(
        "--config", type=Path, help="config naming the data and the split (default: configs/train_codebook.toml)"
    )
    pack.add_argument("--size", type=_positive, default=128, help="face size in pixels (default %(default)s)")
    pack.add_argument(
        "--jpeg-quality", type=_positive, default=DEFAULT_PACK_JPEG_QUALITY, help="1-100 (default %(default)s)"
    )

    recipe = commands.add_parser(
        "train-recipe",
        help="train every stage of a recipe in order from a face pack, within a time budget (GPU)",
        description="Runs the recipe's stages in order, each from the previous one's weights and cut by its share "
        "of --minutes, and writes the last stage's weights as a float16 file and recipe_log.json in OUT.",
    )
    recipe.add_argument("--pack", type=Path, default=DEFAULT_PACK, help="face pack (default %(default)s)")
    recipe.add_argument("--recipe", type=Path, help="recipe file (default: configs/recipe_gpu.toml)")
    recipe.add_argument("--init", type=Path, help="weights the first stage starts from (default: the recipe's)")
    recipe.add_argument("--out", type=Path, default=Path("runs/recipe"), help="output folder (default %(default)s)")
    recipe.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    recipe.add_argument("--minutes", type=float, help="wall-time budget for the whole recipe (default: none)")
    recipe.add_argument("--resume", action="store_true", help="continue the stages OUT's run has not finished")
    recipe.add_argument("--steps", type=_positive, help="at most this many steps per stage (quick checks)")
    recipe.add_argument("--batch-size", type=_positive, help="override the recipe's batch size")
    recipe.add_argument("--num-workers", type=_count, help="override the recipe's data-loading processes")
    recipe.add_argument(
        "--quick-faces", type=_count, help="held-out faces measured at the end (default: the recipe's; 0 to skip)"
    )
    recipe.add_argument("--no-progress", action="store_true")


def run_pack_faces(args: argparse.Namespace) -> int:
    from app.paths import install_root
    from app.training.config import load_config
    from app.training.recipe import make_pack

    if args.jpeg_quality > 100:
        raise StudioError("--jpeg-quality must be 1 to 100.")
    cfg = load_config(args.config or install_root() / "configs" / "train_codebook.toml")
    pack = make_pack(cfg, args.out, args.size, args.jpeg_quality)
    size_mib = args.out.stat().st_size / 2**20
    print(
        f"Packed {len(pack.train.paths)} training faces and {len(pack.held_out)} held-out faces at {args.size} px "
        f"({pack.meta['encoding']}; prior: {pack.meta['prior']}): {size_mib:.1f} MiB → {args.out}"
    )
    return 0


def run_train_recipe(args: argparse.Namespace) -> int:
    from app.device import resolve_device
    from app.paths import install_root
    from app.training.recipe import FINAL_WEIGHTS, RecipeRun, load_recipe, with_start_weights

    recipe = load_recipe(args.recipe or install_root() / "configs" / "recipe_gpu.toml")
    if args.init is not None:
        recipe = with_start_weights(recipe, args.init)
    if args.quick_faces is not None:
        recipe = dataclasses.replace(recipe, quick_faces=args.quick_faces)
    overrides = {"iterations": args.steps, "batch_size": args.batch_size, "num_workers": args.num_workers}
    run = RecipeRun(
        recipe,
        args.pack,
        args.out,
        resolve_device(args.device),
        args.minutes,
        args.resume,
        overrides,
        show_progress=not args.no_progress,
    )
    record = run.run()
    for stage in record["stages"]:
        pace = stage.get("seconds_per_step")
        steps = f"{stage.get('iterations', 0)} steps × {stage.get('batch_size')}"
        print(
            f"{stage['name']}: {steps} in {stage.get('seconds')} s" + (f" ({pace:.3f} s per step)" if pace else ""),
            file=sys.stderr,
        )
    if "quick_figures" in record:
        print(json.dumps(record["quick_figures"], indent=1), file=sys.stderr)
    print(f"Weights: {args.out / FINAL_WEIGHTS} · log: {run.log_path}")
    return 0
