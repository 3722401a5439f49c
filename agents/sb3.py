"""Stable-Baselines3 agents trained inside an environment through its natively batched version."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from stable_baselines3 import PPO

from lge_gym.adapters.sb3 import make_sb3_vec_env


def train_ppo(
    env_id: str,
    *,
    out: str | os.PathLike,
    timesteps: int,
    num_envs: int = 8,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    n_steps: int = 128,
    net_arch: tuple[int, ...] = (64, 64),
    progress: bool = True,
) -> Path:
    """Train PPO (MLP policy) in ``env_id``; writes ``OUT/policy.zip`` and ``OUT/policy.json`` (how it was trained)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    venv = make_sb3_vec_env(env_id, num_envs, **(env_kwargs or {}))
    venv.seed(seed)
    model = PPO("MlpPolicy", venv, n_steps=n_steps, batch_size=min(256, n_steps * num_envs), seed=seed,
                policy_kwargs={"net_arch": list(net_arch)}, verbose=0)  # fmt: skip
    model.learn(total_timesteps=timesteps, progress_bar=progress)
    model.save(out / "policy.zip")
    record = {"algo": "ppo", "env_id": env_id, "env_kwargs": env_kwargs or {}, "timesteps": model.num_timesteps,
              "num_envs": num_envs, "seed": seed, "n_steps": n_steps, "net_arch": list(net_arch)}  # fmt: skip
    (out / "policy.json").write_text(json.dumps(record, indent=2) + "\n")
    venv.close()
    return out / "policy.zip"
