"""The ALE recorder writes the PVG on-disk format, and the reader refuses anything but builtin values."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from world_models.cli import main
from world_models.data.atari import breakout_paddle_x
from world_models.data.pvg_format import (
    DatasetError,
    SequenceSampler,
    read_info,
    read_split,
    safe_load_pickle,
    video_folders,
)


@pytest.fixture(scope="module")
def breakout(tmp_path_factory):
    out = tmp_path_factory.mktemp("breakout")
    assert main(["data", "atari", "--game", "Breakout", "--episodes", "3", "--max-steps", "40", "--out", str(out)]) == 0
    return out


def test_layout_and_lists(breakout):
    for split in ("train", "val", "test"):
        folders = video_folders(breakout, split)
        assert len(folders) == 1
        frames = sorted(folders[0].glob("*.png"))
        assert frames[0].name == "00000.png"
        for name, kind in (("actions", int), ("rewards", float), ("dones", bool), ("metadata", dict)):
            values = safe_load_pickle(folders[0] / f"{name}.pkl")
            assert len(values) == len(frames) and all(isinstance(v, kind) for v in values)
    info = read_info(breakout)
    assert info["action_meanings"] == ["NOOP", "FIRE", "RIGHT", "LEFT"]
    assert "data atari" in info["command"]


def test_read_and_sample(breakout):
    import torch

    videos = read_split(breakout, "train", size_hw=(104, 80), crop=(0, 0, 160, 208))
    assert videos[0].frames.shape[1:] == (104, 80, 3) and videos[0].frames.dtype == np.uint8
    raw = read_split(breakout, "train", size_hw=(210, 160))[0].frames
    assert breakout_paddle_x(raw[0]) is not None
    sampler = SequenceSampler(videos, stack=2)
    batch = sampler.sample(3, 5, torch.Generator().manual_seed(0))
    assert batch["observations"].shape == (3, 5, 2, 104, 80, 3)
    assert batch["actions"].shape == batch["rewards"].shape == batch["dones"].shape == (3, 5)
    # Newest frame first: the second frame of the stack is the previous observation's first.
    assert torch.equal(batch["observations"][:, 1:, 1], batch["observations"][:, :-1, 0])


def test_restricted_unpickler_refuses_objects(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "actions.pkl"
    path.write_bytes(pickle.dumps([Evil()]))
    with pytest.raises(DatasetError, match="refusing to unpickle"):
        safe_load_pickle(path)
    path.write_bytes(pickle.dumps([1, 2.0, {"a": [True, None]}, "x"]))
    assert safe_load_pickle(path) == [1, 2.0, {"a": [True, None]}, "x"]


def test_missing_dataset_folder_is_named(tmp_path):
    with pytest.raises(DatasetError, match="dataset folder not found: .*nowhere"):
        read_split(tmp_path / "nowhere", "train", size_hw=(104, 80))
    (tmp_path / "d").mkdir()
    with pytest.raises(DatasetError, match="split folder not found: .*d/val"):
        read_split(tmp_path / "d", "val", size_hw=(104, 80))


def test_other_games_record(tmp_path):
    assert main(["data", "atari", "--game", "Pong", "--episodes", "1", "--max-steps", "5", "--out", str(tmp_path)]) == 0
    assert len(read_split(tmp_path, "train", size_hw=(104, 80))[0].frames) == 6


def test_behaviour_policy_covers_breakout(tmp_path):
    """The paddle reaches both walls, bricks break, lives are lost, and the labels match the visible movement."""
    from world_models.pvg.evaluate import hungarian_agreement, movement_classes, paddle_x

    assert main(["data", "atari", "--game", "Breakout", "--episodes", "1", "--max-steps", "300", "--out", str(tmp_path)]) == 0
    info = read_info(tmp_path)
    assert info["stats"]["reward"] > 0 and info["stats"]["lives_lost"] > 0
    video = read_split(tmp_path, "train", size_hw=(210, 160))[0]
    x = paddle_x(video.frames)
    assert np.nanmin(x) < 24 and np.nanmax(x) > 136
    dx = x[1:] - x[:-1]
    seen = np.isfinite(dx)
    moved = np.where(dx < -2, 1, np.where(dx > 2, 2, 0))
    agreement, _, _ = hungarian_agreement(moved[seen], movement_classes(info, video.actions[:-1])[seen], 3, 3)
    assert agreement > 0.8
