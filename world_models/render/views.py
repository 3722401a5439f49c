"""Camera control and engine frames of flat layout states: the play-time views of LGE-Tennis and PE-Tennis.

`move_camera` orbits the state's camera about the point of the ground it looks at, tilts it and zooms it;
`engine_frame` rasterises a state with the tennis engine from the state's own camera (the ground truth the neural
renderer is compared with).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from world_models.engines.tennis import layout
from world_models.engines.tennis.camera import Camera
from world_models.engines.tennis.court import SURFACE_NAMES, SURFACES
from world_models.engines.tennis.render import Renderer, SceneStyle

CAMERA = slice(layout.SLICES["camera.intrinsics"].start, layout.SLICES["camera.translation"].stop)
YAW_STEP, PITCH_STEP, ZOOM_STEP = math.radians(3.0), math.radians(2.0), 0.04
"""Camera change per step at a full (+-1) camera action: orbit, tilt, log-focal."""
PITCH_RANGE = (math.radians(8.0), math.radians(80.0))


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues rotation matrix about unit ``axis``."""
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + math.sin(angle) * k + (1.0 - math.cos(angle)) * (k @ k)


def move_camera(flat: np.ndarray, yaw: float = 0.0, pitch: float = 0.0, zoom: float = 0.0) -> np.ndarray:
    """A copy of flat state ``flat`` whose camera orbits by ``yaw`` radians about the vertical through the ground
    point it looks at, tilts up by ``pitch`` radians about that point (elevation kept in `PITCH_RANGE`) and zooms
    by ``exp(zoom)``; the camera's roll is kept."""
    out = np.array(flat, dtype=np.float32, copy=True)
    rotation = out[layout.SLICES["camera.rotation"]].reshape(3, 3).astype(np.float64)
    position = out[layout.SLICES["camera.translation"]].astype(np.float64)
    forward = rotation[:, 2]
    t = -position[2] / forward[2] if forward[2] < -1e-6 else 20.0
    target = position + t * forward
    offset = position - target
    elevation = math.asin(max(-1.0, min(1.0, offset[2] / float(np.linalg.norm(offset)))))
    pitch = min(max(elevation + pitch, PITCH_RANGE[0]), PITCH_RANGE[1]) - elevation
    turn = _rotation(np.array([0.0, 0.0, 1.0]), yaw)
    horizontal = np.array([offset[1], -offset[0], 0.0])  # perpendicular to the offset, level with the ground
    if pitch and np.linalg.norm(horizontal) > 1e-9:
        turn = _rotation(horizontal / np.linalg.norm(horizontal), pitch) @ turn
    out[layout.SLICES["camera.rotation"]] = (turn @ rotation).reshape(-1)
    out[layout.SLICES["camera.translation"]] = target + turn @ offset
    intrinsics = layout.SLICES["camera.intrinsics"]
    out[intrinsics.start : intrinsics.start + 2] *= math.exp(zoom)
    return out


def default_scene_style(flat: np.ndarray) -> SceneStyle:
    """The scene style the neural renderer assumes when none is given: the state's surface and court colour, the
    engine's surround rule and the renderer's default wall (`world_models.render.model.DEFAULT_WALL`)."""
    from world_models.render.model import DEFAULT_WALL

    surface = SURFACES[SURFACE_NAMES[int(round(float(flat[layout.SLICES["scene.surface"]][0])))]]
    court = np.asarray(flat[layout.SLICES["scene.court_colour"]], dtype=np.float64)
    surround = np.clip(np.asarray(surface.surround) + 0.8 * (court - np.asarray(surface.court)), 0, 1)
    return SceneStyle(surface, tuple(court), tuple(float(c) for c in surround), DEFAULT_WALL, 0)


@lru_cache(maxsize=32)
def _renderer(camera_key: bytes, style_key: tuple, height: int, width: int) -> Renderer:
    cam = np.frombuffer(camera_key, dtype=np.float32)
    fx, fy, cx, cy = cam[:4]
    extrinsics = np.eye(4)
    extrinsics[:3, :3] = cam[4:13].reshape(3, 3)
    extrinsics[:3, 3] = cam[13:16]
    surface_name, court, surround, wall, seed = style_key
    style = SceneStyle(SURFACES[surface_name], court, surround, wall, seed)
    return Renderer(Camera(width, height, fx * width, fy * height, cx * width, cy * height, extrinsics), style)


def engine_frame(flat: np.ndarray, height: int = 144, width: int = 256, style: SceneStyle | None = None) -> np.ndarray:
    """uint8 ``(H, W, 3)`` engine rasterisation of flat state ``flat`` from its camera (renderers are cached per
    camera and style: building one precomputes the static scene)."""
    style = style or default_scene_style(flat)
    key = (style.surface.name, tuple(style.court), tuple(style.surround), tuple(style.wall), style.seed)
    renderer = _renderer(np.asarray(flat[CAMERA], dtype=np.float32).tobytes(), key, height, width)
    frame, _ = renderer.render(layout.unflatten(flat))
    return frame
