import pytest
import torch

from app.errors import CheckpointError
from app.model import (DEFAULT_WEIGHTS_FILE, IQPFR, IQPFRConfig, load_checkpoint, load_model, quality_to_bin,
                       save_checkpoint, untrained_model)

TINY = IQPFRConfig(image_size=32, base_channels=16, channel_multipliers=(1, 2), embed_dim=32,
                   common_codebook_size=64, hq_codebook_size=32, transformer_layers=2, transformer_dim=64,
                   transformer_heads=4)


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return IQPFR(TINY).eval()


def test_shapes_follow_the_config(tiny_model):
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    features = tiny_model.encode(images)
    assert features.shape == (2, 32, 16, 16) and TINY.num_tokens == 256
    prediction = tiny_model.predict_codes(features, 0.9)
    assert prediction.common_logits.shape == (2, 256, 64)
    assert prediction.hq_logits.shape == (2, 256, 32)
    restored = tiny_model.restore(images, 0.9)
    assert restored.image.shape == images.shape
    assert restored.common_indices.max() < 64 and restored.hq_indices.max() < 32


def test_default_config_is_cpu_sized_with_256_tokens():
    cfg = IQPFRConfig()
    assert cfg.image_size == 128 and cfg.num_tokens == 256 and cfg.quality_bins == 10


@pytest.mark.parametrize("score, expected", [(0.0, 0), (0.05, 0), (0.1, 1), (0.55, 5), (0.9, 9), (0.99, 9),
                                             (1.0, 9), (-0.2, 0), (1.7, 9)])
def test_quality_bins(score, expected):
    assert int(quality_to_bin(score, 10)) == expected


def test_quality_embedding_is_added_to_the_encoder_features(tiny_model):
    features = torch.randn(1, 32, 16, 16)
    predictor = tiny_model.code_predictor
    low, high = predictor.condition(features, 0.05), predictor.condition(features, 0.95)
    expected = predictor.quality_embedding.weight[9].reshape(1, 32, 16, 16)
    torch.testing.assert_close(high - features, expected)
    assert not torch.equal(low, high)


def test_slider_changes_the_transformers_output_indices():
    model, _ = untrained_model()
    features = model.encode(torch.rand(1, 3, 128, 128) * 2 - 1)
    low, high = model.restore_from_features(features, 0.05), model.restore_from_features(features, 0.95)
    assert (low.common_indices != high.common_indices).any() or (low.hq_indices != high.hq_indices).any()
    assert not torch.equal(low.image, high.image)
    same = model.restore_from_features(features, 0.95)
    assert torch.equal(same.common_indices, high.common_indices)  # deterministic


def test_decoder_input_is_common_plus_weighted_hq(tiny_model):
    common = torch.randint(0, 64, (1, 256))
    hq = torch.randint(0, 32, (1, 256))
    fused = tiny_model.fuse_codes(common, hq, hq_weight=0.5)
    expected = tiny_model.common_codebook.lookup(common, 16) + 0.5 * tiny_model.hq_codebook.lookup(hq, 16)
    torch.testing.assert_close(fused, expected)


def test_checkpoint_round_trip_reproduces_outputs(tmp_path, tiny_model):
    path = save_checkpoint(tiny_model, tmp_path / "w.pt", trained=False, metadata={"stage": "test"})
    loaded, info = load_checkpoint(path)
    assert loaded.cfg == TINY and info.metadata == {"stage": "test"} and not info.trained
    images = torch.rand(1, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(loaded.restore(images, 0.7).image, tiny_model.restore(images, 0.7).image)


def test_truncated_checkpoint_is_a_clear_error(tmp_path, tiny_model):
    path = save_checkpoint(tiny_model, tmp_path / "w.pt", trained=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path)


def test_foreign_files_are_rejected(tmp_path, tiny_model):
    plain_state = tmp_path / "plain.pt"
    torch.save(tiny_model.state_dict(), plain_state)
    with pytest.raises(CheckpointError, match="not an IQPFR Studio weights file"):
        load_checkpoint(plain_state)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError):
        load_checkpoint(text)


def test_newer_format_and_mismatched_weights_are_rejected(tmp_path, tiny_model):
    path = save_checkpoint(tiny_model, tmp_path / "w.pt", trained=True)
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format 99"):
        load_checkpoint(tmp_path / "future.pt")
    payload["format_version"] = 1
    payload["config"]["embed_dim"] = 48
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(tmp_path / "mismatch.pt")


def test_default_model_prefers_an_installed_weights_file(isolated_model_dirs, tiny_model, monkeypatch, tmp_path):
    monkeypatch.setattr("app.paths.bundled_models_dir", lambda: tmp_path / "no-bundled-models")
    model, info = load_model()
    assert not info.trained and "UNTRAINED" in info.describe()
    save_checkpoint(tiny_model, isolated_model_dirs / DEFAULT_WEIGHTS_FILE, trained=True, metadata={"stage": "II"})
    model, info = load_model()
    assert info.trained and model.cfg == TINY and "UNTRAINED" not in info.describe()
