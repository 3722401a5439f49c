"""PVG-Breakout-v0 beyond the registry-wide checkers: start frames, keymap, batching, the shipped checkpoint."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import lge_gym  # noqa: F401 - registers the IDs
from lge_gym.envs.pvg import KEYMAP, PVGBreakoutEnv, keymap_from_movements
from world_models.zoo import CHECKPOINT_DIR

SHIPPED = CHECKPOINT_DIR / "pvg_breakout_small.safetensors"


def test_reset_from_given_frame():
    env = gym.make("PVG-Breakout-v0", checkpoint=None, preset="tiny")
    frame = np.random.default_rng(0).integers(0, 255, (210, 160, 3), dtype=np.uint8)
    first, _ = env.reset(seed=0, options={"frame": frame})
    second, _ = env.reset(seed=1, options={"frame": frame})
    assert first.shape == (32, 24, 3) and np.array_equal(first, second)
    obs, reward, terminated, truncated, _ = env.step(1)
    assert obs.shape == (32, 24, 3) and isinstance(reward, float)
    with pytest.raises(ValueError, match="RGB uint8 image"):
        env.reset(options={"frame": np.zeros((4, 4))})


def test_vector_env_batches():
    venv = gym.make_vec("PVG-Breakout-v0", num_envs=4, vectorization_mode="vector_entry_point", checkpoint=None, preset="tiny")
    obs, _ = venv.reset(seed=0)
    obs, reward, terminated, truncated, _ = venv.step(np.array([0, 1, 2, 0]))
    assert obs.shape == (4, 32, 24, 3) and reward.shape == (4,)
    venv.close()


def test_keymap():
    assert keymap_from_movements({"stay": 0, "left": 1, "right": 2}) == {
        "left": 1, "a": 1, "right": 2, "d": 2, "down": 0, "s": 0
    }
    assert set(KEYMAP.values()) <= {0, 1, 2}
    env = PVGBreakoutEnv(checkpoint=None, preset="tiny")
    assert env.keymap and env.movements["left"] != env.movements["right"]


@pytest.mark.skipif(not SHIPPED.is_file(), reason="shipped checkpoint not built yet")
def test_shipped_checkpoint():
    from world_models.zoo import load_model

    model, header, extras = load_model(SHIPPED, family="pvg")
    info = header["info"]
    assert set(info["keymap"]) == {"stay", "left", "right"}
    assert "train pvg" in info["command"] and "data atari" in info["dataset_command"] and info["steps_trained"] > 0
    assert extras["start_frames"].shape[1:] == (*model.frame_shape, 3)
    assert model.frame_shape[0] >= 104 and model.frame_shape[1] >= 80
    assert SHIPPED.stat().st_size < 8 * 2**20
    env = gym.make("PVG-Breakout-v0")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (*model.frame_shape, 3)
    assert env.unwrapped.keymap["left"] == info["keymap"]["left"]
