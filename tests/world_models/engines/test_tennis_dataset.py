"""The dataset generator and reader: files, captions on every frame, reproducibility, clear errors."""

import argparse
import json

import numpy as np
import pytest

from world_models.data import tennis as data
from world_models.engines.tennis import layout
from world_models.engines.tennis.sequence import generate


def _generate(out, sequences=3, seed=4, resolution=(96, 54)):
    args = argparse.Namespace(sequences=sequences, out=out, seed=seed, resolution=resolution, no_masks=False)
    assert data.run(args) == 0


def test_generate_and_read(tmp_path):
    _generate(tmp_path / "a")
    meta = json.loads((tmp_path / "a" / "metadata.json").read_text())
    assert meta["splits"] == {"train": 1, "val": 1, "test": 1} and meta["seed"] == 4
    assert meta["state_layout"][0] == {"name": "bottom.root", "size": 2, "unit": "m"}
    for split in data.SPLITS:
        ds = data.TennisDataset(tmp_path / "a", split)
        assert len(ds) == 1
        item = ds[0]
        t = item["states"].shape[0]
        assert item["states"].shape == (t, layout.STATE_SIZE)
        assert item["frames"].shape == (t, 54, 96, 3) and item["masks"].shape == (t, 54, 96)
        for player in ("bottom", "top"):
            assert len(item["captions"][player]) == t and all(item["captions"][player])
        assert item["winner"] in ("bottom", "top")
        hits = [e for frame in item["events"] for e in frame if e["type"] == "hit"]
        assert hits and hits[0]["shot"] == "serve"
    # The reader's states are the generator's, to the annotation's rounding.
    seq = generate(4, 0, data.SequenceConfig(width=96, height=54))
    np.testing.assert_allclose(data.TennisDataset(tmp_path / "a", "train")[0]["states"], seq.vectors(), atol=1e-3)
    np.testing.assert_array_equal(data.TennisDataset(tmp_path / "a", "train")[0]["frames"], seq.frames)


def test_same_seed_gives_byte_identical_annotations(tmp_path):
    _generate(tmp_path / "a", sequences=2, seed=9)
    _generate(tmp_path / "b", sequences=2, seed=9)
    _generate(tmp_path / "c", sequences=2, seed=10)
    a = (tmp_path / "a" / "train" / "00000" / "annotations.json").read_bytes()
    assert a == (tmp_path / "b" / "train" / "00000" / "annotations.json").read_bytes()
    assert a != (tmp_path / "c" / "train" / "00000" / "annotations.json").read_bytes()
    assert (tmp_path / "a" / "metadata.json").read_bytes() == (tmp_path / "b" / "metadata.json").read_bytes()


def test_reader_errors_name_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        data.TennisDataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="metadata.json"):
        data.TennisDataset(tmp_path / "empty")
    _generate(tmp_path / "a", sequences=1)
    with pytest.raises(FileNotFoundError, match="val"):
        data.TennisDataset(tmp_path / "a", "val")


def test_cli_writes_a_dataset(tmp_path):
    from world_models.cli import main

    assert main(["data", "tennis", "--sequences", "1", "--out", str(tmp_path / "d"), "--seed", "1",
                 "--resolution", "64x36"]) == 0  # fmt: skip
    assert (tmp_path / "d" / "train" / "00000" / "00000.png").is_file()
    with pytest.raises(SystemExit):
        main(["data", "tennis", "--sequences", "1", "--out", str(tmp_path / "d")])


def test_captions_cover_every_frame_and_vary():
    captions = set()
    for index in range(8):
        seq = generate(0, index, render=False)
        for player in ("bottom", "top"):
            assert len(seq.captions[player]) == len(seq.states)
            assert all(c.strip() for c in seq.captions[player])
            captions.update(seq.captions[player])
    assert len(captions) >= 80


def test_left_right_follow_the_screen():
    """A player that moved toward screen right (world +x) before striking is captioned "to the right"."""
    for index in range(10):
        seq = generate(1, index, render=False)
        for shot in seq.engine.shots[1:]:
            caption = seq.captions[shot.player][shot.frame]
            if " to the right" in caption.split(" and ")[0] and "runs" in caption:
                earlier = next(s.frame for s in reversed(seq.engine.shots) if s.frame < shot.frame)
                start = seq.states[earlier + 1][shot.player]["root"][0]
                assert seq.states[shot.frame][shot.player]["root"][0] > start


@pytest.mark.slow
def test_default_dataset_has_5000_distinct_captions():
    """2,000 default sequences (captions do not depend on rendering, so this skips the frames)."""
    captions = set()
    for index in range(2000):
        seq = generate(0, index, render=False)
        for player in ("bottom", "top"):
            assert all(seq.captions[player])
            captions.update(seq.captions[player])
    print(f"distinct captions in 2000 sequences: {len(captions)}")
    assert len(captions) >= 5000


def test_striker_caption_covers_its_shot_until_the_next_bounce():
    """The caption says where the shot goes, so it stays on the striker while the ball flies there."""
    checked = 0
    for index in range(6):
        seq = generate(0, index, render=False)
        events = seq.engine.events
        point = next(f for f, evs in enumerate(events) for e in evs if e["type"] == "point")
        for shot in seq.engine.shots:
            end = next(f for f, evs in enumerate(events) for e in evs
                       if f > shot.frame and e["type"] in ("bounce", "hit", "point"))  # fmt: skip
            caption = seq.captions[shot.player][shot.frame]
            assert all(seq.captions[shot.player][f] == caption for f in range(shot.frame, min(end, point) + 1))
            if end < point:
                assert seq.captions[shot.player][end + 1] != caption
                checked += 1
    assert checked >= 6


def test_captions_without_movement_keep_the_shot_and_aim():
    """`without_movement` cuts a striker's caption to its shot and where it goes: the running is gone, the rest is
    the caption's own end; a caption that names no shot gives None."""
    from world_models.engines.tennis.captions import without_movement

    checked = 0
    for index in range(10):
        seq = generate(3, index, render=False)
        for shot in seq.engine.shots:
            caption = seq.captions[shot.player][shot.frame]
            short = without_movement(caption, shot.player)
            assert short is not None and short.startswith(f"the {shot.player} player ")
            body = short[len(f"the {shot.player} player ") :]
            assert caption.endswith(body) and len(body) < len(caption)
            assert not any(word in body for word in ("runs", "sprints", "hurries", "moves", "stays in place"))
            checked += 1
    assert checked >= 15
    assert without_movement("the top player recovers to the middle of the baseline", "top") is None
