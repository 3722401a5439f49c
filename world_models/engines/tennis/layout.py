"""The one state layout shared by the engine, the datasets, the models and the environments.

A frame's state is a nested dict (what `annotations.json` stores and `TennisEngine.state()` returns)::

    {"bottom": PLAYER, "top": PLAYER,
     "ball": {"position": [x, y, z], "velocity": [vx, vy, vz]},
     "scene": {"surface": int, "court_colour": [r, g, b]},
     "camera": {"intrinsics": [fx/W, fy/H, cx/W, cy/H], "extrinsics": 4x4 camera-to-world}}
    PLAYER = {"root": [x, y], "velocity": [vx, vy], "facing": radians,
              "joints": 16 x [dx, dy, dz], "style": {"shirt": rgb, "shorts": rgb, "skin": rgb}}

and its flat form is one float32 vector in the order of `FIELDS` (`flatten` / `unflatten`). Units: metres, m/s,
radians, colours in [0, 1]; world frame of `court` (z up, net along x, bottom player at negative y).
Joints are offsets from the root (the player's ground point under the pelvis) in world axes, so
``root_xyz + joint`` is the joint's world position; the racket is held in the right hand (``r_wrist``) and
``racket_head`` is the centre of its strings. Facing is the angle of the body's forward direction from +x
(bottom player ≈ +pi/2, top ≈ -pi/2). The camera uses the OpenCV convention (x right, y down, z forward);
intrinsics are divided by the image size so they hold at any resolution.

`normalise` / `denormalise` scale the vector to roughly unit range for networks and observations
(`SCALES`: positions / 12 m, velocities / 30 m/s, joints / 2 m, facing / pi, camera translation / 30 m).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

JOINTS = (
    "head", "neck",
    "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
    "pelvis", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
    "racket_head",
)  # fmt: skip
"""The joint set of each player, in order; ``racket_head`` is attached to ``r_wrist`` (right-handed players)."""
JOINT_INDEX = {name: i for i, name in enumerate(JOINTS)}

STYLE_PARTS = ("shirt", "shorts", "skin")


@dataclass(frozen=True)
class Field:
    """One named block of the flat state vector."""

    name: str
    size: int
    unit: str
    scale: float
    """Divisor that `normalise` applies."""
    description: str


def _player_fields(p: str) -> list[Field]:
    return [
        Field(f"{p}.root", 2, "m", 12.0, "ground position (x, y) under the pelvis"),
        Field(f"{p}.velocity", 2, "m/s", 10.0, "ground velocity (vx, vy)"),
        Field(f"{p}.facing", 1, "rad", np.pi, "angle of the body's forward direction from +x"),
        Field(f"{p}.joints", 3 * len(JOINTS), "m", 2.0, "joint offsets from the root, world axes, order of JOINTS"),
        Field(f"{p}.style", 3 * len(STYLE_PARTS), "rgb", 1.0, "shirt, shorts, skin colours"),
    ]


FIELDS: tuple[Field, ...] = tuple(
    _player_fields("bottom")
    + _player_fields("top")
    + [
        Field("ball.position", 3, "m", 12.0, "ball centre (x, y, z)"),
        Field("ball.velocity", 3, "m/s", 30.0, "ball velocity"),
        Field("scene.surface", 1, "index", 1.0, "court surface: 0 hard, 1 clay, 2 grass"),
        Field("scene.court_colour", 3, "rgb", 1.0, "colour of the court inside the lines"),
        Field("camera.intrinsics", 4, "1/px", 1.0, "fx/W, fy/H, cx/W, cy/H"),
        Field("camera.rotation", 9, "", 1.0, "camera-to-world rotation, row-major (OpenCV camera axes)"),
        Field("camera.translation", 3, "m", 30.0, "camera centre in the world"),
    ]
)
"""The flat layout, in order."""

SLICES: dict[str, slice] = {}
_offset = 0
for _f in FIELDS:
    SLICES[_f.name] = slice(_offset, _offset + _f.size)
    _offset += _f.size
STATE_SIZE = _offset
"""Length of the flat state vector."""

PLAYER_SIZE = sum(f.size for f in FIELDS if f.name.startswith("bottom."))
"""Length of one player's block (``bottom`` occupies ``[0, PLAYER_SIZE)``, ``top`` the next block)."""
BALL_SLICE = slice(SLICES["ball.position"].start, SLICES["ball.velocity"].stop)

