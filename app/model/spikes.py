"""Repairing the decoder's activation spikes (the "specks") at inference.

What they are (measured on the shipped model, see models/MODEL_CARD.md): the decoder puts one, sometimes two or
three, very strong and very local activations into its last feature map, 12 to about 270 times the median
feature norm, with nearly the same direction in feature space on every face. It is the normalisation artefact
that StyleGAN2 describes ("droplets", Karras et al. 2020, section 2): the last GroupNorm has one channel per
group, and a spike that holds most of a channel's variance lets the network scale the rest of that channel as it
likes. The spike must stay in the statistics (without it the whole face changes), but where it lands on smooth
skin its own rendering is a speck: an off-colour blob in the decoder's raw output, which the colour step turns
into a dark dot with a bright rim (or a bright one).

The repair: the last normalisation runs as trained, spike included. Then each spike whose raw rendering departs
from the input's colour by more than `SpikeRepair.colour_threshold` has the normalised features over its footprint
replaced by a smooth (harmonic) interpolation of the features around it, and only that face is rendered again.
Everything outside a repaired footprint is unchanged. Spikes that render in the input's colour are left alone:
measured on held-out pairs, their rendering is closer to the clean face than the interpolation is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from app.model.colour import gaussian_blur, to_ycbcr

METADATA_KEY = "spike_repair"  # weights metadata: {"colour_threshold": 0.5}
SPIKE_PEAK = 12.0  # a spike: feature norm above this many times the face's median feature norm
FOOTPRINT_FLOOR = 4.0  # its footprint: the connected pixels around it above this many times the median,
FOOTPRINT_SHARE = 0.08  # and above this share of its peak,
FOOTPRINT_RADIUS_128 = 8  # within this radius (pixels of a 128-px feature map, scaled with the size),
FOOTPRINT_GROW_128 = 2  # grown by this many pixels
MAX_SPIKES = 8  # per face, a bound on the work for an unusual feature map
FILL_ITERATIONS = 150  # Jacobi steps of the harmonic fill


@dataclass(frozen=True)
class SpikeRepair:
    """`colour_threshold`: how far (YCbCr distance, images in [-1, 1]) a spike's raw rendering may depart from the
    input's smoothed colour before its footprint is repaired."""

    colour_threshold: float

    @classmethod
    def from_metadata(cls, metadata: dict) -> SpikeRepair | None:
        """The repair a weights file asks for (metadata key `spike_repair`), or None when it asks for none;
        ValueError when the setting is malformed."""
        value = metadata.get(METADATA_KEY)
        if value is None:
            return None
        threshold = value.get("colour_threshold") if isinstance(value, dict) else None
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not math.isfinite(threshold)
            or threshold <= 0
        ):
            raise ValueError(f"its '{METADATA_KEY}' setting ({value!r}) needs a positive 'colour_threshold'")
        return cls(float(threshold))

    def to_metadata(self) -> dict:
        return {METADATA_KEY: {"colour_threshold": self.colour_threshold}}


def norm_ratio(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) → (B, H, W): each pixel's feature norm over the face's median feature norm."""
    norms = features.float().norm(dim=1)
    return norms / norms.flatten(1).median(1).values.clamp_min(1e-12)[:, None, None]


def spike_regions(ratio: torch.Tensor) -> list[torch.Tensor]:
    """One face's `norm_ratio` (H, W) → a (1, 1, H, W) float mask of each spike's footprint, strongest first."""
    height, width = ratio.shape
    scale = height / 128
    radius = max(1, round(FOOTPRINT_RADIUS_128 * scale))
    grow = max(1, round(FOOTPRINT_GROW_128 * scale))
    ys, xs = torch.meshgrid(
        torch.arange(height, device=ratio.device), torch.arange(width, device=ratio.device), indexing="ij"
    )
    remaining = ratio.clone()
    regions: list[torch.Tensor] = []
    while len(regions) < MAX_SPIKES and float(remaining.max()) > SPIKE_PEAK:
        peak = float(remaining.max())
        y, x = divmod(int(remaining.argmax()), width)
        disk = (ys - y) ** 2 + (xs - x) ** 2 <= radius**2
        allowed = (disk & (ratio > max(FOOTPRINT_FLOOR, FOOTPRINT_SHARE * peak))).float()[None, None]
        region = torch.zeros_like(allowed)
        region[0, 0, y, x] = 1.0
        for _ in range(radius + 1):  # grow from the peak through the allowed pixels
            region = F.max_pool2d(region, 3, 1, 1) * allowed
        regions.append(F.max_pool2d(region, 2 * grow + 1, 1, grow))
        remaining[disk] = 0.0
    return regions


def harmonic_fill(features: torch.Tensor, mask: torch.Tensor, iterations: int = FILL_ITERATIONS) -> torch.Tensor:
    """(1, C, H, W) features with the masked pixels ((1, 1, H, W), 1 = replace) replaced by a smooth interpolation
    of the pixels around them (Jacobi steps of Laplace's equation, started at the mean of the known pixels)."""
    ys, xs = torch.nonzero(mask[0, 0] > 0, as_tuple=True)
    if len(ys) == 0:
        return features
    height, width = features.shape[-2:]
    y0, y1 = max(int(ys.min()) - 3, 0), min(int(ys.max()) + 4, height)
    x0, x1 = max(int(xs.min()) - 3, 0), min(int(xs.max()) + 4, width)
    crop = features[..., y0:y1, x0:x1].float()
    hole = (mask[..., y0:y1, x0:x1] > 0).float()
    known = 1.0 - hole
    mean = (crop * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp_min(1.0)
    current = crop * known + mean * hole
    for _ in range(iterations):
        average = F.avg_pool2d(F.pad(current, (1, 1, 1, 1), mode="replicate"), 3, 1)
        current = crop * known + average * hole
    filled = features.clone()
    filled[..., y0:y1, x0:x1] = current.to(features.dtype)
    return filled


def colour_departure(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) raw rendering and input, in [-1, 1] → (B, 1, H, W) distance of the rendering's chroma from the
    input's chroma smoothed as the colour step smooths it (σ = size / 64)."""
    chroma = to_ycbcr(image.float())[:, 1:]
    wanted = gaussian_blur(to_ycbcr(reference.float())[:, 1:], reference.shape[-1] / 64)
    return (chroma - wanted).norm(dim=1, keepdim=True)


def repair_spikes(
    features: torch.Tensor,
    normalise: Callable[[torch.Tensor], torch.Tensor],
    render: Callable[[torch.Tensor], torch.Tensor],
    reference: torch.Tensor,
    repair: SpikeRepair,
) -> torch.Tensor:
    """The decoder's head with the repair: `features` (B, C, H, W) enter the last normalisation (`normalise`, as
    trained), `render` turns normalised features into the raw image (B, 3, H, W); `reference` is the input faces."""
    normalised = normalise(features)
    image = render(normalised)
    if reference.shape[-2:] != image.shape[-2:]:
        return image
    ratio = norm_ratio(features)
    departure = colour_departure(image, reference.to(image.device))
    faces = []
    for index in range(image.shape[0]):
        regions = [
            region
            for region in spike_regions(ratio[index])
            if float((departure[index] * region[0]).max()) > repair.colour_threshold
        ]
        if not regions:
            faces.append(image[index : index + 1])
            continue
        face = normalised[index : index + 1]
        for region in regions:
            face = harmonic_fill(face, region)
        faces.append(render(face))
    return torch.cat(faces)
