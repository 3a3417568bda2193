"""The decoder's spike repair (app/model/spikes.py): a strong local activation that renders off-colour is
replaced by its surroundings, everything else stays bit-identical, and the weights file decides whether it runs."""

import math

import pytest
import torch
from torch import nn

from app.errors import CheckpointError
from app.model import IQPFR, load_checkpoint, save_checkpoint
from app.model.spikes import METADATA_KEY, SpikeRepair, norm_ratio, repair_spikes, spike_regions
from test_model import TINY_FSQ as TINY  # a tiny FSQ model

REPAIR = SpikeRepair(0.5)


def _features_with_spike(channels: int = 8, size: int = 32, at: tuple[int, int] = (16, 12)) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(1, channels, size, size, generator=generator)
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    bump = torch.exp(-((ys - at[0]) ** 2 + (xs - at[1]) ** 2) / 2.0)
    features[:, 0] += 200.0 * bump  # a spike along channel 0, about 70x the median norm at its peak
    return features


def _renderer(spike_colour: tuple[float, float, float]) -> nn.Conv2d:
    """Channel 0 (the spike's direction) → `spike_colour`; the other channels → grey, weakly."""
    render = nn.Conv2d(8, 3, 1, bias=False)
    with torch.no_grad():
        render.weight.zero_()
        render.weight[:, 0, 0, 0] = torch.tensor(spike_colour)
        render.weight[:, 1:, 0, 0] = 0.05
    return render


def _outside(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return image * (1 - mask)


@torch.no_grad()
def test_a_spike_rendering_off_colour_is_replaced_by_its_surroundings_and_nothing_else_changes():
    features = _features_with_spike()
    normalise, render = nn.GroupNorm(8, 8), _renderer((1.0, -1.0, -1.0))  # the spike renders red
    grey_input = torch.zeros(1, 3, 32, 32)
    plain = render(normalise(features))
    repaired = repair_spikes(features, normalise, render, grey_input, REPAIR)
    (footprint,) = spike_regions(norm_ratio(features)[0])
    inside = footprint.bool().expand_as(plain)
    assert footprint[0, 0, 16, 12] == 1 and footprint.sum() < 60  # the spike, not the whole map
    assert torch.equal(_outside(repaired, footprint), _outside(plain, footprint))
    outside_range = plain[~inside].abs().max()
    assert plain[inside].abs().max() > 5 * outside_range  # the speck before
    assert repaired[inside].abs().max() <= outside_range  # gone after


@torch.no_grad()
def test_a_spike_rendering_in_the_inputs_colour_is_left_alone():
    features = _features_with_spike()
    normalise, render = nn.GroupNorm(8, 8), _renderer((1.0, 1.0, 1.0))  # the spike renders grey, like the input
    grey_input = torch.zeros(1, 3, 32, 32)
    assert torch.equal(repair_spikes(features, normalise, render, grey_input, REPAIR), render(normalise(features)))


def test_feature_maps_without_a_spike_have_no_regions():
    features = torch.randn(2, 8, 32, 32, generator=torch.Generator().manual_seed(1))
    assert [spike_regions(ratio) for ratio in norm_ratio(features)] == [[], []]


def _model_with_a_spike() -> IQPFR:
    """A tiny model whose decoder adds an off-colour spike just before its head."""
    torch.manual_seed(0)
    model = IQPFR(TINY).eval()
    decoder = model.decoder
    head = decoder.blocks[decoder.head_start + 2]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.weight[:, 0, 1, 1] = torch.tensor([1.0, -1.0, -1.0])
        head.weight[:, 1:, 1, 1] = 0.05

    def add_spike(module, inputs, output):
        spiked = output.clone()
        spiked[:, 0, 10:13, 20:23] += 500.0
        return spiked

    decoder.blocks[decoder.head_start - 1].register_forward_hook(add_spike)
    return model


@torch.no_grad()
def test_the_decoder_repairs_a_spike_when_the_weights_ask_for_it_in_eval_mode():
    model = _model_with_a_spike()
    encoded = model.encode(torch.zeros(1, 3, 32, 32))
    plain = model.restore_from_features(encoded, 0.9, fidelity=1.0, keep_colour=False).image
    model.decoder.spike_repair = REPAIR
    repaired = model.restore_from_features(encoded, 0.9, fidelity=1.0, keep_colour=False).image
    spot = (slice(None), slice(None), slice(9, 14), slice(19, 24))
    assert plain[spot].amax() > 20 * plain.median().abs().clamp_min(0.01)
    assert repaired[spot].abs().max() < plain[spot].abs().max() / 10
    assert torch.equal(repaired[..., :4, :], plain[..., :4, :])  # far from the spike: untouched
    codes = model.fuse_codes(*model.nearest_codes(encoded.features))
    with_inputs, without_inputs = model.decode(codes, encoded, 1.0, 0.9), model.decode(codes)
    model.decoder.spike_repair = None
    unrepaired, codes_only = model.decode(codes, encoded, 1.0, 0.9), model.decode(codes)
    assert not torch.equal(with_inputs, unrepaired)
    assert torch.equal(without_inputs, codes_only)  # no input faces: nothing to compare with
    model.decoder.spike_repair = REPAIR
    model.decoder.train()  # training never repairs: the loss must see what the network does
    try:
        assert torch.equal(model.decode(codes, encoded, 1.0, 0.9), unrepaired)
    finally:
        model.decoder.eval()


def test_weights_metadata_turns_the_repair_on_and_older_files_load_without_it(tmp_path):
    model = IQPFR(TINY)
    plain = save_checkpoint(model, tmp_path / "plain.pt", trained=True, metadata={"stage": "II"})
    asked = save_checkpoint(model, tmp_path / "asked.pt", trained=True, metadata=REPAIR.to_metadata())
    assert load_checkpoint(plain)[0].decoder.spike_repair is None
    loaded, info = load_checkpoint(asked)
    assert loaded.decoder.spike_repair == REPAIR and info.metadata[METADATA_KEY] == {"colour_threshold": 0.5}


@pytest.mark.parametrize(
    "setting",
    [
        {"colour_threshold": "high"},
        {"colour_threshold": -1.0},
        {"colour_threshold": math.nan},
        {"colour_threshold": True},
        0.5,
        {},
    ],
)
def test_a_malformed_repair_setting_is_a_clear_error(tmp_path, setting):
    path = save_checkpoint(IQPFR(TINY), tmp_path / "bad.pt", trained=True, metadata={METADATA_KEY: setting})
    with pytest.raises(CheckpointError, match="colour_threshold"):
        load_checkpoint(path)
