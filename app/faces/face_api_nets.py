"""The two face-api networks in PyTorch, for identity and landmark measures (weights: `app.faces.face_api_convert`).

`FaceDescriptorNet` is dlib's ResNet-29 metric network (`dlib_face_recognition_resnet_model_v1`), which face-api's
FaceRecognitionNet ports: a 150×150 face chip in, a 128-D descriptor out; two faces whose descriptors lie closer
than 0.6 (Euclidean) are the same person by dlib's rule. Each convolution's bias and the per-channel scale that
follows it (dlib's `affine` layer) are folded into the convolution at conversion.

`FaceLandmarkNet` is face-api's own 68-point landmark regressor (FaceLandmark68Net): a 112×112 face crop in,
68 (x, y) points out, as fractions of the crop's width and height.

Both take RGB float tensors (N, 3, H, W) with black at 0 and white at 255.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MEAN_RGB = (122.782, 117.001, 104.298)  # both networks subtract this (dlib's input_rgb_image and face-api alike)
DESCRIPTOR_CHIP_SIZE = 150
DESCRIPTOR_SIZE = 128
LANDMARK_INPUT_SIZE = 112
LANDMARK_COUNT = 68


class _ResidualBlock(nn.Module):
    """conv-relu-conv plus the input, then relu; a down block halves the size (stride 2, no padding) and its
    shortcut is a 2×2 average pool, zero-padded to the block's width (channels) — as dlib's add_prev does."""

    def __init__(self, channels_in: int, channels: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(channels_in, channels, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        if not self.down:
            return F.relu(out + x)
        shortcut = F.avg_pool2d(x, 2)
        # dlib adds tensors of different sizes by zero-padding the smaller one at the end of each dimension
        out = F.pad(out, (0, shortcut.shape[3] - out.shape[3], 0, shortcut.shape[2] - out.shape[2]))
        shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, out.shape[1] - shortcut.shape[1]))
        return F.relu(out + shortcut)


# (name in face-api's weights, input channels, channels, halves the size)
DESCRIPTOR_BLOCKS = (
    ("conv32_1", 32, 32, False),
    ("conv32_2", 32, 32, False),
    ("conv32_3", 32, 32, False),
    ("conv64_down", 32, 64, True),
    ("conv64_1", 64, 64, False),
    ("conv64_2", 64, 64, False),
    ("conv64_3", 64, 64, False),
    ("conv128_down", 64, 128, True),
    ("conv128_1", 128, 128, False),
    ("conv128_2", 128, 128, False),
    ("conv256_down", 128, 256, True),
    ("conv256_1", 256, 256, False),
    ("conv256_2", 256, 256, False),
    ("conv256_down_out", 256, 256, True),
)


class FaceDescriptorNet(nn.Module):
    """dlib's face descriptor: (N, 3, 150, 150) RGB 0…255 chips (dlib's `get_face_chip`, size 150, padding 0.25)
    → (N, 128) descriptors."""

    mean: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN_RGB).view(1, 3, 1, 1), persistent=False)
        self.conv32_down = nn.Conv2d(3, 32, 7, stride=2)
        self.blocks = nn.ModuleDict({name: _ResidualBlock(cin, c, down) for name, cin, c, down in DESCRIPTOR_BLOCKS})
        self.fc = nn.Linear(256, DESCRIPTOR_SIZE, bias=False)

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        x = (chips - self.mean) / 256.0  # dlib's input_rgb_image (face-api divides by 255; see the model card)
        x = F.max_pool2d(F.relu(self.conv32_down(x)), 3, stride=2)
        for block in self.blocks.values():
            x = block(x)
        return self.fc(x.mean(dim=(2, 3)))


class _SeparableConv(nn.Module):
    """TensorFlow's separableConv2d with 'same' padding: a 3×3 depthwise convolution then a 1×1 one (with bias)."""

    def __init__(self, channels_in: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        self.depthwise = nn.Conv2d(channels_in, channels_in, 3, stride=stride, groups=channels_in, bias=False)
        self.pointwise = nn.Conv2d(channels_in, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(_pad_same(x, self.stride)))


def _pad_same(x: torch.Tensor, stride: int, kernel: int = 3) -> torch.Tensor:
    """TensorFlow's 'same' padding: the odd pixel of an uneven total goes to the bottom and right."""
    padding = []
    for size in (x.shape[3], x.shape[2]):
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        padding += [total // 2, total - total // 2]
    return F.pad(x, padding)


class _DenseBlock(nn.Module):
    """face-api's denseBlock4: four convolutions, each fed the sum of the earlier ones' outputs; halves the size."""

    def __init__(self, channels_in: int, channels: int, first: bool = False) -> None:
        super().__init__()
        self.first = first
        self.conv0: nn.Module = (
            nn.Conv2d(channels_in, channels, 3, stride=2) if first else _SeparableConv(channels_in, channels, stride=2)
        )
        self.conv1 = _SeparableConv(channels, channels)
        self.conv2 = _SeparableConv(channels, channels)
        self.conv3 = _SeparableConv(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = F.relu(self.conv0(_pad_same(x, 2) if self.first else x))
        out2 = self.conv1(out1)
        out3 = self.conv2(F.relu(out1 + out2))
        out4 = self.conv3(F.relu(out1 + out2 + out3))
        return F.relu(out1 + out2 + out3 + out4)


class FaceLandmarkNet(nn.Module):
    """face-api's 68-point landmarks: (N, 3, 112, 112) RGB 0…255 crops → (N, 68, 2) points (x, y) as fractions
    of the crop's size (iBUG 300-W order: jaw 0–16, brows 17–26, nose 27–35, eyes 36–47, mouth 48–67)."""

    mean: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN_RGB).view(1, 3, 1, 1), persistent=False)
        self.dense0 = _DenseBlock(3, 32, first=True)
        self.dense1 = _DenseBlock(32, 64)
        self.dense2 = _DenseBlock(64, 128)
        self.dense3 = _DenseBlock(128, 256)
        self.fc = nn.Linear(256, 2 * LANDMARK_COUNT)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        x = (crops - self.mean) / 255.0
        x = self.dense3(self.dense2(self.dense1(self.dense0(x))))
        x = F.avg_pool2d(x, 7, stride=2)
        return self.fc(x.flatten(1)).view(-1, LANDMARK_COUNT, 2)
