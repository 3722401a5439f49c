"""The native vector env behind Stable-Baselines3 and TorchRL, and its autoreset semantics."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

from lge_gym.adapters.sb3 import SB3VecEnv, make_sb3_vec_env
from lge_gym.adapters.torchrl import make_torchrl_env


def test_ppo_trains_through_native_vec_env():
    from stable_baselines3 import PPO

    venv = make_sb3_vec_env("Toy-v0", 8, obs_type="state")
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=2, policy_kwargs={"net_arch": [16]}, seed=0)
    model.learn(total_timesteps=512)
    assert model.num_timesteps >= 512
    obs = venv.reset()
    action, _ = model.predict(obs, deterministic=True)
    assert action.shape == (8,)


def test_sb3_terminal_observation():
    venv = make_sb3_vec_env("Toy-v0", 16, obs_type="state", max_episode_steps=5)
    venv.seed(0)
    obs = venv.reset()
    ended, truncated = 0, 0
    for _ in range(12):
        obs, rewards, dones, infos = venv.step(np.zeros(16, dtype=np.int64))
        for row, info in enumerate(infos):
            assert ("terminal_observation" in info) == dones[row]
            if dones[row]:
                ended += 1
                truncated += info["TimeLimit.truncated"]
                assert info["terminal_observation"].shape == obs[row].shape
                assert not np.array_equal(info["terminal_observation"], obs[row])
    assert truncated > 0 and ended >= 16


def test_sb3_adapter_rejects_next_step_mode():
    venv = gym.make_vec("Toy-v0", num_envs=2, vectorization_mode="vector_entry_point")
    with pytest.raises(ValueError, match="SAME_STEP"):
        SB3VecEnv(venv)


def test_next_step_autoreset_semantics():
    venv = gym.make_vec("Toy-v0", num_envs=3, vectorization_mode="vector_entry_point", obs_type="state",
                        max_episode_steps=3, autoreset_mode=AutoresetMode.NEXT_STEP)
    venv.reset(seed=1)
    actions = np.zeros(3, dtype=np.int64)
    for _ in range(3):
        obs, reward, terminated, truncated, _ = venv.step(actions)
    assert (terminated | truncated).all()
    obs, reward, terminated, truncated, _ = venv.step(actions)  # the reset step
    assert np.all(reward == 0) and not terminated.any() and not truncated.any()


def test_native_rows_match_batch_size():
    venv = gym.make_vec("ToyDuel-v0", num_envs=5, vectorization_mode="vector_entry_point", obs_type="both")
    obs, _ = venv.reset(seed=0)
    assert obs["image"].shape == (5, 32, 32, 3) and obs["state"].shape == (5, 16)


def test_torchrl_adapter():
    from torchrl.envs.utils import check_env_specs

    env = make_torchrl_env("Toy-v0", 4, obs_type="both")
    check_env_specs(env)
    def policy(td):
        return td.set("action", torch.arange(4) % 4)

    env.set_seed(0)
    first = env.rollout(20, policy, break_when_any_done=False)
    env.set_seed(0)
    second = env.rollout(20, policy, break_when_any_done=False)
    assert first.batch_size == torch.Size([4, 20])
    assert torch.equal(first["next", "pixels"], second["next", "pixels"])
