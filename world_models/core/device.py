"""Where models run: ``"auto"`` picks the GPU when there is one, and random draws follow the model there."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

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


def generator_states(generator: torch.Generator, data_generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The resume-state entries of a run's `training_generators`."""
    return {"generator": generator.get_state(), "data_generator": data_generator.get_state()}


def restore_generators(state: dict, generator: torch.Generator, data_generator: torch.Generator) -> None:
    """Set a run's `training_generators` from its resume state (states written before the data generator existed,
    or on the CPU where the two are one, hold only ``"generator"``)."""
    generator.set_state(state["generator"])
    if data_generator is not generator and "data_generator" in state:
        data_generator.set_state(state["data_generator"])


@contextlib.contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Build modules inside this block to draw their initial weights from ``seed``: a training command's weights
    then depend on its arguments alone. The global generator is forked, so the caller's stream is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
