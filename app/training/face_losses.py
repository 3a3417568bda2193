"""Losses through a pretrained face network (dlib's face descriptor, converted from face-api: app/faces/identity.py).

* identity: the descriptor distance between the output and the clean face (GFPGAN's ArcFace identity loss, with
  the network this project can have offline);
* face_perceptual: the distance of the descriptor network's feature maps at each resolution, each map's
  mean absolute difference divided by the clean face's mean absolute activation there (a face-trained
  perceptual space, in place of the VGG/LPIPS weights that cannot be had here).

The network is frozen; gradients reach the output only. The clean side is computed without gradients.
"""

from __future__ import annotations

import torch

from app.faces.identity import FaceIdentity, identity_distance

FACE_LOSS_NAMES = ("identity", "face_perceptual")


class FaceNetworkLosses:
    def __init__(self, identity: FaceIdentity) -> None:
        self.identity = identity

    def __call__(self, output: torch.Tensor, clean: torch.Tensor) -> dict[str, torch.Tensor]:
        output = output.float()
        with torch.no_grad():
            clean_maps = self.identity.features(clean.float())
            clean_descriptor = self.identity.descriptor.fc(clean_maps[-1].mean(dim=(2, 3)))
        maps = self.identity.features(output)
        descriptor = self.identity.descriptor.fc(maps[-1].mean(dim=(2, 3)))
        perceptual = sum(
            (
                (found - wanted).abs().mean() / wanted.abs().mean().clamp(min=1e-6)
                for found, wanted in zip(maps, clean_maps, strict=True)
            ),
            output.new_zeros(()),
        )
        return {
            "identity": identity_distance(descriptor, clean_descriptor).mean(),
            "face_perceptual": perceptual / len(maps),
        }
