"""LGE-Tennis-v0 specifics (the registry tests run the generic checkers on it)."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from lge_gym.envs.world_model_env import InvalidActionError
from world_models.engines.tennis.sequence import generate

FAST = {"checkpoint": None, "preset": "tiny"}


def test_free_text_actions():
    env = gym.make("LGE-Tennis-v0", action_type="text", **FAST)
    env.reset(seed=0)
    for text in ("the bottom player hits a lob to the left corner", "", "smash it"):
        obs, reward, terminated, truncated, info = env.step(text)
        assert obs.shape == (150,)
    with pytest.raises(InvalidActionError, match="strings"):
        env.step(3)
    with pytest.raises(InvalidActionError, match="at most"):
        env.step("x" * 500)


def test_target_actions():
    env = gym.make("LGE-Tennis-v0", action_type="target", **FAST)
    env.reset(seed=0)
    env.step(np.array([0.5, -0.5], dtype=np.float32))
    with pytest.raises(InvalidActionError, match="2 floats"):
        env.step(np.array([3.0, 0.0]))


def test_command_out_of_range():
    env = gym.make("LGE-Tennis-v0", **FAST)
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match="outside"):
        env.step(99)


def test_referee_rewards_a_finished_point():
    """Feed an engine point's states through the task's referee path: the reward goes to the engine's winner."""
    env = gym.make("LGE-Tennis-v0", **FAST).unwrapped
    env.reset(seed=0)
    point = generate(3, 0, render=False)
    states = torch.as_tensor(point.vectors()[:: env.model.config.frame_stride])
    state = env.world.state.clone()
    state["history"][0, : len(states)] = states
    state["length"][0] = len(states)
    state["window"][0, state["cursor"][0]] = states[-1]
    rewards = env.task.rewards(state, state, None)
    terminated = env.task.terminated(state, state, None)
    winner = point.engine.winner
    assert winner in ("bottom", "top") and bool(terminated[0])
    expected = 1.0 if winner == "bottom" else -1.0
    assert rewards[0, 0].item() == expected and rewards[0, 1].item() == -expected


def test_opponent_strategy_option():
    env = gym.make("LGE-Tennis-v0", **FAST)
    env.reset(seed=0, options={"opponent": "the top player does not reach the ball"})
    assert env.unwrapped.task.opponent_text == "the top player does not reach the ball"
    env.step(0)


def test_render_image():
    env = gym.make("LGE-Tennis-v0", obs_type="image", render_mode="rgb_array", **FAST)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (144, 256, 3) and obs.dtype == np.uint8 and obs.std() > 5
    assert np.array_equal(env.render(), obs)
