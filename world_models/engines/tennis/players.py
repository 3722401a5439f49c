"""Players: bounded-acceleration movement, the intercept planner, the scripted shot policy, and shot execution.

A player is right-handed; its forehand side is its own right (screen right for the bottom player, screen left for
the top player). Everything random is drawn from the engine's `numpy.random.Generator`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from world_models.engines.tennis import motion
from world_models.engines.tennis.commands import Command
from world_models.engines.tennis.court import (
    FPS,
    HALF_LENGTH,
    NET_HEIGHT_CENTRE,
    SINGLES_HALF_WIDTH,
    TARGET_AREAS,
    in_singles_court,
    net_height,
    opponent,
    side_sign,
)
from world_models.engines.tennis.physics import BallPhysics, solve_shot

MAX_SHOT_SPEED = {"serve": 52.0, "smash": 42.0, "forehand": 36.0, "backhand": 34.0, "volley": 28.0,
                  "lob": 24.0, "drop_shot": 18.0}  # fmt: skip
"""Upper bound of the launch speed per shot type (m/s); the flight time never gets shorter than this allows."""
REACH = 0.75
"""How far (m) a player's root may be from the ideal contact position and still hit the ball (by lunging)."""


@dataclass
class Plan:
    """How a player will play the incoming ball."""

    contact_frame: int
    contact: np.ndarray
    """Ball position at the contact frame."""
    root: np.ndarray
    """Where the player's root should be at contact."""
    shot: str
    side: str
    """``forehand`` or ``backhand``: which side of the body (the animation clip)."""
    command: Command
    will_hit: bool
    reason: str = ""
    """Why not, when ``will_hit`` is False: ``unreachable`` or ``commanded``."""


@dataclass
class Player:
    """One player's dynamic state, body parameters and plans."""

    name: str
    x: float
    y: float
    style: dict[str, tuple[float, float, float]]
    scale: float = 1.0
    max_speed: float = 6.5
    max_accel: float = 9.0
    cadence: float = 1.6
    swing_amplitude: float = 1.0
    stance: float = 0.42
    swing_lead: int = 9
    """Frames from the start of a swing to contact (timing varies per player)."""
    swing_follow: int = 9
    """Frames of follow-through after contact."""
    vx: float = 0.0
    vy: float = 0.0
    facing: float = 0.0
    run_phase: float = 0.0
    goal: tuple[float, float] = (0.0, 0.0)
    action: str = "ready"
    swing: tuple[int, int, int] | None = None
    """(start, contact, end) frames of the current swing."""
    clip: str = "forehand"
    phase: float = 0.0
    """Phase of the current swing (contact at 0.5)."""
    contact_point: np.ndarray | None = None
    """World position where the current swing meets the ball."""
    plan: Plan | None = None
    joints: np.ndarray = field(default_factory=lambda: np.zeros((16, 3)))
    holding_ball: bool = False

    def __post_init__(self) -> None:
        self.facing = self.net_facing
        self.goal = (self.x, self.y)

    @property
    def net_facing(self) -> float:
        return math.pi / 2 if self.name == "bottom" else -math.pi / 2

    @property
    def right_sign(self) -> float:
        """Screen-x direction of the player's own right."""
        return 1.0 if self.name == "bottom" else -1.0

    def travel_time(self, distance: float) -> float:
        """Time to cover ``distance`` from rest with bounded acceleration and speed (accelerate, then stop)."""
        a, v = self.max_accel, self.max_speed
        if distance < v * v / a:
            return 2.0 * math.sqrt(distance / a)
        return distance / v + v / a

    def move(self, dt: float) -> None:
        """One frame of movement toward ``goal`` with bounded speed and acceleration (arrives without overshoot)."""
        dx, dy = self.goal[0] - self.x, self.goal[1] - self.y
        dist = math.hypot(dx, dy)
        want = min(self.max_speed, math.sqrt(2.0 * self.max_accel * 0.8 * dist), dist / dt) if dist > 1e-4 else 0.0
        wx, wy = (dx / dist * want, dy / dist * want) if dist > 1e-4 else (0.0, 0.0)
        ex, ey = wx - self.vx, wy - self.vy
        norm = math.hypot(ex, ey)
        limit = self.max_accel * dt
        if norm > limit:
            ex, ey = ex / norm * limit, ey / norm * limit
        self.vx += ex
        self.vy += ey
        self.x += self.vx * dt
        self.y += self.vy * dt
        speed = math.hypot(self.vx, self.vy)
        self.run_phase = (self.run_phase + 2.0 * math.pi * self.cadence * dt * min(speed / 2.0, 1.6)) % (2.0 * math.pi)
        # Face the net, turning into long runs away from it; rate-limited so turns are smooth.
        want_facing = self.net_facing
        if speed > 4.0:
            run_dir = math.atan2(self.vy, self.vx)
            diff = math.remainder(run_dir - want_facing, 2 * math.pi)
            want_facing += 0.5 * diff * min((speed - 4.0) / 2.0, 1.0)
        turn = math.remainder(want_facing - self.facing, 2 * math.pi)
        self.facing += max(-6.0 * dt, min(6.0 * dt, turn))


