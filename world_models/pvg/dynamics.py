"""Dynamics R (``dynamics_network``): a three-level ConvLSTM driven by the action and its variability.

Before every block the auxiliary input [action (A), variability (D)] is tiled over space and concatenated after
the features. The memory (three (hidden, cell) pairs) is passed in and returned; ``None`` starts from the learned
initial states.
"""

from __future__ import annotations

import torch
from torch import nn

from world_models.layers.blocks import SameBlock, UpBlock
from world_models.layers.convlstm import ConvLSTM
from world_models.pvg.config import PVGConfig

Memory = list[tuple[torch.Tensor, torch.Tensor]]


class RecurrentBlock(nn.Module):
    """ConvLSTM followed by BatchNorm of its hidden output."""

    def __init__(self, in_channels: int, out_channels: int, resolution: tuple[int, int]) -> None:
        super().__init__()
        self.lstm = ConvLSTM(in_channels, out_channels, resolution)
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, inputs: list[torch.Tensor], memory):
        hidden, cell = self.lstm(inputs, memory)
        return self.norm(hidden), (hidden, cell)


class Dynamics(nn.Module):
    """state (B, F, h, w) + action (B, A) + variability (B, D) + memory -> hidden map (B, Hd, h, w), memory."""

    def __init__(self, config: PVGConfig) -> None:
        super().__init__()
        hd, aux = config.dynamics_hidden, config.num_actions + config.action_space_dim
        full, half = config.state_resolution, config.half_resolution
        self.full_resolution = full
        self.recurrent_layers_blocks = nn.ModuleList(
            [
                RecurrentBlock(config.state_channels + aux, hd, full),
                RecurrentBlock(2 * hd + aux, 2 * hd, half),
                RecurrentBlock(hd + aux, hd, full),
            ]
        )
        self.non_recurrent_blocks = nn.ModuleList(
            [SameBlock(hd + aux, 2 * hd, 2), UpBlock(2 * hd + aux, hd, late_upscaling=True), SameBlock(hd + aux, hd, 1)]
        )

    def initial_memory(self, batch: int) -> Memory:
        """The learned initial (hidden, cell) of each level, repeated over the batch."""
        return [block.lstm.initial_memory(batch) for block in self.recurrent_layers_blocks]

    def forward(
        self, state: torch.Tensor, action: torch.Tensor, variation: torch.Tensor, memory: Memory | None
    ) -> tuple[torch.Tensor, Memory]:
        memory = memory or [None, None, None]
        aux = torch.cat([action, variation], dim=1)  # (B, A + D)
        height, width = self.full_resolution

        def tiled(x: torch.Tensor) -> torch.Tensor:
            return torch.cat([x, aux[:, :, None, None].expand(-1, -1, *x.shape[-2:])], dim=1)

        x, m0 = self.recurrent_layers_blocks[0]([state, action, variation], memory[0])  # (B, Hd, h, w)
        x = self.non_recurrent_blocks[0](tiled(x))  # (B, 2Hd, h/2, w/2)
        x, m1 = self.recurrent_layers_blocks[1]([x, action, variation], memory[1])
        x = self.non_recurrent_blocks[1](tiled(x), size=(height, width))  # (B, Hd, h, w)
        x, m2 = self.recurrent_layers_blocks[2]([x, action, variation], memory[2])
        x = self.non_recurrent_blocks[2](tiled(x))  # (B, Hd, h, w)
        return x, [m0, m1, m2]
