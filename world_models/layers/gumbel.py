"""Gumbel-softmax with noise drawn from a caller's generator."""

from __future__ import annotations

import torch


def gumbel_softmax(
    log_probs: torch.Tensor, temperature: float, *, generator: torch.Generator | None, hard: bool = False
) -> torch.Tensor:
    """softmax((log_probs + g) / temperature), g = -log(-log(U + 1e-20) + 1e-20); ``hard`` gives straight-through
    one-hot samples. ``generator=None`` draws no noise (the deterministic soft relaxation)."""
    if generator is not None:
        uniform = torch.rand(log_probs.shape, generator=generator, device=log_probs.device, dtype=log_probs.dtype)
        log_probs = log_probs - torch.log(-torch.log(uniform + 1e-20) + 1e-20)
    soft = torch.softmax(log_probs / temperature, dim=-1)
    if not hard:
        return soft
    one_hot = torch.nn.functional.one_hot(soft.argmax(-1), soft.shape[-1]).to(soft.dtype)
    return one_hot + soft - soft.detach()
