"""Playing a policy for whole episodes and counting outcomes (points won and lost, for tennis)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import trange


def play_episodes(
    env_id: str,
    policy: Callable[[Any], Any] | str,
    *,
    episodes: int,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``episodes`` episodes; ``policy`` is ``obs -> action`` or ``"random"``. Episode ``i`` resets with seed
    ``seed + i``, so two policies evaluated with the same seed meet the same starts."""
    env = gym.make(env_id, **(env_kwargs or {}))
    env.action_space.seed(seed)
    act = (lambda obs: env.action_space.sample()) if policy == "random" else policy
    returns, lengths = [], []
    for i in trange(episodes, desc=f"{env_id} episodes", unit="episode", leave=False):
        obs, _ = env.reset(seed=seed + i)
        total, steps, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            steps += 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(steps)
    env.close()
    returns_array = np.array(returns)
    return {
        "env_id": env_id,
        "episodes": episodes,
        "won": int((returns_array > 0).sum()),
        "lost": int((returns_array < 0).sum()),
        "undecided": int((returns_array == 0).sum()),
        "mean_return": float(returns_array.mean()),
        "mean_length": float(np.mean(lengths)),
    }
