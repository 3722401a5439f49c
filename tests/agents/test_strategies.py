"""Text-directed strategies: grounding words to the real game's commands, playing them, and the report."""

import json

import pytest

from agents.cli import main
from agents.strategies import Strategy, evaluate_strategies, ground_command, parse_strategy
from world_models.core.text import shared_text_encoder
from world_models.engines.tennis.commands import COMMAND_VOCABULARY


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("the bottom player does not reach the ball", "outcome", "does_not_reach"),
        ("the bottom player plays drop shots", "shot", "drop_shot"),
        ("the bottom player hits every ball with a forehand to the left corner", "shot", "forehand"),
    ],
)
def test_words_ground_to_the_nearest_command(text, field, value):
    command = COMMAND_VOCABULARY[ground_command(text, shared_text_encoder())]
    assert getattr(command, field) == value


def test_parse_strategy():
    assert parse_strategy("lobs=the bottom player plays lobs") == Strategy("lobs", "the bottom player plays lobs")
    assert parse_strategy("the bottom player plays lobs deep").name == "the bottom player plays"
    with pytest.raises(ValueError, match="NAME=TEXT"):
        parse_strategy("lobs=")


def test_the_real_game_plays_the_stated_strategy():
    """In the engine, letting every ball go loses every point, and forehands are what the referee sees."""
    strategies = [Strategy("gives up", "the bottom player does not reach the ball"),
                  Strategy("forehands", "the bottom player hits every ball with a forehand to the left corner")]
    rows = evaluate_strategies(["TennisSim-v0"], strategies, episodes=3, seed=1)
    by_player = {r["player"]: r for r in rows}
    assert set(by_player) == {"gives up", "forehands", "random"}
    assert by_player["gives up"]["lost"] == 3 and by_player["gives up"]["won"] == 0
    for row in rows:  # every engine point is called, also those decided on their last frame's bounce
        assert "undecided" not in row["point_endings"]
    forehands = by_player["forehands"]
    assert forehands["shot_types"].get("forehand", 0) > 0.5
    assert forehands["landing_areas"].get("left_corner", 0) > 0.5


def test_cli_on_the_learned_game_writes_json_and_plot(tmp_path):
    kwargs = {"LGE-Tennis-v0": {"checkpoint": None, "preset": "tiny", "max_episode_steps": 12}, "TennisSim-v0": {}}
    code = main(["strategies", "--env", "LGE-Tennis-v0", "TennisSim-v0", "--strategy", "lobs=the bottom player plays lobs",
                 "--episodes", "1", "--env-kwargs", json.dumps(kwargs), "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    record = json.loads((tmp_path / "strategies.json").read_text())
    rows = {(r["env_id"], r["player"]): r for r in record["rows"]}
    assert set(rows) == {("LGE-Tennis-v0", "lobs"), ("LGE-Tennis-v0", "random"), ("TennisSim-v0", "lobs"),
                         ("TennisSim-v0", "random")}  # fmt: skip
    assert rows["LGE-Tennis-v0", "lobs"]["action"] == "the bottom player plays lobs"  # the model reads the words
    assert rows["TennisSim-v0", "lobs"]["action"].startswith("command ")  # the real game plays the nearest command
    assert (tmp_path / "strategies.png").stat().st_size > 1000


def test_rejects_a_game_without_tennis_states():
    with pytest.raises(ValueError, match="not a tennis environment"):
        evaluate_strategies(["Toy-v0"], [Strategy("x", "y")], episodes=1)
