"""The launch planner: where a struck ball goes in the frames after the racket contact, from the striker's words.

The animation model decides a shot's launch in its first sampling steps, where the words are a whisper beside the
noise; its shots land in the captioned area 28% of the time against the engine's 93% (docs/lge.md, sessions 8-12).
The planner is a small regressor trained on the same engine data: from the striker's words (its attention reading
of the caption's token states, `TokenReader`, when ``LGEConfig.planner_reader`` is set; else the pooled caption
embedding, whitened with the training captions' statistics, or only centred and scaled: ``--raw-text``), the
ball's position at the contact, its velocity in the frame before, the striker's root and the court surface, it
predicts the ball's position (relative to the contact point) and velocity at `LGEConfig.planner_frames` frames
after the contact. Both halves train one map: a top player's shot is mirrored along the court's length onto the
bottom half (x, which the words' "left" and "right" name, is kept).

`AnimationModel.generate` uses it: it draws a window, finds the first racket contact in the generated frames
whose striker has words (`LaunchPlanner.strikes`), and draws the window again with the frames up to that contact
kept and the planned ball states given as waypoints; a contact the first draw left out of the striker's reach is
moved, or the striker is placed at the ball, or the ball flies on past it (`reach`). Velocities as well as positions, and all of them on one arc (the planner outputs a
launch velocity and a constant acceleration, which fit the engine's flights to a centimetre): planned frames
predicted one by one, or positions alone, bend the generated flight by decimetres where it meets or leaves them.
The arc is trained on its flight up to the next bounce (`flight_ends`) as far as `LGEConfig.planner_frames` reach:
an arc fitted to 12 frames (half a deep shot's flight) and extended lands in the captioned area for 89% of the
engine's own shots, one fitted to 20 frames for 99%. A window gets the planned frames that fall inside it and
before the arc comes down (a contact late in a window, the start of its arc). The animation model still generates
every frame; the planner only says where the ball is headed. Several members (``LGEConfig.planner_members``),
each with its own reader and MLP, may be trained side by side from different initial weights; the plan is the
average of their arcs. Train it with ``python -m world_models train lge-planner``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from world_models.engines.tennis import layout
from world_models.engines.tennis.referee import REACH
from world_models.lge.config import LGEConfig
from world_models.lge.data import depth_changes
from world_models.lge.network import whitening
from world_models.lge.objects import BALL_POSITION, FACING, JOINTS, PLAYERS, ROOT

CONTACT_SPEED = 3.0
"""m/s: a racket contact sends the ball away from the striker's half at least this fast along the court's length
(a ball whose depth velocity only wobbles about zero, held or at rest, is not struck)."""

_BALL_POSITION = layout.SLICES["ball.position"]
_BALL_VELOCITY = layout.SLICES["ball.velocity"]
_ROOTS = (layout.SLICES["bottom.root"], layout.SLICES["top.root"])
_SURFACE = layout.SLICES["scene.surface"].start
POSITION_UNIT = float(layout.SCALES[_BALL_POSITION.start])
"""m: the unit of the planner's positions and offsets (the layout's, 12 m; players' roots use it too)."""
VELOCITY_UNIT = float(layout.SCALES[_BALL_VELOCITY.start])
"""m/s: the unit of the planner's velocities (the layout's, 30 m/s)."""
LAUNCH_UNIT = 30.0
"""m/s: the planner's launch velocity output is in this unit."""
ACCELERATION_UNIT = 10.0
"""m/s^2: the planner's acceleration output is in this unit (gravity, drag and spin)."""
INPUTS = 3 + 3 + 2 + 3
"""Ball position, incoming ball velocity, striker root (layout-normalised units) and the surface (one-hot)."""


