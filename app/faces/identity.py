"""Face identity and landmarks of aligned faces, measured with pretrained networks (differentiable, no Qt).

`FaceIdentity.embed(faces)` gives dlib's 128-D face descriptor of faces aligned to the app's FFHQ template
(N×3×S×S tensors in [-1, 1], any S): a fixed affine warp (grid_sample, differentiable) moves them into dlib's
150 px face chip (`get_face_chip`, padding 0.25), then the descriptor network runs. `identity_distance` is the
Euclidean distance dlib uses (below 0.6: the same person by dlib's rule). `FaceIdentity.landmarks(faces)` gives
68 points from face-api's landmark network on the same region, and `landmark_distance` their mean distance
relative to the distance between the outer eye corners.

The weights are face-api's (MIT), converted once by `scripts/convert_face_api.py` (run by `scripts/setup.sh`)
into `.cache/face-api/` of the checkout. What the fixed warp and the conversion change, measured against dlib
itself, and what distances mean: docs/identity-measure.md.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from app.errors import CheckpointError, WeightsMissingError
from app.faces.face_api_convert import FORMAT_NAME, FORMAT_VERSION
from app.faces.face_api_nets import (
    DESCRIPTOR_CHIP_SIZE,
    LANDMARK_INPUT_SIZE,
    FaceDescriptorNet,
    FaceLandmarkNet,
)
from app.image_tensors import RESTORER_RANGE
from app.paths import install_root

WEIGHTS_NAME = "face_api_identity.pt"
SAME_PERSON_THRESHOLD = 0.6  # dlib's: descriptors closer than this belong to one person
OUTER_EYE_CORNERS = (36, 45)  # landmark indices (iBUG 300-W order)

# dlib's 150 px face chip (get_face_chip, padding 0.25) in the app's FFHQ template: chip pixel (u, v, 1) →
# template pixel at 512 px (pixel centres at integers, as FFHQ_TEMPLATE_512): the mean of the chips dlib's
# five-point landmarks give on FFHQ training faces 0–399 (395 where dlib finds one face); measured by
# scripts/check_face_identity.py ("template"). What the fixed warp changes: docs/identity-measure.md.
CHIP_IN_TEMPLATE_512 = np.array(
    [
        [2.3539, -0.0119, 83.5729],
        [0.0119, 2.3539, 134.0161],
    ]
)


def default_weights_path() -> Path:
    """Where scripts/convert_face_api.py writes the converted weights: `.cache/face-api/` of the checkout."""
    return install_root() / ".cache" / "face-api" / WEIGHTS_NAME


def chip_theta(chip_in_template: np.ndarray = CHIP_IN_TEMPLATE_512) -> torch.Tensor:
    """`affine_grid`'s 2×3 theta for the chip: chip → face, both in normalised coordinates (−1…1 edge to edge,
    the same for every size of either image)."""
    linear, offset = chip_in_template[:, :2], chip_in_template[:, 2]
    n = DESCRIPTOR_CHIP_SIZE
    theta_linear = linear * n / 512.0  # chip pixel = n/2·(u_n + 1) − ½; template pixel = 256·(x_n + 1) − ½
    theta_offset = (linear @ np.full(2, (n - 1) / 2.0) + offset + 0.5) / 256.0 - 1.0
    return torch.tensor(np.column_stack([theta_linear, theta_offset]), dtype=torch.float32)


class FaceIdentity(nn.Module):
    """The descriptor and landmark networks behind a differentiable warp from the app's aligned faces. Frozen
    (eval mode, no parameter gradients): gradients flow to the input faces only, so it can serve as a loss."""

    theta: torch.Tensor

    def __init__(
        self,
        descriptor: FaceDescriptorNet,
        landmark_net: FaceLandmarkNet,
        value_range: tuple[float, float] = RESTORER_RANGE,
    ) -> None:
        super().__init__()
        self.descriptor = descriptor
        self.landmark_net = landmark_net
        self.value_range = value_range
        self.register_buffer("theta", chip_theta(), persistent=False)
        self.chip_scale = math.sqrt(abs(np.linalg.det(self.theta[:, :2].numpy())))  # chip width / face width
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def load(cls, path: Path | None = None, device: str | torch.device = "cpu") -> FaceIdentity:
        """The converted networks from `path` (default: `default_weights_path()`)."""
        path = default_weights_path() if path is None else path
        if not path.is_file():
            raise WeightsMissingError(
                f"The face identity weights are not at '{path}'. `bash scripts/setup.sh` (or "
                "`.venv/bin/python scripts/convert_face_api.py`) fetches face-api with npm and converts them once."
            )
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if payload.get("format") != FORMAT_NAME or payload.get("format_version") != FORMAT_VERSION:
                raise CheckpointError(f"'{path.name}' is not a converted face-api weights file of this version.")
            descriptor, landmark_net = FaceDescriptorNet(), FaceLandmarkNet()
            descriptor.load_state_dict({k: v.float() for k, v in payload["descriptor"].items()})
            landmark_net.load_state_dict({k: v.float() for k, v in payload["landmarks"].items()})
        except CheckpointError:
            raise
        except Exception as exc:  # truncated, foreign or mismatched files fail in many ways
            raise CheckpointError(f"'{path.name}' is not a usable face identity weights file ({exc}).") from exc
        return cls(descriptor, landmark_net).to(device)

    def _crops(self, faces: torch.Tensor, size: int) -> torch.Tensor:
        """The chip region of each face, `size`×`size`, RGB 0…255 (anti-aliased first where the face is finer)."""
        low, high = self.value_range
        faces = faces.float()  # the grid in bfloat16 would misplace samples by a third of a pixel
        finest = math.ceil(size / self.chip_scale)  # face size at which one output pixel spans one face pixel
        if faces.shape[-1] > finest:
            faces = F.interpolate(faces, size=(finest, finest), mode="bilinear", antialias=True, align_corners=False)
        grid = F.affine_grid(
            self.theta.expand(faces.shape[0], 2, 3), [faces.shape[0], 3, size, size], align_corners=False
        )
        crops = F.grid_sample(faces, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return (crops - low) * (255.0 / (high - low))

    def chips(self, faces: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) aligned faces → (N, 3, 150, 150) dlib face chips, RGB 0…255."""
        return self._crops(faces, DESCRIPTOR_CHIP_SIZE)

    def embed(self, faces: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) aligned faces → (N, 128) dlib face descriptors."""
        return self.descriptor(self.chips(faces))

    def landmarks(self, faces: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) aligned faces → (N, 68, 2) landmark points (x, y) in the faces' pixels (centres at 0…S−1)."""
        fractions = self.landmark_net(self._crops(faces, LANDMARK_INPUT_SIZE)).float()
        in_crop = torch.cat([fractions * 2.0 - 1.0, torch.ones_like(fractions[..., :1])], dim=-1)
        in_face = in_crop @ self.theta.float().T  # normalised face coordinates
        return ((in_face + 1.0) * faces.shape[-1] - 1.0) / 2.0


def identity_distance(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Euclidean distance between descriptors (N, 128) → (N,); below `SAME_PERSON_THRESHOLD`: one person."""
    return torch.linalg.vector_norm(first.float() - second.float(), dim=-1)


def landmark_distance(landmarks: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Mean point-to-point distance of (N, 68, 2) landmarks from the reference ones, divided by the reference's
    outer-eye-corner distance (the 300-W normalised mean error) → (N,)."""
    left, right = OUTER_EYE_CORNERS
    inter_ocular = torch.linalg.vector_norm(reference[:, right] - reference[:, left], dim=-1)
    return torch.linalg.vector_norm(landmarks - reference, dim=-1).mean(dim=-1) / inter_ocular
