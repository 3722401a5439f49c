"""Ball physics: gravity, quadratic drag, bounces with surface restitution and friction, the net; and the shot
solver that finds the racket-exit velocity landing the ball on a target.

Plain Python floats, not numpy: the state is six numbers and the loops are short, so scalar code is several times
faster. Within a sub-step the acceleration is held constant (gravity exactly, drag evaluated at the sub-step's
start), so with drag off a flight is an exact parabola and a bounce happens at the exact contact time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from world_models.engines.tennis.court import BALL_RADIUS, FPS, NET_POST_X, Surface, net_height

GRAVITY = 9.81
DRAG = 0.0205
"""k in a = -k |v| v: 0.5 * air density 1.2 * Cd 0.55 * cross-section pi r^2 / mass 0.057 kg, per metre."""

Vec = list[float]


@dataclass
class BallEvent:
    """Something the ball did within a frame: ``bounce`` at (x, y), or ``net`` (``cord``: clipped the tape and went
    on; ``stop``: hit the net and dropped back)."""

    kind: str
    x: float
    y: float
    z: float = 0.0
    detail: str = ""


@dataclass
class BallPhysics:
    """Integrates the ball.

    Args:
        surface: bounce restitution and friction.
        drag: quadratic air drag on or off (off makes flights exact parabolas, for tests).
        substeps: integration steps per frame.
    """

    surface: Surface
    drag: bool = True
    substeps: int = 8
    dt: float = field(init=False)

    def __post_init__(self) -> None:
        self.dt = 1.0 / (FPS * self.substeps)

    def step(self, pos: Vec, vel: Vec, events: list[BallEvent] | None = None) -> tuple[Vec, Vec]:
        """Advance one frame; append what happened to ``events``."""
        for _ in range(self.substeps):
            pos, vel = self._substep(pos, vel, self.dt, events)
        return pos, vel

    def _substep(self, pos: Vec, vel: Vec, h: float, events: list[BallEvent] | None) -> tuple[Vec, Vec]:
        x, y, z = pos
        vx, vy, vz = vel
        if self.drag:
            speed = math.sqrt(vx * vx + vy * vy + vz * vz)
            ax, ay, az = -DRAG * speed * vx, -DRAG * speed * vy, -GRAVITY - DRAG * speed * vz
        else:
            ax, ay, az = 0.0, 0.0, -GRAVITY
        rolling = z <= BALL_RADIUS + 1e-9 and abs(vz) < 1e-9
        if rolling:
            az = 0.0
        # Ground contact inside this sub-step: solve z(t) = r for the constant-acceleration flight.
        t_hit = h + 1.0
        if not rolling:
            c = z - BALL_RADIUS
            z_end = c + vz * h + 0.5 * az * h * h
            if z_end < 0.0:
                if abs(az) < 1e-12:
                    t_hit = -c / vz
                else:
                    disc = max(vz * vz - 2.0 * az * c, 0.0)
                    t_hit = (-vz - math.sqrt(disc)) / az
                t_hit = min(max(t_hit, 0.0), h)
        t = min(t_hit, h)
        nx = x + vx * t + 0.5 * ax * t * t
        ny = y + vy * t + 0.5 * ay * t * t
        nz = z + vz * t + 0.5 * az * t * t
        nvx, nvy, nvz = vx + ax * t, vy + ay * t, vz + az * t
        if rolling:
            decay = max(0.0, 1.0 - 1.5 * t)  # rolling resistance
            nvx, nvy = vx * decay, vy * decay
        if (y < 0.0) != (ny < 0.0) and abs(vy) > 1e-9:
            nx, ny, nz, nvx, nvy, nvz = self._net(x, y, z, vx, vy, vz, nx, ny, nz, nvx, nvy, nvz, events)
        if t_hit <= h:
            nz = BALL_RADIUS
            nvz = -nvz * self.surface.restitution
            keep = 1.0 - self.surface.friction
            nvx, nvy = nvx * keep, nvy * keep
            if nvz < 0.25:  # too slow to bounce again: it rolls
                nvz = 0.0
            if events is not None:
                events.append(BallEvent("bounce", nx, ny))
            if h - t > 1e-12:
                return self._substep([nx, ny, nz], [nvx, nvy, nvz], h - t, events)
        return [nx, ny, nz], [nvx, nvy, nvz]

    def _net(self, x, y, z, vx, vy, vz, nx, ny, nz, nvx, nvy, nvz, events):
        frac = -y / (ny - y)
        xc = x + frac * (nx - x)
        zc = z + frac * (nz - z)
        if abs(xc) > NET_POST_X:
            return nx, ny, nz, nvx, nvy, nvz
        top = net_height(xc)
        if zc - BALL_RADIUS >= top:
            return nx, ny, nz, nvx, nvy, nvz
        if zc + BALL_RADIUS >= top - 0.02:
            # Clipped the tape: it goes over, slowed, and pops up a little.
            if events is not None:
                events.append(BallEvent("net", xc, 0.0, zc, "cord"))
            return nx, ny, max(nz, top + BALL_RADIUS), nvx * 0.7, nvy * 0.45, abs(nvz) * 0.3 + 0.8
        # Into the net: it drops back on the hitter's side.
        if events is not None:
            events.append(BallEvent("net", xc, 0.0, zc, "stop"))
        back = -math.copysign(BALL_RADIUS + 0.01, ny)
        return xc, back, zc, nvx * 0.2, -nvy * 0.08, min(nvz, 0.0) * 0.3

    def fly(self, pos: Vec, vel: Vec, max_time: float = 4.0) -> tuple[float, float, float, float | None]:
        """Flight until the first bounce: (landing x, landing y, time, height of the ball's centre at the net
        plane or None if it does not reach it). Net contact is ignored, so the solver can see how it would miss."""
        x, y, z = pos
        vx, vy, vz = vel
        h = self.dt
        t = 0.0
        z_net = None
        while t < max_time:
            if self.drag:
                speed = math.sqrt(vx * vx + vy * vy + vz * vz)
                ax, ay, az = -DRAG * speed * vx, -DRAG * speed * vy, -GRAVITY - DRAG * speed * vz
            else:
                ax, ay, az = 0.0, 0.0, -GRAVITY
            nz = z + vz * h + 0.5 * az * h * h
            if nz <= BALL_RADIUS:
                c = z - BALL_RADIUS
                disc = max(vz * vz - 2.0 * az * c, 0.0)
                th = (-vz - math.sqrt(disc)) / az
                return x + vx * th + 0.5 * ax * th * th, y + vy * th + 0.5 * ay * th * th, t + th, z_net
            ny = y + vy * h + 0.5 * ay * h * h
            if z_net is None and (y < 0.0) != (ny < 0.0):
                z_net = z + (nz - z) * (-y / (ny - y))
            x, y, z = x + vx * h + 0.5 * ax * h * h, ny, nz
            vx, vy, vz = vx + ax * h, vy + ay * h, vz + az * h
            t += h
        return x, y, t, z_net


def ballistic_velocity(pos: Vec, target: tuple[float, float], net_clearance_height: float,
                       min_time: float = 0.25) -> Vec:  # fmt: skip
    """Drag-free launch velocity from ``pos`` that lands at ``target`` with the ball's centre at
    ``net_clearance_height`` where it crosses the net plane (closed form; the flight time follows from the height).
    """
    x0, y0, z0 = pos
    # Heights of the ball's centre above where it is when it touches the ground.
    z0, net_clearance_height = z0 - BALL_RADIUS, net_clearance_height - BALL_RADIUS
    dx, dy = target[0] - x0, target[1] - y0
    # Fraction of the flight at which the ball crosses y = 0 (along the straight ground track).
    s = -y0 / dy if abs(dy) > 1e-6 else 0.5
    s = min(max(s, 0.05), 0.95)
    # z(sT) = z0 (1 - s) + g T^2 s (1 - s) / 2 = H  =>  T^2 = 2 (H - z0 (1 - s)) / (g s (1 - s)).
    t2 = 2.0 * (net_clearance_height - z0 * (1.0 - s)) / (GRAVITY * s * (1.0 - s))
    flight = max(math.sqrt(max(t2, 0.0)), min_time)
    return [dx / flight, dy / flight, (-z0 + 0.5 * GRAVITY * flight * flight) / flight]


def solve_shot(physics: BallPhysics, pos: Vec, target: tuple[float, float], net_clearance_height: float,
               min_time: float = 0.25, iterations: int = 8) -> Vec:  # fmt: skip
    """Launch velocity that lands the ball at ``target`` crossing the net at ``net_clearance_height`` (metres
    above the ground), under the physics' drag: start from the drag-free solution and shoot, moving the aim by the
    landing error and the crossing height by its error."""
    aim = [target[0], target[1]]
    height = net_clearance_height
    vel = ballistic_velocity(pos, (aim[0], aim[1]), height, min_time)
    if not physics.drag:
        return vel
    for _ in range(iterations):
        lx, ly, _, z_net = physics.fly(pos, vel)
        ex, ey = target[0] - lx, target[1] - ly
        aim[0] += ex
        aim[1] += ey
        if z_net is not None:
            height += net_clearance_height - z_net
        vel = ballistic_velocity(pos, (aim[0], aim[1]), height, min_time)
        if ex * ex + ey * ey < 0.01**2:
            break
    return vel
