"""Training code on a tiny model and a few real faces: runs, resumes, and touches only what each stage may."""

import json

import cv2
import numpy as np
import pytest
import torch

from app.cli import main
from app.errors import TrainingSetupError
from app.model import load_checkpoint
from app.training.config import load_config
from app.training.data import (
    FaceDataset,
    ScoredFaces,
    ensemble_prior,
    is_held_out,
    list_faces,
    load_face,
    quantile_map,
    read_score_table,
    score_faces,
    split,
)
from app.training.degradation import DegradationConfig, PhotometricConfig, degrade, faded_sepia, photometric, to_grey
from conftest import SHARED_DATA, shared

TINY_MODEL = """
[model]
image_size = 32
base_channels = 16
channel_multipliers = [1, 2]
embed_dim = 16
common_codebook_size = 32
hq_codebook_size = 16
transformer_layers = 1
transformer_dim = 32
transformer_heads = 4
hq_score_threshold = 0.5
fidelity_scales = [32]
fsq_levels = [4, 3, 3]
"""


def _config(tmp_path, stage, extra_train="", extra="", iterations=3):
    data_root = shared(SHARED_DATA / "train" / "celebahq")
    text = f"""
stage = "{stage}"
[data]
data_roots = ["{data_root}"]
held_out_fraction = 0.2
cache_dir = "{tmp_path / "cache"}"
[train]
run_dir = "{tmp_path / stage}"
output_weights = "{tmp_path / stage / "weights.pt"}"
iterations = {iterations}
batch_size = 4
learning_rate = 1e-3
log_every = 1
checkpoint_every = 2
{extra_train}
{extra}
"""
    path = tmp_path / f"{stage}.toml"
    path.write_text(text)
    return path


def test_degradation_is_deterministic_and_destroys_detail():
    face = (np.random.default_rng(0).random((128, 128, 3)) * 255).astype(np.uint8)
    first = degrade(face, np.random.default_rng(7))
    second = degrade(face, np.random.default_rng(7))
    other = degrade(face, np.random.default_rng(8))
    np.testing.assert_array_equal(first, second)
    assert first.shape == face.shape and not np.array_equal(first, other)
    assert np.abs(np.diff(first.astype(float), axis=1)).mean() < np.abs(np.diff(face.astype(float), axis=1)).mean()


def test_degradation_scales_with_face_size():
    """The same draw damages a face by the same share of its size: a 512-px face degraded and then
    shrunk to 128 px looks like the 128-px face degraded (were the ranges not scaled, the small face
    would get four times the blur and downsampling)."""
    cfg = DegradationConfig(noise_sigma=(0.0, 0.0), jpeg_quality=(99, 100))
    face = load_face(list_faces([shared(SHARED_DATA / "train" / "celebahq")])[0], 512)
    small_face = cv2.resize(face, (128, 128), interpolation=cv2.INTER_AREA)

    def detail(image):
        return np.abs(np.diff(image.astype(float), axis=1)).mean()

    for seed in range(4):
        small = degrade(small_face, np.random.default_rng(seed), cfg)
        large = cv2.resize(degrade(face, np.random.default_rng(seed), cfg), (128, 128), interpolation=cv2.INTER_AREA)
        assert small.shape == (128, 128, 3)
        assert detail(small) == pytest.approx(detail(large), rel=0.25)
        assert np.abs(small.astype(float) - large.astype(float)).mean() < 6


def test_split_is_stable_and_disjoint():
    files = list_faces([shared(SHARED_DATA / "train" / "celebahq")])
    train, held_out = split(files, 0.2)
    assert set(train).isdisjoint(held_out) and len(train) + len(held_out) == len(files)
    assert held_out and all(is_held_out(p, 0.2) for p in held_out)
    assert split(list(reversed(files)), 0.2)[1] == list(reversed(held_out))


def test_scores_are_cached_and_min_max_normalised(tmp_path, monkeypatch):
    files = list_faces([shared(SHARED_DATA / "train" / "celebahq")])[:6]
    scored = score_faces(files, 64, tmp_path)
    assert scored.prior.min() == 0.0 and scored.prior.max() == pytest.approx(0.999)
    from app.quality import QualityScorer

    assert scored.raw[0] == pytest.approx(QualityScorer("piqe").score(load_face(files[0], 64)).normalized)  # at 64 px
    monkeypatch.setattr("app.quality.QualityScorer", None)  # a second call must not score again
    again = score_faces(files, 64, tmp_path)
    np.testing.assert_array_equal(again.raw, scored.raw)


