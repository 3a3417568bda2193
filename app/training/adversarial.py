"""Adversarial loss that needs no downloaded network: a PatchGAN trained from scratch with the hinge
loss, on differentiably augmented images (DiffAugment, Zhao et al. 2020) so a small data set does not
let the discriminator memorise it.

The generator's adversarial term is scaled by VQGAN's adaptive weight: the ratio of the gradient norms
of the reconstruction and adversarial losses at the decoder's last layer, times a base weight, so it
stays a fixed share of what the reconstruction loss asks, whatever the two losses' scales.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm


class PatchDiscriminator(nn.Module):
    """Fully convolutional: one real/fake logit per overlapping patch (about 46 px at 3 layers)."""

    def __init__(self, channels: int = 32, layers: int = 3) -> None:
        super().__init__()
        blocks: list[nn.Module] = [spectral_norm(nn.Conv2d(3, channels, 4, 2, 1)), nn.LeakyReLU(0.2)]
        width = channels
        for index in range(1, layers + 1):
            wider = channels * min(2**index, 8)
            stride = 2 if index < layers else 1
            blocks += [spectral_norm(nn.Conv2d(width, wider, 4, stride, 1)), nn.LeakyReLU(0.2)]
            width = wider
        blocks.append(spectral_norm(nn.Conv2d(width, 1, 4, 1, 1)))
        self.net = nn.Sequential(*blocks)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


def diff_augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Colour (brightness, saturation, contrast), translation (1/8 of the side) and cutout (1/2 of
    the side), each drawn per image and differentiable with respect to the images."""
    batch, _, height, width = images.shape
    device = images.device

    def rand(*shape):
        return torch.rand(*shape, generator=generator).to(device)

    x = images + (rand(batch, 1, 1, 1) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (rand(batch, 1, 1, 1) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (rand(batch, 1, 1, 1) + 0.5) + mean

    shift = max(1, height // 8)
    offsets = (rand(batch, 2) * (2 * shift + 1)).long() - shift
    padded = F.pad(x, (shift, shift, shift, shift))
    rows = torch.arange(height, device=device)[None] + shift + offsets[:, :1]
    cols = torch.arange(width, device=device)[None] + shift + offsets[:, 1:]
    x = padded[torch.arange(batch, device=device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    x = x.permute(0, 3, 1, 2)

    cut = height // 2
    centre = (rand(batch, 2) * torch.tensor([height, width], device=device)).long()
    ys = torch.arange(height, device=device)[None, :, None]
    xs = torch.arange(width, device=device)[None, None, :]
    inside = ((ys - centre[:, :1, None]).abs() < cut // 2) & ((xs - centre[:, None, 1:]).abs() < cut // 2)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def discriminator_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def generator_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def adaptive_weight(
    reconstruction: torch.Tensor, adversarial: torch.Tensor, last_layer: torch.Tensor, base: float, ceiling: float = 1.0
) -> torch.Tensor:
    """VQGAN: base · ‖∇ reconstruction‖ / ‖∇ adversarial‖ at `last_layer`, clamped to [0, ceiling]."""
    reconstruction_grad = torch.autograd.grad(reconstruction, last_layer, retain_graph=True)[0]
    adversarial_grad = torch.autograd.grad(adversarial, last_layer, retain_graph=True)[0]
    ratio = reconstruction_grad.norm() / (adversarial_grad.norm() + 1e-4)
    return (base * ratio.clamp(0.0, ceiling)).detach()