def contacts(states: torch.Tensor) -> torch.Tensor:
    """bool ``(B, T)``: frames at which a racket sends the ball away (flat states ``(B, T, STATE_SIZE)``): its depth
    velocity turns (or jumps from rest, a serve; `data.depth_changes`) to at least `CONTACT_SPEED` away from the
    half it is on. Frame 0 is never one (its previous frame is unknown)."""
    vy = states[..., _BALL_VELOCITY.start + 1]
    y = states[..., _BALL_POSITION.start + 1]
    away = -torch.sign(y) * vy >= CONTACT_SPEED  # the bottom half is y < 0: away is +y
    return depth_changes(states) & away


BOUNCE_KICK = 1.5
"""m/s: a rise of the ball's vertical velocity between frames larger than this is a bounce (in flight gravity only
lowers it, and drag raises a falling ball's by under 0.3 m/s a frame)."""
GRAVITY = 9.81
"""m/s^2: a ball nobody strikes falls under it (`LaunchPlanner.plan`'s ``missed``)."""
GROUND_CLEARANCE = 0.1
"""m: planned frames stop where the arc comes down to this height; the animation model generates the bounce."""


def flight_ends(states: torch.Tensor) -> torch.Tensor:
    """bool ``(B, T)``: frames of flat states ``(B, T, STATE_SIZE)`` at which the ball's flight ends: a bounce, a
    racket or a net (`data.depth_changes`). Frame 0 is never one."""
    vz = states[..., _BALL_VELOCITY.start + 2]
    bounce = torch.zeros_like(vz, dtype=torch.bool)
    bounce[:, 1:] = vz[:, 1:] - vz[:, :-1] > BOUNCE_KICK
    return depth_changes(states) | bounce


def striker_of(states: torch.Tensor) -> torch.Tensor:
    """int64 ``(...)``: the player (0 bottom, 1 top) on whose half the ball is in flat states ``(..., S)``."""
    return (states[..., _BALL_POSITION.start + 1] >= 0).long()


def arc_landing(start: np.ndarray, velocity: np.ndarray, acceleration: np.ndarray) -> tuple[float, float] | None:
    """Where (x, y in m) an arc from ``start`` (m) with launch ``velocity`` and constant ``acceleration`` comes down to
    the ground; None when it never does."""
    a, b, c = 0.5 * acceleration[2], velocity[2], start[2]
    roots = np.roots([a, b, c]) if a else np.array([-c / b]) if b else np.array([])
    later = [t.real for t in np.atleast_1d(roots) if abs(t.imag) < 1e-9 and t.real > 0.05]
    if not later:
        return None
    t = min(later)
    x, y = start[:2] + velocity[:2] * t + 0.5 * acceleration[:2] * t * t
    return float(x), float(y)


REACH_SLACK = 1.0
"""m: at a planned contact, a racket head farther than this from the ball is out of reach (`reach`); the engine's
strokes meet the ball within a few centimetres, and the referee sees a stroke within its `REACH` (1.5 m)."""
_RACKET = layout.JOINT_INDEX["racket_head"]


def fly_on(position: torch.Tensor, before: torch.Tensor, t: torch.Tensor, dt: float) -> torch.Tensor:
    """Ball states ``(K, 6)`` (position, velocity) at times ``t`` ``(K,)`` (s) after a frame where the ball was at
    ``position`` with velocity ``before`` in the frame before, flying on under gravity alone (drag is small over
    the frames it is used for)."""
    gravity = position.new_tensor([0.0, 0.0, -GRAVITY])
    velocity = before + gravity * dt
    t = t[:, None].to(position.dtype)
    return torch.cat([position + velocity * t + 0.5 * gravity * t * t, velocity + gravity * t], dim=-1)


