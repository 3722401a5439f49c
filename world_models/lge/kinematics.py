"""Make generated positions agree with generated velocities.

The animation model generates each object's position and velocity as separate entries. Sampled windows show the
two disagree: the velocity entries are smooth and keep the ball's speed, while the position entries jitter by
decimetres from frame to frame and drift towards the data mean late in a window (the ball slows, lands short and
bounces in mid-air). `reconcile` replaces the generated positions of the unknown frames by the positions that best
fit both: close to the generated positions (weight ``weight``) and stepping by the generated velocities (weight
1), with every given position kept exactly. ``weight`` 0 integrates the velocities from the given frames.

How a state's velocity relates to the next position is the engine's convention, checked on its data (median
residual 0 m/s): a player's root moves by its velocity of the *later* frame (``p[t+1] = p[t] + v[t+1] dt``); the
ball moves by the mean of its two velocities in flight; a hit happens at a frame, whose velocity already holds
the hit's outcome, so the step into it goes by the earlier velocity plus gravity's share (``p[t+1] = p[t] +
v[t] dt - g dt^2 / 2`` along z); a bounce happens between frames, so that step goes by the velocity before it
until the ball meets the ground (from its height and vertical speed) and by the velocity after it from there.
The net stops the ball within a frame like the ground. A ball in a hand has no velocity while it moves with the
hand (before the toss, or put back for the next serve): steps into or out of a frame where the ball is slower
than `HELD_SPEED` keep the generated positions.
"""

from __future__ import annotations

import math

import torch

from world_models.engines.tennis import layout
from world_models.engines.tennis.court import BALL_RADIUS
from world_models.engines.tennis.physics import GRAVITY
from world_models.lge.objects import BALL_POSITION, OBJECTS, PLAYERS, ROOT

_PINNED = 1e6
"""Weight that holds a given position in place."""
CONTACT_COSINE = math.cos(math.radians(10.0))
"""A ball whose direction turns by more than 10 degrees in a frame met something (a racket or the ground)."""
NET_SPEED = 8.0
"""m/s: slower than this after a contact that is not a bounce, the ball met the net (a racket sends it faster)."""
HELD_SPEED = 0.5
"""m/s: a ball this slow is held by a player (a free ball is never this slow before it stops after the point)."""


def _fit(
    positions: torch.Tensor, steps: torch.Tensor, step_on: torch.Tensor, given: torch.Tensor, weight: float
) -> torch.Tensor:
    """Least-squares positions ``(N, T)`` near ``positions`` whose differences are near ``steps`` ``(N, T-1)``
    where ``step_on`` ``(N, T-1)`` holds."""
    n, t = positions.shape
    if t < 2:
        return positions
    diff = torch.zeros(t - 1, t, dtype=torch.float64, device=positions.device)
    idx = torch.arange(t - 1, device=positions.device)
    diff[idx, idx], diff[idx, idx + 1] = -1.0, 1.0
    w = torch.where(given, _PINNED, max(weight, 1e-6)).double()  # (N, T)
    s = step_on.double()  # (N, T-1)
    system = torch.diag_embed(w) + diff.T @ (s.unsqueeze(-1) * diff)
    rhs = w * positions.double() + (s * steps.double()) @ diff
    solved = torch.linalg.solve(system, rhs.unsqueeze(-1)).squeeze(-1).to(positions.dtype)
    return torch.where(given, positions, solved)


def _ball_steps(v: torch.Tensor, p: torch.Tensor, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame ball displacements ``(B, T-1, 3)`` implied by velocities ``v`` ``(B, T, 3)`` (positions ``p``
    place a bounce or a net contact within its frame), and which steps hold (not into or out of a hand)."""
    before, after = v[:, :-1], v[:, 1:]
    speed_before, speed_after = before.norm(dim=-1, keepdim=True), after.norm(dim=-1, keepdim=True)
    cosine = (before * after).sum(-1, keepdim=True) / (speed_before * speed_after).clamp(min=1e-6)
    # Gravity and drag turn a flying ball by a degree or two per frame and only slow it: anything else is a contact.
    contact = (cosine < CONTACT_COSINE) | (speed_after > speed_before + 1.0)
    ground_before = before[..., :2].norm(dim=-1, keepdim=True)
    bounce = (contact & (before[..., 2:] < 0) & (after[..., 2:] > 0)
              & (after[..., :2].norm(dim=-1, keepdim=True) <= ground_before + 0.5)
              & ((before[..., :2] * after[..., :2]).sum(-1, keepdim=True) > 0))  # fmt: skip
    flight = 0.5 * (before + after) * dt
    gravity = torch.tensor([0.0, 0.0, 0.5 * GRAVITY * dt * dt], device=v.device, dtype=v.dtype)
    hit = before * dt - gravity
    # The ball reaches the ground (or the net) tau into the frame, then leaves with the later velocity. A racket
    # sends the ball away fast; a net stops it.
    height = (p[:, :-1, 2:] - BALL_RADIUS).clamp(min=0)
    tau = (height / (-before[..., 2:]).clamp(min=1e-3)).clamp(0.0, dt)
    landed = torch.cat([before[..., :2] * tau + after[..., :2] * (dt - tau), -height + after[..., 2:] * (dt - tau)], -1)
    y = p[:, :-1, 1:2]
    net = contact & ~bounce & (speed_after < NET_SPEED) & (y * before[..., 1:2] < 0)
    tau = ((y.abs() - BALL_RADIUS).clamp(min=0) / before[..., 1:2].abs().clamp(min=1e-3)).clamp(0.0, dt)
    stopped = before * tau + after * (dt - tau)
    steps = torch.where(bounce, landed, torch.where(net, stopped, torch.where(contact, hit, flight)))
    free = (speed_before >= HELD_SPEED) & (speed_after >= HELD_SPEED)
    return steps, free.expand_as(steps)


def reconcile(states: torch.Tensor, known: torch.Tensor, fps: float, weight: float) -> torch.Tensor:
    """Flat states ``(B, T, STATE_SIZE)`` with the players' roots and the ball's position refitted to their
    velocities. ``known`` ``(B, T, 3, F)`` marks given object entries (their positions stay as they are)."""
    out = states.clone()
    dt = 1.0 / fps
    b, t, _ = states.shape

    def fit(pos: slice, steps: torch.Tensor, step_on: torch.Tensor, given: torch.Tensor) -> torch.Tensor:
        c = given.shape[-1]
        flat = lambda x: x.permute(0, 2, 1).reshape(b * c, -1)  # noqa: E731  (B, T', C) -> (B*C, T')
        fitted = _fit(flat(states[:, :, pos]), flat(steps), flat(step_on), flat(given), weight)
        return fitted.reshape(b, c, t).permute(0, 2, 1)

    for i, name in enumerate(PLAYERS):
        pos, vel = layout.SLICES[f"{name}.root"], layout.SLICES[f"{name}.velocity"]
        steps = states[:, 1:, vel] * dt
        out[:, :, pos] = fit(pos, steps, torch.ones_like(steps, dtype=torch.bool), known[:, :, i, ROOT] > 0)
    pos, vel = layout.SLICES["ball.position"], layout.SLICES["ball.velocity"]
    given = known[:, :, OBJECTS.index("ball"), BALL_POSITION] > 0
    v = states[:, :, vel]
    steps, step_on = _ball_steps(v, states[:, :, pos], dt)
    first = fit(pos, steps, step_on, given)
    # Where a bounce falls within its frame depends on the height before it: once more with the fitted positions.
    steps, step_on = _ball_steps(v, first, dt)
    out[:, :, pos] = fit(pos, steps, step_on, given)
    return out
