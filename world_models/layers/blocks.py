"""Convolutional blocks with LeakyReLU(0.2) and BatchNorm (design note ``pvg.md`` section 4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SLOPE = 0.2


def _pool(factor: int) -> nn.Module:
    return nn.AvgPool2d(factor) if factor != 1 else nn.Identity()


class ResidualBlock(nn.Module):
    """conv3x3 -> avg-pool -> BN -> LReLU -> conv3x3 -> BN, plus a (conv1x1 -> pool -> BN) skip; sum -> LReLU."""

    def __init__(self, in_channels: int, out_channels: int, factor: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.pool = _pool(factor)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if factor != 1 or in_channels != out_channels:
            # Indices 0 and 2 hold the weights, as in the official key names.
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False), _pool(factor), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, Cin, H, W) -> (N, Cout, H/f, W/f)
        out = F.leaky_relu(self.bn1(self.pool(self.conv1(x))), SLOPE)
        out = self.bn2(self.conv2(out))
        skip = x if self.downsample is None else self.downsample(x)
        return F.leaky_relu(out + skip, SLOPE)


class SameBlock(nn.Module):
    """conv3x3 -> optional avg-pool -> BN -> LReLU."""

    def __init__(self, in_channels: int, out_channels: int, factor: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.pool = _pool(factor)
        self.bn1 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.bn1(self.pool(self.conv1(x))), SLOPE)


class UpBlock(nn.Module):
    """Bilinear x2 upsampling -> conv3x3 -> BN -> LReLU; ``late_upscaling`` moves the upsampling after the conv.

    ``size`` in `forward` replaces the factor 2 by an explicit output size (odd state resolutions).
    """

    def __init__(self, in_channels: int, out_channels: int, late_upscaling: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(out_channels)
        self.late_upscaling = late_upscaling

    @staticmethod
    def _up(x: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
        if size is None:
            return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        if self.late_upscaling:
            return F.leaky_relu(self.norm(self._up(self.conv(x), size)), SLOPE)
        return F.leaky_relu(self.norm(self.conv(self._up(x, size))), SLOPE)


class FinalBlock(nn.Module):
    """conv k x k with bias -> tanh: features to an RGB image in [-1, 1]."""

    def __init__(self, in_channels: int, out_channels: int = 3, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x))
