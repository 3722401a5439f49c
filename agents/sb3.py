"""Stable-Baselines3 agents trained inside an environment through its natively batched version."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.decisions import DecisionSteps
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
    minutes: float | None = None,
    decisions: bool = False,
    gamma: float = 0.99,
    learning_rate: float = 3e-4,
) -> Path:
    """Train PPO (MLP policy) in ``env_id`` for ``timesteps`` steps or ``minutes`` of wall time, whichever ends
    first; writes ``OUT/policy.zip`` and ``OUT/policy.json`` (how it was trained, how long it took).

    ``decisions``: PPO sees only the steps that read its action (`agents.decisions.DecisionSteps`, one environment
    per row, stepped one after another); ``timesteps`` then counts decisions, and the record the steps played too.
    Otherwise the rows are the environment's native vector env."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env_kwargs = env_kwargs or {}
    if decisions:
        venv = DummyVecEnv([lambda: DecisionSteps(gym.make(env_id, **env_kwargs)) for _ in range(num_envs)])
    else:
        venv = make_sb3_vec_env(env_id, num_envs, **env_kwargs)
    venv.seed(seed)
    model = PPO("MlpPolicy", venv, n_steps=n_steps, batch_size=min(256, n_steps * num_envs), seed=seed, gamma=gamma,
                learning_rate=learning_rate, policy_kwargs={"net_arch": list(net_arch)}, verbose=0)  # fmt: skip
    start = time.monotonic()
    steps = _StepCount()
    callbacks: list[BaseCallback] = [steps] + ([_TimeBudget(minutes)] if minutes else [])
    model.learn(total_timesteps=timesteps, progress_bar=progress, callback=CallbackList(callbacks))
    model.save(out / "policy.zip")
    record = {"algo": "ppo", "env_id": env_id, "env_kwargs": env_kwargs, "timesteps": model.num_timesteps,
              "env_steps": steps.env_steps, "decisions": decisions, "num_envs": num_envs, "seed": seed,
              "n_steps": n_steps, "gamma": gamma, "learning_rate": learning_rate, "net_arch": list(net_arch),
              "minutes": round((time.monotonic() - start) / 60, 2), "torch_threads": torch.get_num_threads()}  # fmt: skip
    (out / "policy.json").write_text(json.dumps(record, indent=2) + "\n")
    venv.close()
    return out / "policy.zip"


class _StepCount(BaseCallback):
    """Counts environment steps played (several per PPO step under `DecisionSteps`)."""

    def __init__(self) -> None:
        super().__init__()
        self.env_steps = 0

    def _on_step(self) -> bool:
        self.env_steps += sum(info.get("env_steps", 1) for info in self.locals["infos"])
        return True


class _TimeBudget(BaseCallback):
    """Stops training once ``minutes`` of wall time have passed (checked every environment step)."""

    def __init__(self, minutes: float) -> None:
        super().__init__()
        self.deadline = time.monotonic() + 60 * minutes

    def _on_step(self) -> bool:
        return time.monotonic() < self.deadline
