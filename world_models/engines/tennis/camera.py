"""The broadcast camera: a pinhole behind and above the near baseline, varied per sequence.

Convention: OpenCV camera axes (x right, y down, z forward); ``extrinsics`` is the 4x4 camera-to-world matrix;
intrinsics ``fx, fy, cx, cy`` are in pixels at the rendering resolution (`layout` stores them divided by the
image size). Screen left is world -x, which is what "left" means in commands and captions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from world_models.engines.tennis.court import DOUBLES_HALF_WIDTH, HALF_LENGTH


@dataclass
class Camera:
    """A pinhole camera."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    extrinsics: np.ndarray
    """4x4 camera-to-world."""

    @property
    def position(self) -> np.ndarray:
        return self.extrinsics[:3, 3]

    @property
    def rotation(self) -> np.ndarray:
        """Camera-to-world rotation: its columns are the camera's x (right), y (down), z (forward) in the world."""
        return self.extrinsics[:3, :3]

    def intrinsics_matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points ``(N, 3)`` -> pixel coordinates ``(N, 2)`` (pixel centres at integer + 0.5) and depth ``(N,)``
        along the optical axis."""
        cam = (np.asarray(points, dtype=np.float64) - self.position) @ self.rotation
        z = cam[:, 2]
        zs = np.where(np.abs(z) < 1e-6, 1e-6, z)
        uv = np.stack([self.fx * cam[:, 0] / zs + self.cx, self.fy * cam[:, 1] / zs + self.cy], axis=1)
        return uv, z

    def rays(self, supersample: int = 1) -> np.ndarray:
        """World directions ``(H * s, W * s, 3)`` through each (sub)pixel centre (not normalised; camera z = 1)."""
        s = supersample
        u = (np.arange(self.width * s) + 0.5) / s
        v = (np.arange(self.height * s) + 0.5) / s
        uu, vv = np.meshgrid(u, v)
        d = np.stack([(uu - self.cx) / self.fx, (vv - self.cy) / self.fy, np.ones_like(uu)], axis=-1)
        return d @ self.rotation.T

    def scaled(self, width: int, height: int) -> Camera:
        """The same camera rendering at another resolution."""
        sx, sy = width / self.width, height / self.height
        return Camera(width, height, self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, self.extrinsics.copy())

    def to_json(self) -> dict:
        return {
            "intrinsics": [round(v, 6) for v in (self.fx / self.width, self.fy / self.height,
                                                 self.cx / self.width, self.cy / self.height)],
            "extrinsics": [[round(float(v), 6) for v in row] for row in self.extrinsics],
        }  # fmt: skip


def look_at(position: np.ndarray, target: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """Camera-to-world matrix of a camera at ``position`` looking at ``target`` with world z up."""
    forward = target - position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    if roll:
        c, s = math.cos(roll), math.sin(roll)
        right, down = c * right + s * down, -s * right + c * down
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, down, forward, position
    return m


@dataclass
class CameraSampler:
    """Ranges of the per-sequence broadcast camera."""

    distance: tuple[float, float] = (9.0, 17.0)
    """Metres behind the near baseline."""
    height: tuple[float, float] = (8.0, 14.0)
    lateral: tuple[float, float] = (-1.5, 1.5)
    aim_y: tuple[float, float] = (-2.0, 1.5)
    """Where along the court the optical axis meets the ground."""
    zoom: tuple[float, float] = (0.9, 1.0)
    """Focal length relative to the widest one that still frames the whole court."""
    roll: float = 0.01

    def sample(self, rng: np.random.Generator, width: int = 256, height: int = 144) -> Camera:
        """A random broadcast camera."""
        position = np.array([rng.uniform(*self.lateral), -(HALF_LENGTH + rng.uniform(*self.distance)),
                             rng.uniform(*self.height)])  # fmt: skip
        target = np.array([rng.uniform(-0.6, 0.6), rng.uniform(*self.aim_y), 0.0])
        return frame_court(position, target, rng.normal(0.0, self.roll), rng.uniform(*self.zoom), width, height)

    def canonical(self, width: int = 256, height: int = 144) -> Camera:
        """The middle of every range: the default camera of the environments."""
        position = np.array([0.0, -(HALF_LENGTH + sum(self.distance) / 2), sum(self.height) / 2])
        target = np.array([0.0, sum(self.aim_y) / 2, 0.0])
        return frame_court(position, target, 0.0, sum(self.zoom) / 2, width, height)


def frame_court(position: np.ndarray, target: np.ndarray, roll: float, zoom: float, width: int, height: int) -> Camera:
    """A camera at ``position`` looking at ``target`` with the focal length that frames the court, times ``zoom``."""
    extrinsics = look_at(position, target, roll=roll)
    # Widest focal length that keeps the doubles court, the far player's head and the near run-off in frame.
    key = np.array([[sx * (DOUBLES_HALF_WIDTH + 0.3), sy * (HALF_LENGTH + 1.0), 0.0] for sx in (-1, 1)
                    for sy in (-1, 1)] + [[0.0, -(HALF_LENGTH + 1.5), 0.0], [0.0, HALF_LENGTH + 2.0, 2.2]])  # fmt: skip
    cam = (key - position) @ extrinsics[:3, :3]
    tan_x = np.abs(cam[:, 0] / cam[:, 2]).max()
    tan_y = np.abs(cam[:, 1] / cam[:, 2]).max()
    f = min(0.5 * width / tan_x, 0.5 * height / tan_y) * zoom * 0.97
    return Camera(width, height, f, f, width / 2.0, height / 2.0, extrinsics)
