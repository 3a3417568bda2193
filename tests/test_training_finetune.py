"""Stage II fine-tuning (soft low-quality targets, PatchGAN) and the training skeleton: stage table,
saved run config, resumable random streams, safe state loading, clear setup errors."""

import json
import random

import numpy as np
import pytest
import torch

from app.cli import main
from app.errors import TrainingSetupError
from app.model import load_checkpoint
from app.training.adversarial import PatchDiscriminator, adaptive_weight, diff_augment
from app.training.config import STAGE_NAMES, load_config
from app.training.data import FaceDataset, SoftTargetConfig, list_faces, score_faces
from app.training.loop import load_state, make_loader, save_state
from app.training.objectives import stage_one_encoder
from conftest import SHARED_DATA, CodeInPickle, shared
from test_training import TINY_MODEL, _config


def _high_frequency(image: torch.Tensor) -> float:
    return float((image[..., 1:, :] - image[..., :-1, :]).abs().mean())


def test_soft_targets_are_blurred_and_get_their_measured_lower_prior(tmp_path):
    paths = list_faces([shared(SHARED_DATA / "train" / "celebahq")])[:12]
    faces = score_faces(paths, 64, tmp_path)
    faces.prior[:] = np.linspace(0.5, 0.95, len(paths)).astype(np.float32)
    sharp = FaceDataset(faces, 64, seed=3, flip=False)
    soft = FaceDataset(faces, 64, seed=3, flip=False, soft_targets=SoftTargetConfig(probability=1.0))
    for index in range(len(paths)):
        item, softened = sharp[index], soft[index]
        assert softened["soft"] and not item["soft"]
        assert _high_frequency(softened["clean"]) < 0.8 * _high_frequency(item["clean"])
        assert float(softened["prior"]) <= float(item["prior"])
    mean_drop = np.mean([float(sharp[i]["prior"]) - float(soft[i]["prior"]) for i in range(len(paths))])
    assert mean_drop > 0.2


def test_diff_augment_keeps_shape_and_gradient_and_varies_per_image():
    images = torch.rand(4, 3, 32, 32, requires_grad=True)
    augmented = diff_augment(images, torch.Generator().manual_seed(0))
    assert augmented.shape == images.shape
    augmented.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    same = diff_augment(images.detach()[:1].repeat(4, 1, 1, 1), torch.Generator().manual_seed(1))
    assert not torch.allclose(same[0], same[1])


def test_adaptive_weight_balances_the_gradient_norms():
    layer = torch.nn.Linear(3, 3)
    x = torch.randn(5, 3)
    out = layer(x)
    reconstruction, adversarial = (out**2).mean(), 10 * out.mean()
    grad_r = torch.autograd.grad(reconstruction, layer.weight, retain_graph=True)[0]
    grad_a = torch.autograd.grad(adversarial, layer.weight, retain_graph=True)[0]
    expected = 0.1 * min(float(grad_r.norm() / (grad_a.norm() + 1e-4)), 1.0)
    assert float(adaptive_weight(reconstruction, adversarial, layer.weight, 0.1)) == pytest.approx(expected, rel=1e-5)
    assert PatchDiscriminator()(torch.zeros(2, 3, 64, 64)).shape[:2] == (2, 1)


