"""Object tokens of the tennis state layout: one feature vector per object (bottom, top, ball) per frame.

The animation model works on the dynamic part of the state only: a player's root, velocity, facing (as sine and
cosine, so angles do not wrap) and joints; the ball's position and velocity (padded to the player width, the padding
marked invalid). Styles, the scene and the camera are carried over from a template state: they do not move.
Features are in the layout's normalised units (`layout.SCALES`); the model standardises them further with data
statistics it stores.
"""

from __future__ import annotations

import torch

from world_models.engines.tennis import layout

OBJECTS = ("bottom", "top", "ball")
PLAYERS = ("bottom", "top")
JOINT_DIM = 3 * len(layout.JOINTS)
FEATURE_DIM = 2 + 2 + 2 + JOINT_DIM
"""Player features: root (2), velocity (2), facing sin/cos (2), joints; the ball uses the first 6 entries."""
BALL_DIM = 6

# Feature offsets inside a player token.
ROOT, VELOCITY, FACING, JOINTS = slice(0, 2), slice(2, 4), slice(4, 6), slice(6, FEATURE_DIM)
BALL_POSITION, BALL_VELOCITY = slice(0, 3), slice(3, 6)


def valid_mask(device: torch.device | str = "cpu") -> torch.Tensor:
    """bool ``(3, FEATURE_DIM)``: which entries of each object's token carry data."""
    mask = torch.ones(len(OBJECTS), FEATURE_DIM, dtype=torch.bool, device=device)
    mask[2, BALL_DIM:] = False
    return mask


def _s(name: str) -> slice:
    return layout.SLICES[name]


def _scale(name: str) -> float:
    return next(f.scale for f in layout.FIELDS if f.name == name)


def to_objects(states: torch.Tensor) -> torch.Tensor:
    """Flat layout states ``(..., STATE_SIZE)`` (metres, radians) -> object features ``(..., 3, FEATURE_DIM)``."""
    out = states.new_zeros(*states.shape[:-1], len(OBJECTS), FEATURE_DIM)
    for i, p in enumerate(PLAYERS):
        out[..., i, ROOT] = states[..., _s(f"{p}.root")] / _scale(f"{p}.root")
        out[..., i, VELOCITY] = states[..., _s(f"{p}.velocity")] / _scale(f"{p}.velocity")
        facing = states[..., _s(f"{p}.facing")]
        out[..., i, FACING] = torch.cat([torch.sin(facing), torch.cos(facing)], dim=-1)
        out[..., i, JOINTS] = states[..., _s(f"{p}.joints")] / _scale(f"{p}.joints")
    out[..., 2, BALL_POSITION] = states[..., _s("ball.position")] / _scale("ball.position")
    out[..., 2, BALL_VELOCITY] = states[..., _s("ball.velocity")] / _scale("ball.velocity")
    return out


def to_states(objects: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
    """Object features ``(..., 3, FEATURE_DIM)`` back into flat states, styles/scene/camera from ``template``
    (``(..., STATE_SIZE)``, broadcastable)."""
    states = template.expand(*objects.shape[:-2], layout.STATE_SIZE).clone()
    for i, p in enumerate(PLAYERS):
        states[..., _s(f"{p}.root")] = objects[..., i, ROOT] * _scale(f"{p}.root")
        states[..., _s(f"{p}.velocity")] = objects[..., i, VELOCITY] * _scale(f"{p}.velocity")
        facing = torch.atan2(objects[..., i, 4], objects[..., i, 5])
        states[..., _s(f"{p}.facing")] = facing.unsqueeze(-1)
        states[..., _s(f"{p}.joints")] = objects[..., i, JOINTS] * _scale(f"{p}.joints")
    states[..., _s("ball.position")] = objects[..., 2, BALL_POSITION] * _scale("ball.position")
    states[..., _s("ball.velocity")] = objects[..., 2, BALL_VELOCITY] * _scale("ball.velocity")
    return states


def surface_of(states: torch.Tensor) -> torch.Tensor:
    """int64 surface index of flat states ``(..., STATE_SIZE)``."""
    return states[..., _s("scene.surface")].squeeze(-1).round().long()
