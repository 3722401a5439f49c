"""Commands are executable: targeted shots land where they were told to, and "does not reach" loses the point."""

import numpy as np
import pytest

from world_models.engines.tennis.commands import COMMAND_VOCABULARY, SHOTS, TARGETS, Command
from world_models.engines.tennis.court import TARGET_AREAS
from world_models.engines.tennis.game import EngineConfig, TennisEngine

FAST = EngineConfig(pre_serve_frames=(2, 3), post_point_frames=(1, 2))


def landing_rate(command: Command, trials: int, seed: int = 0) -> tuple[float, int]:
    """The receiver of the serve is given ``command`` (the server lets every ball land, so each commanded shot has a
    landing); returns the fraction of executed shots that land in the named area, and how many were executed."""
    hits = landed = 0
    for trial in range(trials):
        engine = TennisEngine(FAST, seed=seed * 100_000 + trial, server="top")
        engine.set_command("bottom", command)
        engine.set_command("top", Command(outcome="does_not_reach"), persistent=True)  # let it land
        record = None
        while not engine.done and engine.frame < 600:
            engine.step()
            record = next((s for s in engine.shots if s.player == "bottom"), None)
            if record is not None and record.landing is not None:
                break
            if engine.point_over and record is None:
                break
        if record is None or record.landing is None:
            continue
        hits += 1
        landed += TARGET_AREAS[command.target].contains("top", *record.landing)
    return landed / max(hits, 1), hits


def test_targeted_shots_land_in_the_named_area():
    for command in (Command(shot="forehand", target="left_corner"), Command(shot="backhand", target="short")):
        rate, hits = landing_rate(command, 200)
        assert hits >= 150, f"{command.text()}: only {hits}/200 trials executed the shot"
        assert rate >= 0.9, f"{command.text()}: {rate:.1%} landed in the area"


def test_does_not_reach_loses_the_point():
    lost = 0
    for trial in range(200):
        engine = TennisEngine(FAST, seed=trial, server="top")
        engine.set_command("bottom", Command(outcome="does_not_reach"))
        while not engine.point_over:
            engine.step()
        lost += engine.winner == "top"
    assert lost / 200 >= 0.95, f"lost {lost}/200"


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_every_target_lands_in_its_area(target):
    for shot in ("forehand", "backhand", "lob", "drop_shot"):
        rate, hits = landing_rate(Command(shot=shot, target=target), 200, seed=1)
        assert hits >= 150 and rate >= 0.9, f"{shot} to {target}: {rate:.1%} of {hits}"


def test_vocabulary_and_validation():
    assert COMMAND_VOCABULARY[0] == Command()
    assert len(set(COMMAND_VOCABULARY)) == len(COMMAND_VOCABULARY) == 1 + len(TARGETS) * (1 + len(SHOTS)) + 3
    with pytest.raises(ValueError, match="unknown shot"):
        Command(shot="tweener")
    with pytest.raises(ValueError, match="unknown target"):
        Command(target="moon")


def test_into_net_and_out_commands_end_the_point_against_the_hitter():
    for outcome, reason in (("into_net", "net"), ("out", "out")):
        lost = 0
        for trial in range(30):
            engine = TennisEngine(FAST, seed=trial, server="top")
            engine.set_command("bottom", Command(outcome=outcome))
            while not engine.point_over:
                engine.step()
            lost += engine.winner == "top" and engine.end_reason in (reason, "double_bounce")
        assert lost >= 27


def test_same_seed_same_point():
    def run(seed):
        engine = TennisEngine(seed=seed)
        positions = []
        while not engine.done:
            engine.step()
            positions.append(list(engine.ball_pos))
        return np.array(positions), engine.winner

    a, b = run(11), run(11)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
