"""PVG-Tennis: the engine-video converter, training and evaluation on it, the player detector, the environment."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import lge_gym  # noqa: F401 - registers the IDs
from lge_gym.envs.pvg import PVGTennisEnv, keymap_from_movements
from world_models.cli import main
from world_models.data.pvg_format import read_info, read_split
from world_models.data.tennis_pvg import DIRECTIONS, MOVEMENTS, direction_of, movement_of
from world_models.pvg.tennis import player_position, read_backgrounds
from world_models.zoo import CHECKPOINT_DIR, load_model

SHIPPED = CHECKPOINT_DIR / "pvg_tennis_small.safetensors"


@pytest.fixture(scope="module")
def tennis_data(tmp_path_factory):
    """Three engine points (train, val, test) written with the suite's own command."""
    out = tmp_path_factory.mktemp("tennis_pvg")
    assert main(["data", "tennis-pvg", "--out", str(out), "--sequences", "3"]) == 0
    return out


def test_converter_writes_a_pvg_dataset_with_true_directions(tennis_data):
    info = read_info(tennis_data)
    assert info["game"] == "Tennis" and info["fps"] == 5.0 and info["direction_names"] == list(DIRECTIONS)
    assert "data tennis-pvg" in info["command"]
    (video,) = read_split(tennis_data, "test", size_hw=(96, 256))
    assert video.frames.shape[1:] == (96, 256, 3) and len(video.frames) > 5
    assert video.dones[-1] and not video.dones[:-1].any() and video.rewards[-1] in (-1.0, 0.0, 1.0)
    for meta, action in zip(video.metadata[:-1], video.actions[:-1], strict=True):
        assert meta["direction"] == action == direction_of(np.array(meta["move"]), info["stay_threshold_m"])
        assert meta["movement"] == movement_of(np.array(meta["move"]), info["stay_threshold_m"])
    # The root position moves by the stored displacement; its pixel is below the net line and within the width
    # (a player far behind the baseline may have his feet under the crop's bottom edge).
    roots = np.array([m["root"] for m in video.metadata])
    moves = np.array([m["move"] for m in video.metadata])
    assert np.allclose(roots[1:] - roots[:-1], moves[:-1], atol=2e-4)
    pixels = np.array([m["pixel"] for m in video.metadata])
    assert (pixels[:, 0] > 0).all() and (pixels[:, 0] < 256).all() and (pixels[:, 1] > 0).all()
    # The background-difference detector finds the player near the engine's projected ground point.
    (background,) = read_backgrounds(tennis_data, "test", (96, 256), None)
    found = player_position(video.frames, np.repeat(background[None], len(video.frames), 0))
    inside = pixels[:, 1] < 92
    assert inside.sum() > 5 and np.isfinite(found).all()
    assert np.median(np.linalg.norm(found - pixels, axis=1)[inside]) < 8.0


def test_direction_classes():
    assert direction_of(np.array([0.05, 0.0]), 0.2) == 0
    assert DIRECTIONS[direction_of(np.array([1.0, 0.0]), 0.2)] == "right"
    assert DIRECTIONS[direction_of(np.array([0.0, 1.0]), 0.2)] == "forward"
    assert DIRECTIONS[direction_of(np.array([-1.0, -1.0]), 0.2)] == "backward-left"
    assert MOVEMENTS[movement_of(np.array([-1.0, 0.3]), 0.2)] == "left"
    assert MOVEMENTS[movement_of(np.array([0.3, -1.0]), 0.2)] == "backward"


def test_converter_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match="--sequences"):
        main(["data", "tennis-pvg", "--out", str(tmp_path / "x"), "--sequences", "0"])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("")
    with pytest.raises(FileExistsError):
        main(["data", "tennis-pvg", "--out", str(tmp_path / "full"), "--sequences", "1"])


def test_train_and_eval_on_tennis(tennis_data, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "pvg", "--data", str(tennis_data), "--preset", "tiny_tennis", "--run", str(run),
                 "--threads", "1", "--steps", "3", "--sample-every", "100", "--save-minutes", "0"]) == 0  # fmt: skip
    checks = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if "val_score" in line]
    assert checks and set(checks[-1]["val_playability"]) == set(MOVEMENTS)  # the tennis player detector validates
    out = tmp_path / "eval"
    export = tmp_path / "release"
    assert main(["eval", "pvg", "--checkpoint", str(run / "latest.safetensors"), "--data", str(tennis_data),
                 "--out", str(out), "--max-clips", "2", "--starts", "3", "--rollout-length", "4", "--threads", "1",
                 "--export", str(export), "--ship-frames", "4"]) == 0  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["game"] == "Tennis" and 0 <= metrics["actions"]["agreement"] <= 1
    assert metrics["actions"]["true_classes"] == list(MOVEMENTS)
    assert np.array(metrics["actions"]["confusion"]).shape == (7, 5)
    assert metrics["actions"]["delta_mse"] >= 0 and "paddle_add_pixels" not in metrics["rollout"]
    assert set(metrics["playability"]["keymap"]) == set(MOVEMENTS)
    assert (out / "eval.png").is_file() and (out / "playability.png").is_file()
    model, header, extras = load_model(export.with_suffix(".safetensors"))
    assert set(header["info"]["keymap"]) == set(MOVEMENTS) and "data tennis-pvg" in header["info"]["dataset_command"]
    env = PVGTennisEnv(checkpoint=str(export.with_suffix(".safetensors")))
    assert env.keymap["space"] == header["info"]["keymap"]["stay"]
    obs, _ = env.reset(seed=0)
    assert any(np.array_equal(obs, f) for f in extras["start_frames"].numpy())


def test_env_reset_from_frame_and_keymap():
    env = gym.make("PVG-Tennis-v0", checkpoint=None, preset="tiny_tennis")
    assert env.action_space == gym.spaces.Discrete(7)
    frame = np.random.default_rng(0).integers(0, 255, (96, 256, 3), dtype=np.uint8)
    first, _ = env.reset(seed=0, options={"frame": frame})
    second, _ = env.reset(seed=1, options={"frame": frame})
    assert first.shape == (16, 32, 3) and np.array_equal(first, second)
    with pytest.raises(ValueError, match="RGB uint8 image"):
        env.reset(options={"frame": np.zeros((4, 4))})
    with pytest.raises(ValueError, match="image observations only"):
        PVGTennisEnv(checkpoint=None, obs_type="state")
    movements = env.unwrapped.movements
    assert len(set(movements.values())) == len(movements) == 5
    assert keymap_from_movements(movements, "tennis")["w"] == movements["forward"]
    with pytest.raises(ValueError, match="unknown PVG game"):
        keymap_from_movements(movements, "pong")


@pytest.mark.skipif(not SHIPPED.is_file(), reason="shipped checkpoint not built yet")
def test_shipped_checkpoint():
    model, header, extras = load_model(SHIPPED, family="pvg")
    info = header["info"]
    assert set(info["keymap"]) == set(MOVEMENTS)
    assert "train pvg" in info["command"] and "data tennis-pvg" in info["dataset_command"] and info["steps_trained"] > 0
    assert model.config.frames_per_observation == 4 and model.config.num_actions == 7
    assert model.config.action_space_dim == 5
    assert extras["start_frames"].shape[1:] == (*model.frame_shape, 3)
    assert SHIPPED.stat().st_size < 8 * 2**20
    env = gym.make("PVG-Tennis-v0")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (*model.frame_shape, 3)
    assert env.unwrapped.keymap["left"] == info["keymap"]["left"]
