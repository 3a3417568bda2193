"""The one image ↔ tensor conversion (app/image_tensors.py) used by inference, training and scoring."""

import numpy as np
import pytest
import torch

from app.image_tensors import UNIT_RANGE, image_to_tensor, images_to_tensor, tensor_to_images


def _every_value() -> np.ndarray:
    """A (16, 16, 3) image holding every 8-bit value in each channel, in different places."""
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    return np.dstack([values, values.T, values[::-1]])


def test_training_tensors_are_bit_identical_to_the_former_training_conversion():
    image = _every_value()
    former = torch.from_numpy(image).permute(2, 0, 1).float() / 127.5 - 1.0  # app.training.data.to_tensor
    tensor = image_to_tensor(image)
    assert tensor.shape == (3, 16, 16) and tensor.dtype == torch.float32
    assert torch.equal(tensor, former)


def test_metric_tensors_are_bit_identical_to_the_former_scoring_conversion():
    image = _every_value()
    former = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0  # app.quality._to_tensor
    assert torch.equal(images_to_tensor([image], "cpu", UNIT_RANGE), former)


@pytest.mark.parametrize("value_range", [(-1.0, 1.0), (0.0, 1.0)])
def test_black_and_white_land_on_the_range_ends_and_round_trip(value_range):
    images = [_every_value(), _every_value()[::-1].copy()]
    batch = images_to_tensor(images, "cpu", value_range)
    assert batch.shape == (2, 3, 16, 16)
    assert batch.min().item() == value_range[0] and batch.max().item() == value_range[1]
    back = tensor_to_images(batch, value_range)
    assert all(np.array_equal(a, b) and b.dtype == np.uint8 for a, b in zip(images, back, strict=True))


def test_values_beyond_the_range_saturate_instead_of_wrapping():
    tensor = torch.tensor([-1.5, -1.0, 0.0, 1.0, 1.5]).reshape(1, 1, 1, 5).expand(1, 3, 1, 5)
    assert tensor_to_images(tensor)[0][0, :, 0].tolist() == [0, 0, 128, 255, 255]
