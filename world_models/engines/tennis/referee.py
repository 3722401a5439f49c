"""The referee: judges a sequence of states, from the engine or from a learned model, with the engine's rules.

It sees only states (the flat `layout` vectors, 25 per second): it finds where the ball bounced (and whether it was
in), who hit it and with which shot, and who won the point and how, so generated sequences can be scored against the
rules. Hits are sudden velocity changes away from gravity and drag near a player's racket; bounces are minima of the
ball's height at the ground.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from world_models.engines.tennis.court import (
    BALL_RADIUS,
    FPS,
    half_of,
    in_service_box,
    in_singles_court,
    opponent,
    server_right_sign,
    side_sign,
)
from world_models.engines.tennis.layout import JOINT_INDEX, SLICES, STATE_SIZE

GRAVITY = 9.81
REACH = 1.5
"""Metres from the racket head within which a strike can happen."""


@dataclass
class Bounce:
    frame: int
    x: float
    y: float
    half: str
    inside: bool | None = None
    """Whether it was in (None where the rules do not judge it, e.g. after the point)."""


@dataclass
class Hit:
    frame: int
    player: str
    shot: str
    """``serve``, ``forehand``, ``backhand``, ``volley``, ``smash``, ``lob`` or ``drop_shot``."""


@dataclass
class Judgement:
    """What the referee saw."""

    hits: list[Hit] = field(default_factory=list)
    bounces: list[Bounce] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)
    """Frames of the faulted serves."""
    winner: str | None = None
    reason: str | None = None
    """``double_bounce``, ``out``, ``net``, ``double_fault``, or None if the point is not over."""
    point_frame: int | None = None

    def to_json(self) -> dict:
        return {
            "hits": [{"frame": h.frame, "player": h.player, "shot": h.shot} for h in self.hits],
            "bounces": [
                {"frame": b.frame, "position": [round(b.x, 3), round(b.y, 3)], "half": b.half, "in": b.inside}
                for b in self.bounces
            ],  # fmt: skip
            "faults": self.faults,
            "winner": self.winner,
            "reason": self.reason,
            "point_frame": self.point_frame,
        }


def _ball(states: np.ndarray) -> np.ndarray:
    return states[:, SLICES["ball.position"]].astype(np.float64)


def _player(states: np.ndarray, name: str, joint: str | None = None) -> np.ndarray:
    root = states[:, SLICES[f"{name}.root"]].astype(np.float64)
    if joint is None:
        return root
    j = (
        states[:, SLICES[f"{name}.joints"]]
        .reshape(len(states), len(JOINT_INDEX), 3)[:, JOINT_INDEX[joint]]
        .astype(np.float64)
    )
    return np.concatenate([root + j[:, :2], j[:, 2:]], axis=1)


def find_bounces(states: np.ndarray, fps: float = FPS) -> list[Bounce]:
    """Ground contacts: local minima of the ball's height near the ground, located between frames by extrapolating
    the incoming flight to the ground."""
    p = _ball(states)
    z = p[:, 2]
    dt = 1.0 / fps
    out = []
    for k in range(1, len(p) - 1):
        if z[k] < 0.3 and z[k] <= z[k - 1] and z[k] < z[k + 1] and z[k - 1] - z[k] > 1e-3:
            # Incoming velocity at frame k-1 from the two frames before (finite difference plus gravity's share).
            prev = p[k - 2] if k >= 2 else p[k - 1] - (p[k] - p[k - 1])
            v = (p[k - 1] - prev) / dt
            vz = v[2] - 0.5 * GRAVITY * dt
            c = z[k - 1] - BALL_RADIUS
            disc = vz * vz + 2.0 * GRAVITY * c
            t = (vz + math.sqrt(max(disc, 0.0))) / GRAVITY if disc >= 0 else dt
            t = min(max(t, 0.0), 2.0 * dt)
            x, y = p[k - 1, 0] + v[0] * t, p[k - 1, 1] + v[1] * t
            if (p[k - 1, 1] > 0) != (y > 0) and abs(y) < 0.5:  # do not extrapolate across the net
                x, y = p[k, 0], p[k, 1]
            out.append(Bounce(k, float(x), float(y), half_of(float(y))))
    return out


def find_hits(states: np.ndarray, bounces: list[Bounce], fps: float = FPS) -> list[Hit]:
    """Strikes: a velocity change far beyond gravity and drag, sending the ball fast toward the other half, with a
    racket close to the ball."""
    p = _ball(states)
    dt = 1.0 / fps
    rackets = {n: _player(states, n, "racket_head") for n in ("bottom", "top")}
    bounce_frames = {b.frame for b in bounces}
    hits: list[Hit] = []
    for k in range(1, len(p) - 1):
        v_in = (p[k] - p[k - 1]) / dt
        v_out = (p[k + 1] - p[k]) / dt
        dv = v_out - v_in
        if np.linalg.norm(dv) * fps < 200.0 or k in bounce_frames or np.linalg.norm(v_out) < 8.0:
            continue
        dist = {n: float(np.linalg.norm(rackets[n][k] - p[k])) for n in rackets}
        player = min(dist, key=dist.get)
        if dist[player] > REACH:
            continue
        # The ball must leave toward the other half.
        if (v_out[1] > 0) != (player == "bottom"):
            continue
        if hits and hits[-1].frame >= k - 2:
            continue
        hits.append(Hit(k, player, ""))
    return hits


def _classify(
    states: np.ndarray, hit: Hit, index: int, hits: list[Hit], bounces: list[Bounce], is_serve: bool, fps: float = FPS
) -> str:
    p = _ball(states)
    k = hit.frame
    if is_serve:
        return "serve"
    z = p[k, 2]
    prev_frame = hits[index - 1].frame if index > 0 else -1
    bounced = any(prev_frame < b.frame < k for b in bounces)
    v_out = (p[k + 1] - p[k]) * fps
    if z > 2.0:
        return "smash"
    if not bounced:
        return "volley"
    apex = z + max(v_out[2], 0.0) ** 2 / (2 * GRAVITY)
    if apex > 4.3:
        return "lob"
    nxt = next((b for b in bounces if b.frame > k), None)
    if nxt is not None and nxt.half != hit.player and abs(nxt.y) < 3.2 and math.hypot(v_out[0], v_out[1]) < 14.0:
        return "drop_shot"
    root = _player(states, hit.player)[k]
    facing = float(states[k, SLICES[f"{hit.player}.facing"]][0])
    right = np.array([math.sin(facing), -math.cos(facing)])
    return "forehand" if float((p[k, :2] - root) @ right) > 0 else "backhand"


def _sent_back_untouched(states: np.ndarray, receiver: str, bounce: int) -> bool:
    """Whether the ball, bouncing at frame ``bounce`` on the side away from ``receiver``, turned back towards that
    side with the receiver's racket farther than `REACH` from it (or never visibly turned)."""
    p = _ball(states)
    towards_receiver = np.sign(np.diff(p[: bounce + 1, 1])) == side_sign(receiver)
    turns = np.nonzero(towards_receiver[:-1] & ~towards_receiver[1:])[0]
    if len(turns) == 0:
        return True
    k = int(turns[-1]) + 1  # the frame the ball was at when it turned
    return float(np.linalg.norm(_player(states, receiver, "racket_head")[k] - p[k])) > REACH


