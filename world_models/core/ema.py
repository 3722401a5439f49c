"""Exponential moving average of a module's parameters: the weights a trainer exports.

Diffusion models sample much cleaner trajectories from averaged weights than from the last optimiser step (the
last step's noise shows up as frame-to-frame jitter), so trainers keep an average and ship it.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ParameterAverage:
    """``average <- decay * average + (1 - decay) * parameter`` after every step, with the usual warm-up
    ``decay_n = min(decay, (1 + n) / (10 + n))`` so that an average started on random weights forgets them."""

    def __init__(self, module: nn.Module, decay: float = 0.999) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.names = [name for name, p in module.named_parameters() if p.requires_grad]
        self.average = {name: p.detach().clone() for name, p in module.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        params = dict(module.named_parameters())
        averages = [self.average[n] for n in self.names]
        torch._foreach_lerp_(averages, [params[n].detach() for n in self.names], 1.0 - decay)
        self.updates += 1

    def averaged_copy(self, module: nn.Module) -> nn.Module:
        """A deep copy of ``module`` holding the averaged parameters (buffers as in ``module``)."""
        out = copy.deepcopy(module)
        params = dict(out.named_parameters())
        with torch.no_grad():
            for name in self.names:
                params[name].copy_(self.average[name])
        return out

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "average": dict(self.average)}

    def load_state_dict(self, state: dict) -> None:
        missing = set(self.names) - set(state["average"])
        if missing:
            raise ValueError(f"parameter average lacks {sorted(missing)[:5]}")
        self.decay, self.updates = float(state["decay"]), int(state["updates"])
        for name in self.names:
            self.average[name].copy_(state["average"][name])
