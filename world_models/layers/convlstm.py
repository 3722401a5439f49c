"""Convolutional LSTM with learned initial states (design note ``pvg.md`` section 4).

The four gate convolutions are fused into one conv whose output channels are ordered input, forget, output, cell
gate (the converter of official checkpoints concatenates the four official convs in that order). The memory is
passed in and returned explicitly, so a batch of rollouts can keep it in a `TensorDict`.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvLSTMCell(nn.Module):
    """One ConvLSTM update: gates from a 3x3 conv over [inputs..., previous hidden]."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.gates = nn.Conv2d(in_channels + out_channels, 4 * out_channels, 3, padding=1)

    def forward(
        self, inputs: list[torch.Tensor], hidden: torch.Tensor, cell: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``inputs``: (B, C, h, w) maps or (B, k) vectors tiled over space, concatenated in the order given."""
        height, width = hidden.shape[-2:]
        maps = [x if x.dim() == 4 else x[:, :, None, None].expand(-1, -1, height, width) for x in inputs]
        gates = self.gates(torch.cat([*maps, hidden], dim=1))  # (B, 4*out, h, w)
        i, f, o, g = gates.chunk(4, dim=1)
        cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
        hidden = torch.sigmoid(o) * torch.tanh(cell)
        return hidden, cell


class ConvLSTM(nn.Module):
    """A `ConvLSTMCell` plus learned initial hidden and cell states of shape (out, h, w)."""

    def __init__(self, in_channels: int, out_channels: int, resolution: tuple[int, int]) -> None:
        super().__init__()
        self.cell = ConvLSTMCell(in_channels, out_channels)
        self.initial_hidden_state = nn.Parameter(torch.zeros(out_channels, *resolution))
        self.initial_hidden_cell_state = nn.Parameter(torch.zeros(out_channels, *resolution))

    def initial_memory(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The learned initial (hidden, cell), repeated over the batch."""
        expand = (batch, *self.initial_hidden_state.shape)
        return self.initial_hidden_state.expand(expand), self.initial_hidden_cell_state.expand(expand)

    def forward(
        self, inputs: list[torch.Tensor], memory: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if memory is None:
            memory = self.initial_memory(inputs[0].shape[0])
        return self.cell(inputs, *memory)
