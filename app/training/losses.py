"""Image losses usable without pretrained networks (no VGG/LPIPS weights offline)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def gradient_l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between horizontal and vertical finite differences: penalises lost edges (blur)."""

    def grads(x):
        return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]

    (ox, oy), (tx, ty) = grads(output), grads(target)
    return F.l1_loss(ox, tx) + F.l1_loss(oy, ty)


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Mean SSIM over the batch for images in [-1, 1] (box window)."""
    a, b = (a + 1) / 2, (b + 1) / 2
    c1, c2 = 0.01**2, 0.03**2
    pool = lambda x: F.avg_pool2d(x, window, 1, window // 2, count_include_pad=False)  # noqa: E731
    mu_a, mu_b = pool(a), pool(b)
    var_a = pool(a * a) - mu_a**2
    var_b = pool(b * b) - mu_b**2
    cov = pool(a * b) - mu_a * mu_b
    value = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return value.mean()


def focal_frequency(output: torch.Tensor, target: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Focal frequency loss (Jiang et al., 2021): squared distance of the 2-D spectra, each frequency
    weighted by its own (normalised, detached) error**alpha, so hard frequencies — the fine detail
    that L1 lets go blurry — get the attention."""
    fo = torch.fft.fft2(output.float(), norm="ortho")
    ft = torch.fft.fft2(target.float(), norm="ortho")
    distance = (fo - ft).abs().pow(2)
    weight = distance.detach().sqrt().pow(alpha)
    weight = weight / weight.amax(dim=(-2, -1), keepdim=True).clamp(min=1e-8)
    return (weight * distance).mean()
