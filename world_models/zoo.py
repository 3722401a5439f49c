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
from world_models.lge.config import LGEConfig
from world_models.lge.world import LGEWorldModel
from world_models.pe import PEConfig, PEWorldModel
from world_models.pvg import PVGConfig, PVGModel
from world_models.toy import ToyConfig, ToyWorldModel

# family -> (config class, model class)
FAMILIES: dict[str, tuple[type, type[WorldModel]]] = {
    "toy": (ToyConfig, ToyWorldModel),
    "lge": (LGEConfig, LGEWorldModel),
    "pvg": (PVGConfig, PVGModel),
    "pe": (PEConfig, PEWorldModel),
}

# family -> preset name -> config. The one table of named sizes.
PRESETS: dict[str, dict[str, Any]] = {
    "toy": {
        "tiny": ToyConfig(),
        "tiny2p": ToyConfig(num_players=2, num_actions=3),
    },
    # LGE animation model. `paper` follows the published transformer scale; `small` is the CPU-trained shipped
    # model (25 fps like the engine and its referee, 32-frame windows = 1.28 s; sampled with fresh noise each step
    # and no guidance, chosen on validation points, docs/lge.md); `tiny` is for tests.
    "lge": {
        "tiny": LGEConfig(window=8, context=2, d_model=32, layers=1, heads=2, mlp_ratio=2, diffusion_steps=100,
                          sample_steps=4),
        "small": LGEConfig(window=32, context=8, frame_stride=1, sample_steps=32, eta=1.0, guidance=1.0,
                           text_whitening=True, ball_text=True, reconcile_weight=0.0),
        "paper": LGEConfig(window=32, context=8, frame_stride=1, d_model=512, layers=12, heads=8, sample_steps=25,
                           text_dim=768),
    },
    # PVG: `paper` is the published Breakout model (3,138,659 parameters without the reward/termination heads);
    # `paper_bair` and `paper_tennis` are the other published sizes (used by the checkpoint converter);
    # `small` is the CPU-trained shipped model (half-resolution input, narrower widths, short schedule).
    "pvg": {
        "tiny": PVGConfig(
            height=32, width=24, crop=(0, 0, 160, 208), state_channels=8, encoder_channels=(4, 8, 8), action_hidden=8,
            dynamics_hidden=8, renderer_channels=(8, 8, 4), head_hidden=8, batch_size=2, pretrain_steps=1,
            gumbel_anneal_steps=10, sequence_length_start=3, sequence_length_end=4, sequence_length_steps=4,
            teacher_forced_observations=2, max_steps=4,
        ),
        "small": PVGConfig(
            height=104, width=80, crop=(0, 0, 160, 208), state_channels=32, encoder_channels=(16, 32, 32), motion_weight=40.0,
            action_hidden=64, dynamics_hidden=32, renderer_channels=(32, 32, 16), head_hidden=32, batch_size=8,
            pretrain_steps=300, gumbel_anneal_steps=3000, sequence_length_start=5, sequence_length_end=7,
            sequence_length_steps=3000, teacher_forced_observations=4, max_steps=20_000,
        ),
        "paper": PVGConfig(),
        "paper_bair": PVGConfig(
            height=256, width=256, crop=(0, 0, 256, 256), num_actions=7, action_space_dim=2, dynamics_hidden=128,
            renderer_channels=(128, 64, 32), pretrain_steps=1000, sequence_length_end=12, sequence_length_steps=25_000,
            fps=10.0,
        ),
        "paper_tennis": PVGConfig(
            height=96, width=256, crop=(0, 0, 256, 96), frames_per_observation=4, frame_skip=4, num_actions=7,
            action_space_dim=5, dynamics_hidden=128, renderer_channels=(128, 64, 32), batch_size=6,
            sequence_length_end=12, sequence_length_steps=25_000, weight_mutual_information=0.03, mi_smoothing=0.0,
            weight_action_state_kl=1e-5, fps=5.0,
        ),
        # PVG-Tennis (engine broadcast video, near half of the court, 256x96 stored at 5 fps): paper conventions
        # (4 stacked frames, 7 actions, D = 5, plain MI 0.03, action-state KL) at half the paper's resolution and
        # CPU widths; the frames are already every 5th engine frame, so frame_skip is 0. `tiny_tennis` is for tests.
        "small_tennis": PVGConfig(
            height=48, width=128, crop=(0, 0, 256, 96), frames_per_observation=4, frame_skip=0, num_actions=7,
            action_space_dim=5, state_channels=32, encoder_channels=(16, 32, 32), action_hidden=64, dynamics_hidden=32,
            renderer_channels=(32, 32, 16), head_hidden=32, motion_weight=40.0, batch_size=4, pretrain_steps=150,
            gumbel_anneal_steps=1000, sequence_length_start=5, sequence_length_end=6, sequence_length_steps=1000,
            teacher_forced_observations=3, weight_mutual_information=0.03, mi_smoothing=0.0,
            weight_action_state_kl=1e-5, max_steps=2000, fps=5.0,
        ),
        "tiny_tennis": PVGConfig(
            height=16, width=32, crop=(0, 0, 256, 96), frames_per_observation=4, num_actions=7, action_space_dim=5,
            state_channels=8, encoder_channels=(4, 8, 8), action_hidden=8, dynamics_hidden=8,
            renderer_channels=(8, 8, 4), head_hidden=8, batch_size=2, pretrain_steps=1, gumbel_anneal_steps=10,
            sequence_length_start=3, sequence_length_end=4, sequence_length_steps=4, teacher_forced_observations=2,
            weight_mutual_information=0.03, mi_smoothing=0.0, weight_action_state_kl=1e-5, max_steps=4, fps=5.0,
        ),
    },
    # PE action module per tennis player: `paper` has the published sizes (pe.md sections 9-10); `small` is the
    # CPU-trained shipped model (narrower, batch 32, location and pose losses up-weighted because one engine frame
    # moves a player by at most a few centimetres in normalised units; ACMV on saturated displacements in metres, so
    # that the actions split movement by direction, not by speed); `tiny` is for tests.
    "pe": {
        "tiny": PEConfig(action_hidden=8, dynamics_hidden=16, discriminator_channels=8, discriminator_kernel=3,
                         prior_hidden=8, batch_size=4, sequence_length_start=3, sequence_length_end=4,
                         sequence_length_steps=4, context=2, max_steps=4),
        "small": PEConfig(action_hidden=64, dynamics_hidden=128, discriminator_channels=64, prior_hidden=64,
                          batch_size=32, lr=1e-3, weight_location=100.0, weight_pose=10.0, weight_acmv=1.0,
                          acmv_speed_scale=1.0, context=1, sequence_length_steps=3000, max_steps=30_000),
        "paper": PEConfig(),
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


def checkpoint_path(name: str | os.PathLike) -> Path:
    """A checkpoint given by path, or by the name of one shipped with the package (``"lge_tennis_small"``)."""
    path = Path(name)
    return path if path.suffix or path.exists() else shipped_checkpoint(str(name))


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
    model.load_extras(extras)
    return model.to(device).eval(), header, extras


def warm_start(
    model: WorldModel, path: str | os.PathLike, *, step_keys: tuple[str, ...] = ("steps", "steps_trained")
) -> tuple[int, dict[str, Any]]:
    """Copy a release checkpoint's weights and extras into ``model`` (same family and config) to continue training
    it when its resume state is gone; returns the training step the checkpoint records (0 when it records none).

    The optimizer state is not in a release checkpoint: the caller starts a fresh one.
    """
    source, header, extras = load_model(path, family=model.family)
    # Sampling and loss settings: the weights do not depend on them, and a continued run may change them. Growth
    # switches add parts that start as identities: a run may switch them on (`grow_from`), never off.
    cls = type(model.config)
    growth = getattr(cls, "GROWTH_FIELDS", ()) + getattr(cls, "REDISCOVERY_FIELDS", ())
    added = getattr(cls, "ADDED_FIELDS", ())
    ignore = getattr(cls, "SAMPLER_FIELDS", ()) + getattr(cls, "LOSS_FIELDS", ()) + growth + added
    if any(getattr(source.config, f) != getattr(model.config, f) for f in added):
        source.strip_added_parts()  # parts trained after the model (LGE's planner) do not carry over
    mine = {k: v for k, v in config_to_dict(model.config).items() if k not in ignore}
    if {k: v for k, v in config_to_dict(source.config).items() if k not in ignore} != mine:
        raise CheckpointError(
            f"{path} was trained with another config than this run's: {config_to_dict(source.config)} "
            f"vs {config_to_dict(model.config)}"
        )
    grown = [f for f in growth if getattr(source.config, f) != getattr(model.config, f)]
    removed = [f for f in grown if getattr(source.config, f)]
    if removed:
        raise CheckpointError(f"{path} has {removed} switched on; a continued run cannot switch them off")
    if grown:
        model.grow_from(source)
    else:
        load_state_dict_strict(model, source.state_dict(), str(path))
    model.load_extras(extras)
    info = header.get("info", {})
    return next((int(info[key]) for key in step_keys if key in info), 0), info


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