def contact_root(player: Player, contact: np.ndarray, clip: str) -> np.ndarray:
    """Where the root must be for the clip's nominal racket position to meet the ball at ``contact``."""
    offset = motion.to_world(motion.nominal_contact(clip, player.scale), player.net_facing)
    return np.array([contact[0] - offset[0], contact[1] - offset[1]])


def plan_return(player: Player, frame: int, positions: list, bounces: list[int], command: Command,
                rng: np.random.Generator, scripted: bool) -> Plan | None:  # fmt: skip
    """Plan how ``player`` plays the predicted ball.

    ``positions[k]`` is the ball's position ``k + 1`` frames after ``frame``; ``bounces[k]`` how many times it has
    bounced by then. Returns None when the ball should be left (it lands out, or never reaches this half).
    """
    s = side_sign(player.name)
    first = next((k for k, b in enumerate(bounces) if b >= 1), None)
    if first is not None:
        fx, fy = positions[first][0], positions[first][1]
        if not in_singles_court(player.name, fx, fy):
            return None  # it lands out (or on the hitter's own side): leave it
    second = next((k for k, b in enumerate(bounces) if b >= 2), len(positions))
    pos = np.asarray(positions)

    def reachable(k: int, root: np.ndarray) -> float:
        """Spare time (s) reaching ``root`` for contact at step k (negative: late)."""
        dist = math.hypot(root[0] - player.x, root[1] - player.y)
        return (k + 1) / FPS - 0.2 - player.travel_time(dist)

    shot = command.shot
    # Pre-bounce candidates (volley, smash) on this half.
    pre = [k for k in range(first if first is not None else len(pos)) if s * pos[k, 1] > 1.0]
    smash_k = [k for k in pre if 2.0 <= pos[k, 2] <= 3.2 and k >= 3]
    volley_k = [k for k in pre if 0.5 <= pos[k, 2] <= 1.9 and s * pos[k, 1] < 9.0 and k >= 3]
    ground_k = [] if first is None else [k for k in range(first + 1, second) if 0.4 <= pos[k, 2] <= 1.6
                                         and s * pos[k, 1] < HALF_LENGTH + 4.0]  # fmt: skip

    def side_for(k: int) -> str:
        if command.shot in ("forehand", "backhand"):
            return command.shot
        lateral = (pos[k, 0] - player.x) * player.right_sign
        return "forehand" if lateral > -0.35 else "backhand"

    def best(cands: list[int], kind: str, ideal_z: float) -> tuple[int, str, np.ndarray, float] | None:
        options = []
        for k in cands:
            side = side_for(k)
            root = contact_root(player, pos[k], motion.clip_for(kind, side))
            spare = reachable(k, root)
            options.append((spare, k, side, root))
        if not options:
            return None
        ok = [o for o in options if o[0] >= 0.0]
        if ok:  # comfortable: the reachable contact nearest the ideal height, earlier when equal
            spare, k, side, root = min(ok, key=lambda o: abs(pos[o[1], 2] - ideal_z) + 0.02 * o[1])
        else:
            spare, k, side, root = max(options, key=lambda o: o[0])
        return k, side, root, spare

    choice = None
    if shot == "smash" or (shot is None and scripted and smash_k):
        c = best(smash_k, "smash", 2.6)
        if c is not None and c[3] >= 0.0:
            choice, shot = c, "smash"
    if choice is None and (shot == "volley" or (shot is None and scripted and s * player.y < 7.5)):
        c = best(volley_k, "volley", 1.2)
        if c is not None and c[3] >= 0.0:
            choice, shot = c, "volley"
    if choice is None:
        c = best(ground_k, "forehand", 1.0)
        if c is None:  # nothing to hit after the bounce (e.g. it bounces twice quickly): try before it
            c = best(volley_k, "volley", 1.2)
            if c is None:
                return None
            shot = "volley"
        choice = c
        if shot in (None, "volley", "smash"):
            shot = choice[1]
    k, side, root, spare = choice
    if shot in ("forehand", "backhand"):
        shot = side
    # How far short the player would stop: within REACH it lunges, further it cannot hit.
    late_dist = 0.0
    if spare < 0.0:
        late_dist = -spare * player.max_speed
    will_hit = late_dist <= REACH
    reason = "" if will_hit else "unreachable"
    if command.outcome == "does_not_reach":
        will_hit, reason = False, "commanded"
    return Plan(frame + k + 1, pos[k].copy(), root, shot, side, command, will_hit, reason)


