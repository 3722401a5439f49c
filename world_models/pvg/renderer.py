"""Renderer D (``rendering_network``): the dynamics hidden map to RGB frames at three resolutions."""

from __future__ import annotations

import torch
from torch import nn

from world_models.layers.blocks import FinalBlock, ResidualBlock, UpBlock
from world_models.pvg.config import PVGConfig


class Renderer(nn.Module):
    """Three x2 upsampling stages from 1/8 to full resolution, each with an RGB output (7x7 conv at the top)."""

    def __init__(self, config: PVGConfig) -> None:
        super().__init__()
        c0, c1, c2 = config.renderer_channels
        self.bottleneck_blocks = nn.ModuleList()
        self.upsample_blocks = nn.ModuleList(
            [
                nn.Sequential(UpBlock(config.dynamics_hidden, c0), ResidualBlock(c0, c0, 1)),
                nn.Sequential(UpBlock(c0, c1), ResidualBlock(c1, c1, 1)),
                UpBlock(c1, c2),
            ]
        )
        self.final_blocks = nn.ModuleList([FinalBlock(c0, 3, 3), FinalBlock(c1, 3, 3), FinalBlock(c2, 3, 7)])

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(B, Hd, h, w) -> full-resolution frame (B, 3, 8h, 8w) and [full, half, quarter] frames in [-1, 1]."""
        outputs = []
        x = hidden
        for block, final in zip(self.upsample_blocks, self.final_blocks, strict=True):
            x = block(x)
            outputs.append(final(x))
        outputs.reverse()
        return outputs[0], outputs
