"""PE-Tennis-v0 beyond the registry checkers: extra camera/style actions, options, opponents, keymap, points."""

import gymnasium as gym
import numpy as np
import pytest

import lge_gym  # noqa: F401 - registers the IDs
from lge_gym.envs.world_model_env import InvalidActionError
from lge_gym.registration import make_parallel
from world_models.engines.tennis import layout

TINY = {"checkpoint": None, "preset": "tiny"}
CAMERA = slice(layout.SLICES["camera.intrinsics"].start, layout.SLICES["camera.translation"].stop)


def _state(env):
    return env.unwrapped.world.state["current"][0].numpy()


def test_extra_actions_move_the_camera_and_cycle_styles():
    env = gym.make("PE-Tennis-v0", obs_type="image", extra_actions=True, **TINY)
    assert isinstance(env.action_space, gym.spaces.Dict)
    env.reset(seed=0)
    before = _state(env).copy()
    env.step({"action": 0, "camera": np.array([1.0, 0.5, -0.5], np.float32), "style": 0})
    moved = _state(env)
    assert not np.allclose(moved[CAMERA], before[CAMERA])
    style = layout.SLICES["bottom.style"]
    first = moved[style].copy()
    env.step({"action": 0, "camera": np.zeros(3, np.float32), "style": 1})
    cycled = _state(env)[style].copy()
    assert not np.allclose(cycled, first)
    env.step({"action": 0, "camera": np.zeros(3, np.float32), "style": 1})  # held: no second change
    assert np.allclose(_state(env)[style], cycled)
    with pytest.raises(InvalidActionError):
        env.step({"action": 0, "camera": np.array([2.0, 0.0, 0.0], np.float32), "style": 0})
    with pytest.raises(InvalidActionError):
        env.step(3)


def test_bad_actions_and_options_raise():
    env = gym.make("PE-Tennis-v0", obs_type="state", **TINY)
    env.reset(seed=0)
    with pytest.raises(InvalidActionError):
        env.step(7)
    with pytest.raises(InvalidActionError):
        env.step(np.array([0, 1]))
    with pytest.raises(ValueError, match="style option"):
        env.reset(options={"style": 10_000})
    with pytest.raises(ValueError, match="start option"):
        env.reset(options={"start": np.zeros(3)})
    with pytest.raises(ValueError, match="opponent"):
        env.reset(options={"opponent": "nobody"})


def test_reset_options_set_camera_style_and_opponent():
    env = gym.make("PE-Tennis-v0", obs_type="state", **TINY)
    colours = {"bottom": [0.9] * 9, "top": [0.1] * 9}
    camera = {"intrinsics": [1.0, 1.7, 0.5, 0.5], "extrinsics": np.eye(4).tolist()}
    calls = []

    def policy(obs):
        calls.append(obs.shape)
        return 2

    env.reset(seed=1, options={"style": colours, "camera": camera, "opponent": policy, "surface": "clay"})
    flat = _state(env)
    assert np.allclose(flat[layout.SLICES["bottom.style"]], 0.9)
    assert np.allclose(flat[layout.SLICES["camera.intrinsics"]], [1.0, 1.7, 0.5, 0.5])
    env.step(0)
    assert calls == [(layout.STATE_SIZE,)]
    assert np.allclose(_state(env)[layout.SLICES["bottom.style"]], 0.9)  # kept while playing


def test_a_point_ends_with_a_referee_reward():
    env = gym.make("PE-Tennis-v0", obs_type="state", **TINY)
    env.reset(seed=3)
    for _ in range(150):
        _, reward, terminated, truncated, info = env.step(0)
        if terminated:
            assert reward in (-1.0, 1.0) and sorted(info["rewards"].tolist()) == [-1.0, 1.0]
            return
        assert reward == 0.0 and not truncated
    pytest.fail("no point was decided in 150 steps (30 s)")


def test_keymap_and_play_headless(tmp_path):
    from lge_gym.play import play

    env = gym.make("PE-Tennis-v0", extra_actions=True, **TINY)
    keymap = env.unwrapped.keymap
    assert {str(i) for i in range(1, 8)} <= set(keymap) and {"left", "right", "up", "down", "s"} <= set(keymap)
    assert keymap["3"]["action"] == 2 and keymap["left"]["camera"][0] < 0 and keymap["s"]["style"] == 1
    assert env.action_space.contains(env.unwrapped.noop_action)
    summary = play("PE-Tennis-v0", env_kwargs=TINY, frames=3, record=tmp_path / "pe.gif")
    assert summary["frames"] == 3 and (tmp_path / "pe.gif").is_file()


def test_parallel_and_vector_envs():
    env = make_parallel("PE-Tennis-v0", obs_type="state", **TINY)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"bottom", "top"}
    _, rewards, *_ = env.step({"bottom": 1, "top": 5})
    assert set(rewards) == {"bottom", "top"}
    venv = gym.make_vec("PE-Tennis-v0", num_envs=3, vectorization_mode="vector_entry_point", obs_type="image", **TINY)
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (3, 144, 256, 3) and obs.dtype == np.uint8
    obs, reward, *_ = venv.step(np.array([0, 3, 6]))
    assert reward.shape == (3,)