SCALES = np.concatenate([np.full(f.size, f.scale, dtype=np.float32) for f in FIELDS])


def flatten(state: dict[str, Any]) -> np.ndarray:
    """The float32 vector of a nested frame state (see the module doc)."""
    out = np.empty(STATE_SIZE, dtype=np.float32)
    for p in ("bottom", "top"):
        s = state[p]
        out[SLICES[f"{p}.root"]] = s["root"]
        out[SLICES[f"{p}.velocity"]] = s["velocity"]
        out[SLICES[f"{p}.facing"]] = s["facing"]
        out[SLICES[f"{p}.joints"]] = np.asarray(s["joints"], dtype=np.float32).reshape(-1)
        out[SLICES[f"{p}.style"]] = np.concatenate([np.asarray(s["style"][k], dtype=np.float32) for k in STYLE_PARTS])
    out[SLICES["ball.position"]] = state["ball"]["position"]
    out[SLICES["ball.velocity"]] = state["ball"]["velocity"]
    out[SLICES["scene.surface"]] = state["scene"]["surface"]
    out[SLICES["scene.court_colour"]] = state["scene"]["court_colour"]
    extrinsics = np.asarray(state["camera"]["extrinsics"], dtype=np.float32)
    out[SLICES["camera.intrinsics"]] = state["camera"]["intrinsics"]
    out[SLICES["camera.rotation"]] = extrinsics[:3, :3].reshape(-1)
    out[SLICES["camera.translation"]] = extrinsics[:3, 3]
    return out


def unflatten(vector: np.ndarray) -> dict[str, Any]:
    """The nested frame state of a flat vector (arrays, not lists)."""
    v = np.asarray(vector, dtype=np.float32)
    if v.shape != (STATE_SIZE,):
        raise ValueError(f"expected a state vector of shape ({STATE_SIZE},), got {v.shape}")
    state: dict[str, Any] = {}
    for p in ("bottom", "top"):
        style = v[SLICES[f"{p}.style"]].reshape(len(STYLE_PARTS), 3)
        state[p] = {
            "root": v[SLICES[f"{p}.root"]].copy(),
            "velocity": v[SLICES[f"{p}.velocity"]].copy(),
            "facing": float(v[SLICES[f"{p}.facing"]][0]),
            "joints": v[SLICES[f"{p}.joints"]].reshape(len(JOINTS), 3).copy(),
            "style": {k: style[i].copy() for i, k in enumerate(STYLE_PARTS)},
        }
    extrinsics = np.eye(4, dtype=np.float32)
    extrinsics[:3, :3] = v[SLICES["camera.rotation"]].reshape(3, 3)
    extrinsics[:3, 3] = v[SLICES["camera.translation"]]
    state["ball"] = {"position": v[SLICES["ball.position"]].copy(), "velocity": v[SLICES["ball.velocity"]].copy()}
    state["scene"] = {"surface": int(round(float(v[SLICES["scene.surface"]][0]))),
                      "court_colour": v[SLICES["scene.court_colour"]].copy()}  # fmt: skip
    state["camera"] = {"intrinsics": v[SLICES["camera.intrinsics"]].copy(), "extrinsics": extrinsics}
    return state


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Divide each field by its scale (works on ``(..., STATE_SIZE)``)."""
    return np.asarray(vectors, dtype=np.float32) / SCALES


def denormalise(vectors: np.ndarray) -> np.ndarray:
    return np.asarray(vectors, dtype=np.float32) * SCALES


def table() -> str:
    """The layout as a Markdown table (used by docs/tennis_engine.md)."""
    rows = ["| offset | name | size | unit | description |", "| --- | --- | --- | --- | --- |"]
    for f in FIELDS:
        rows.append(f"| {SLICES[f.name].start} | `{f.name}` | {f.size} | {f.unit} | {f.description} |")
    return "\n".join(rows)
