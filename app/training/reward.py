"""A differentiable NR-IQA reward for Stage III.

PIQE, the app's weight-free metric, has zero gradient (thresholded block statistics), so it
cannot drive optimisation directly. This small CNN is trained to predict the app's normalised
PIQE score of 128 px faces, clean and degraded, and is then frozen and used as the reward.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from app.image_tensors import image_to_tensor
from app.training.degradation import DegradationConfig, degrade


class QualityRewardNet(nn.Module):
    def __init__(self, width: int = 32) -> None:
        super().__init__()
        layers, channels = [], 3
        for out in (width, width, width * 2, width * 2, width * 4):
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.GroupNorm(8, out), nn.SiLU()]
            channels = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels * 2, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] → predicted quality in (0, 1)."""
        h = self.features(images)
        pooled = torch.cat([h.mean((2, 3)), h.std((2, 3), correction=0)], dim=1)
        return torch.sigmoid(self.head(pooled)).squeeze(1)


def reward_examples(images: list[np.ndarray], seed: int, degraded_per_face: int = 2):
    """(faces, PIQE targets): each clean face plus degraded copies at random strengths."""
    from app.quality import QualityScorer

    scorer = QualityScorer("piqe")
    rng = np.random.default_rng(seed)
    mild = DegradationConfig(
        blur_sigma=(0.5, 8.0), downsample=(1.0, 16.0), noise_sigma=(0.0, 12.0), jpeg_quality=(40, 95)
    )
    faces, targets = [], []
    for face in images:
        variants = [face] + [
            degrade(face, rng, mild if k % 2 else DegradationConfig()) for k in range(degraded_per_face)
        ]
        for variant in variants:
            faces.append(variant)
            targets.append(scorer.score(variant).normalized)
    return faces, np.array(targets, dtype=np.float32)


def train_reward(
    images: list[np.ndarray], device: torch.device, iterations: int = 600, batch_size: int = 32, seed: int = 0
) -> tuple[QualityRewardNet, dict]:
    torch.manual_seed(seed)
    faces, targets = reward_examples(images, seed)
    order = np.random.default_rng(seed).permutation(len(faces))
    split_at = int(0.9 * len(order))
    train_ids, check_ids = order[:split_at], order[split_at:]
    net = QualityRewardNet().to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    batch_rng = np.random.default_rng(seed + 1)
    for _ in range(iterations):
        ids = batch_rng.choice(train_ids, batch_size)
        batch = torch.stack(
            [
                image_to_tensor(np.ascontiguousarray(faces[i][:, ::-1] if batch_rng.random() < 0.5 else faces[i]))
                for i in ids
            ]
        ).to(device)
        loss = F.mse_loss(net(batch), torch.from_numpy(targets[ids]).to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    net.eval()
    with torch.no_grad():
        predicted = torch.cat(
            [
                net(torch.stack([image_to_tensor(faces[i]) for i in check_ids[k : k + 64]]).to(device)).cpu()
                for k in range(0, len(check_ids), 64)
            ]
        ).numpy()
    actual = targets[check_ids]
    stats = {
        "examples": len(faces),
        "check_examples": len(check_ids),
        "check_pearson": float(np.corrcoef(predicted, actual)[0, 1]),
        "check_mae": float(np.abs(predicted - actual).mean()),
    }
    return net, stats


def save_reward(net: QualityRewardNet, stats: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": net.state_dict(), "stats": stats}, path)


def load_reward(path: Path, device: torch.device) -> tuple[QualityRewardNet, dict]:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    net = QualityRewardNet()
    net.load_state_dict(payload["state_dict"])
    return net.to(device).eval(), payload["stats"]
