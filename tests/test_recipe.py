"""The training recipe in one command: faces packed into one file, every stage trained from the pack in order within
a time budget, float16 weights the app runs, and a run that resumes where it stopped. (The recipe runs here with a
tiny model on the CPU; on a GPU it is the same code with configs/recipe_gpu.toml's batch size and processes.)"""

import dataclasses
import json
import os
import tomllib

import numpy as np
import pytest
import torch

from app.cli import main
from app.errors import TrainingSetupError
from app.model import IQPFR, IQPFRConfig, load_checkpoint, save_checkpoint
from app.model.checkpoint import read_weights
from app.paths import install_root
from app.training.config import load_config
from app.training.face_pack import read_pack
from app.training.loop import training_faces
from app.training.recipe import (
    FINAL_WEIGHTS,
    RECIPE_LOG,
    RecipeRun,
    load_recipe,
    seconds_per_step,
    stage_config,
)
from conftest import SHARED_DATA, shared
from test_training import TINY_MODEL

GPU_RECIPE = install_root() / "configs" / "recipe_gpu.toml"
FROM_SCRATCH = install_root() / "configs" / "recipe_gpu_from_scratch.toml"
PACK_SIZE = 64  # the tiny model is 32 px: the pack's faces are resized for it


def _data_config(tmp_path, faces=16):
    """A training config over `faces` FFHQ faces (linked into a folder of their own) with the face-IQA table."""
    source = shared(SHARED_DATA / "train" / "ffhq256")
    folder = tmp_path / "faces" / "ffhq256"
    folder.mkdir(parents=True)
    for name in sorted(os.listdir(source))[:faces]:
        (folder / name).symlink_to(source / name)
    path = tmp_path / "data.toml"
    path.write_text(
        f"""stage = "codebook"
[data]
data_roots = ["{folder}"]
held_out_fraction = 0.2
score_table = "{source.parent / "ffhq256-iqa-scores.csv"}"
score_table_root = "{source}"
cache_dir = "{tmp_path / "cache"}"
"""
    )
    return path


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """(pack, the config it was made from): 16 faces at PACK_SIZE, made through the command line."""
    tmp_path = tmp_path_factory.mktemp("pack")
    config = _data_config(tmp_path)
    pack = tmp_path / "faces.npz"
    assert main(["pack-faces", str(pack), "--config", str(config), "--size", str(PACK_SIZE)]) == 0
    return pack, config


def _psnr(first, second):
    return 10 * np.log10(255**2 / np.mean((first.astype(float) - second.astype(float)) ** 2))


def test_the_pack_holds_what_training_from_the_folders_reads(packed):
    pack_path, config = packed
    cfg = load_config(config)
    folders, held_out = training_faces(cfg, PACK_SIZE)
    pack = read_pack(pack_path)
    assert [p.name for p in pack.train.paths] == [p.name for p in folders.paths]
    assert all(str(p).startswith("ffhq256/") for p in pack.train.paths)
    assert pack.held_out_names == [f"ffhq256/{p.name}" for p in held_out] and held_out
    np.testing.assert_array_equal(pack.train.prior, folders.prior)  # the face-IQA ensemble, as training computes it
    np.testing.assert_array_equal(pack.train.raw, folders.raw)
    for from_pack, from_folder in zip(pack.train.images(PACK_SIZE), folders.images(PACK_SIZE), strict=True):
        assert from_pack.shape == (PACK_SIZE, PACK_SIZE, 3) and _psnr(from_pack, from_folder) > 38  # JPEG q95, 4:4:4
    assert pack.train.images(32)[0].shape == (32, 32, 3)
    assert pack.meta["train_faces"] == len(folders.paths) and pack.meta["held_out_faces"] == len(held_out)

    through_config, held_out_names = training_faces(dataclasses.replace(cfg, pack=str(pack_path)), 32)
    np.testing.assert_array_equal(through_config.prior, folders.prior)
    assert [p.name for p in held_out_names] == [p.name for p in held_out]
    with pytest.raises(TrainingSetupError, match="64-px faces; this model needs 128 px"):
        training_faces(dataclasses.replace(cfg, pack=str(pack_path)), 128)


