"""`python -m world_models eval lge` on the real code path with a tiny model: the JSON, the plot, the mirror test."""

import json

from world_models import build_model, save_model
from world_models.cli import main
from world_models.lge.evaluate import mirrored


def test_mirrored_swaps_left_and_right_only():
    text = "the near player waits on the left, then hits a forehand deep to the right corner (leftover words stay)"
    assert mirrored(text) == "the near player waits on the right, then hits a forehand deep to the left corner (leftover words stay)"
    assert mirrored(mirrored(text)) == text


def test_landing_misses_are_told_apart():
    from world_models.lge.evaluate import _miss_kind

    # The bottom player's shot lands on the top half (y > 0); the left corner spans x in [-4.115, -1.4].
    assert _miss_kind((-2.7, 9.0), "left_corner", "bottom") == "in_area"
    assert _miss_kind((0.0, 9.0), "left_corner", "bottom") == "wide"
    assert _miss_kind((-2.7, 3.0), "left_corner", "bottom") == "depth"
    assert _miss_kind((0.0, 3.0), "left_corner", "bottom") == "wide_and_depth"
    assert _miss_kind((-2.7, -9.0), "left_corner", "top") == "in_area"
    assert _miss_kind(None, "deep", "top") == "no_landing"


def test_eval_lge_writes_json_and_plot(tmp_path):
    save_model(tmp_path / "tiny", build_model("lge", "tiny"))
    out = tmp_path / "eval"
    assert main(["eval", "lge", "--checkpoint", str(tmp_path / "tiny.safetensors"), "--out", str(out), "--points", "2",
                 "--director-cases", "1", "--threads", "1"]) == 0  # fmt: skip
    result = json.loads((out / "lge_eval.json").read_text())
    assert result["shots_evaluated"] > 0 and result["director"]["cases"] == 1
    mirror = result["mirror_test"]
    assert mirror["shots"] + mirror["without_landing"] > 0 and abs(mirror["corner_centres_apart_m"] - 5.515) < 1e-6
    # Landings are sorted by how they miss; the engine's own shots (the ceiling) read as the adherence rate says.
    for who in ("model", "engine"):
        kinds = result["landing_misses"][who]
        assert sum(kinds.values()) == result["shots_evaluated"]
    assert result["landing_misses"]["engine"]["in_area"] == round(
        result["text_adherence"]["engine"]["target_area"] * result["shots_evaluated"])
    assert 10 < result["launches"]["engine_launch_speed_m_s_median"] < 45
    assert 0 < result["launches"]["engine_landing_depth_m_median"] < 12.5
    assert result["command"].startswith("python -m world_models eval lge --checkpoint")
    assert (out / "lge_eval.png").is_file()
