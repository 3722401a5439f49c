"""A natively batched lge-gym environment as a Stable-Baselines3 `VecEnv`.

SB3 expects same-step resets: the step that ends an episode returns the first observation of the next one, and
the last observation goes to ``infos[i]["terminal_observation"]`` (``"TimeLimit.truncated"`` marks truncations).
The adapter builds the native vector env in ``AutoresetMode.SAME_STEP`` and translates its outputs.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import VecEnv

from lge_gym.envs.world_model_env import WorldModelVectorEnv


def make_sb3_vec_env(env_id: str, num_envs: int, **kwargs: Any) -> SB3VecEnv:
    """``gym.make_vec(env_id, num_envs, vectorization_mode="vector_entry_point")`` wrapped for SB3."""
    venv = gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", autoreset_mode=AutoresetMode.SAME_STEP,
        **kwargs,
    )
    return SB3VecEnv(venv)


class SB3VecEnv(VecEnv):
    """Stable-Baselines3 view of a `WorldModelVectorEnv` created with ``autoreset_mode=SAME_STEP``."""

    def __init__(self, venv: gym.vector.VectorEnv) -> None:
        native = venv.unwrapped
        if not isinstance(native, WorldModelVectorEnv):
            raise TypeError(f"SB3VecEnv wraps a natively batched lge-gym env, got {type(native).__name__}")
        if native.autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError("SB3VecEnv needs autoreset_mode=AutoresetMode.SAME_STEP (SB3 resets within the step)")
        self.venv = native
        super().__init__(native.num_envs, native.single_observation_space, native.single_action_space)
        self.render_mode = "rgb_array"
        self._actions: np.ndarray | None = None

    def reset(self):
        # SB3 seeds per env (seed + index); the native env has one generator, seeded by the first.
        seed = self._seeds[0]
        obs, _ = self.venv.reset(seed=seed, options=self._options[0] or None)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for row in np.flatnonzero(dones):
            infos[row]["terminal_observation"] = info["final_obs"][row]
            infos[row]["TimeLimit.truncated"] = bool(truncated[row] and not terminated[row])
        return obs, rewards, dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_images(self):
        return list(self.venv.render())

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]
