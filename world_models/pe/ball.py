"""The ball between model steps: PE does not model the ball, so it stays physical.

Each step the engine's own ball physics (`engines.tennis.physics.BallPhysics`: gravity, drag, bounces with the
surface's restitution and friction, the net) advances it one frame, and a contact rule stands in for the engine's
intercept planner: when the ball comes within ``reach`` of a player's racket head (from the model's generated pose)
on that player's half, below ``height``, at most one bounce after the opponent struck it, the player returns it
with the engine's shot solver (`players.execute_shot`: a scripted target, net clearance and launch speed). Where
the ball goes is therefore decided by the player's location, which the learned actions drive; the referee then
reads the states as it reads the engine's.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from world_models.engines.tennis.commands import Command
from world_models.engines.tennis.court import SURFACE_NAMES, SURFACES
from world_models.engines.tennis.physics import BallEvent, BallPhysics
from world_models.engines.tennis.players import Player, choose_command, execute_shot

PLAYERS = ("bottom", "top")
NOBODY = -1


@lru_cache(maxsize=len(SURFACE_NAMES))
def physics_for(surface: int) -> BallPhysics:
    """The engine's ball physics on surface ``surface`` (0 hard, 1 clay, 2 grass)."""
    return BallPhysics(SURFACES[SURFACE_NAMES[int(surface)]])


def advance(surface: int, position: list[float], velocity: list[float]) -> tuple[list[float], list[float], int]:
    """One frame of flight; returns the new position, velocity and the number of bounces in that frame."""
    events: list[BallEvent] = []
    position, velocity = physics_for(surface).step(position, velocity, events)
    return position, velocity, sum(e.kind == "bounce" for e in events)


def may_strike(player: int, hitter: int, bounces: int, ball: list[float], velocity: list[float],
               racket: np.ndarray, reach: float, height: float) -> bool:  # fmt: skip
    """The contact rule: the ball comes towards ``player`` on its half, was last struck by the other player, has
    bounced at most once since, is below ``height`` and within ``reach`` of the racket head."""
    sign = -1.0 if player == 0 else 1.0  # bottom's half is y < 0
    if hitter == player or bounces > 1 or ball[2] > height:
        return False
    if ball[1] * sign <= 0 or velocity[1] * sign <= 0:
        return False
    return math.dist(racket, ball) <= reach


def strike(surface: int, player: int, root: np.ndarray, other_root: np.ndarray, ball: list[float],
           rng: np.random.Generator) -> list[float]:  # fmt: skip
    """Launch velocity of a return: the engine's scripted shot choice and solver, from where the ball is."""
    name = PLAYERS[player]
    me = Player(name, float(root[0]), float(root[1]), style={})
    other = Player(PLAYERS[1 - player], float(other_root[0]), float(other_root[1]), style={})
    chosen = choose_command(me, other, rng)
    side = "forehand" if (ball[0] - root[0]) * me.right_sign >= 0 else "backhand"
    shot = chosen.shot if chosen.shot in ("lob", "drop_shot") else ("volley" if ball[2] > 1.6 else side)
    result = execute_shot(physics_for(surface), me, shot, Command(shot=chosen.shot, target=chosen.target), list(ball),
                          0.2, False, rng)  # fmt: skip
    return [float(v) for v in result.velocity]
