"""TennisSim-v0 and its PettingZoo version: the standard checkers, determinism, pickling, rewards, keymap."""

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import lge_gym  # noqa: F401  (registers the IDs)
from lge_gym.envs.tennis_sim import KEYMAP, TennisSimEnv, TennisSimParallelEnv
from lge_gym.registration import make_parallel
from world_models.engines.tennis import layout
from world_models.engines.tennis.commands import COMMAND_VOCABULARY, Command, command_index

SMALL = {"width": 64, "height": 36}


@pytest.mark.parametrize("obs_type", ["state", "image", "both"])
@pytest.mark.parametrize("action_type", ["command", "target"])
def test_gymnasium_checker(obs_type, action_type):
    env = TennisSimEnv(obs_type=obs_type, action_type=action_type, render_mode="rgb_array", **SMALL)
    gym_check_env(env, skip_render_check=False)


@pytest.mark.parametrize("obs_type", ["state", "both"])
def test_sb3_checker(obs_type):
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*minimal resolution.*")
        check_env(TennisSimEnv(obs_type=obs_type, **SMALL), warn=True)
        check_env(TennisSimEnv(obs_type=obs_type, action_type="target", **SMALL), warn=True)


def test_pettingzoo_checkers():
    from pettingzoo.test import parallel_api_test, parallel_seed_test

    parallel_api_test(TennisSimParallelEnv(obs_type="both", **SMALL), num_cycles=80)
    parallel_seed_test(lambda: TennisSimParallelEnv(**SMALL), num_cycles=40)
    parallel_api_test(TennisSimParallelEnv(action_type="target", **SMALL), num_cycles=40)


def _rollout(env, seed, steps=200):
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    trace = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        trace.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            break
    return trace


def _same(a, b):
    if isinstance(a, dict):
        return all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return all(_same(x, y) for x, y in zip(a, b, strict=True))
    return np.array_equal(np.asarray(a), np.asarray(b))


def test_same_seed_same_episode():
    a = _rollout(TennisSimEnv(obs_type="both", **SMALL), 5)
    b = _rollout(TennisSimEnv(obs_type="both", **SMALL), 5)
    assert len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    c = _rollout(TennisSimEnv(obs_type="both", **SMALL), 6)
    assert not all(_same(x, y) for x, y in zip(a, c, strict=False))


def test_pickled_env_continues_identically():
    env = TennisSimEnv(obs_type="both", **SMALL)
    env.reset(seed=3)
    for _ in range(40):
        env.step(command_index(Command(target="left_corner")))
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(60):
        a = env.step(5)
        b = clone.step(5)
        assert _same(a[:4], b[:4])
        if a[2] or a[3]:
            break
    parallel = TennisSimParallelEnv(**SMALL)
    parallel.reset(seed=1)
    clone = pickle.loads(pickle.dumps(parallel))
    actions = {"bottom": 1, "top": 2}
    assert _same(tuple(parallel.step(actions)[0].values()), tuple(clone.step(actions)[0].values()))


def test_rewards_follow_the_point():
    """The agent receives the serve and lets it go: it loses the point, reward -1 on the last step."""
    env = TennisSimEnv()
    env.reset(seed=0, options={"server": "top"})
    total, terminated, steps = 0.0, False, 0
    while not terminated:
        _, reward, terminated, truncated, _ = env.step(command_index(Command(outcome="does_not_reach")))
        total += reward
        steps += 1
        assert not truncated
    assert total == -1.0 and reward == -1.0
    # Two-player: zero-sum.
    env = TennisSimParallelEnv(points=2)
    env.reset(seed=2)
    sums = {"bottom": 0.0, "top": 0.0}
    while env.agents:
        _, rewards, _, _, _ = env.step({a: 0 for a in env.agents})
        for a, r in rewards.items():
            sums[a] += r
    assert sums["bottom"] == -sums["top"] and abs(sums["bottom"]) in (0.0, 2.0)


def test_observations_and_registration():
    env = gym.make("TennisSim-v0", obs_type="both")
    obs, info = env.reset(seed=0)
    assert obs["image"].shape == (144, 256, 3) and obs["image"].dtype == np.uint8
    assert obs["state"].shape == (layout.STATE_SIZE,) and obs["state"].dtype == np.float32
    state = layout.denormalise(obs["state"])
    assert state[layout.SLICES["bottom.root"]][1] < 0 < state[layout.SLICES["top.root"]][1]
    assert env.unwrapped.keymap is KEYMAP and info["score"]
    par = make_parallel("TennisSim-v0", **SMALL)
    assert sorted(par.possible_agents) == ["bottom", "top"]
    with pytest.raises(ValueError, match="obs_type"):
        TennisSimEnv(obs_type="pixels")
    with pytest.raises(ValueError, match="action_type"):
        TennisSimEnv(action_type="text")


def test_keymap_actions_are_valid():
    space = TennisSimEnv().action_space
    assert set(KEYMAP) >= {"left", "right", "up", "down", "space", "f", "b", "l", "d"}
    assert all(space.contains(a) for a in KEYMAP.values())
    assert COMMAND_VOCABULARY[KEYMAP["left"]].target == "left_corner"
    assert COMMAND_VOCABULARY[KEYMAP["d"]].shot == "drop_shot"
