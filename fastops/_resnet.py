"""ResNet-18 in plain PyTorch, for the parallel-inference study (``python -m fastops study``).

The architecture of He et al. (2015), "Deep Residual Learning for Image Recognition",
table 1, 18-layer column, laid out as torchvision's ``resnet18`` (which does not
import beside torch 2.13 here).  Weights are random (seeded): nothing is downloaded;
the study needs the model's cost and a deterministic output, not its accuracy.
Batch norm runs in eval mode with its initial running statistics.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["resnet18"]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (1x1 projection when the shape changes)."""

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResNet18(nn.Module):
    """(N, 3, H, W) float32 images, normalized -> (N, num_classes) logits."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1))
        stages: list[nn.Module] = []
        in_channels = 64
        for channels, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages += [BasicBlock(in_channels, channels, stride), BasicBlock(channels, channels, 1)]
            in_channels = channels
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.stages(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


def resnet18(seed: int = 0, **kwargs: Any) -> ResNet18:
    """A ResNet-18 with seeded random weights, in eval mode (the same weights for a seed)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return ResNet18(**kwargs).eval()
