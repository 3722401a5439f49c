"""Checkers that any user can run on any registered ID (the test-suite runs them on every ID).

>>> from lge_gym.testing import check_all
>>> check_all("Toy-v0")  # raises on the first failure; returns the names of the checks that ran
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from lge_gym.registration import entry, load_entry_point, make_parallel


def _make(env_id: str, kwargs: dict[str, Any]) -> gym.Env:
    return gym.make(env_id, **kwargs)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return np.array_equal(np.asarray(a), np.asarray(b))


def _rollout(env: gym.Env, seed: int, steps: int) -> list[tuple[Any, float, bool, bool]]:
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    trace = [(obs, 0.0, False, False)]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        trace.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            obs, _ = env.reset()
            trace.append((obs, 0.0, False, False))
    return trace


def check_gymnasium(env_id: str, **kwargs: Any) -> None:
    """Gymnasium's own `check_env` (spaces, reset/step signatures, seeding, render)."""
    from gymnasium.utils.env_checker import check_env

    env = _make(env_id, kwargs)
    try:
        check_env(env.unwrapped, skip_render_check=False)
    finally:
        env.close()


def check_sb3(env_id: str, **kwargs: Any) -> None:
    """Stable-Baselines3's `check_env`."""
    from stable_baselines3.common.env_checker import check_env

    env = _make(env_id, kwargs)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*minimal resolution.*")
            check_env(env.unwrapped, warn=True)
    finally:
        env.close()


def check_determinism(env_id: str, steps: int = 30, seed: int = 123, **kwargs: Any) -> None:
    """Two environments reset with the same seed and fed the same actions produce identical episodes."""
    first, second = _make(env_id, kwargs), _make(env_id, kwargs)
    a, b = _rollout(first, seed, steps), _rollout(second, seed, steps)
    for t, (x, y) in enumerate(zip(a, b, strict=True)):
        if not all(_same(u, v) for u, v in zip(x, y, strict=True)):
            raise AssertionError(f"{env_id}: same seed, same actions, but the rollouts differ at step {t}")
    c = _rollout(first, seed + 1, steps)
    if all(_same(x[0], y[0]) for x, y in zip(a, c, strict=False)):
        raise AssertionError(f"{env_id}: seeds {seed} and {seed + 1} give identical observations (seed ignored?)")


def check_pickle(env_id: str, steps: int = 5, **kwargs: Any) -> None:
    """A pickled environment mid-episode continues exactly as the original does."""
    env = _make(env_id, kwargs)
    env.reset(seed=7)
    env.action_space.seed(7)
    for _ in range(steps):
        env.step(env.action_space.sample())
    clone = pickle.loads(pickle.dumps(env))
    action = env.action_space.sample()
    if not all(_same(u, v) for u, v in zip(env.step(action)[:4], clone.step(action)[:4], strict=True)):
        raise AssertionError(f"{env_id}: an unpickled copy steps differently from the original")


def check_vector(env_id: str, num_envs: int = 3, steps: int = 25, **kwargs: Any) -> None:
    """The native vector env: spaces, shapes, both autoreset modes, and same-seed determinism."""
    if entry(env_id).vector_entry_point is None:
        return
    for mode in (gym.vector.AutoresetMode.NEXT_STEP, gym.vector.AutoresetMode.SAME_STEP):
        traces = []
        for _ in range(2):
            venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point",
                                autoreset_mode=mode, **kwargs)
            if venv.metadata.get("autoreset_mode") != mode:
                raise AssertionError(f"{env_id}: vector env does not declare autoreset_mode {mode}")
            obs, _ = venv.reset(seed=3)
            venv.action_space.seed(3)
            if not venv.observation_space.contains(obs):
                raise AssertionError(f"{env_id}: vector reset observation is outside observation_space")
            trace = [obs]
            for _ in range(steps):
                obs, reward, terminated, truncated, info = venv.step(venv.action_space.sample())
                if reward.shape != (num_envs,) or terminated.shape != (num_envs,) or truncated.shape != (num_envs,):
                    raise AssertionError(f"{env_id}: vector step returned wrong shapes")
                if not venv.observation_space.contains(obs):
                    raise AssertionError(f"{env_id}: vector step observation is outside observation_space")
                if mode == gym.vector.AutoresetMode.SAME_STEP and (terminated | truncated).any():
                    if "final_obs" not in info:
                        raise AssertionError(f"{env_id}: SAME_STEP episode end without info['final_obs']")
                trace.append((obs, reward, terminated, truncated))
            traces.append(trace)
            venv.close()
        if not all(_same(x, y) for a, b in zip(*traces, strict=True) for x, y in zip(a, b, strict=True)):
            raise AssertionError(f"{env_id}: vector env with the same seed gives different rollouts ({mode})")


def check_parallel(env_id: str, **kwargs: Any) -> None:
    """PettingZoo's `parallel_api_test` and `parallel_seed_test` (two-player IDs only)."""
    if entry(env_id).parallel_entry_point is None:
        return
    from pettingzoo.test import parallel_api_test, parallel_seed_test

    parallel_api_test(make_parallel(env_id, **kwargs), num_cycles=25)
    factory = load_entry_point(entry(env_id).parallel_entry_point)
    parallel_seed_test(lambda: factory(**{**entry(env_id).kwargs, **kwargs}), num_cycles=10)


CHECKS: dict[str, Callable[..., None]] = {
    "gymnasium": check_gymnasium,
    "sb3": check_sb3,
    "determinism": check_determinism,
    "pickle": check_pickle,
    "vector": check_vector,
    "pettingzoo": check_parallel,
}


def check_all(env_id: str, **kwargs: Any) -> list[str]:
    """Run every checker on ``env_id``; raises on the first failure, returns the names of the checks run."""
    for check in CHECKS.values():
        check(env_id, **kwargs)
    return list(CHECKS)
