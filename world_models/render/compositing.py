"""Volume rendering across objects: samples of every object on a ray, sorted by depth, alpha-composited front to
back over an opaque background, batched over rays."""

from __future__ import annotations

import torch


def composite(t: torch.Tensor, alpha: torch.Tensor, rgb: torch.Tensor,
              background: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Front-to-back emission-absorption compositing.

    t: (N, L) sample depths (inf for absent samples, whose alpha must be 0); alpha: (N, L) opacity in [0, 1];
    rgb: (N, L, 3); background: (N, 3) colour behind every sample.
    Returns colour (N, 3), the weight of each sample (N, L) in the input order, and the background's weight (N,).
    """
    order = torch.argsort(t, dim=1)
    a = torch.gather(alpha, 1, order)  # (N, L) nearest first
    c = torch.gather(rgb, 1, order.unsqueeze(-1).expand(-1, -1, 3))
    keep = torch.cumprod(1.0 - a, dim=1)  # transmittance after each sample
    before = torch.cat([torch.ones_like(keep[:, :1]), keep[:, :-1]], 1)
    w = a * before  # (N, L)
    rest = keep[:, -1]
    colour = (w.unsqueeze(-1) * c).sum(1) + rest.unsqueeze(-1) * background
    weights = torch.zeros_like(w).scatter(1, order, w)
    return colour, weights, rest


def over(alpha: torch.Tensor, rgb: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """One semi-transparent layer (N,), (N, 3) over an opaque background (N, 3)."""
    a = alpha.unsqueeze(-1)
    return a * rgb + (1.0 - a) * background
