"""The renderer's own small registry: build from a preset, save and load release checkpoints, the shipped file.

The renderer is not a `WorldModel` (it renders states but has no dynamics), so it is kept out of
`world_models.zoo.FAMILIES`; its checkpoints use the same format (`world_models.core.checkpoint`) with
``family="render"``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from world_models.core.checkpoint import (
    CheckpointError,
    load_state_dict_strict,
    read_checkpoint,
    save_checkpoint,
    split_extras,
)
from world_models.core.config import ConfigError, config_from_dict, config_to_dict
from world_models.render.config import RendererConfig, preset
from world_models.render.model import TennisRenderer

FAMILY = "render"
SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints" / "render_tennis_small.safetensors"
"""The CPU-trained ``small`` renderer that ships in the package."""


def build_renderer(config: RendererConfig | str = "tiny", *, device: str | torch.device = "cpu") -> TennisRenderer:
    """A randomly initialised renderer from a config or a preset name."""
    if isinstance(config, str):
        config = preset(config)
    return TennisRenderer(config).to(device)


def save_renderer(path: str | os.PathLike, model: TennisRenderer, *, info: dict[str, Any] | None = None) -> Path:
    """Write a release checkpoint (safetensors + JSON); returns the weights path."""
    return save_checkpoint(path, model, family=FAMILY, config=config_to_dict(model.config), info=info)


def load_renderer(path: str | os.PathLike | None = None, *,
                  device: str | torch.device = "cpu") -> tuple[TennisRenderer, dict[str, Any]]:  # fmt: skip
    """Load a renderer checkpoint (default: the shipped one) in eval mode; returns ``(model, header)``."""
    path = SHIPPED if path is None else path
    header, tensors = read_checkpoint(path)
    if header.get("family") != FAMILY:
        raise CheckpointError(f"{path} holds a {header.get('family')!r} model, but a {FAMILY!r} model was expected")
    try:
        config = config_from_dict(RendererConfig, header.get("config", {}))
    except ConfigError as error:
        raise CheckpointError(f"{path}: config does not fit this lge-gym version: {error}") from error
    model = TennisRenderer(config)
    weights, _ = split_extras(tensors)
    load_state_dict_strict(model, weights, str(path))
    return model.to(device).eval(), header
