"""Loading trained policies as plain ``obs -> action`` callables."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

ALGORITHMS = ("ppo", "a2c", "dqn")


def load_sb3_policy(path: str | os.PathLike, algo: str = "ppo") -> Callable[[Any], Any]:
    """A deterministic ``obs -> action`` function from a Stable-Baselines3 ``.zip``."""
    import stable_baselines3

    if algo not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algo!r}; choose one of {ALGORITHMS}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"policy file not found: {path}")
    model = getattr(stable_baselines3, algo.upper()).load(str(path), device="cpu")
    return lambda obs: model.predict(obs, deterministic=True)[0]