def judge(states: np.ndarray, fps: float = FPS) -> Judgement:
    """Referee a point from its states ``(T, STATE_SIZE)`` sampled at ``fps`` (the engine's 25, or a model's
    rate: velocities are finite differences, so the frame rate must be known)."""
    states = np.asarray(states, dtype=np.float64)
    if states.ndim != 2 or states.shape[1] != STATE_SIZE:
        raise ValueError(f"expected states of shape (T, {STATE_SIZE}), got {states.shape}")
    if len(states) < 3:
        return Judgement()
    bounces = find_bounces(states, fps)
    hits = find_hits(states, bounces, fps)
    j = Judgement(hits=hits, bounces=bounces)
    if not hits:
        return j
    server = hits[0].player
    sx = _player(states, server)[hits[0].frame, 0]
    serve_side = "deuce" if sx * server_right_sign(server) > 0 else "ad"
    timeline = sorted([(h.frame, 0, h) for h in hits] + [(b.frame, 1, b) for b in bounces], key=lambda e: (e[0], e[1]))
    expecting_serve = True
    serve_number = 1
    hitter: str | None = None
    serving = False
    count = 0
    for frame, kind, item in timeline:
        if j.winner is not None:
            break
        if kind == 0:
            root_y = abs(_player(states, item.player)[item.frame, 1])
            is_serve = item.player == server and (
                expecting_serve or (hitter == server and _ball(states)[item.frame, 2] > 2.0 and root_y > 11.3)
            )  # a let: served again
            idx = hits.index(item)
            item.shot = _classify(states, item, idx, hits, bounces, is_serve, fps)
            hitter, serving, count = item.player, is_serve, 0
            expecting_serve = False
            continue
        b: Bounce = item
        if hitter is None:
            continue
        receiver = opponent(hitter)
        if count == 0:
            if b.half == hitter:
                b.inside = False
                outcome = "net"
            elif serving:
                b.inside = in_service_box(server, serve_side, b.x, b.y)
                outcome = "in" if b.inside else "out"
            else:
                b.inside = in_singles_court(b.half, b.x, b.y)
                outcome = "in" if b.inside else "out"
            if outcome == "in":
                count = 1
                continue
            if serving:
                j.faults.append(frame)
                if serve_number == 2:
                    j.winner, j.reason, j.point_frame = receiver, "double_fault", frame
                else:
                    serve_number, expecting_serve, hitter = 2, True, None
                continue
            j.winner, j.reason, j.point_frame = receiver, outcome, frame
        elif b.half == receiver or _sent_back_untouched(states, receiver, frame):
            # The ball bounced again before the receiver struck it: on its half, or back on the hitter's half with
            # no racket near where it turned (a learned model can send a ball back by itself); a return the hit
            # finder missed (a soft shot, a low frame rate) had the receiver's racket at the turn and goes on.
            b.inside = in_singles_court(b.half, b.x, b.y)
            j.winner, j.reason, j.point_frame = hitter, "double_bounce", frame
    # A let (the server serves again after a serve that was in) is simply a repeated serve.
    for h in hits:
        if h.shot == "" and h.frame < (j.point_frame if j.point_frame is not None else len(states)):
            h.shot = _classify(states, h, hits.index(h), hits, bounces, False, fps)
    j.hits = [h for h in hits if j.point_frame is None or h.frame <= j.point_frame]
    return j