def reach(states: torch.Tensor, known: torch.Tensor, frame: int, striker: int, speed: float, fps: float) -> int | None:
    """Where the striker of the contact at ``frame`` of one generated window strikes in the redraw: marks the frames
    up to that contact given in the conditioning mask ``known`` ``(T, 3, F)`` and returns it, or None when the
    striker cannot reach the ball (``states`` ``(T, S)`` and ``known`` are edited in place).

    The first draw sometimes turns the ball with no racket near it (the receiver stood still while the ball flew past
    it, or was metres away). With ``speed`` > 0 and the racket farther than `REACH_SLACK` from the ball:

    1. the contact moves to the frame of the ball's free flight up to ``frame`` where the striker's racket is nearest
       to it, among those where it is within the slack or where the striker can get its racket over the ball
       running from its last given root at ``speed`` m/s on average; out of reach there, the striker is placed so
       that its racket is over the ball (`_place`);
    2. else a contact the referee still sees (within its `REACH`) stays;
    3. else the ball flies on past ``frame`` (`fly_on`, given as waypoints) to the first frame where the striker can
       get its racket over it, the contact then; the striker is placed there;
    4. else the striker misses (None): the frames up to ``frame`` are kept and the caller continues the ball's
       flight (`LaunchPlanner.plan`'s ``missed``)."""
    name = PLAYERS[striker]
    root = layout.SLICES[f"{name}.root"]
    rackets = states[:, layout.SLICES[f"{name}.joints"]].unflatten(-1, (-1, 3))[:, _RACKET]
    rackets = torch.cat([rackets[:, :2] + states[:, root], rackets[:, 2:]], dim=1)
    gaps = states[:, _BALL_POSITION] - rackets
    distance = gaps.norm(dim=-1)
    if not speed or distance[frame] <= REACH_SLACK:
        known[: frame + 1] = 1.0
        return frame
    placed = known[: frame + 1, striker, ROOT].amax(-1) > 0
    ball_given = known[:, 2, BALL_POSITION].amax(-1) > 0
    last = _last_true(placed)
    first = max(last, _last_true(ball_given[: frame + 1]))
    start = states[max(last, 0), root]

    def can_run(root_there: torch.Tensor, k: int) -> bool:
        return float((root_there - start).norm()) <= speed * (k - last) / fps

    within = [k for k in range(max(first + 1, 1), frame + 1)
              if distance[k] <= REACH_SLACK or can_run(states[k, root] + gaps[k, :2], k)]  # fmt: skip
    if within:
        contact = min(reversed(within), key=lambda k: float(distance[k]))  # the nearest; the latest of ties
        known[: contact + 1] = 1.0
        if distance[contact] > REACH_SLACK:
            _place(states, known, contact, striker, last, gaps[contact, :2])
        return contact
    known[: frame + 1] = 1.0
    if distance[frame] <= REACH:
        return frame  # a stretch, but a stroke the referee sees
    dt = 1.0 / fps
    steps = torch.arange(0, len(states) - frame, device=states.device)  # frames after `frame`, itself first
    flight = fly_on(states[frame, _BALL_POSITION], states[frame - 1, _BALL_VELOCITY], steps * dt, dt)
    for k in range(frame + 1, len(states)):
        ball = flight[k - frame]
        if ball_given[k] or ball[2] <= GROUND_CLEARANCE:
            break
        gap = ball[:3] - rackets[k]
        if abs(float(gap[2])) <= REACH_SLACK and can_run(states[k, root] + gap[:2], k):
            states[frame : k + 1, _BALL_POSITION] = flight[: k - frame + 1, :3].to(states.dtype)
            states[frame : k + 1, _BALL_VELOCITY] = flight[: k - frame + 1, 3:].to(states.dtype)
            known[frame : k + 1, 2] = 1.0
            _place(states, known, k, striker, last, gap[:2])
            return k
    return None


def _last_true(mask: torch.Tensor) -> int:
    """The index of the last True of a bool ``(T,)`` mask, -1 when there is none."""
    return int(torch.nonzero(mask).flatten()[-1]) if mask.any() else -1


def _place(states: torch.Tensor, known: torch.Tensor, contact: int, striker: int, last: int, gap: torch.Tensor) -> None:
    """Move the striker's root at ``contact`` by ``gap`` (its racket then over the ball), give its root, facing and
    pose there, and free its frames since ``last`` (its last given one) for the model to generate the run."""
    states[contact, layout.SLICES[f"{PLAYERS[striker]}.root"]] += gap.clone()
    known[last + 1 : contact + 1, striker] = 0.0
    for entries in (ROOT, FACING, JOINTS):
        known[contact, striker, entries] = 1.0


