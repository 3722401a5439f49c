"""The model zoo: every model family, its named presets (one table), and the checkpoints shipped in the package.

Presets: ``tiny`` (tests; random weights are fine), ``small`` (the CPU-trained weights that ship), ``paper`` (the
published sizes). A shipped checkpoint lives in ``world_models/checkpoints/NAME.{safetensors,json}`` beside the
config and command that trained it.
"""

from __future__ import annotations

import copy
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
from world_models.core.interface import WorldModel
from world_models.toy import ToyConfig, ToyWorldModel

# family -> (config class, model class)
FAMILIES: dict[str, tuple[type, type[WorldModel]]] = {
    "toy": (ToyConfig, ToyWorldModel),
}

# family -> preset name -> config. The one table of named sizes.
PRESETS: dict[str, dict[str, Any]] = {
    "toy": {
        "tiny": ToyConfig(),
        "tiny2p": ToyConfig(num_players=2, num_actions=3),
    },
}

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


def preset(family: str, name: str) -> Any:
    """A fresh copy of a named preset config."""
    if family not in PRESETS:
        raise KeyError(f"unknown model family {family!r}; known: {sorted(PRESETS)}")
    if name not in PRESETS[family]:
        raise KeyError(f"family {family!r} has no preset {name!r}; known: {sorted(PRESETS[family])}")
    return copy.deepcopy(PRESETS[family][name])


def build_model(family: str, config: Any = "tiny", *, device: str | torch.device = "cpu") -> WorldModel:
    """A randomly initialised model of ``family`` from a config object or a preset name."""
    if family not in FAMILIES:
        raise KeyError(f"unknown model family {family!r}; known: {sorted(FAMILIES)}")
    config_cls, model_cls = FAMILIES[family]
    if isinstance(config, str):
        config = preset(family, config)
    if not isinstance(config, config_cls):
        raise TypeError(f"family {family!r} takes a {config_cls.__name__}, got {type(config).__name__}")
    return model_cls(config).to(device)


def shipped_checkpoint(name: str) -> Path:
    """Path of a checkpoint that ships inside the package (``world_models/checkpoints/NAME.safetensors``)."""
    path = CHECKPOINT_DIR / f"{name}.safetensors"
    if not path.is_file():
        known = sorted(p.stem for p in CHECKPOINT_DIR.glob("*.safetensors"))
        raise CheckpointError(f"no shipped checkpoint named {name!r}; shipped: {known}")
    return path


def load_model(
    path: str | os.PathLike, *, family: str | None = None, device: str | torch.device = "cpu"
) -> tuple[WorldModel, dict[str, Any], dict[str, torch.Tensor]]:
    """Load a checkpoint: returns ``(model in eval mode, header, extras)``.

    ``family`` (when given) must match the checkpoint's, so a PVG file handed to an LGE environment fails with a
    message that says so rather than with a shape error deep inside torch.
    """
    header, tensors = read_checkpoint(path)
    found = header.get("family")
    if family is not None and found != family:
        raise CheckpointError(f"{path} holds a {found!r} model, but a {family!r} model was expected")
    if found not in FAMILIES:
        raise CheckpointError(f"{path}: unknown model family {found!r}; known: {sorted(FAMILIES)}")
    config_cls, model_cls = FAMILIES[found]
    try:
        config = config_from_dict(config_cls, header.get("config", {}))
    except ConfigError as error:
        raise CheckpointError(f"{path}: config does not fit this lge-gym version: {error}") from error
    model = model_cls(config)
    weights, extras = split_extras(tensors)
    load_state_dict_strict(model, weights, str(path))
    return model.to(device).eval(), header, extras


def save_model(
    path: str | os.PathLike,
    model: WorldModel,
    *,
    info: dict[str, Any] | None = None,
    extras: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write ``model`` (family and config taken from it) as a release checkpoint; see `save_checkpoint`."""
    return save_checkpoint(
        path, model, family=model.family, config=config_to_dict(model.config), info=info, extras=extras
    )