def test_finetune_uses_stage_one_targets_soft_targets_and_the_adversary_and_resumes(tmp_path):
    codebook_cfg = _config(tmp_path, "codebook", extra=TINY_MODEL, iterations=2)
    assert main(["train", "codebook", "--config", str(codebook_cfg), "--no-progress"]) == 0
    stage_one = tmp_path / "codebook" / "weights.pt"
    init = f'init_weights = "{stage_one}"'
    assert (
        main(
            [
                "train",
                "transformer",
                "--config",
                str(_config(tmp_path, "transformer", extra_train=init, iterations=1)),
                "--no-progress",
            ]
        )
        == 0
    )
    (tmp_path / "transformer").rename(tmp_path / "stage2")
    stage_two = tmp_path / "stage2" / "weights.pt"
    finetune = (
        f'init_weights = "{stage_two}"\ncodebook_weights = "{stage_one}"',
        "[loss]\nsoft_targets = 1.0\nadversarial = 0.1\nadversarial_start = 1\n",
    )
    cfg_path = _config(tmp_path, "transformer", extra_train=finetune[0], extra=finetune[1], iterations=3)
    assert main(["train", "transformer", "--config", str(cfg_path), "--no-progress"]) == 0
    log = [json.loads(line) for line in (tmp_path / "transformer" / "log.jsonl").read_text().splitlines()]
    assert "d_loss" in log[0] and "g_adv" not in log[0]  # the discriminator trains alone first
    assert all("g_adv" in record and record["adv_weight"] > 0 for record in log[1:])
    state = torch.load(tmp_path / "transformer" / "last.pt", weights_only=True)
    assert "discriminator" in state["modules"] and "discriminator_optimizer" in state["extra"]
    saved = json.loads((tmp_path / "transformer" / "config.json").read_text())
    assert saved["codebook_weights"] == str(stage_one) and saved["loss"]["adversarial"] == 0.1

    cfg = load_config(cfg_path)
    model, _ = load_checkpoint(stage_two)
    targets = stage_one_encoder(cfg, model, torch.device("cpu"))
    stage_one_model, _ = load_checkpoint(stage_one)
    for mine, reference in zip(
        targets.state_dict().values(), stage_one_model.encoder.state_dict().values(), strict=True
    ):
        assert torch.equal(mine, reference)

    resumed = _config(tmp_path, "transformer", extra_train=finetune[0], extra=finetune[1], iterations=4)
    assert main(["train", "transformer", "--config", str(resumed), "--resume", "--no-progress"]) == 0
    log = [json.loads(line) for line in (tmp_path / "transformer" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["iteration"] == 4 and "g_adv" in log[-1]


class _Shuffled(torch.utils.data.Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, index):
        return index


def test_resume_state_restores_every_random_stream(tmp_path):
    module, optimizer = torch.nn.Linear(2, 2), None
    optimizer = torch.optim.Adam(module.parameters())
    cfg = load_config(_config(tmp_path, "codebook", extra=TINY_MODEL))
    loader = make_loader(_Shuffled(), cfg)
    next(iter(loader))
    save_state(tmp_path / "run", 7, {"model": module}, optimizer, loader=loader)

    def draws():
        return (
            torch.rand(3).tolist(),
            np.random.rand(3).tolist(),
            [random.random() for _ in range(3)],
            [int(i) for batch in loader for i in batch],
        )

    expected = draws()
    fresh_loader = make_loader(_Shuffled(), cfg)
    iteration, _ = load_state(tmp_path / "run", {"model": module}, optimizer, fresh_loader)
    loader = fresh_loader
    assert iteration == 7 and draws() == expected


def test_a_state_file_with_pickled_code_is_refused_without_running_it(tmp_path):
    (tmp_path / "run").mkdir()
    torch.save({"iteration": 1, "modules": CodeInPickle()}, tmp_path / "run" / "last.pt")
    module = torch.nn.Linear(2, 2)
    with pytest.raises(TrainingSetupError, match="Cannot resume"):
        load_state(tmp_path / "run", {"model": module}, torch.optim.Adam(module.parameters()))
    assert not CodeInPickle.ran


def test_missing_config_or_data_gives_a_clear_message(tmp_path, capsys):
    assert main(["train", "codebook", "--config", str(tmp_path / "nowhere.toml")]) == 1
    assert "does not exist" in capsys.readouterr().err
    path = tmp_path / "empty.toml"
    path.write_text(
        f'stage = "codebook"\n[data]\ndata_roots = ["{tmp_path / "no-faces-here"}"]\n'
        f'[train]\nrun_dir = "{tmp_path / "run"}"\niterations = 1\n' + TINY_MODEL
    )
    assert main(["train", "codebook", "--config", str(path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "None of the training data folders exists" in err and "Traceback" not in err


def test_the_stage_table_names_every_stage_in_order():
    from app.training.stages import STAGES

    assert tuple(STAGES) == STAGE_NAMES == ("codebook", "transformer", "quality")
