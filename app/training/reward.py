"""A differentiable NR-IQA reward for Stage III.

The reward must not prefer noise or grain, and PIQE does (it scores noise as detail) and has no
gradient. So this small CNN learns, from the face alone, how close it is to its clean original:
its target is the SSIM (on luminance) of each training example against the clean face, where the
examples are clean faces (target 1) and copies degraded by blur, downsampling, noise and JPEG at
random strengths, or by one distortion alone (pixel grain, JPEG blocks or a slight blur). Blur,
noise and compression all lower the target, so a face can only score well by looking undegraded.
It is then frozen and used as the reward.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from skimage.metrics import structural_similarity
from torch import nn
from torch.nn import functional as F

from app.errors import CheckpointError, TrainingSetupError
from app.image_tensors import image_to_tensor
from app.metrics import luminance
from app.model.checkpoint import mismatch_reason, read_weights
from app.training.degradation import DegradationConfig, degrade

REWARD_ITERATIONS = 2000  # fitting steps (batch 32); 600 left the reward blind to pixel grain


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


def single_distortion(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One distortion alone at full resolution (the training degradation adds its noise before
    upscaling, so it never shows pixel grain): grain, JPEG blocks or a slight blur."""
    kind = rng.integers(3)
    if kind == 0:
        grain = rng.normal(0.0, rng.uniform(2.0, 15.0), face.shape)
        return np.clip(np.round(face + grain), 0, 255).astype(np.uint8)
    if kind == 1:
        quality = int(rng.integers(15, 90))
        _ok, encoded = cv2.imencode(".jpg", face[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        if decoded is None:
            raise RuntimeError("OpenCV could not JPEG-compress a training face")
        return np.ascontiguousarray(decoded[..., ::-1])
    return cv2.GaussianBlur(face, (0, 0), rng.uniform(0.5, 2.0))


def reward_examples(images: list[np.ndarray], seed: int, degraded_per_face: int = 3):
    """(faces, targets): each clean face (target 1) plus degraded copies (the training degradation,
    a milder one, and a single distortion, in turn), each with its luminance SSIM against the clean
    face as the target."""
    rng = np.random.default_rng(seed)
    mild = DegradationConfig(
        blur_sigma=(0.5, 8.0), downsample=(1.0, 16.0), noise_sigma=(0.0, 12.0), jpeg_quality=(40, 95)
    )
    makers = (
        lambda face: degrade(face, rng, DegradationConfig()),
        lambda face: degrade(face, rng, mild),
        lambda face: single_distortion(face, rng),
    )
    faces, targets = [], []
    for face in images:
        reference = luminance(face)
        faces.append(face)
        targets.append(1.0)
        for k in range(degraded_per_face):
            variant = makers[k % len(makers)](face)
            faces.append(variant)
            targets.append(structural_similarity(reference, luminance(variant), data_range=255.0))
    return faces, np.clip(np.array(targets, dtype=np.float32), 0.0, 1.0)


def train_reward(
    images: list[np.ndarray],
    device: torch.device,
    iterations: int = REWARD_ITERATIONS,
    batch_size: int = 32,
    seed: int = 0,
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
    """The reward a run fitted earlier (its reward.pt). One that cannot be used is a TrainingSetupError saying
    why and what to do (nothing in the file is executed)."""
    advice = "Move it away and the run fits a new reward."
    try:
        payload = read_weights(path)
        net = QualityRewardNet()
        net.load_state_dict(payload["state_dict"])
        stats = dict(payload["stats"])
    except CheckpointError as exc:
        raise TrainingSetupError(f"Cannot use the quality reward {path}: {exc} {advice}") from exc
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise TrainingSetupError(
            f"Cannot use the quality reward {path}: it does not fit the reward network ({mismatch_reason(exc)}). "
            f"{advice}"
        ) from exc
    return net.to(device).eval(), stats
