"""The tennis engine: one point (or a run of points) of singles with serves, faults, rallies, the rules, events and
shot commands, stepped at 25 frames per second.

    engine = TennisEngine(EngineConfig(), seed=0, server="bottom")
    engine.set_command("top", Command(outcome="does_not_reach"))  # the top player lets the next ball pass
    while not engine.done:
        engine.step()
    engine.winner  # "bottom", unless the serve was a double fault

Every random draw goes through one `numpy.random.Generator` (``seed`` or ``rng``), so a seed fixes the point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from world_models.engines.tennis import motion
from world_models.engines.tennis.commands import AUTO, Command
from world_models.engines.tennis.court import (
    BALL_RADIUS,
    FPS,
    HALF_LENGTH,
    PLAYERS,
    SURFACE_NAMES,
    SURFACES,
    half_of,
    in_service_box,
    in_singles_court,
    opponent,
    serve_box_name,
    serve_position_x,
    side_sign,
)
from world_models.engines.tennis.physics import BallEvent, BallPhysics
from world_models.engines.tennis.players import (
    Plan,
    Player,
    choose_command,
    execute_shot,
    plan_return,
)

POINT_NAMES = ("0", "15", "30", "40")
END_REASONS = ("double_bounce", "out", "net", "double_fault")
"""How a point ends: the ball bounced twice on the loser's half (a winner, an ace or a missed ball), a shot landed
out, a shot stayed on the hitter's side after the net, or two faults."""


@dataclass
class EngineConfig:
    """Settings of the tennis engine (all sampled per sequence when left at None)."""

    surface: str | None = None
    """``hard``, ``clay`` or ``grass``; None samples one."""
    drag: bool = True
    """Air drag on the ball (off: exact parabolas, for tests)."""
    substeps: int = 8
    """Physics sub-steps per frame."""
    points: int = 1
    """Points played before ``done`` (a dataset sequence is one point)."""
    max_frames: int = 1500
    """Hard cap on frames (the point is then truncated)."""
    pre_serve_frames: tuple[int, int] = (8, 20)
    """Range of frames before the server starts the service motion."""
    post_point_frames: tuple[int, int] = (12, 22)
    """Range of frames recorded after a point ends (reactions, ball rolling out)."""
    scripted_errors: float = 1.0
    """Multiplier of the scripted players' unforced-error rate."""


def sample_style(rng: np.random.Generator) -> dict[str, tuple[float, float, float]]:
    """Shirt, shorts and skin colours of one player."""
    shirt = tuple(float(c) for c in rng.uniform(0.05, 0.95, 3))
    shorts = tuple(
        float(c) for c in (rng.uniform(0.05, 0.95, 3) if rng.random() < 0.5 else np.full(3, rng.uniform(0.05, 0.95)))
    )
    tone = rng.uniform(0.0, 1.0)
    skin = tuple(float(c) for c in (np.array([0.95, 0.78, 0.65]) * (1 - tone) + np.array([0.45, 0.30, 0.20]) * tone))
    return {"shirt": shirt, "shorts": shorts, "skin": skin}


@dataclass
class ShotRecord:
    """One ball struck in the point (for captions, the referee and the command tests)."""

    frame: int
    player: str
    shot: str
    side: str
    area: str | None
    command: Command
    position: list[float]
    lunge: bool = False
    landing: tuple[float, float] | None = None
    result: str = ""
    """``in``, ``out``, ``net``, ``fault``, ``let``: what its first landing was."""


