"""Ball physics, the shot solver and the state layout of the tennis engine."""

import numpy as np
import pytest

from world_models.engines.tennis import layout
from world_models.engines.tennis.court import BALL_RADIUS, SURFACES
from world_models.engines.tennis.physics import GRAVITY, BallPhysics, solve_shot
from world_models.engines.tennis.sequence import generate


def _flight(physics: BallPhysics, pos, vel, frames: int):
    positions, bounce_frames = [list(pos)], []
    for f in range(1, frames + 1):
        events = []
        pos, vel = physics.step(pos, vel, events)
        positions.append(pos)
        if any(e.kind == "bounce" for e in events):
            bounce_frames.append(f)
    return np.array(positions), bounce_frames


@pytest.mark.parametrize("surface", list(SURFACES))
def test_drag_free_flights_are_parabolas_and_bounces_follow_restitution(surface):
    physics = BallPhysics(SURFACES[surface], drag=False)
    positions, bounces = _flight(physics, [-4.0, -3.0, 2.5], [2.0, -2.0, 3.0], 120)  # clear of the net
    assert len(bounces) >= 3
    t = np.arange(len(positions)) / 25.0
    apexes = []
    for a, b in zip([0] + bounces[:-1], bounces, strict=True):
        seg = slice(a, b)  # frames a..b-1 lie on one parabola (frame a is already after the bounce at a)
        ts, ps = t[seg], positions[seg]
        if len(ts) < 4:
            continue
        for axis, degree in ((0, 1), (1, 1), (2, 2)):
            coef = np.polyfit(ts, ps[:, axis], degree)
            residual = np.abs(np.polyval(coef, ts) - ps[:, axis]).max()
            assert residual < 1e-3, f"axis {axis}: residual {residual * 1000:.3f} mm"
        cz = np.polyfit(ts, ps[:, 2], 2)
        assert cz[0] == pytest.approx(-GRAVITY / 2, rel=1e-6)
        apexes.append(cz[2] - cz[1] ** 2 / (4 * cz[0]) - BALL_RADIUS)  # apex height of the ball's bottom
    e = SURFACES[surface].restitution
    for before, after in zip(apexes[1:-1], apexes[2:], strict=False):
        assert after / before == pytest.approx(e * e, rel=1e-3)


def test_drag_slows_the_ball():
    pos, vel = [0.0, -11.0, 1.0], [0.0, 30.0, 4.0]
    with_drag, _ = _flight(BallPhysics(SURFACES["hard"], drag=True), pos, vel, 10)
    without, _ = _flight(BallPhysics(SURFACES["hard"], drag=False), pos, vel, 10)
    assert with_drag[-1, 1] < without[-1, 1] - 1.0


def test_net_stops_low_balls_and_lets_high_balls_over():
    physics = BallPhysics(SURFACES["hard"])
    events = []
    pos, vel = [0.0, -5.0, 0.5], [0.0, 20.0, 1.0]
    for _ in range(20):
        pos, vel = physics.step(pos, vel, events)
    assert any(e.kind == "net" and e.detail == "stop" for e in events)
    assert pos[1] < 0
    events = []
    pos, vel = [0.0, -5.0, 2.0], [0.0, 20.0, 1.0]
    for _ in range(15):
        pos, vel = physics.step(pos, vel, events)
    assert not any(e.kind == "net" for e in events) and pos[1] > 0


@pytest.mark.parametrize("drag", [False, True])
def test_shot_solver_lands_on_target_with_the_asked_net_height(drag):
    physics = BallPhysics(SURFACES["clay"], drag=drag)
    start, target, height = [1.0, -12.0, 1.0], (-2.5, 9.0), 1.8
    vel = solve_shot(physics, start, target, height)
    lx, ly, _, z_net = physics.fly(start, vel)
    assert np.hypot(lx - target[0], ly - target[1]) < 0.02
    assert z_net == pytest.approx(height, abs=0.02)


def test_layout_round_trip_and_order():
    seq = generate(0, 0, render=False)
    state = seq.states[40]
    vector = layout.flatten(state)
    assert vector.shape == (layout.STATE_SIZE,) and vector.dtype == np.float32
    back = layout.unflatten(vector)
    np.testing.assert_allclose(back["ball"]["position"], state["ball"]["position"], atol=1e-5)
    np.testing.assert_allclose(back["top"]["joints"], state["top"]["joints"], atol=1e-5)
    np.testing.assert_allclose(layout.flatten(back), vector)
    assert list(layout.SLICES)[0] == "bottom.root" and layout.SLICES["bottom.root"] == slice(0, 2)
    assert layout.PLAYER_SIZE == 2 + 2 + 1 + 3 * len(layout.JOINTS) + 9
    np.testing.assert_allclose(layout.denormalise(layout.normalise(vector)), vector, rtol=1e-6)
    with pytest.raises(ValueError, match="state vector"):
        layout.unflatten(np.zeros(3))


def test_racket_meets_the_ball_at_every_hit():
    seq = generate(0, 1, render=False)
    for shot in seq.engine.shots:
        s = seq.states[shot.frame][shot.player]
        racket = np.array([s["root"][0], s["root"][1], 0.0]) + s["joints"][layout.JOINT_INDEX["racket_head"]]
        ball = np.array(seq.states[shot.frame]["ball"]["position"])
        assert np.linalg.norm(racket - ball) < 1e-6
