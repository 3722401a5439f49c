"""The referee judges state sequences as the engine's rules did."""

import numpy as np
import pytest

from world_models.engines.tennis import layout
from world_models.engines.tennis.referee import judge
from world_models.engines.tennis.sequence import generate


def test_referee_agrees_with_the_engine():
    points = agree = hits = hits_ok = shots_ok = 0
    worst_bounce = 0.0
    for index in range(25):
        seq = generate(3, index, render=False)
        engine = seq.engine
        j = judge(seq.vectors())
        points += 1
        agree += (j.winner, j.reason) == (engine.winner, engine.end_reason)
        found = {h.frame: h for h in j.hits}
        for shot in engine.shots:
            hits += 1
            h = found.get(shot.frame)
            hits_ok += h is not None and h.player == shot.player
            shots_ok += h is not None and h.shot == shot.shot
        bounces = [e["position"] for evs in engine.events for e in evs if e["type"] == "bounce"]
        for b in j.bounces:
            worst_bounce = max(worst_bounce, min(np.hypot(b.x - x, b.y - y) for x, y in bounces))
    assert agree / points >= 0.9
    assert hits_ok / hits >= 0.98
    assert shots_ok / hits >= 0.85
    assert worst_bounce < 0.05


def _hand_made(flights) -> np.ndarray:
    """States of ball flights ``(start, velocity, frames)`` (``start`` None: on from where the last one ended) under
    gravity with bounces, in a simulated point's scene; the bottom player's racket is at each flight's start."""
    base = generate(0, 0, render=False).vectors()[0]
    frames = []
    pos = layout.SLICES["ball.position"]
    racket = layout.SLICES["bottom.joints"].start + 3 * layout.JOINT_INDEX["racket_head"]
    p = None
    for start, velocity, n in flights:
        p = np.array(start if start is not None else p, dtype=np.float64)
        v = np.array(velocity, dtype=np.float64)
        first = p.copy()
        for _ in range(n):
            s = base.copy()
            s[layout.SLICES["bottom.root"]] = [1.0, -12.3]
            s[racket : racket + 3] = [first[0] - 1.0, first[1] + 12.3, first[2]]
            s[pos] = p
            frames.append(s)
            v[2] -= 9.81 / 25
            p = p + v / 25
            if p[2] < 0.0335:
                p[2], v[2] = 2 * 0.0335 - p[2], -0.7 * v[2]
    return np.stack(frames)


def test_referee_on_a_hand_made_sequence():
    """A state sequence that was never simulated: a serve that lands long is a fault, twice is a double fault."""
    serve = [([1.2, -12.0, 2.6], [0.0, 0.0, 0.0], 3),  # held at the contact point
             ([1.2, -12.0, 2.6], [-1.5, 30.0, -3.0], 30)]  # much too long: lands beyond the service line  # fmt: skip
    j = judge(_hand_made(serve + serve))
    assert [h.shot for h in j.hits] == ["serve", "serve"]
    assert len(j.faults) == 2 and j.winner == "top" and j.reason == "double_fault"


def test_a_ball_sent_back_with_no_racket_near_loses_the_receiver_the_point():
    """A learned model can send the ball back over the net with no racket near it: the referee sees no strike, and
    the ball's next bounce, on the server's half, is the receiver's second."""
    j = judge(_hand_made([([1.2, -12.0, 2.6], [0.0, 0.0, 0.0], 3),
                          ([1.2, -12.0, 2.6], [-3.5, 20.0, 0.0], 26),  # in the service box, then on
                          (None, [0.0, -20.0, 3.0], 30)]))  # back to the bottom half, nobody near  # fmt: skip
    assert [h.shot for h in j.hits] == ["serve"]
    assert [b.half for b in j.bounces[:2]] == ["top", "bottom"] and j.bounces[0].inside
    assert j.winner == "bottom" and j.reason == "double_bounce" and j.point_frame == j.bounces[1].frame


def test_referee_tolerates_short_and_garbage_sequences():
    """Learned models generate anything: the referee answers (no winner) instead of failing."""
    for length in (0, 1, 2, 10):
        assert judge(np.zeros((length, layout.STATE_SIZE), np.float32)).winner is None
    noise = np.random.default_rng(0).normal(size=(60, layout.STATE_SIZE)).astype(np.float32) * 5
    noise[7] = np.nan
    judge(noise)
    with pytest.raises(ValueError, match="shape"):
        judge(np.zeros((5, 3)))