@dataclass
class TennisEngine:
    """A singles point engine. See the module doc.

    Args:
        config: engine settings.
        seed: seeds the engine's generator (ignored when ``rng`` is given).
        rng: the generator every random draw uses.
        server: who serves (None: random).
        score: points already won in the current game ``(server, receiver)`` (None: random); sets the serve side.
    """

    config: EngineConfig = field(default_factory=EngineConfig)
    seed: int | None = None
    rng: np.random.Generator | None = None
    server: str | None = None
    score: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.rng is None:
            self.rng = np.random.default_rng(self.seed)
        rng = self.rng
        self.surface = SURFACES[self.config.surface or SURFACE_NAMES[int(rng.integers(len(SURFACE_NAMES)))]]
        self.physics = BallPhysics(self.surface, drag=self.config.drag, substeps=self.config.substeps)
        if self.server is None:
            self.server = PLAYERS[int(rng.integers(2))]
        if self.score is None:
            self.score = (int(rng.integers(4)), int(rng.integers(4)))
        self.players: dict[str, Player] = {}
        for name in PLAYERS:
            self.players[name] = Player(
                name, 0.0, side_sign(name) * (HALF_LENGTH + 0.5), style=sample_style(rng),
                scale=float(rng.uniform(0.93, 1.05)), max_speed=float(rng.uniform(5.8, 7.2)),
                max_accel=float(rng.uniform(8.0, 11.0)), cadence=float(rng.uniform(1.4, 1.8)),
                swing_amplitude=float(rng.uniform(0.9, 1.1)), stance=float(rng.uniform(0.36, 0.5)),
                swing_lead=int(rng.integers(8, 12)), swing_follow=int(rng.integers(8, 12)),
            )  # fmt: skip
        self.commands: dict[str, Command | None] = {p: None for p in PLAYERS}
        self.persistent: dict[str, bool] = {p: False for p in PLAYERS}
        self.frame = -1
        self.points_won = {p: 0 for p in PLAYERS}
        self.points_played = 0
        self.shots: list[ShotRecord] = []
        self.events: list[list[dict[str, Any]]] = []
        self.done = False
        self.truncated = False
        self.winner: str | None = None
        self.end_reason: str | None = None
        self._start_point()
        self.step()  # frame 0

    # ------------------------------------------------------------------ commands
    def set_command(self, player: str, command: Command | None, persistent: bool = False) -> None:
        """Give ``player`` a command for the next ball it plays (``None``: back to the scripted policy).

        A command is used once unless ``persistent``. If the player has already planned the incoming ball and
        has not started swinging, it re-plans with the new command.
        """
        if player not in PLAYERS:
            raise ValueError(f"unknown player {player!r}; choose from {PLAYERS}")
        self.commands[player] = command
        self.persistent[player] = persistent
        p = self.players[player]
        if p.plan is None or p.swing is not None or self._flight is None or self._flight["receiver"] != player:
            return
        old = p.plan.command
        new = command or AUTO
        if (old.shot, old.outcome) == (new.shot, new.outcome):
            p.plan.command = new  # only the aim changed: no need to run somewhere else
            if not persistent:
                self.commands[player] = None
        else:
            self._plan(player)

    # ------------------------------------------------------------------ point flow
    def _start_point(self) -> None:
        rng = self.rng
        server, receiver = self.server, opponent(self.server)
        total = self.score[0] + self.score[1]
        self.serve_side = "deuce" if total % 2 == 0 else "ad"
        self.serve_number = 1
        self.point_over = False
        self.point_end_frame: int | None = None
        self._flight: dict[str, Any] | None = None
        self._ball_swap_frame: int | None = None
        sx = serve_position_x(server, self.serve_side)
        srv, rcv = self.players[server], self.players[receiver]
        srv.x, srv.y = sx * rng.uniform(0.4, 1.0), side_sign(server) * (HALF_LENGTH + 0.25)
        rcv.x = -sx * rng.uniform(2.3, 3.6)
        rcv.y = side_sign(receiver) * (HALF_LENGTH + rng.uniform(-0.3, 1.5))
        for p in (srv, rcv):
            p.vx = p.vy = 0.0
            p.facing = p.net_facing
            p.goal = (p.x, p.y)
            p.plan, p.swing, p.action = None, None, "ready"
        # The receiver walks a little into position: a small offset of the starting spot.
        rcv.x += rng.uniform(-1.0, 1.0)
        rcv.y += side_sign(receiver) * rng.uniform(-0.8, 0.8)
        self._schedule_serve(self.frame + int(rng.integers(*self.config.pre_serve_frames)))

    def _schedule_serve(self, start: int) -> None:
        srv = self.players[self.server]
        srv.holding_ball = True
        self.ball_held = True
        self.ball_vel = [0.0, 0.0, 0.0]
        self.ball_pos = self._hand_ball(srv)
        self._serve_start = start
        self._toss_frame = start + 5
        self._serve_contact = start + 2 * srv.swing_lead + 2
        srv.goal = (srv.x, srv.y)
        rcv = self.players[opponent(self.server)]
        box_x = -serve_position_x(self.server, self.serve_side)
        rcv.goal = (box_x * float(self.rng.uniform(2.4, 3.4)),
                    side_sign(rcv.name) * (HALF_LENGTH + float(self.rng.uniform(-0.4, 1.2))))  # fmt: skip

    def _hand_ball(self, player: Player) -> list[float]:
        hand = player.joints[6] if np.any(player.joints) else np.array([-0.2, 0.3, 1.0])
        return [player.x + float(hand[0]), player.y + float(hand[1]), float(hand[2]) + 0.04]

    # ------------------------------------------------------------------ stepping
    def step(self) -> list[dict[str, Any]]:
        """Advance one frame; returns this frame's events."""
        if self.done:
            raise RuntimeError("the engine is done; build a new one (or raise config.points)")
        self.frame += 1
        f = self.frame
        events: list[dict[str, Any]] = []
        srv = self.players[self.server]
        if self.ball_held:
            if f == self._serve_start:
                srv.swing = (f, self._serve_contact, self._serve_contact + 2 * srv.swing_follow)
                srv.clip = "overhead"
                self._serve_plan(srv)
            if f == self._toss_frame:
                self._toss(srv)
                events.append({"type": "toss", "player": srv.name})
            else:
                self.ball_pos = self._hand_ball(srv)
        else:
            ball_events: list[BallEvent] = []
            self.ball_pos, self.ball_vel = self.physics.step(self.ball_pos, self.ball_vel, ball_events)
            for e in ball_events:
                self._ball_event(e, events)
        for name in PLAYERS:
            self._contact(self.players[name], events)
        for name in PLAYERS:
            self._update_player(self.players[name])
        if self.point_over and f >= self.point_end_frame + self._post_frames:
            self.points_played += 1
            if self.points_played >= self.config.points:
                self.done = True
            else:
                self._next_point()
        if f + 1 >= self.config.max_frames and not self.done:
            self.done = self.truncated = True
        self.events.append(events)
        return events

    def _next_point(self) -> None:
        s, r = self.score
        if self.winner == self.server:
            s += 1
        else:
            r += 1
        game_over = (s >= 4 or r >= 4) and abs(s - r) >= 2
        if game_over:
            self.server = opponent(self.server)
            s, r = 0, 0
        elif s >= 3 and r >= 3 and s == r:
            s, r = 3, 3
        elif s >= 4 and r >= 3:
            s, r = 4, 3
        elif r >= 4 and s >= 3:
            s, r = 3, 4
        self.score = (s, r)
        self.winner = None
        self.end_reason = None
        self._start_point()

    def score_text(self) -> str:
        """The game score before this point, server first ("30-15", "deuce", "advantage server")."""
        s, r = self.score
        if s >= 3 and r >= 3:
            return "deuce" if s == r else ("advantage server" if s > r else "advantage receiver")
        return f"{POINT_NAMES[min(s, 3)]}-{POINT_NAMES[min(r, 3)]}"

    # ------------------------------------------------------------------ serve
    def _serve_plan(self, srv: Player) -> None:
        rng = self.rng
        contact_local = motion.nominal_contact("overhead", srv.scale) + np.array(
            [rng.normal(0, 0.05), rng.normal(0.05, 0.06), rng.normal(0, 0.05)]
        )
        contact = np.array([srv.x, srv.y, 0.0]) + motion.to_world(contact_local, srv.net_facing)
        srv.plan = Plan(self._serve_contact, contact, np.array([srv.x, srv.y]), "serve", "forehand",
                        self._take_command(srv.name), True)  # fmt: skip

    def _toss(self, srv: Player) -> None:
        """Release the ball so that the physics brings it to the planned contact point at the contact frame."""
        start = self._hand_ball(srv)
        target = srv.plan.contact
        t = (self._serve_contact - self._toss_frame) / FPS
        vel = [(target[0] - start[0]) / t, (target[1] - start[1]) / t, (target[2] - start[2] + 0.5 * 9.81 * t * t) / t]
        self.ball_held = False
        srv.holding_ball = False
        self.ball_pos, self.ball_vel = start, vel
        # Contact happens where the simulated ball really is at the contact frame (drag moves it a little).
        pos, v = list(start), list(vel)
        for _ in range(self._serve_contact - self._toss_frame):
            pos, v = self.physics.step(pos, v)
        srv.plan.contact = np.array(pos)

    def _take_command(self, player: str) -> Command:
        command = self.commands[player]
        if command is None:
            return AUTO
        if not self.persistent[player]:
            self.commands[player] = None
        return command

    # ------------------------------------------------------------------ contact and shots
    def _contact(self, p: Player, events: list[dict[str, Any]]) -> None:
        plan = p.plan
        if plan is None or plan.contact_frame != self.frame or self.point_over and plan.shot != "serve":
            return
        p.plan = None
        if not plan.will_hit:
            events.append({"type": "miss", "player": p.name, "reason": plan.reason})
            return
        if plan.shot == "serve" and self.point_over:
            return
        gap = math.hypot(plan.root[0] - p.x, plan.root[1] - p.y)
        if gap > 0.95:  # it could not get there in time after all
            events.append({"type": "miss", "player": p.name, "reason": "unreachable"})
            return
        rng = self.rng
        is_serve = plan.shot == "serve"
        command = plan.command
        difficulty = min(gap / 0.8, 1.0) + (0.3 if plan.shot in ("volley", "smash") else 0.0)
        aggressive = False
        scripted = command.shot is None and command.target is None and command.target_point is None
        if command is AUTO or scripted and command.outcome == "play":
            other = self.players[opponent(p.name)]
            chosen = choose_command(p, other, rng) if not is_serve else AUTO
            aggressive = rng.random() < (0.6 if is_serve and self.serve_number == 1 else 0.0 if is_serve else 0.25)
            outcome = "play"
            err = self.config.scripted_errors * (0.13 + 0.15 * difficulty) * (0.0 if is_serve else 1.0)
            if rng.random() < err:
                outcome = "into_net" if rng.random() < 0.5 else "out"
            command = Command(shot=chosen.shot, target=chosen.target, outcome=outcome)
        shot = plan.shot
        if not is_serve and command.shot in ("lob", "drop_shot") and shot in ("forehand", "backhand"):
            shot = command.shot
        box = serve_box_name(self.server, self.serve_side) if is_serve else None
        result = execute_shot(self.physics, p, shot, command, list(map(float, plan.contact)), difficulty, aggressive,
                              rng, serve_box=box)  # fmt: skip
        self.ball_pos = [float(c) for c in plan.contact]
        self.ball_vel = result.velocity
        record = ShotRecord(self.frame, p.name, shot, plan.side, result.area, command,
                            [round(c, 4) for c in self.ball_pos], lunge=gap > 0.35)  # fmt: skip
        self.shots.append(record)
        events.append({"type": "hit", "player": p.name, "shot": shot, "side": plan.side, "target": result.area,
                       "outcome": command.outcome, "serve_number": self.serve_number if is_serve else 0})  # fmt: skip
        self._flight = {"hitter": p.name, "receiver": opponent(p.name), "bounces": 0, "serve": is_serve,
                        "cord": False, "stopped": False, "record": record}  # fmt: skip
        self._recover(p, shot)
        self._plan(opponent(p.name))

    def _recover(self, p: Player, shot: str) -> None:
        """Where the hitter goes after the shot: back to the baseline centre, or into the net after a volley."""
        s = side_sign(p.name)
        at_net = shot in ("volley", "smash") or (shot == "drop_shot" and self.rng.random() < 0.5)
        if at_net:
            p.goal = (0.5 * p.x, s * float(self.rng.uniform(3.5, 5.5)))
        else:
            p.goal = (0.3 * p.x, s * (HALF_LENGTH + float(self.rng.uniform(0.3, 1.3))))

    def _plan(self, name: str) -> None:
        """Predict the ball and plan the receiver's reply (or decide to leave it)."""
        p = self.players[name]
        positions, bounces = [], []
        pos, vel = list(self.ball_pos), list(self.ball_vel)
        count = self._flight["bounces"] if self._flight else 0
        for _ in range(int(3.5 * FPS)):
            ev: list[BallEvent] = []
            pos, vel = self.physics.step(pos, vel, ev)
            count += sum(e.kind == "bounce" for e in ev)
            positions.append(pos)
            bounces.append(count)
            if count >= 2:
                break
        command = self.commands[name] or AUTO
        if self._flight and self._flight["serve"]:
            # A serve must land in the box; a fault is left alone.
            first = next((k for k, b in enumerate(bounces) if b >= 1), None)
            if first is None or not in_service_box(self.server, self.serve_side, *positions[first][:2]):
                p.plan = None
                p.goal = (p.x, p.y)
                return
        plan = plan_return(p, self.frame, positions, bounces, command, self.rng, scripted=command.shot is None)
        if plan is not None and self.commands[name] is not None and not self.persistent[name]:
            self.commands[name] = None
        p.plan = plan
        if plan is None:
            p.goal = (p.x, p.y)  # leave it: the ball is going out
            return
        if plan.will_hit:
            p.goal = (float(plan.root[0]), float(plan.root[1]))
        else:
            # Runs toward it but stops well short (commanded), or gives chase in vain.
            shortfall = 1.6 if plan.reason == "commanded" else 0.0
            dx, dy = plan.root[0] - p.x, plan.root[1] - p.y
            dist = math.hypot(dx, dy)
            keep = max(dist - shortfall, 0.0) / max(dist, 1e-6)
            if plan.reason == "commanded" and dist < shortfall + 0.5:
                keep = -0.6 / max(dist, 1e-6)  # already there: step away from the ball
            p.goal = (p.x + dx * keep, p.y + dy * keep)

    # ------------------------------------------------------------------ rules
    def _ball_event(self, e: BallEvent, events: list[dict[str, Any]]) -> None:
        flight = self._flight
        if e.kind == "net":
            events.append({"type": "net", "kind": e.detail, "position": [round(e.x, 4), round(e.z, 4)]})
            if flight is not None:
                flight["cord" if e.detail == "cord" else "stopped"] = True
            return
        half = half_of(e.y)
        record = {"type": "bounce", "position": [round(e.x, 4), round(e.y, 4)], "half": half, "in": None}
        events.append(record)
        if flight is None or self.point_over:
            return
        hitter, receiver = flight["hitter"], flight["receiver"]
        shot = flight["record"]
        if flight["bounces"] == 0:
            shot.landing = (round(e.x, 4), round(e.y, 4))
            if half == hitter:
                record["in"] = False
                shot.result = "net"
                self._fault_or_point(flight, receiver, "net", events)
            elif flight["serve"]:
                inside = in_service_box(self.server, self.serve_side, e.x, e.y)
                record["in"] = inside
                if inside and flight["cord"]:
                    shot.result = "let"
                    events.append({"type": "let", "player": hitter})
                    self._replay_serve()
                elif inside:
                    shot.result = "in"
                    flight["bounces"] = 1
                else:
                    shot.result = "fault"
                    self._fault_or_point(flight, receiver, "out", events)
            else:
                inside = in_singles_court(half, e.x, e.y)
                record["in"] = inside
                shot.result = "in" if inside else "out"
                if inside:
                    flight["bounces"] = 1
                else:
                    self._end_point(receiver, "out", events)
        elif half == receiver:
            record["in"] = in_singles_court(half, e.x, e.y)
            self._end_point(hitter, "double_bounce", events)

    def _fault_or_point(self, flight: dict, receiver: str, reason: str, events: list[dict[str, Any]]) -> None:
        if not flight["serve"]:
            self._end_point(receiver, reason, events)
            return
        events.append({"type": "fault", "player": self.server, "serve_number": self.serve_number, "reason": reason})
        if self.serve_number == 2:
            self._end_point(receiver, "double_fault", events)
            return
        self.serve_number = 2
        self._replay_serve()

    def _replay_serve(self) -> None:
        self._flight = None
        rcv = self.players[opponent(self.server)]
        rcv.plan = None
        self._schedule_serve(self.frame + int(self.rng.integers(18, 30)))
        self.ball_held = False  # the old ball flies on until the server takes the next one
        self._ball_swap_frame = self._serve_start - 6

    def _end_point(self, winner: str, reason: str, events: list[dict[str, Any]]) -> None:
        self.point_over = True
        self.point_end_frame = self.frame
        self._post_frames = int(self.rng.integers(*self.config.post_point_frames))
        self.winner = winner
        self.end_reason = reason
        self.points_won[winner] += 1
        events.append({"type": "point", "winner": winner, "reason": reason})
        for p in self.players.values():
            if p.plan is not None and p.plan.shot != "serve":
                p.plan = None

    # ------------------------------------------------------------------ players
    def _update_player(self, p: Player) -> None:
        f = self.frame
        dt = 1.0 / FPS
        if self._ball_swap_frame == f and p.name == self.server:
            self.ball_held = True
            p.holding_ball = True
        if self.point_over and f > self.point_end_frame + 3:
            won = self.winner == p.name
            p.goal = (p.x + 0.0, p.y)
            p.action = "celebrate" if won and f < self.point_end_frame + 14 else ("idle" if won else "dejected")
        plan = p.plan
        if plan is not None and plan.will_hit and p.swing is None and f >= plan.contact_frame - p.swing_lead:
            p.swing = (f, plan.contact_frame, plan.contact_frame + p.swing_follow)
            p.clip = motion.clip_for(plan.shot, plan.side)
        if plan is not None and plan.will_hit and plan.shot != "serve":
            # Keep steering onto the ideal contact spot as it stays fixed.
            p.goal = (float(plan.root[0]), float(plan.root[1]))
        p.move(dt)
        contact_local = None
        if p.swing is not None:
            start, contact, end = p.swing
            if f > end:
                p.swing = None
                if not self.point_over:
                    p.action = "ready"
            else:
                u = (
                    0.5 * (f - start) / max(contact - start, 1)
                    if f <= contact
                    else 0.5 + 0.5 * (f - contact) / max(end - contact, 1)
                )
                p.action = p.clip
                if plan is not None:
                    p.contact_point = np.asarray(plan.contact, dtype=np.float64)
                if p.contact_point is not None:
                    contact_local = motion.to_local(p.contact_point - np.array([p.x, p.y, 0.0]), p.facing)
                p.phase = u
        if p.swing is None and not (self.point_over and f > self.point_end_frame + 3):
            p.action = "ready"
        pose_in = motion.PoseInput(
            facing=p.facing, velocity=(p.vx, p.vy), run_phase=p.run_phase, action=p.action,
            phase=p.phase, contact=contact_local, scale=p.scale,
            crouch=0.25 if p.swing is None else 0.35, stance=p.stance, swing_amplitude=p.swing_amplitude,
            holding_ball=p.holding_ball,
        )  # fmt: skip
        new = motion.pose(pose_in)
        if p.swing is None and np.any(p.joints):
            new = 0.5 * p.joints + 0.5 * new  # blend clip changes over a few frames
        p.joints = new

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        """The frame's object states in the nested form of `layout` (without scene and camera)."""
        out: dict[str, Any] = {}
        for name in PLAYERS:
            p = self.players[name]
            out[name] = {
                "root": [p.x, p.y],
                "velocity": [p.vx, p.vy],
                "facing": p.facing,
                "joints": p.joints,
                "style": p.style,
            }
        out["ball"] = {"position": list(self.ball_pos), "velocity": list(self.ball_vel)}
        return out


__all__ = ["BALL_RADIUS", "END_REASONS", "EngineConfig", "ShotRecord", "TennisEngine"]
