import pytest
import torch

from app.errors import CheckpointError
from app.model import (
    DEFAULT_WEIGHTS_FILE,
    IQPFR,
    IQPFRConfig,
    load_checkpoint,
    load_model,
    quality_to_bin,
    save_checkpoint,
    untrained_model,
)

TINY = IQPFRConfig(
    image_size=32,
    base_channels=16,
    channel_multipliers=(1, 2),
    embed_dim=32,
    quantizer="vq",
    common_codebook_size=64,
    hq_codebook_size=32,
    transformer_layers=2,
    transformer_dim=64,
    transformer_heads=4,
    fidelity_scales=(32,),
)
TINY_FSQ = IQPFRConfig(
    image_size=32,
    base_channels=16,
    channel_multipliers=(1, 2),
    embed_dim=32,
    fsq_levels=(4, 3, 5),
    transformer_layers=1,
    transformer_dim=32,
    transformer_heads=4,
    fidelity_scales=(32,),
)


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return IQPFR(TINY).eval()


def test_shapes_follow_the_config(tiny_model):
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    encoded = tiny_model.encode(images)
    features = encoded.features
    assert features.shape == (2, 32, 16, 16) and TINY.num_tokens == 256
    assert {r: s.shape for r, s in encoded.skips.items()} == {32: (2, 16, 32, 32)}
    prediction = tiny_model.predict_codes(features, 0.9)
    assert prediction.common_logits.shape == (2, 256, 64)
    assert prediction.hq_logits.shape == (2, 256, 32)
    restored = tiny_model.restore(images, 0.9)
    assert restored.image.shape == images.shape
    assert restored.common_indices.max() < 64 and restored.hq_indices.max() < 32


def test_default_config_is_cpu_sized_with_256_tokens():
    cfg = IQPFRConfig()
    assert cfg.image_size == 128 and cfg.num_tokens == 256 and cfg.quality_bins == 10


@pytest.mark.parametrize(
    "score, expected", [(0.0, 0), (0.05, 0), (0.1, 1), (0.55, 5), (0.9, 9), (0.99, 9), (1.0, 9), (-0.2, 0), (1.7, 9)]
)
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
    assert len(features) == 1
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


@pytest.mark.parametrize("loader", ["load_checkpoint", "load_network_file"])
def test_a_weights_file_carrying_code_is_refused_without_running_it(tmp_path, loader):
    from app.restorers import load_network_file
    from conftest import CodeInPickle

    load = {"load_checkpoint": load_checkpoint, "load_network_file": load_network_file}[loader]
    path = tmp_path / "w.pt"
    torch.save({"format": "iqpfr-studio-weights", "config": CodeInPickle()}, path)
    with pytest.raises(CheckpointError, match="holds Python objects besides weights; they were not loaded") as error:
        load(path)
    assert not CodeInPickle.ran
    assert_clean_sentence(str(error.value))


def assert_clean_sentence(message: str) -> None:
    """A refusal in the app's own words: one line ending in a full stop, none of PyTorch's text or escapes."""
    assert message.endswith(".") and "\n" not in message and "\x1b" not in message, message
    for torch_text in ("Weights only load failed", "Error(s) in loading", "PytorchStreamReader", "miniz"):
        assert torch_text not in message, message


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("truncated", "truncated or not a model file: it ends early or its archive is damaged"),
        ("text", "truncated or not a model file: it is neither PyTorch weights nor a safetensors file"),
        ("missing weight", "does not match the IQPFR architecture: 1 weight missing"),
        ("other shape", "does not match the IQPFR architecture: 1 weight of another shape"),
    ],
)
def test_weights_refusals_are_clean_sentences(tmp_path, tiny_model, damage, expected):
    good = save_checkpoint(tiny_model, tmp_path / "good.pt", trained=True)
    path = tmp_path / "w.pt"
    if damage == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif damage == "text":
        path.write_text("hello")
    else:
        payload = torch.load(good, weights_only=True)
        name = next(iter(payload["state_dict"]))
        if damage == "missing weight":
            del payload["state_dict"][name]
        else:
            payload["state_dict"][name] = torch.zeros(3, 1, 7)
        torch.save(payload, path)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    assert expected in str(error.value)
    assert_clean_sentence(str(error.value))


def test_iqpfr_weights_given_as_a_model_file_are_read_once(tmp_path, tiny_model, monkeypatch):
    from app.restorers import load_network_file

    path = save_checkpoint(tiny_model, tmp_path / "w.pt", trained=True)
    reads, load = [], torch.load
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: reads.append(args[0]) or load(*args, **kwargs))
    assert load_network_file(path).descriptor.architecture == "IQPFR" and reads == [path]


