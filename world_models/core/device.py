"""Where models run: ``"auto"`` picks the GPU when there is one, and random draws follow the model there."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> ``cuda`` when a CUDA device is visible, else ``cpu``; anything else as given, checked."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} asked for, but torch sees no CUDA device (use 'cpu' or 'auto')")
    return device


def training_generators(seed: int, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    """``(model, data)`` generators of a training run: the model's draws (diffusion noise, Gumbel noise) are made
    on ``device`` and batches are drawn on the CPU. On the CPU one generator serves both, so CPU runs and their
    resume states are the same as with a single generator."""
    model = torch.Generator(device=device).manual_seed(seed)
    data = model if device.type == "cpu" else torch.Generator().manual_seed(seed + 1)
    return model, data