def test_a_missing_or_damaged_pack_is_refused_with_a_clear_message(packed, tmp_path, capsys):
    with pytest.raises(TrainingSetupError, match="iqpfr pack-faces"):
        read_pack(tmp_path / "none.npz")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(packed[0].read_bytes()[:5000])
    with pytest.raises(TrainingSetupError, match="not a usable face pack"):
        read_pack(damaged)
    args = ["train-recipe", "--pack", str(damaged), "--out", str(tmp_path / "out"), "--device", "cpu"]
    assert main(args) == 1
    assert "not a usable face pack" in capsys.readouterr().err and not (tmp_path / "out").exists()


def _tiny_recipe(tmp_path, stages=None):
    """configs/recipe_gpu_from_scratch.toml with the tiny model for Stage I (optionally only its first `stages`
    stages)."""
    text = FROM_SCRATCH.read_text()
    second = text.index("[[stages]]", text.index("[[stages]]") + 1)
    text = text[:second] + TINY_MODEL.replace("[model]", "[stages.model]") + "\n" + text[second:]
    if stages is not None:
        parts = text.split("[[stages]]")
        text = "[[stages]]".join(parts[: stages + 1])
    path = tmp_path / "recipe.toml"
    path.write_text(text)
    recipe = load_recipe(path)
    assert recipe.stages[0].model["image_size"] == 32
    return path


def _tiny_start_weights(path):
    """A Stage II model as the recipe starts from (quality fusion, no input gate), at the tiny size: untrained, but
    a fine-tune runs on it as on part D."""
    torch.manual_seed(0)
    tiny = tomllib.loads(TINY_MODEL)["model"]
    cfg = IQPFRConfig.from_dict({**IQPFRConfig().to_dict(), **tiny, "quality_fusion": True})
    return save_checkpoint(IQPFR(cfg), path, trained=True, metadata={"stage": "II"})


def _needs_the_face_network():
    from app.faces.identity import default_weights_path

    if not default_weights_path().is_file():
        pytest.skip(f"no converted face-api weights at {default_weights_path()} (scripts/convert_face_api.py)")


@pytest.mark.slow
def test_the_recipe_trains_from_a_pack_and_writes_float16_weights_the_app_runs(packed, tmp_path, blake_photo_path):
    """configs/recipe_gpu.toml as the GPU runs it (scripts/gpu_recipe.sh), from tiny start weights: pack → every
    stage → float16 weights → a face restored by the app from them."""
    from app.photo_io import load_photo
    from app.pipeline import FaceRestorer

    _needs_the_face_network()
    out = tmp_path / "recipe"
    start = _tiny_start_weights(tmp_path / "start.pt")
    args = ["train-recipe", "--init", str(start), "--pack", str(packed[0]), "--out", str(out), "--device", "cpu"]
    args += ["--steps", "2", "--batch-size", "2", "--num-workers", "0", "--quick-faces", "3"]
    assert main([*args, "--minutes", "30", "--no-progress"]) == 0

    record = json.loads((out / RECIPE_LOG).read_text())
    names = [stage.name for stage in load_recipe(GPU_RECIPE).stages]
    assert [s["name"] for s in record["stages"]] == names == ["faithful", "faithful-identity", "faithful-gentle"]
    assert all(s["status"] == "done" and s["iterations"] == 2 and s["samples"] == 4 for s in record["stages"])
    assert np.isfinite(record["stages"][-1]["last"]["identity"])  # the face network's loss trained the last stage
    assert record["pack"]["train_faces"] == read_pack(packed[0]).meta["train_faces"]
    assert record["export"]["float16_vs_float32"]["same_codes"] > 0.9
    rows = record["quick_figures"]["rows"]
    assert {"degraded input", "classical baseline", f"{FINAL_WEIGHTS}, default settings"} <= set(rows)
    assert all(np.isfinite(row["psnr"]) and 0 < row["ssim"] <= 1 for row in rows.values())

    final = out / FINAL_WEIGHTS
    stored = read_weights(final)["state_dict"]
    assert all(t.dtype == torch.float16 for t in stored.values() if t.is_floating_point())
    assert final.stat().st_size < 0.6 * (out / names[-1] / "weights.pt").stat().st_size
    model, info = load_checkpoint(final)
    full, _ = load_checkpoint(out / names[-1] / "weights.pt")
    for (name, value), reference in zip(model.state_dict().items(), full.state_dict().values(), strict=True):
        assert value.dtype == reference.dtype, name  # float16 on disk, float32 in the app
        assert torch.equal(value, reference.half().to(reference.dtype) if value.is_floating_point() else reference)
    # each stage fine-tuned the one before, from the start weights: the gate of part F, then its bands
    assert info.trained and info.metadata["finetune_iterations"] == [2, 2, 2]
    assert model.cfg.input_gate and model.cfg.input_gate_bands == (1.0, 3.0) and model.cfg.image_size == 32
    assert [s["name"] for s in info.metadata["recipe"]["stages"]] == names

    restorer = FaceRestorer.create(str(final), device="cpu")
    assert restorer.face_size == 32
    restored = restorer.restore(load_photo(blake_photo_path), 0.9)
    assert restored.restored_faces and restored.restored_faces[0].shape == (32, 32, 3)

    assert main([*args, "--no-progress"]) == 1  # the folder holds a run: only --resume may go on with it