def choose_command(player: Player, other: Player, rng: np.random.Generator) -> Command:
    """The scripted policy's shot decision for the next ball (type and target; usually plays normally)."""
    s_other = side_sign(other.name)
    opponent_at_net = s_other * other.y < 6.5
    r = rng.random()
    shot = None
    if opponent_at_net and r < 0.45:
        shot = "lob"
    elif not opponent_at_net and r < 0.06:
        shot = "drop_shot"
    targets = ["left_corner", "right_corner", "centre", "deep", "short", "left_box", "right_box"]
    weights = np.array([0.27, 0.27, 0.16, 0.18, 0.02, 0.05, 0.05])
    if shot == "drop_shot":
        target = "short"
    else:
        # Aim away from the opponent more often than at them.
        if other.x > 1.0:
            weights[[0, 5]] *= 1.8
        elif other.x < -1.0:
            weights[[1, 6]] *= 1.8
        target = targets[int(rng.choice(len(targets), p=weights / weights.sum()))]
    return Command(shot=shot, target=target)


@dataclass
class ShotResult:
    velocity: list[float]
    target: tuple[float, float]
    """Aimed landing point (world x, y) before noise."""
    area: str | None


def execute_shot(physics: BallPhysics, player: Player, plan_shot: str, command: Command, ball: list[float],
                 difficulty: float, aggressive: bool, rng: np.random.Generator,
                 serve_box: str | None = None) -> ShotResult:  # fmt: skip
    """Solve the launch velocity of a shot: aim point of the command (with noise growing with difficulty), net
    clearance by shot type, launch speed bounded per shot type."""
    half = opponent(player.name)
    s = side_sign(half)
    area = command.target
    if command.target_point is not None:
        aim = (float(command.target_point[0]), s * float(command.target_point[1]))
        area = None
    else:
        if plan_shot == "serve":
            area = area if area in ("left_box", "right_box") else serve_box
        elif area is None:
            area = "short" if plan_shot == "drop_shot" else "deep"
        aim = TARGET_AREAS[area].aim(half)
        if plan_shot == "serve":
            # Serve placement within the box: wide, body or down the T; deeper for first serves.
            if aggressive:  # a first serve going for the lines
                aim = (aim[0] + rng.uniform(-1.4, 1.4), s * rng.uniform(5.3, 6.1))
            else:
                aim = (aim[0] + rng.uniform(-0.9, 0.9), s * rng.uniform(4.2, 5.2))
        elif aggressive and area in ("left_corner", "right_corner", "deep"):
            aim = (aim[0] * 1.2, s * 10.6)
    sigma = 0.28 + 0.55 * difficulty + (0.25 if aggressive else 0.0)
    if plan_shot == "serve":
        sigma = 0.5 if aggressive else 0.3
    tx, ty = aim[0] + rng.normal(0.0, sigma), aim[1] + rng.normal(0.0, sigma)
    # Net clearance (height of the ball's centre above the ground as it crosses the net).
    base = net_height(0.5 * (ball[0] + tx))
    clearance = {
        "serve": rng.uniform(0.3, 0.6),
        "lob": rng.uniform(3.5, 5.5),
        "drop_shot": rng.uniform(0.3, 0.6),
        "volley": rng.uniform(0.25, 0.7),
        "smash": rng.uniform(0.3, 0.8),
    }.get(plan_shot, rng.uniform(0.45, 1.2))
    clearance += rng.normal(0.0, 0.06 + 0.1 * difficulty)
    if command.outcome == "into_net":
        # A drive that is still descending through the net plane below the tape: land it short and low.
        ty = s * rng.uniform(1.5, 4.0)
        frac = abs(ball[1]) / (abs(ball[1]) + abs(ty))
        low = ball[2] * (1.0 - frac) + 0.1
        clearance = min(max(low, 0.3), NET_HEIGHT_CENTRE - 0.15) - base
        if low > NET_HEIGHT_CENTRE - 0.15:  # contact too high for a drive into the net: aim at the net's foot
            ty = s * 0.3
    elif command.outcome == "out":
        if rng.random() < 0.5:
            ty = s * (HALF_LENGTH + rng.uniform(1.2, 3.0))
        else:
            tx = math.copysign(SINGLES_HALF_WIDTH + rng.uniform(1.0, 2.0), tx if abs(tx) > 0.1 else 1.0)
    dist = math.hypot(tx - ball[0], ty - ball[1])
    min_time = 0.0 if command.outcome == "into_net" else dist / MAX_SHOT_SPEED.get(plan_shot, 34.0)
    velocity = solve_shot(physics, list(ball), (tx, ty), base + clearance, min_time=min_time)
    return ShotResult(velocity, aim, area)