def test_config_rejects_unknown_settings(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('stage = "codebook"\n[train]\nlearning_rat = 1\n[data]\ndata_roots = []\n')
    with pytest.raises(TrainingSetupError, match="learning_rat"):
        load_config(path)


def test_config_refuses_an_unknown_loss_or_model_setting_naming_it_and_the_file(tmp_path):
    cases = [  # a typo, and a setting that only another stage reads
        ("transformer", "loss", "adverserial = 0.1"),
        ("transformer", "model", "quality_fusin = true"),
        ("codebook", "loss", "feature = 1.0"),
        ("codebook", "model", "image_sise = 32"),
        ("quality", "loss", "soft_targets = 0.3"),
        ("quality", "model", "input_gate = true"),
    ]
    for stage, section, line in cases:
        path = tmp_path / f"{stage}_{section}.toml"
        path.write_text(f'stage = "{stage}"\n[data]\ndata_roots = []\n[{section}]\n{line}\n')
        key = line.split()[0]
        with pytest.raises(TrainingSetupError, match=rf"{stage}_{section}\.toml.*\[{section}\].*'{key}'"):
            load_config(path)


def test_every_shipped_training_config_loads():
    from app.paths import install_root

    configs = sorted((install_root() / "configs").glob("*.toml"))
    trained = [path for path in configs if not path.name.startswith("recipe_")]
    assert len(trained) >= 10
    for path in trained:
        cfg = load_config(path)
        assert cfg.loss or cfg.model


def test_three_stages_train_resume_and_freeze_the_right_parts(tmp_path):
    codebook_cfg = _config(tmp_path, "codebook", extra=TINY_MODEL)
    assert main(["train", "codebook", "--config", str(codebook_cfg), "--device", "cpu", "--no-progress"]) == 0
    stage1, info1 = load_checkpoint(tmp_path / "codebook" / "weights.pt")
    assert not info1.trained and info1.metadata["stage"] == "I" and info1.metadata["stage_I_iterations"] == 3
    log = [json.loads(line) for line in (tmp_path / "codebook" / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in log] == [1, 2, 3] and all(np.isfinite(r["l1"]) for r in log)

    resumed_cfg = _config(tmp_path, "codebook", extra=TINY_MODEL, iterations=5)
    assert main(["train", "codebook", "--config", str(resumed_cfg), "--resume", "--no-progress"]) == 0
    log = [json.loads(line) for line in (tmp_path / "codebook" / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in log][-2:] == [4, 5]

    init = f'init_weights = "{tmp_path / "codebook" / "weights.pt"}"'
    transformer_cfg = _config(tmp_path, "transformer", extra_train=init)
    assert main(["train", "transformer", "--config", str(transformer_cfg), "--no-progress"]) == 0
    stage2, info2 = load_checkpoint(tmp_path / "transformer" / "weights.pt")
    stage1, _ = load_checkpoint(tmp_path / "codebook" / "weights.pt")
    assert info2.trained and info2.metadata["stage"] == "II"
    log = [json.loads(line) for line in (tmp_path / "transformer" / "log.jsonl").read_text().splitlines()]
    assert {"ce", "feature", "l1", "common_used"} <= set(log[-1])
    for frozen in ("common_codebook", "hq_codebook"):  # the codes keep their Stage I meaning
        for before, after in zip(
            getattr(stage1, frozen).state_dict().values(), getattr(stage2, frozen).state_dict().values(), strict=True
        ):
            assert torch.equal(before, after)
    assert not torch.equal(stage2.code_predictor.head[1].weight, stage1.code_predictor.head[1].weight)
    assert not torch.equal(stage2.decoder.fusion["32"].scale.weight, stage1.decoder.fusion["32"].scale.weight)
    assert not torch.equal(stage2.encoder.blocks[0].weight, stage1.encoder.blocks[0].weight)

    init = f'init_weights = "{tmp_path / "transformer" / "weights.pt"}"'
    quality_cfg = _config(tmp_path, "quality", extra_train=init, extra="[loss]\nreward_iterations = 3\n")
    assert main(["train", "quality", "--config", str(quality_cfg), "--no-progress"]) == 0
    stage3, info3 = load_checkpoint(tmp_path / "quality" / "weights.pt")
    assert info3.metadata["stage"] == "III" and "check_pearson" in info3.metadata["reward_model"]
    assert (tmp_path / "quality" / "reward.pt").is_file()
    assert not torch.equal(stage3.encoder.blocks[0].weight, stage2.encoder.blocks[0].weight)
    assert not torch.equal(
        stage3.code_predictor.quality_embedding.weight, stage2.code_predictor.quality_embedding.weight
    )
    for frozen in ("decoder", "common_codebook", "hq_codebook"):
        for (name, before), after in zip(
            getattr(stage2, frozen).state_dict().items(), getattr(stage3, frozen).state_dict().values(), strict=True
        ):
            assert torch.equal(before, after), f"{frozen}.{name} changed in stage III"
    for before, after in zip(
        stage2.code_predictor.layers.parameters(), stage3.code_predictor.layers.parameters(), strict=True
    ):
        assert torch.equal(before, after)  # the Transformer is not updated by the reward


def test_stage_mismatch_is_refused(tmp_path, capsys):
    cfg = _config(tmp_path, "codebook", extra=TINY_MODEL)
    assert main(["train", "transformer", "--config", str(cfg)]) == 1
    assert "configures stage 'codebook'" in capsys.readouterr().err


def test_score_table_prior_is_the_normalised_ensemble_mean(tmp_path):
    table = tmp_path / "scores.csv"
    table.write_text("file,a,b\nx.jpg,0.5,10\ny.jpg,1.0,30\nz.jpg,0.75,30\n")
    scores = read_score_table(table)
    assert scores == pytest.approx({"x.jpg": 0.0, "y.jpg": 1.0, "z.jpg": 0.75})


def test_faces_without_a_table_score_get_quantile_mapped_piqe(tmp_path):
    root = tmp_path / "ffhq"
    root.mkdir()
    names = [f"{i:05d}.jpg" for i in range(20)]
    ensemble = np.linspace(0.2, 0.9, 20)
    rows = "".join(f"{n},{v}\n" for n, v in zip(names, ensemble, strict=True))
    (tmp_path / "scores.csv").write_text("file,s\n" + rows)
    other = tmp_path / "other" / "face.png"
    paths = [root / n for n in names] + [other]
    piqe = np.concatenate([np.linspace(0.1, 0.5, 20), [0.5]]).astype(np.float32)  # best PIQE of all
    prior = ensemble_prior(paths, piqe, tmp_path / "scores.csv", root)
    np.testing.assert_allclose(prior[:20], np.clip((ensemble - 0.2) / 0.7, 0, 0.999), atol=1e-6)
    assert prior[20] == pytest.approx(0.999)  # mapped onto the top of the ensemble scale
    assert quantile_map(np.array([0.3]), np.linspace(0.1, 0.5, 5), np.linspace(0, 1, 5))[0] == pytest.approx(0.5)


def test_grey_and_sepia_faces_keep_their_look_through_the_training_pair():
    face = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    grey = to_grey(face)
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
    sepia = faded_sepia(face, np.random.default_rng(1)).astype(int)
    assert (sepia[..., 0] >= sepia[..., 2]).all()  # warm tone
    always_grey = PhotometricConfig(grey_probability=1.0)
    dataset = FaceDataset(ScoredFaces([], np.zeros(0), np.zeros(0)), 64, DegradationConfig(), photometric=always_grey)
    dataset.images, dataset.prior = [face], np.zeros(1, np.float32)
    item = dataset[0]
    for key in ("clean", "degraded"):  # the target is grey too: the model must not colourise
        channels = item[key]
        assert torch.allclose(channels[0], channels[1], atol=2 / 127.5) and torch.allclose(
            channels[1], channels[2], atol=2 / 127.5
        )
    assert np.array_equal(photometric(face, np.random.default_rng(0), always_grey), grey)