def test_newer_format_and_mismatched_weights_are_rejected(tmp_path, tiny_model):
    path = save_checkpoint(tiny_model, tmp_path / "w.pt", trained=True)
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format 99"):
        load_checkpoint(tmp_path / "future.pt")
    payload["format_version"] = 2
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


def test_scalar_quantizer_indices_round_trip_and_use_every_level():
    torch.manual_seed(0)
    model = IQPFR(TINY_FSQ).eval()
    book = model.common_codebook
    assert book.num_codes == 60 and book.logit_count == 12
    z = torch.randn(2, 32, 16, 16) * 3
    quantized = book(z)
    indices = book.nearest_indices(z)
    assert torch.equal(quantized.indices, indices) and int(indices.min()) >= 0 and int(indices.max()) < 60
    torch.testing.assert_close(book.lookup(indices, 16), quantized.features)
    digits = book.indices_to_digits(torch.arange(60))
    assert len({tuple(d.tolist()) for d in digits}) == 60  # every entry has its own digits
    assert [int(digits[:, d].max()) + 1 for d in range(3)] == [4, 3, 5]


def test_scalar_quantizer_head_decodes_and_scores_its_own_targets():
    book = IQPFR(TINY_FSQ).common_codebook
    targets = torch.randint(0, 60, (2, 5))
    digits = book.indices_to_digits(targets)
    logits = torch.cat(
        [torch.nn.functional.one_hot(digits[..., d], level).float() * 20 for d, level in enumerate(book.levels)], -1
    )
    assert torch.equal(book.logits_to_indices(logits), targets)
    assert float(book.index_loss(logits, targets)) < 1e-3
    assert float(book.index_loss(torch.zeros_like(logits), targets)) > 1.0


def test_scalar_quantizer_passes_gradients_straight_through():
    book = IQPFR(TINY_FSQ).common_codebook
    z = torch.randn(1, 32, 4, 4, requires_grad=True)
    book(z).features.sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_fidelity_weight_blends_encoder_features_into_the_decoder():
    torch.manual_seed(0)
    model = IQPFR(TINY_FSQ).eval()
    images = torch.rand(1, 3, 32, 32) * 2 - 1
    encoded = model.encode(images)
    codes_only = model.restore_from_features(encoded, 0.9, fidelity=0.0).image
    # a fresh fusion starts at zero: it must not change anything until trained
    torch.testing.assert_close(model.restore_from_features(encoded, 0.9, fidelity=1.0).image, codes_only)
    fusion = model.decoder.fusion["32"]
    with torch.no_grad():
        for conv in (fusion.scale, fusion.shift):
            conv.weight.normal_(std=0.05)
    half = model.restore_from_features(encoded, 0.9, fidelity=0.5).image
    full = model.restore_from_features(encoded, 0.9, fidelity=1.0).image
    torch.testing.assert_close(model.restore_from_features(encoded, 0.9, fidelity=0.0).image, codes_only)
    assert (full - codes_only).abs().mean() > (half - codes_only).abs().mean() > 1e-4


