"""PE object states of the tennis layout: per player, its location on the ground, facing, pose and style.

The paper's state per dynamic object is a rotation, a translation, a style code and a deformation code. On the
engine's states: the translation is the player's ground location (x, y) (z is fixed on the ground), the rotation is
the facing angle (as sine and cosine), the deformation code is the articulated pose (joint offsets from the root)
and the style code is the shirt, shorts and skin colours. Locations come from the annotations, or, as the paper
does, from the player's 2-D box: its bottom centre is cast through the camera onto the ground plane.
"""

from __future__ import annotations

import torch

from world_models.engines.tennis import layout

PLAYERS = ("bottom", "top")
POSE_DIM = 3 * len(layout.JOINTS)
STYLE_DIM = 3 * len(layout.STYLE_PARTS)
LOCATION, FACING = slice(0, 2), slice(2, 4)
POSE = slice(4, 4 + POSE_DIM)
STYLE = slice(4 + POSE_DIM, 4 + POSE_DIM + STYLE_DIM)
FEATURE_DIM = 4 + POSE_DIM + STYLE_DIM
"""Per player: location (2), facing sin/cos (2), pose (48), style (9)."""
LOCATION_SCALE = (5.0, 10.0)
"""The paper's normalising box for Tennis ([-5, 5] x [-10, 10] m): network inputs are location / this."""
POSE_SCALE = 2.0


def _s(name: str) -> slice:
    return layout.SLICES[name]


def to_objects(states: torch.Tensor, locations: torch.Tensor | None = None) -> torch.Tensor:
    """Flat layout states ``(..., STATE_SIZE)`` -> player objects ``(..., 2, FEATURE_DIM)`` in network units.

    ``locations`` ``(..., 2, 2)`` (metres) replaces the annotated roots (e.g. `box_locations`)."""
    out = states.new_zeros(*states.shape[:-1], len(PLAYERS), FEATURE_DIM)
    scale = states.new_tensor(LOCATION_SCALE)
    for i, p in enumerate(PLAYERS):
        root = states[..., _s(f"{p}.root")] if locations is None else locations[..., i, :]
        out[..., i, LOCATION] = root / scale
        facing = states[..., _s(f"{p}.facing")]
        out[..., i, FACING] = torch.cat([torch.sin(facing), torch.cos(facing)], -1)
        out[..., i, POSE] = states[..., _s(f"{p}.joints")] / POSE_SCALE
        out[..., i, STYLE] = states[..., _s(f"{p}.style")]
    return out


def to_states(objects: torch.Tensor, template: torch.Tensor, previous: torch.Tensor | None = None,
              fps: float = 25.0) -> torch.Tensor:  # fmt: skip
    """Player objects ``(..., 2, FEATURE_DIM)`` into flat states; the ball, scene and camera come from
    ``template`` ``(..., STATE_SIZE)``. Velocities are finite differences from ``previous`` flat states (zero
    without them)."""
    states = template.clone()
    scale = objects.new_tensor(LOCATION_SCALE)
    for i, p in enumerate(PLAYERS):
        root = objects[..., i, LOCATION] * scale
        states[..., _s(f"{p}.root")] = root
        velocity = torch.zeros_like(root) if previous is None else (root - previous[..., _s(f"{p}.root")]) * fps
        states[..., _s(f"{p}.velocity")] = velocity
        facing = torch.atan2(objects[..., i, 2], objects[..., i, 3])
        states[..., _s(f"{p}.facing")] = facing.unsqueeze(-1)
        states[..., _s(f"{p}.joints")] = objects[..., i, POSE] * POSE_SCALE
        states[..., _s(f"{p}.style")] = objects[..., i, STYLE]
    return states


def project(states: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """World points ``(..., N, 3)`` seen by the camera of ``states`` ``(..., STATE_SIZE)`` -> image coordinates
    normalised by the image size ``(..., N, 2)`` (x right, y down, in [0, 1] on screen) and depths ``(..., N)``."""
    fx, fy, cx, cy = states[..., _s("camera.intrinsics")].unbind(-1)
    rotation = states[..., _s("camera.rotation")].unflatten(-1, (3, 3))
    position = states[..., _s("camera.translation")]
    cam = (points - position.unsqueeze(-2)) @ rotation  # world -> camera axes (rotation is camera-to-world)
    z = cam[..., 2]
    zs = torch.where(z.abs() < 1e-6, torch.full_like(z, 1e-6), z)
    u = fx.unsqueeze(-1) * cam[..., 0] / zs + cx.unsqueeze(-1)
    v = fy.unsqueeze(-1) * cam[..., 1] / zs + cy.unsqueeze(-1)
    return torch.stack([u, v], -1), z


def player_points(states: torch.Tensor, player: str) -> torch.Tensor:
    """World positions ``(..., 16, 3)`` of a player's joints (root + offsets)."""
    joints = states[..., _s(f"{player}.joints")].unflatten(-1, (len(layout.JOINTS), 3))
    root = states[..., _s(f"{player}.root")]
    return joints + torch.cat([root, torch.zeros_like(root[..., :1])], -1).unsqueeze(-2)


def boxes(states: torch.Tensor) -> torch.Tensor:
    """Normalised 2-D boxes ``(..., 2, 4)`` (left, top, right, bottom) of both players, from their projected joints
    (what a person detector would give on the engine's frames)."""
    out = []
    for p in PLAYERS:
        uv, _ = project(states, player_points(states, p))
        out.append(torch.cat([uv.amin(-2), uv.amax(-2)], -1))
    return torch.stack(out, -2)


def box_locations(states: torch.Tensor) -> torch.Tensor:
    """Ground locations ``(..., 2, 2)`` from the players' boxes, as the paper's encoder: the box's bottom centre
    ("feet") cast through the camera and intersected with the ground plane z = 0."""
    b = boxes(states)
    feet = torch.stack([(b[..., 0] + b[..., 2]) / 2, b[..., 3]], -1)  # (..., 2, 2)
    fx, fy, cx, cy = (t.unsqueeze(-1) for t in states[..., _s("camera.intrinsics")].unbind(-1))
    rotation = states[..., _s("camera.rotation")].unflatten(-1, (3, 3))
    position = states[..., _s("camera.translation")]
    direction_cam = torch.stack([(feet[..., 0] - cx) / fx, (feet[..., 1] - cy) / fy, torch.ones_like(feet[..., 0])], -1)
    direction = direction_cam @ rotation.transpose(-1, -2)  # camera -> world axes
    t = -position[..., 2:3] / direction[..., 2].clamp(max=-1e-6)  # the camera is above the ground looking down
    return position[..., :2].unsqueeze(-2) + t.unsqueeze(-1) * direction[..., :2]