def planner_inputs(states: torch.Tensor, frame: torch.Tensor, num_surfaces: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(N, INPUTS)`` of contacts at ``frame`` ``(N,)`` (>= 1) of flat states ``(N, T, S)``, and each one's
    mirror sign ``(N,)`` (1 bottom striker, -1 top: multiply lengthwise coordinates by it)."""
    rows = torch.arange(len(frame), device=states.device)
    at, before = states[rows, frame], states[rows, frame - 1]
    striker = striker_of(at)
    sign = 1.0 - 2.0 * striker.to(states.dtype)
    flip = torch.stack([torch.ones_like(sign), sign, torch.ones_like(sign)], dim=1)  # (N, 3): y mirrored
    position = at[:, _BALL_POSITION] / POSITION_UNIT * flip
    velocity = before[:, _BALL_VELOCITY] / VELOCITY_UNIT * flip
    root = torch.where(striker[:, None].bool(), at[:, _ROOTS[1]], at[:, _ROOTS[0]]) / POSITION_UNIT * flip[:, :2]
    surface = nn.functional.one_hot(at[:, _SURFACE].round().long().clamp(0, num_surfaces - 1), num_surfaces)
    return torch.cat([position, velocity, root, surface.to(states.dtype)], dim=1), sign


class TokenReader(nn.Module):
    """Attention pooling of a caption's token states ``(N, L, E)`` into ``(N, width)``: each of ``heads`` heads
    scores every token from that token's own state and averages the tokens' projections by those scores. A token
    scores the same in any sentence, so a side or a depth named with words the training captions never put
    together is still read (a linear probe of the pooled embedding tells "left" from "right" in `paraphrases` 61%
    of the time, one of the side word's own state 100%; docs/lge.md, session 14)."""

    def __init__(self, text_dim: int, width: int, heads: int = 4, hidden: int = 64) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"planner_reader ({width}) must be divisible by the reader's {heads} heads")
        self.heads = heads
        self.score = nn.Sequential(nn.Linear(text_dim, hidden), nn.GELU(), nn.Linear(hidden, heads))
        self.value = nn.Linear(text_dim, width)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The reading ``(N, width)`` of token states ``(N, L, E)`` where ``mask`` ``(N, L)`` is True."""
        scores = self.score(tokens).masked_fill(~mask[..., None], float("-inf")).softmax(dim=1)  # (N, L, H)
        values = self.value(tokens).unflatten(-1, (self.heads, -1))  # (N, L, H, width / H)
        return torch.einsum("nlh,nlhc->nhc", scores, values).flatten(1)


class LaunchPlanner(nn.Module):
    """MLP from (whitened caption embedding, or the reading of its tokens, and contact inputs) to a launch velocity
    and a constant acceleration, read out as the ball's offsets and velocities at `LGEConfig.planner_frames`."""

    def __init__(self, config: LGEConfig) -> None:
        super().__init__()
        self.config = config
        self.frames = tuple(config.planner_frames)
        # Waypoints: the planned frames and the frame right after the contact. Left free, that frame was sometimes
        # drawn still coming in (the model's own stroke a frame later), and the referee saw the stroke there.
        self.steps = tuple(sorted({1, *self.frames})) if self.frames else ()
        w = config.planner_width
        self.register_buffer("text_mean", torch.zeros(config.text_dim))
        self.register_buffer("text_whiten", torch.eye(config.text_dim))
        words = config.planner_reader or config.text_dim

        def reader() -> TokenReader | None:
            return TokenReader(config.text_dim, config.planner_reader) if config.planner_reader else None

        def net() -> nn.Sequential:
            return nn.Sequential(nn.Linear(words + INPUTS, w), nn.GELU(), nn.Linear(w, w), nn.GELU(), nn.Linear(w, 6))

        # Member 0 keeps a single planner's names, so checkpoints with one member load unchanged.
        self.reader, self.net = reader(), net()
        extra = config.planner_members - 1
        self.extra_readers = nn.ModuleList(reader() for _ in range(extra)) if config.planner_reader else None
        self.extra_nets = nn.ModuleList(net() for _ in range(extra))
        self.dt = config.frame_stride / 25.0

    def features(self, pooled: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Text vectors ``(N, LGEConfig.text_features)`` from a text encoder's pooled embeddings ``(N, E)`` and
        token states ``(N, L, E)`` with their ``mask``: the pooled embedding, then each member's reading of the
        tokens."""
        if self.reader is None:
            return pooled
        tokens = tokens.to(pooled.dtype)
        return torch.cat([pooled, *(reader(tokens, mask) for reader in self.readers)], dim=-1)

    @property
    def readers(self) -> list[TokenReader]:
        """The members' token readers (empty without `LGEConfig.planner_reader`)."""
        return [self.reader, *self.extra_readers] if self.reader is not None else []

    @property
    def nets(self) -> list[nn.Sequential]:
        """The members' MLPs."""
        return [self.net, *self.extra_nets]

    @torch.no_grad()
    def set_text_statistics(self, embeddings: torch.Tensor, whiten: bool = True) -> None:
        """Whitening from the training captions' embeddings ``(N, E)`` (as the animation network's); with
        ``whiten`` False only centring and one scale that gives the captions unit variance per direction."""
        mean, whitening_matrix, _ = whitening(embeddings)
        if not whiten:
            spread = (embeddings.double() - mean).square().sum(1).mean() / embeddings.shape[1]
            whitening_matrix = torch.eye(len(mean), dtype=torch.float64) * spread.rsqrt()
        self.text_mean.copy_(mean)
        self.text_whiten.copy_(whitening_matrix)

    def arcs(
        self, text: torch.Tensor, inputs: torch.Tensor, noise: float = 0.0, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's planned arcs ``(M, N, 3)`` each: launch velocity (m/s) and constant acceleration (m/s^2),
        mirrored (see `planner_inputs`), from text vectors ``(N, LGEConfig.text_features)`` (`features`) and contact
        inputs ``(N, INPUTS)``; ``noise`` perturbs the whitened pooled embedding or the reading (training only)."""
        e, r = self.config.text_dim, self.config.planner_reader
        pooled = (text[:, :e] - self.text_mean) @ self.text_whiten if self.reader is None else None
        outs = []
        for i, net in enumerate(self.nets):
            words = pooled if pooled is not None else text[:, e + i * r : e + (i + 1) * r]
            if noise:
                words = words + noise * torch.randn(words.shape, generator=generator, device=words.device)
            outs.append(net(torch.cat([words, inputs], dim=1)))
        out = torch.stack(outs)
        return out[..., :3] * LAUNCH_UNIT, out[..., 3:] * ACCELERATION_UNIT

    def arc(
        self, text: torch.Tensor, inputs: torch.Tensor, noise: float = 0.0, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The planned arcs ``(N, 3)`` each, the average of the members' (`arcs`, which takes the same arguments):
        members trained from different initial weights settle on different cues of a new phrasing, and their
        average depends less on any one draw."""
        launch, acceleration = self.arcs(text, inputs, noise, generator)
        return launch.mean(0), acceleration.mean(0)

    def forward(
        self,
        text: torch.Tensor,
        inputs: torch.Tensor,
        noise: float = 0.0,
        generator: torch.Generator | None = None,
        frames: tuple[int, ...] | None = None,
        members: bool = False,
    ) -> torch.Tensor:
        """Offsets (`POSITION_UNIT`) and velocities (`VELOCITY_UNIT`) ``(N, len(frames), 6)`` at ``frames`` after the
        contact (default `planner_frames`; 0 is the contact, whose velocity is the launch), mirrored (see
        `planner_inputs`), from text vectors and contact inputs as `arc` takes them; with ``members`` each
        member's, ``(M, N, len(frames), 6)`` (training fits every member on its own)."""
        plan = self.arcs if members else self.arc
        launch, acceleration = plan(text, inputs, noise, generator)
        launch, acceleration = launch[..., None, :], acceleration[..., None, :]  # (..., N, 1, 3)
        t = torch.tensor(self.frames if frames is None else frames, device=launch.device, dtype=launch.dtype)
        t = t[:, None] * self.dt  # (K, 1) seconds
        offset = launch * t + 0.5 * acceleration * t * t
        return torch.cat([offset / POSITION_UNIT, (launch + acceleration * t) / VELOCITY_UNIT], dim=-1)

    @torch.no_grad()
    def landing(self, text: torch.Tensor, states: torch.Tensor, frame: int) -> tuple[float, float] | None:
        """Where (x, y in m) the arc planned for the contact at ``frame`` of flat states ``(T, S)``, with the
        striker's text vector ``text`` ``(LGEConfig.text_features,)``, comes down (`arc_landing`); None when it never does."""
        at = torch.tensor([frame], device=states.device)
        inputs, sign = planner_inputs(states[None], at, self.config.num_surfaces)
        launch, acceleration = (v[0].double().cpu().numpy() for v in self.arc(text[None], inputs))
        launch[1], acceleration[1] = launch[1] * float(sign), acceleration[1] * float(sign)  # out of the mirror
        return arc_landing(states[frame, _BALL_POSITION].double().cpu().numpy(), launch, acceleration)

    def steps_inside(self, free: torch.Tensor, frame: int) -> list[int]:
        """The `steps` after a contact at ``frame`` that fall inside a window whose free (not given) frames are
        ``free`` ``(T,)``."""
        return [k for k in self.steps if frame + k < len(free) and bool(free[frame + k])]

    def strikes(
        self, states: torch.Tensor, free: torch.Tensor, text_on: torch.Tensor
    ) -> list[tuple[int, int, int, list[int]]]:
        """The shot to plan in each generated window ``(B, T, S)`` that has one: ``(row, contact frame, striker,
        planned frames inside the window)``. It is the first contact whose striker has words (``text_on``
        ``(B, T, 2)``) and with a frame of `steps` (the planned frames and the first after the contact) after it
        inside the window and ``free`` ``(B, T)`` (not given)."""
        hits = contacts(states)
        found = []
        for row in range(states.shape[0]):
            for frame in torch.nonzero(hits[row]).flatten().tolist():
                striker = int(striker_of(states[row, frame]))
                inside = self.steps_inside(free[row], frame)
                if text_on[row, frame, striker] and inside:
                    found.append((row, frame, striker, inside))
                    break
        return found

    @torch.no_grad()
    def plan(
        self,
        states: torch.Tensor,
        free: torch.Tensor,
        text: torch.Tensor,
        text_on: torch.Tensor,
        strikes: list[tuple[int, int, int, list[int]]] | None = None,
        missed: tuple[int, ...] = (),
    ) -> list[tuple[int, int, tuple[int, ...], torch.Tensor]]:
        """Waypoints for generated windows ``(B, T, S)``: for each row with a planned shot, ``(row, contact frame,
        planned frames, ball states (1 + len(planned frames), 6))``, positions (m) and velocities (m/s) at the
        contact and at the planned frames after it (of `steps`). The shots are `strikes` (``text`` ``(B, T, 2,
        LGEConfig.text_features)``, ``text_on`` ``(B, T, 2)``, ``free`` ``(B, T)``; or those given); their planned
        frames are those inside the window and free before the arc comes down to `GROUND_CLEARANCE` (a contact
        late in a window gets the start of its arc). The strikes numbered in ``missed`` are not struck (`reach`):
        the ball goes on from the frame before under gravity alone."""
        found = self.strikes(states, free, text_on) if strikes is None else strikes
        if not found:
            return []
        rows = torch.tensor([f[0] for f in found], device=states.device)
        frames = torch.tensor([f[1] for f in found], device=states.device)
        inputs, sign = planner_inputs(states[rows], frames, self.config.num_surfaces)
        words = text[rows, frames, torch.tensor([f[2] for f in found], device=states.device)]
        out = self(words, inputs, frames=(0, *self.steps))
        out[..., 1::3] = out[..., 1::3] * sign[:, None, None]  # y of the offset and of the velocity
        start = states[rows, frames][:, None, _BALL_POSITION]
        ball = torch.cat([start + out[..., :3] * POSITION_UNIT, out[..., 3:] * VELOCITY_UNIT], dim=-1)
        for i in missed:
            row, frame = found[i][:2]
            t = torch.tensor((0, *self.steps), device=ball.device, dtype=ball.dtype) * self.dt
            ball[i] = fly_on(start[i, 0], states[row, frame - 1, _BALL_VELOCITY].to(ball.dtype), t, self.dt)
        plans = []
        for i, (row, frame, _, inside) in enumerate(found):
            airborne = (ball[i, 1:, 2] > GROUND_CLEARANCE).tolist()
            landed = airborne.index(False) if False in airborne else len(airborne)
            keep = [j for j, k in enumerate(self.steps) if j < landed and k in inside]
            plans.append((row, frame, tuple(self.steps[j] for j in keep), ball[i, [0, *(j + 1 for j in keep)]]))
        return plans


def contact_examples(
    states: list[torch.Tensor], caption_ids: list[torch.Tensor], frames: tuple[int, ...], num_surfaces: int
) -> dict[str, torch.Tensor]:
    """Training examples from sequences of flat states: every contact whose flight goes on to at least the first of
    `frames`. Returns ``inputs`` ``(N, INPUTS)``, ``caption`` ``(N,)`` (the striker's caption id at the contact),
    ``targets`` ``(N, len(frames), 6)`` (offsets and velocities in the planner's units, mirrored like the inputs),
    ``striker`` ``(N,)`` (0 bottom, 1 top) and ``valid`` ``(N, len(frames))`` (the frame is in the sequence and the flight has not ended by it:
    `flight_ends`; the targets of the others are zero)."""
    inputs, captions, targets, valid, strikers = [], [], [], [], []
    steps = torch.tensor(frames)
    for seq, ids in zip(states, caption_ids, strict=True):
        hit = torch.nonzero(contacts(seq.unsqueeze(0))[0]).flatten()
        ends = torch.cumsum(flight_ends(seq.unsqueeze(0))[0].long(), 0)  # flights ended up to each frame
        later = hit[:, None] + steps  # (N, K)
        inside = later < len(seq)
        later = later.clamp(max=len(seq) - 1)
        ok = inside & (ends[later] == ends[hit][:, None])
        hit, ok, later = hit[ok[:, 0]], ok[ok[:, 0]], later[ok[:, 0]]
        if not len(hit):
            continue
        x, sign = planner_inputs(seq.unsqueeze(0).expand(len(hit), -1, -1), hit, num_surfaces)
        offset = (seq[later][..., _BALL_POSITION] - seq[hit][:, None, _BALL_POSITION]) / POSITION_UNIT  # (N, K, 3)
        velocity = seq[later][..., _BALL_VELOCITY] / VELOCITY_UNIT
        target = torch.cat([offset, velocity], dim=-1)
        target[..., 1::3] = target[..., 1::3] * sign[:, None, None]
        inputs.append(x)
        strikers.append(striker_of(seq[hit]))
        captions.append(ids[hit, strikers[-1]])
        targets.append(target * ok[..., None])
        valid.append(ok)
    if not inputs:
        raise ValueError("no racket contacts in these sequences")
    return {"inputs": torch.cat(inputs), "caption": torch.cat(captions), "targets": torch.cat(targets),
            "valid": torch.cat(valid), "striker": torch.cat(strikers)}  # fmt: skip
