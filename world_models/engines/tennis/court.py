"""The court: ITF dimensions, the surfaces, the net, and the named target areas.

World frame: metres, z up, court centred at the origin, net along the x axis. The ``bottom`` player is the near
player (negative y, nearest the broadcast camera), ``top`` the far player (positive y).

Left/right convention (used by target areas, commands and captions): **left and right are always the broadcast
camera's left and right**, i.e. ``left`` is negative x and ``right`` is positive x, for both players. A top player's
"left corner" is therefore on the same side of the screen as a bottom player's.
"""

from __future__ import annotations

from dataclasses import dataclass

FPS = 25
"""Frames per second of the engine, the datasets and the environments (the LGE Tennis rate)."""

HALF_LENGTH = 11.885
"""Distance from the net to each baseline (court 23.77 m long)."""
SINGLES_HALF_WIDTH = 4.115
"""Half width of the singles court (8.23 m)."""
DOUBLES_HALF_WIDTH = 5.485
"""Half width of the doubles court (10.97 m)."""
SERVICE_LINE = 6.40
"""Distance from the net to each service line."""
NET_HEIGHT_CENTRE = 0.914
NET_HEIGHT_POST = 1.07
NET_POST_X = 6.40
"""Net posts stand 0.914 m outside the doubles sidelines."""
LINE_WIDTH = 0.05
BASELINE_WIDTH = 0.10
BALL_RADIUS = 0.0335

PLAYERS = ("bottom", "top")


def side_sign(player: str) -> float:
    """-1 for the bottom (near) player's half, +1 for the top (far) player's half."""
    return -1.0 if player == "bottom" else 1.0


def opponent(player: str) -> str:
    return "top" if player == "bottom" else "bottom"


def half_of(y: float) -> str:
    """The player whose half contains the ground point with this y."""
    return "bottom" if y < 0.0 else "top"


def net_height(x: float) -> float:
    """Height of the net's top at lateral position x (the cord sags linearly from the posts to the centre strap)."""
    return NET_HEIGHT_CENTRE + (NET_HEIGHT_POST - NET_HEIGHT_CENTRE) * min(abs(x), NET_POST_X) / NET_POST_X


@dataclass(frozen=True)
class Surface:
    """A court surface: bounce physics and colours (RGB in [0, 1])."""

    name: str
    index: int
    restitution: float
    """Vertical coefficient of restitution: the speed up after a bounce over the speed down."""
    friction: float
    """Fraction of the horizontal speed lost at a bounce."""
    court: tuple[float, float, float]
    """Colour inside the doubles lines."""
    surround: tuple[float, float, float]
    """Colour of the run-off area around the court."""


SURFACES: dict[str, Surface] = {
    "hard": Surface("hard", 0, 0.78, 0.30, (0.22, 0.38, 0.62), (0.25, 0.48, 0.40)),
    "clay": Surface("clay", 1, 0.82, 0.40, (0.72, 0.40, 0.24), (0.70, 0.38, 0.22)),
    "grass": Surface("grass", 2, 0.70, 0.22, (0.33, 0.55, 0.25), (0.30, 0.50, 0.23)),
}
SURFACE_NAMES = tuple(SURFACES)


@dataclass(frozen=True)
class Area:
    """A rectangle on the receiving half: screen x range and depth range (metres from the net)."""

    x: tuple[float, float]
    depth: tuple[float, float]

    def rect(self, half: str) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max) in world coordinates on ``half``."""
        s = side_sign(half)
        y0, y1 = sorted((s * self.depth[0], s * self.depth[1]))
        return self.x[0], self.x[1], y0, y1

    def contains(self, half: str, x: float, y: float) -> bool:
        x0, x1, y0, y1 = self.rect(half)
        return x0 <= x <= x1 and y0 <= y <= y1

    def aim(self, half: str) -> tuple[float, float]:
        """The aim point: the rectangle's centre (the safest point of the area)."""
        cx = 0.5 * (self.x[0] + self.x[1])
        cd = 0.5 * (self.depth[0] + self.depth[1])
        return cx, side_sign(half) * cd


TARGET_AREAS: dict[str, Area] = {
    "left_corner": Area((-SINGLES_HALF_WIDTH, -1.4), (SERVICE_LINE, HALF_LENGTH)),
    "right_corner": Area((1.4, SINGLES_HALF_WIDTH), (SERVICE_LINE, HALF_LENGTH)),
    "centre": Area((-1.4, 1.4), (SERVICE_LINE, HALF_LENGTH)),
    "deep": Area((-SINGLES_HALF_WIDTH, SINGLES_HALF_WIDTH), (9.0, HALF_LENGTH)),
    "short": Area((-SINGLES_HALF_WIDTH, SINGLES_HALF_WIDTH), (0.0, 4.5)),
    "left_box": Area((-SINGLES_HALF_WIDTH, 0.0), (0.0, SERVICE_LINE)),
    "right_box": Area((0.0, SINGLES_HALF_WIDTH), (0.0, SERVICE_LINE)),
}
"""Named target areas on the half that receives the ball; left/right are screen left/right (see module doc)."""


def in_singles_court(half: str, x: float, y: float) -> bool:
    """Whether a bounce at (x, y) is in the singles court of ``half`` (a ball touching a line is in)."""
    tol = BALL_RADIUS
    return abs(x) <= SINGLES_HALF_WIDTH + tol and 0.0 <= side_sign(half) * y <= HALF_LENGTH + tol


def server_right_sign(server: str) -> float:
    """+1 if the server's own right-hand side is screen right (bottom player, facing +y), else -1."""
    return 1.0 if server == "bottom" else -1.0


def serve_box_name(server: str, serve_side: str) -> str:
    """Screen name (``left_box``/``right_box``) of the box a serve must land in: diagonal from the server.

    ``serve_side`` is ``deuce`` (server stands to their own right of the centre mark) or ``ad`` (to their left).
    """
    stands_sign = server_right_sign(server) * (1.0 if serve_side == "deuce" else -1.0)
    return "left_box" if stands_sign > 0 else "right_box"


def serve_position_x(server: str, serve_side: str) -> float:
    """Sign of x where the server stands (the box is diagonal, so on the other screen side)."""
    return server_right_sign(server) * (1.0 if serve_side == "deuce" else -1.0)


def in_service_box(server: str, serve_side: str, x: float, y: float) -> bool:
    tol = BALL_RADIUS
    box = TARGET_AREAS[serve_box_name(server, serve_side)]
    x0, x1, y0, y1 = box.rect(opponent(server))
    return x0 - tol <= x <= x1 + tol and y0 - tol <= y <= y1 + tol