def test_missing_start_weights_are_refused_before_anything_is_written(packed, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["train-recipe", "--init", str(tmp_path / "none.pt"), "--pack", str(packed[0]), "--out", str(out)]
    assert main([*args, "--device", "cpu"]) == 1
    assert "neither an earlier stage nor a weights file" in capsys.readouterr().err and not out.exists()


@pytest.mark.slow
def test_the_shipped_model_in_float16_restores_as_in_float32(tmp_path, blake_photo_path):
    """The app's own model stored in float16 (as the recipe writes its weights): under 16 MiB, and the app's
    restored face differs from the float32 file's only by float16 rounding."""
    from app.model.default_model import DEFAULT_WEIGHTS_FILE
    from app.paths import find_model_file
    from app.photo_io import load_photo
    from app.pipeline import FaceRestorer
    from app.training.recipe import float16_copy

    shipped = find_model_file(DEFAULT_WEIGHTS_FILE)
    half = float16_copy(shipped, tmp_path / "half.pt")
    assert half.stat().st_size < 16 * 2**20 < shipped.stat().st_size
    photo = load_photo(blake_photo_path)
    faces = [
        FaceRestorer.create(str(weights), device="cpu").restore(photo, 0.9).restored_faces[0].astype(float)
        for weights in (shipped, half)
    ]
    difference = np.abs(faces[0] - faces[1])  # measured: mean 0.009, largest 1 (of 255)
    assert difference.mean() < 0.1 and difference.max() <= 4, (difference.mean(), difference.max())


@pytest.mark.slow
def test_an_interrupted_recipe_resumes_where_it_stopped_and_keeps_to_its_time_budget(packed, tmp_path, monkeypatch):
    import app.training.recipe as recipe_module

    recipe = load_recipe(_tiny_recipe(tmp_path, stages=3))  # codebook, transformer, finetune
    out = tmp_path / "recipe"
    settings = {"iterations": 2, "batch_size": 2, "num_workers": 0, "log_every": 1}
    ran = []
    real_run_stage = recipe_module.run_stage

    def interrupted_in_the_transformer_stage(cfg, device, resume, minutes, show_progress):
        ran.append(os.path.basename(cfg.run_dir))
        if ran[-1] == "transformer":  # one of its two steps, then a kill
            real_run_stage(dataclasses.replace(cfg, iterations=1), device, resume, minutes, show_progress)
            raise KeyboardInterrupt
        return real_run_stage(cfg, device, resume, minutes, show_progress)

    monkeypatch.setattr(recipe_module, "run_stage", interrupted_in_the_transformer_stage)
    with pytest.raises(KeyboardInterrupt):
        RecipeRun(recipe, packed[0], out, torch.device("cpu"), overrides=settings, show_progress=False).run()
    record = json.loads((out / RECIPE_LOG).read_text())
    assert [s["status"] for s in record["stages"]] == ["done", "running", "to do"]
    with pytest.raises(TrainingSetupError, match="already holds files of a recipe run"):
        RecipeRun(recipe, packed[0], out, torch.device("cpu"), overrides=settings).run()

    ran.clear()

    def recorded(cfg, *rest):
        ran.append(os.path.basename(cfg.run_dir))
        return real_run_stage(cfg, *rest)

    monkeypatch.setattr(recipe_module, "run_stage", recorded)
    budget = {**settings, "iterations": 200}  # a budget of 0.3 s: each stage stops after its first steps
    resumed = RecipeRun(recipe, packed[0], out, torch.device("cpu"), 0.005, True, budget, show_progress=False).run()
    assert ran == ["transformer", "finetune"]  # Stage I was done
    steps = [json.loads(line)["iteration"] for line in (out / "transformer" / "log.jsonl").read_text().splitlines()]
    assert steps[:2] == [1, 2]  # went on from its checkpoint at step 1, not from the start
    assert all(s["status"] == "done" and s["iterations"] < 200 for s in resumed["stages"])
    assert resumed["runs"] == 2 and resumed["stages"][0]["iterations"] == 2
    assert resumed["quick_figures"] == {"skipped": "the time budget was spent"}
    assert (out / FINAL_WEIGHTS).is_file()

    other = dataclasses.replace(recipe, stages=recipe.stages[:2])
    with pytest.raises(TrainingSetupError, match="another recipe"):
        RecipeRun(other, packed[0], out, torch.device("cpu"), resume=True).run()


def test_recipe_files_are_checked_before_anything_runs(tmp_path):
    for recipe in (load_recipe(GPU_RECIPE), load_recipe(FROM_SCRATCH)):
        assert sum(stage.share for stage in recipe.stages) <= 1 and recipe.train["precision"] == "bf16"
    cases = {
        "unknown settings \\['minute'\\]": 'minute = 3\n[[stages]]\nname = "a"\nconfig = "c"\nshare = 0.5\n',
        "not an earlier stage": '[[stages]]\nname = "a"\nconfig = "c"\nshare = 0.5\ninit = "b"\n'
        '[[stages]]\nname = "b"\nconfig = "c"\nshare = 0.4\n',
        "add up to more than 1": '[[stages]]\nname = "a"\nconfig = "c"\nshare = 0.6\n'
        '[[stages]]\nname = "b"\nconfig = "c"\nshare = 0.6\n',
        "cannot be set": '[train]\ndata_roots = ["x"]\n[[stages]]\nname = "a"\nconfig = "c"\nshare = 0.5\n',
        "not letters": '[[stages]]\nname = "a/b"\nconfig = "c"\nshare = 0.5\n',
        "no \\[\\[stages\\]\\]": "quick_faces = 2\n",
    }
    for message, text in cases.items():
        path = tmp_path / "recipe.toml"
        path.write_text(text)
        with pytest.raises(TrainingSetupError, match=message):
            load_recipe(path)


def test_a_stage_loss_setting_no_stage_reads_is_refused_naming_the_recipe_and_stage(tmp_path):
    recipe = load_recipe(GPU_RECIPE)
    stage = recipe.stages[0]
    assert stage_config(recipe, stage, tmp_path / "pack.npz", tmp_path, {}).loss  # as shipped: loads
    typo = dataclasses.replace(stage, loss={**stage.loss, "adverserial": 0.1})
    with pytest.raises(TrainingSetupError, match=rf"recipe_gpu\.toml, stage '{stage.name}'.*\[loss\] 'adverserial'"):
        stage_config(recipe, typo, tmp_path / "pack.npz", tmp_path, {})


def test_the_steady_pace_leaves_out_each_runs_start_up():
    records = [
        {"iteration": 1, "seconds": 9.0},  # start-up: loading, first batches
        {"iteration": 3, "seconds": 10.0},
        {"iteration": 5, "seconds": 11.0},
        {"iteration": 6, "seconds": 7.0},  # a resumed run's first record
        {"iteration": 8, "seconds": 8.0},
    ]
    assert seconds_per_step(records) == pytest.approx(3.0 / 6)
    assert seconds_per_step(records[:1]) is None