def test_format_1_files_load_as_vq_without_fidelity(tmp_path):
    legacy_cfg = IQPFRConfig(
        image_size=32,
        base_channels=16,
        channel_multipliers=(1, 2),
        embed_dim=32,
        quantizer="vq",
        common_codebook_size=16,
        hq_codebook_size=16,
        transformer_layers=1,
        transformer_dim=32,
        transformer_heads=4,
        fidelity_scales=(),
    )
    model = IQPFR(legacy_cfg).eval()
    path = save_checkpoint(model, tmp_path / "old.pt", trained=True)
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 1
    del payload["config"]["quantizer"], payload["config"]["fidelity_scales"], payload["config"]["fsq_levels"]
    torch.save(payload, path)
    loaded, info = load_checkpoint(path)
    assert loaded.cfg.quantizer == "vq" and not loaded.has_fidelity and info.default_fidelity == 0.5
    images = torch.rand(1, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(loaded.restore(images, 0.5, fidelity=1.0).image, model.restore(images, 0.5).image)


def test_stored_default_fidelity_is_read_from_the_weights(tmp_path, tiny_model):
    path = save_checkpoint(tiny_model, tmp_path / "w.pt", trained=True, metadata={"default_fidelity": 0.7})
    assert load_checkpoint(path)[1].default_fidelity == 0.7


def test_fidelity_scales_must_exist_in_the_encoder():
    with pytest.raises(ValueError, match="fidelity_scales"):
        IQPFRConfig(image_size=32, channel_multipliers=(1, 2), fidelity_scales=(64,))


def test_channel_counts_must_suit_group_norm():
    with pytest.raises(ValueError, match="divisible by 8 for GroupNorm"):
        IQPFRConfig(image_size=32, base_channels=12, channel_multipliers=(1, 2), fidelity_scales=(32,))
    IQPFRConfig(image_size=32, base_channels=8, channel_multipliers=(1, 2), fidelity_scales=(32,))  # 8 groups


def test_keep_input_tone_takes_broad_tone_from_the_input_and_detail_from_the_output():
    from app.model.colour import gaussian_blur, keep_input_tone

    torch.manual_seed(0)
    source = torch.rand(1, 3, 32, 32) * 2 - 1
    grey = source.mean(1, keepdim=True).expand(-1, 3, -1, -1)
    grey = grey * 0.5
    cast = grey + torch.tensor([0.3, 0.1, -0.2]).view(1, 3, 1, 1)  # an orange cast
    fixed = keep_input_tone(cast, grey, luma_sigma=4.0, chroma_sigma=2.0)
    assert (cast[:, 0] - cast[:, 2]).abs().mean() > 0.3
    assert (fixed[:, 0] - fixed[:, 1]).abs().max() < 1e-4 and (fixed[:, 1] - fixed[:, 2]).abs().max() < 1e-4
    detail = torch.randn(1, 1, 32, 32).expand(-1, 3, -1, -1) * 0.2
    sharpened = keep_input_tone(grey + detail + 0.3, grey, luma_sigma=4.0, chroma_sigma=2.0)  # lighter + detail
    high = lambda x: x - gaussian_blur(x, 4.0)  # noqa: E731
    torch.testing.assert_close(high(sharpened), high(grey + detail), atol=0.03, rtol=0)
    torch.testing.assert_close(gaussian_blur(sharpened, 4.0), gaussian_blur(grey, 4.0), atol=0.05, rtol=0)
    smooth = gaussian_blur(gaussian_blur(source, 3.0), 3.0)
    torch.testing.assert_close(keep_input_tone(smooth, smooth, 4.0, 0.5), smooth, atol=0.02, rtol=0)


def test_restore_keeps_a_grey_face_grey_unless_asked_not_to():
    from app.model.colour import gaussian_blur

    torch.manual_seed(0)
    model = IQPFR(TINY_FSQ).eval()
    grey = (torch.rand(1, 1, 32, 32) * 2 - 1).expand(-1, 3, -1, -1)
    broad_colour = lambda x: (gaussian_blur(x, 2.0).amax(1) - gaussian_blur(x, 2.0).amin(1)).mean()  # noqa: E731
    kept = model.restore(grey, 0.9).image
    free = model.restore(grey, 0.9, keep_colour=False).image
    assert broad_colour(free) > 0.02 and broad_colour(kept) < 0.1 * broad_colour(free)
    assert (kept.amax(1) - kept.amin(1)).max() < 1e-4  # not a single coloured speck


def test_quality_fusion_is_added_without_changing_outputs_and_lets_the_score_reach_the_decoder(tmp_path):
    from dataclasses import replace

    from app.model.iqpfr import with_quality_fusion

    torch.manual_seed(0)
    model = IQPFR(TINY_FSQ).eval()
    with torch.no_grad():
        for conv in (model.decoder.fusion["32"].scale, model.decoder.fusion["32"].shift):
            conv.weight.normal_(std=0.05)
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    upgraded = with_quality_fusion(model).eval()
    assert upgraded.cfg.quality_fusion and not model.cfg.quality_fusion
    torch.testing.assert_close(
        upgraded.restore(images, 0.1, fidelity=1.0).image, model.restore(images, 0.1, fidelity=1.0).image
    )
    encoded = upgraded.encode(images)
    low_before, high_before = (upgraded.restore_from_features(encoded, q, fidelity=1.0).image for q in (0.1, 0.9))
    with torch.no_grad():
        upgraded.decoder.fusion["32"].quality.weight[1].normal_(std=0.5)  # bin 1 learns something
    low, high = (upgraded.restore_from_features(encoded, q, fidelity=1.0).image for q in (0.1, 0.9))
    assert (low - low_before).abs().mean() > 1e-3  # the score reaches the decoder ...
    torch.testing.assert_close(high, high_before)  # ... through its own bin only
    path = save_checkpoint(upgraded, tmp_path / "q.pt", trained=True)
    loaded, _ = load_checkpoint(path)
    torch.testing.assert_close(loaded.restore(images, 0.1, fidelity=1.0).image, low)
    assert not IQPFR(replace(TINY_FSQ)).cfg.quality_fusion  # files written before it load unchanged
