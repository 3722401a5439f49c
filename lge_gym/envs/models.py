"""How environments get their world model: a shipped checkpoint, a user's file, or a random preset."""

from __future__ import annotations

import os
from typing import Any

import torch

from world_models.core.device import resolve_device
from world_models.core.interface import WorldModel
from world_models.zoo import build_model, load_model, shipped_checkpoint


def resolve_model(
    family: str,
    checkpoint: str | os.PathLike | None,
    *,
    preset: str = "tiny",
    device: str | torch.device = "auto",
    init_seed: int = 0,
) -> tuple[WorldModel, dict[str, Any], dict[str, torch.Tensor]]:
    """``(model, header, extras)`` for an environment.

    ``checkpoint`` is a path to a ``.safetensors`` checkpoint, the name of one shipped in the package, or ``None``
    for a randomly initialised model of ``preset`` (weights drawn from ``init_seed``, so every process builds the
    same random model; for tests and benchmarks of the plumbing). ``device="auto"`` is the GPU when there is one.
    """
    device = resolve_device(device)
    if checkpoint is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            model = build_model(family, preset, device=device)
        return model.eval(), {"family": family, "preset": preset, "info": {"random_init_seed": init_seed}}, {}
    path = checkpoint
    if isinstance(checkpoint, str) and os.path.sep not in checkpoint and not checkpoint.endswith(".safetensors"):
        path = shipped_checkpoint(checkpoint)
    return load_model(path, family=family, device=device)
