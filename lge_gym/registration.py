"""Every environment of the suite, in one table, registered with Gymnasium at ``import lge_gym``.

Gymnasium 1.x has no entry-point plugins, so `register_all` runs on import. Each row also says how the
registry-driven tests build a fast instance (``test_kwargs``: tiny presets, small images) and which PettingZoo
parallel environment exists for two-player models.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym


@dataclass(frozen=True)
class EnvEntry:
    """One registered environment."""

    id: str
    entry_point: str
    """``module:Class`` of the `gymnasium.Env`."""
    description: str
    vector_entry_point: str | None = None
    """``module:Class`` of the natively batched `gymnasium.vector.VectorEnv`, if any."""
    parallel_entry_point: str | None = None
    """``module:Class`` of the PettingZoo `ParallelEnv` (two-player models)."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    test_kwargs: dict[str, Any] = field(default_factory=dict)
    """Constructor arguments that make the environment fast enough for the test-suite."""
    for_tests_only: bool = False
    """True for environments backed by randomly initialised models (documented as such in `lge-gym list`)."""


ENVIRONMENTS: tuple[EnvEntry, ...] = (
    EnvEntry(
        id="Toy-v0",
        entry_point="lge_gym.envs.toy:ToyEnv",
        vector_entry_point="lge_gym.envs.toy:ToyVectorEnv",
        description="Randomly initialised tiny world model (32x32, 4 actions). For tests and examples only.",
        max_episode_steps=200,
        for_tests_only=True,
    ),
    EnvEntry(
        id="ToyDuel-v0",
        entry_point="lge_gym.envs.toy:ToyDuelEnv",
        vector_entry_point="lge_gym.envs.toy:ToyDuelVectorEnv",
        parallel_entry_point="lge_gym.envs.toy:ToyDuelParallelEnv",
        description="Randomly initialised tiny two-player world model. For tests of PettingZoo plumbing only.",
        max_episode_steps=200,
        for_tests_only=True,
    ),
)

BY_ID: dict[str, EnvEntry] = {entry.id: entry for entry in ENVIRONMENTS}


def load_entry_point(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def register_all() -> None:
    for entry in ENVIRONMENTS:
        if entry.id in gym.registry:
            continue
        gym.register(
            id=entry.id,
            entry_point=entry.entry_point,
            vector_entry_point=entry.vector_entry_point,
            kwargs=dict(entry.kwargs),
            max_episode_steps=entry.max_episode_steps,
        )


def entry(env_id: str) -> EnvEntry:
    """The table row of ``env_id``, with a clear error listing the known IDs."""
    if env_id not in BY_ID:
        raise gym.error.UnregisteredEnv(f"unknown environment ID {env_id!r}; lge-gym has: {sorted(BY_ID)}")
    return BY_ID[env_id]


def make_parallel(env_id: str, **kwargs: Any):
    """The PettingZoo `ParallelEnv` of a two-player ID (use `pettingzoo.utils.parallel_to_aec` for the AEC form)."""
    row = entry(env_id)
    if row.parallel_entry_point is None:
        two_player = [e.id for e in ENVIRONMENTS if e.parallel_entry_point]
        raise ValueError(f"{env_id} has no two-player PettingZoo version; these do: {two_player}")
    return load_entry_point(row.parallel_entry_point)(**{**row.kwargs, **kwargs})
