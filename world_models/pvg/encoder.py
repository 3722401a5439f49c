"""Encoder E (``representation_network``): a frame stack to a spatial state and a sigmoid attention map."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from world_models.layers.blocks import SLOPE, ResidualBlock
from world_models.pvg.config import PVGConfig


class Encoder(nn.Module):
    """conv3x3 -> avg-pool 2 -> BN -> LReLU, then six residual blocks to F + 1 channels at 1/8 resolution."""

    def __init__(self, config: PVGConfig) -> None:
        super().__init__()
        c1, c2, c3 = config.encoder_channels
        f = config.state_channels
        self.conv1 = nn.Conv2d(3 * config.frames_per_observation, c1, 3, padding=1, bias=False)
        self.pool = nn.AvgPool2d(2)
        self.bn1 = nn.BatchNorm2d(c1)
        self.residuals = nn.ModuleList(
            [
                ResidualBlock(c1, c1, 1),
                ResidualBlock(c1, c2, 2),
                ResidualBlock(c2, c2, 1),
                ResidualBlock(c2, c3, 2),
                ResidualBlock(c3, c3, 1),
                ResidualBlock(c3, f + 1, 1),
            ]
        )

    def forward(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3S, H, W) in [-1, 1] -> state (N, F, H/8, W/8), attention (N, 1, H/8, W/8) in (0, 1)."""
        x = F.leaky_relu(self.bn1(self.pool(self.conv1(observations))), SLOPE)
        for block in self.residuals:
            x = block(x)
        return x[:, :-1], torch.sigmoid(x[:, -1:])
