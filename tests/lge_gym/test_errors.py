"""Bad input gets a clear error that names the problem."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import lge_gym
from lge_gym.envs.models import resolve_model
from lge_gym.envs.world_model_env import InvalidActionError
from world_models import CheckpointError, build_model, save_model
from world_models.core.checkpoint import save_checkpoint


def test_unknown_id_names_it():
    with pytest.raises(gym.error.Error, match="No-Such-Game"):
        gym.make("No-Such-Game-v0")
    with pytest.raises(gym.error.UnregisteredEnv, match="No-Such-Game-v0"):
        lge_gym.make_parallel("No-Such-Game-v0")


def test_parallel_of_single_player_id():
    with pytest.raises(ValueError, match="no two-player"):
        lge_gym.make_parallel("Toy-v0")


@pytest.mark.parametrize("action", [7, -1, 1.5, "left", [0, 1], None])
def test_action_outside_space(action):
    env = gym.make("Toy-v0")
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match="actions?"):
        env.step(action)


def test_vector_action_wrong_shape():
    venv = gym.make_vec("Toy-v0", num_envs=4, vectorization_mode="vector_entry_point")
    venv.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"shape \(4,\)"):
        venv.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(InvalidActionError, match="lie in"):
        venv.step(np.full(4, 9))


def test_parallel_missing_or_bad_action():
    env = lge_gym.make_parallel("ToyDuel-v0")
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match="player_1"):
        env.step({"player_0": 0})
    with pytest.raises(InvalidActionError, match="outside"):
        env.step({"player_0": 0, "player_1": 5})


def test_step_before_reset():
    env = gym.make("Toy-v0", disable_env_checker=True)
    with pytest.raises(gym.error.ResetNeeded):
        env.unwrapped.step(0)


def test_bad_obs_type():
    with pytest.raises(ValueError, match="obs_type"):
        gym.make("Toy-v0", obs_type="pixels")


def test_corrupt_checkpoint(tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"\x00\x01 not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt"):
        gym.make("Toy-v0", checkpoint=str(path))


def test_truncated_checkpoint(tmp_path):
    path = save_model(tmp_path / "toy", build_model("toy", "tiny"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        gym.make("Toy-v0", checkpoint=str(path))


def test_checkpoint_of_another_family(tmp_path):
    model = build_model("toy", "tiny")
    path = save_checkpoint(tmp_path / "other", model, family="pe", config={})
    with pytest.raises(CheckpointError, match="'pe' model, but a 'toy' model was expected"):
        gym.make("Toy-v0", checkpoint=str(path))


def test_checkpoint_of_another_size(tmp_path):
    """A toy file whose weights do not fit its config: every mismatched entry is named."""
    state = dict(build_model("toy", "tiny").state_dict())
    state["to_grid.weight"] = torch.zeros(3, 3)
    del state["reward_head.bias"]
    path = save_checkpoint(tmp_path / "odd", _Renamed(state), family="toy", config={})
    with pytest.raises(CheckpointError, match="to_grid.weight: checkpoint \\(3, 3\\)"):
        resolve_model("toy", str(path))
    with pytest.raises(CheckpointError, match="missing: reward_head.bias"):
        resolve_model("toy", str(path))


class _Renamed(torch.nn.Module):
    """A module whose state dict is exactly the given mapping (to write deliberately wrong files)."""

    def __init__(self, state):
        super().__init__()
        self._state = state

    def state_dict(self, *args, **kwargs):
        return dict(self._state)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        gym.make("Toy-v0", checkpoint=str(tmp_path / "nothing.safetensors"))


def test_unknown_shipped_name():
    with pytest.raises(CheckpointError, match="no shipped checkpoint named 'nope'"):
        gym.make("Toy-v0", checkpoint="nope")
