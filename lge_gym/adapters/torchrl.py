"""A natively batched lge-gym environment as a TorchRL `EnvBase` with TensorDict specs.

Everything stays a tensor on the model's device: observations are ``"pixels"`` (uint8 ``(B, H, W, 3)``) and/or
``"observation"`` (float32 ``(B, D)``), actions an int64 index per row (``Categorical``), and partial resets follow
TorchRL's ``"_reset"`` mask, so `torchrl.envs.utils.check_env_specs` and collectors work unchanged.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from tensordict import TensorDict, TensorDictBase
from torchrl.data import Categorical, Composite, MultiCategorical, Unbounded
from torchrl.envs import EnvBase

from lge_gym.envs.world_model_env import BatchedWorld, Task
from lge_gym.registration import entry, load_entry_point

OBS_KEYS = {"image": "pixels", "state": "observation"}


def make_torchrl_env(env_id: str, num_envs: int, **kwargs: Any) -> TorchRLEnv:
    """The TorchRL view of ``env_id``'s native vector env (same constructor arguments)."""
    row = entry(env_id)
    if row.vector_entry_point is None:
        raise ValueError(f"{env_id} has no natively batched version to adapt")
    venv = load_entry_point(row.vector_entry_point)(num_envs=num_envs, **{**row.kwargs, **kwargs})
    return TorchRLEnv(venv.task, num_envs, max_episode_steps=row.max_episode_steps)


class TorchRLEnv(EnvBase):
    """TorchRL `EnvBase` over a `Task`, batch size ``[num_envs]``, one forward pass per step."""

    def __init__(self, task: Task, num_envs: int, *, max_episode_steps: int | None = None) -> None:
        device = task.model.device
        super().__init__(device=device, batch_size=torch.Size([num_envs]))
        self.task = task
        self.world = BatchedWorld(task, num_envs)
        self.max_episode_steps = max_episode_steps
        self._elapsed = torch.zeros(num_envs, dtype=torch.int64, device=device)
        shape = torch.Size([num_envs])
        obs_specs = {}
        if task.obs_type in ("image", "both"):
            height, width = task.model.frame_shape
            obs_specs["pixels"] = Unbounded(shape=(*shape, height, width, 3), dtype=torch.uint8, device=device)
        if task.obs_type in ("state", "both"):
            obs_specs["observation"] = Unbounded(shape=(*shape, task.model.state_dim), device=device)
        self.observation_spec = Composite(obs_specs, shape=shape)
        single = task.action_space()
        if isinstance(single, gym.spaces.Discrete):
            self.action_spec = Categorical(int(single.n), shape=shape, device=device)
        else:
            self.action_spec = MultiCategorical(list(single.nvec), shape=(*shape, len(single.nvec)), device=device)
        self.reward_spec = Unbounded(shape=(*shape, 1), device=device)
        flag = Categorical(2, shape=(*shape, 1), dtype=torch.bool, device=device)
        self.done_spec = Composite(done=flag, terminated=flag.clone(), truncated=flag.clone(), shape=shape)

    def _observation(self) -> dict[str, torch.Tensor]:
        return {OBS_KEYS[k]: v for k, v in self.world.observe().items()}

    def _reset(self, tensordict: TensorDictBase | None, **kwargs) -> TensorDictBase:
        mask = None
        if tensordict is not None and "_reset" in tensordict.keys():
            mask = tensordict["_reset"].reshape(self.batch_size)
        self.world.reset(mask=mask)
        if mask is None:
            self._elapsed.zero_()
        else:
            self._elapsed[mask] = 0
        done = torch.zeros(*self.batch_size, 1, dtype=torch.bool, device=self.device)
        return TensorDict(
            {**self._observation(), "done": done, "terminated": done.clone(), "truncated": done.clone()},
            batch_size=self.batch_size,
            device=self.device,
        )

    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        actions = tensordict["action"].reshape(self.batch_size[0], -1).to(torch.int64)
        rewards, terminated = self.world.step(actions)
        self._elapsed += 1
        truncated = torch.zeros_like(terminated)
        if self.max_episode_steps is not None:
            truncated = (self._elapsed >= self.max_episode_steps) & ~terminated
        reward = rewards[:, list(self.task.controlled)].sum(1, keepdim=True)
        return TensorDict(
            {
                **self._observation(),
                "reward": reward,
                "done": (terminated | truncated).unsqueeze(-1),
                "terminated": terminated.unsqueeze(-1),
                "truncated": truncated.unsqueeze(-1),
            },
            batch_size=self.batch_size,
            device=self.device,
        )

    def _set_seed(self, seed: int | None) -> None:
        if seed is not None:
            self.world.seed(seed)
