"""Procedural player animation: a pose (the `layout.JOINTS` offsets from the root) from the player's motion and
current action, with blended clips and exact racket contact.

Clips are keyframed in the player's local frame (right, forward, up) and blend smoothly: ready stance, run and
side-step cycles (legs follow the ground velocity, so side-steps look like side-steps), serve, forehand, backhand,
volley, smash, a lunge when the player is late, idle walking between points, and a celebration. A swing is
parametrised by its phase ``u`` with contact at ``u = 0.5``; around contact the hand and racket are pulled onto the
ball (weight 1 at contact), so the racket head is exactly at the ball on the contact frame. Elbows and knees come
from two-bone inverse kinematics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from world_models.engines.tennis.layout import JOINT_INDEX, JOINTS

RACKET_LENGTH = 0.5
"""Hand to the centre of the strings, metres."""

# Swing keyframes: phase u -> right wrist (right, forward, up), racket direction, torso twist (rad, + turns the
# right shoulder back), left wrist. The racket head at u = 0.5 is the clip's nominal contact point.
_CLIPS: dict[str, list[tuple[float, tuple, tuple, float, tuple]]] = {
    "forehand": [
        (0.00, (0.15, 0.35, 1.00), (-0.2, 0.6, 0.5), 0.0, (0.02, 0.38, 1.02)),
        (0.30, (0.55, -0.35, 1.10), (0.3, -0.6, 0.4), 0.7, (-0.20, 0.45, 1.25)),
        (0.50, (0.50, 0.32, 1.00), (0.8, 0.55, 0.05), 0.1, (-0.35, 0.30, 1.15)),
        (0.75, (-0.20, 0.45, 1.40), (-0.6, 0.2, 0.6), -0.6, (-0.35, 0.10, 1.10)),
        (1.00, (0.15, 0.35, 1.00), (-0.2, 0.6, 0.5), 0.0, (0.02, 0.38, 1.02)),
    ],
    "backhand": [
        (0.00, (0.15, 0.35, 1.00), (-0.2, 0.6, 0.5), 0.0, (0.02, 0.38, 1.02)),
        (0.30, (-0.45, -0.30, 1.05), (-0.3, -0.6, 0.4), -0.8, None),
        (0.50, (-0.45, 0.38, 1.00), (-0.8, 0.55, 0.05), -0.1, None),
        (0.75, (0.30, 0.40, 1.50), (0.5, 0.2, 0.7), 0.6, None),
        (1.00, (0.15, 0.35, 1.00), (-0.2, 0.6, 0.5), 0.0, (0.02, 0.38, 1.02)),
    ],
    "volley_forehand": [
        (0.00, (0.15, 0.35, 1.05), (-0.2, 0.6, 0.5), 0.0, (0.02, 0.38, 1.05)),
        (0.30, (0.45, 0.10, 1.20), (0.5, 0.2, 0.7), 0.3, (-0.20, 0.40, 1.20)),
        (0.50, (0.42, 0.50, 1.10), (0.6, 0.7, 0.3), 0.0, (-0.25, 0.35, 1.15)),
        (0.75, (0.30, 0.60, 1.05), (0.4, 0.8, 0.2), -0.1, (-0.25, 0.30, 1.10)),
        (1.00, (0.15, 0.35, 1.05), (-0.2, 0.6, 0.5), 0.0, (0.02, 0.38, 1.05)),
    ],
    "volley_backhand": [
        (0.00, (0.15, 0.35, 1.05), (-0.2, 0.6, 0.5), 0.0, (0.02, 0.38, 1.05)),
        (0.30, (-0.40, 0.10, 1.20), (-0.5, 0.2, 0.7), -0.3, (0.00, 0.30, 1.20)),
        (0.50, (-0.40, 0.50, 1.10), (-0.6, 0.7, 0.3), 0.0, (0.10, 0.30, 1.10)),
        (0.75, (-0.25, 0.60, 1.05), (-0.4, 0.8, 0.2), 0.1, (0.10, 0.25, 1.05)),
        (1.00, (0.15, 0.35, 1.05), (-0.2, 0.6, 0.5), 0.0, (0.02, 0.38, 1.05)),
    ],
    "overhead": [  # serve and smash
        (0.00, (0.15, 0.35, 1.00), (-0.2, 0.6, 0.5), 0.0, (0.02, 0.38, 1.02)),
        (0.15, (0.30, 0.10, 1.05), (0.2, -0.3, 0.3), 0.3, (-0.10, 0.35, 1.70)),
        (0.32, (0.35, -0.20, 1.60), (0.0, -0.3, -1.0), 0.6, (-0.10, 0.35, 2.05)),
        (0.50, (0.20, 0.35, 2.20), (0.05, 0.3, 1.0), 0.0, (-0.25, 0.25, 1.40)),
        (0.75, (-0.30, 0.40, 1.00), (-0.4, 0.0, -0.9), -0.5, (-0.25, 0.15, 1.05)),
        (1.00, (0.15, 0.35, 1.00), (-0.2, 0.6, 0.5), 0.0, (0.02, 0.38, 1.02)),
    ],
}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


_CLIP_ARRAYS = {
    name: (
        np.array([k[0] for k in keys]),
        np.array([k[1] for k in keys], dtype=np.float64),
        np.array([_unit(np.array(k[2], dtype=np.float64)) for k in keys]),
        np.array([k[3] for k in keys]),
        [None if k[4] is None else np.array(k[4], dtype=np.float64) for k in keys],
    )
    for name, keys in _CLIPS.items()
}


def nominal_contact(clip: str, scale: float = 1.0) -> np.ndarray:
    """The clip's racket-head position at contact, local (right, forward, up) coordinates."""
    u, wrists, dirs, _, _ = _CLIP_ARRAYS[clip]
    i = int(np.flatnonzero(u == 0.5)[0])
    return wrists[i] * scale + dirs[i] * RACKET_LENGTH * scale


def clip_for(shot: str, side: str) -> str:
    """Animation clip of a shot type played on the forehand or backhand side."""
    if shot in ("serve", "smash"):
        return "overhead"
    if shot == "volley":
        return f"volley_{side}"
    return side


@dataclass
class PoseInput:
    """Everything a pose depends on at one frame."""

    facing: float
    velocity: tuple[float, float]
    run_phase: float
    action: str
    """``ready``, ``run`` (moving), ``idle``, ``celebrate``, ``dejected``, or a clip name of `_CLIPS` (swinging)."""
    phase: float = 0.0
    """Swing phase u in [0, 1] for clips."""
    contact: np.ndarray | None = None
    """Ball position at contact, local coordinates relative to the root (for clips)."""
    scale: float = 1.0
    """Body size (1 = 1.85 m tall)."""
    crouch: float = 0.3
    stance: float = 0.42
    swing_amplitude: float = 1.0
    holding_ball: bool = False


def _two_bone(a: np.ndarray, c: np.ndarray, l1: float, l2: float, pole: np.ndarray) -> np.ndarray:
    """Middle joint of a two-bone chain from a to c bending toward pole."""
    d = c - a
    dist = float(np.linalg.norm(d))
    axis = d / max(dist, 1e-9)
    dist_c = min(dist, l1 + l2 - 1e-4)
    x = (l1 * l1 - l2 * l2 + dist_c * dist_c) / (2.0 * dist_c)
    h = math.sqrt(max(l1 * l1 - x * x, 0.0))
    bend = pole - axis * float(pole @ axis)
    bend = bend / max(float(np.linalg.norm(bend)), 1e-9)
    return a + axis * x * (dist / dist_c if dist > l1 + l2 else 1.0) + bend * h


def _sample_clip(clip: str, u: float) -> tuple[np.ndarray, np.ndarray, float, np.ndarray | None]:
    us, wrists, dirs, twists, lefts = _CLIP_ARRAYS[clip]
    u = min(max(u, 0.0), 1.0)
    i = min(int(np.searchsorted(us, u, side="right")) - 1, len(us) - 2)
    t = (u - us[i]) / (us[i + 1] - us[i])
    t = t * t * (3.0 - 2.0 * t)  # smoothstep: eases in and out of each keyframe
    wrist = wrists[i] * (1 - t) + wrists[i + 1] * t
    direction = _unit(dirs[i] * (1 - t) + dirs[i + 1] * t)
    twist = float(twists[i] * (1 - t) + twists[i + 1] * t)
    la, lb = lefts[i], lefts[i + 1]
    left = None if la is None or lb is None else la * (1 - t) + lb * t
    if la is None and lb is not None:
        left = lb if t > 0.5 else None
    if lb is None and la is not None:
        left = la if t < 0.5 else None
    return wrist, direction, twist, left


def pose(p: PoseInput) -> np.ndarray:
    """Joint offsets from the root in world axes, shape ``(len(JOINTS), 3)``."""
    s = p.scale
    cf, sf = math.cos(p.facing), math.sin(p.facing)
    fwd = np.array([cf, sf, 0.0])
    right = np.array([sf, -cf, 0.0])
    up = np.array([0.0, 0.0, 1.0])
    basis = np.stack([right, fwd, up])  # local (r, f, z) -> world

    def world(local: np.ndarray) -> np.ndarray:
        return local @ basis

    vx, vy = p.velocity
    speed = math.hypot(vx, vy)
    move_local = np.array([vx * sf - vy * cf, vx * cf + vy * sf]) / max(speed, 1e-6)

    crouch = p.crouch
    lean = np.zeros(3)
    twist = 0.0
    contact_pull = 0.0
    correction = np.zeros(3)
    if p.action in _CLIP_ARRAYS:
        wrist, racket_dir, twist, left = _sample_clip(p.action, 0.5 + (p.phase - 0.5) * p.swing_amplitude)
        wrist = wrist * s
        if p.contact is not None:
            # Pull hand and racket onto the ball around contact: exact at u = 0.5, fading over the swing.
            correction = p.contact - nominal_contact(p.action, s)
            contact_pull = math.exp(-(((p.phase - 0.5) / 0.16) ** 2))
            wrist = wrist + correction * contact_pull
            reach = math.hypot(correction[0], correction[1])
            crouch += min(reach / 0.8, 1.0) * 0.5 * contact_pull  # lunge when the ball is far
            lean[:2] = correction[:2] * 0.35 * contact_pull
            lean[2] = min(correction[2], 0.0) * 0.3 * contact_pull
    elif p.action == "celebrate":
        wrist, racket_dir, left = np.array([0.35, 0.15, 2.0]) * s, _unit(np.array([0.1, 0.2, 1.0])), None
        left = np.array([-0.3, 0.1, 1.9]) * s
    elif p.action in ("idle", "dejected"):
        wrist = np.array([0.27, 0.08, 0.85]) * s
        racket_dir = _unit(np.array([0.15, 0.5, -0.8]))
        left = np.array([-0.26, 0.02, 0.86 if p.action == "idle" else 0.95]) * s
        crouch = 0.05
    else:  # ready / run: racket in front, swinging a little with the stride
        swing = math.sin(p.run_phase) * min(speed / 6.0, 1.0)
        wrist = np.array([0.18 + 0.1 * min(speed / 6.0, 1.0), 0.33 + 0.08 * swing, 1.0]) * s
        racket_dir = _unit(np.array([-0.1, 0.6, 0.55]))
        left = np.array([-0.05 - 0.15 * min(speed / 6.0, 1.0), 0.36 - 0.15 * swing, 1.02]) * s
    if p.holding_ball and left is None:
        left = np.array([-0.2, 0.3, 1.0]) * s

    # Legs: a stride cycle along the ground velocity; feet planted in a stance when still.
    pelvis_z = (0.97 - 0.16 * crouch) * s
    stride = min(0.12 + 0.06 * speed, 0.5) * s * min(speed / 0.8, 1.0)
    sin_p, cos_p = math.sin(p.run_phase), math.cos(p.run_phase)
    lift = 0.14 * s * min(speed / 2.0, 1.0)
    half_stance = 0.5 * p.stance * s * (1.0 - 0.4 * min(speed / 4.0, 1.0))
    step_l = np.array([move_local[0], move_local[1], 0.0]) * stride * sin_p
    ankle_l = np.array([-half_stance, 0.0, 0.08 * s]) + step_l + np.array([0, 0, lift * max(cos_p, 0.0)])
    ankle_r = np.array([half_stance, 0.0, 0.08 * s]) - step_l + np.array([0, 0, lift * max(-cos_p, 0.0)])
    pelvis = np.array([0.0, 0.0, pelvis_z]) + lean * 0.5
    hip_l = pelvis + np.array([-0.1 * s, 0.0, -0.06 * s])
    hip_r = pelvis + np.array([0.1 * s, 0.0, -0.06 * s])
    knee_pole = np.array([0.0, 1.0, 0.0])
    thigh, shin = 0.45 * s, 0.45 * s
    knee_l = _two_bone(hip_l, ankle_l, thigh, shin, knee_pole)
    knee_r = _two_bone(hip_r, ankle_r, thigh, shin, knee_pole)

    # Torso: neck over the pelvis, leaning into the run and the lunge; shoulders turn with the swing.
    run_lean = np.array([move_local[0], move_local[1], 0.0]) * 0.06 * min(speed / 5.0, 1.0) * s
    neck = pelvis + np.array([0.0, 0.04 * s, 0.52 * s]) + lean + run_lean
    head = neck + np.array([0.0, 0.02 * s, 0.17 * s])
    ct, st = math.cos(twist), math.sin(twist)
    half_shoulder = 0.19 * s
    # Twist > 0 turns the right shoulder back (toward -forward).
    sh_offset = np.array([half_shoulder * ct, -half_shoulder * st, -0.05 * s])
    shoulder_r = neck + sh_offset
    shoulder_l = neck - sh_offset + np.array([0, 0, -0.1 * s])
    upper, fore = 0.30 * s, 0.29 * s
    racket_head = wrist + racket_dir * RACKET_LENGTH * s  # at contact: the nominal head + the full correction
    if left is None:  # two-handed backhand: left hand just above the right on the grip
        left = wrist + racket_dir * 0.09 * s
    left = left.copy()
    elbow_pole = np.array([0.0, -0.3, -1.0])
    elbow_r = _two_bone(shoulder_r, wrist, upper, fore, elbow_pole + np.array([0.4, 0, 0]))
    elbow_l = _two_bone(shoulder_l, left, upper, fore, elbow_pole + np.array([-0.4, 0, 0]))

    local = np.empty((len(JOINTS), 3))
    for name, value in (
        ("head", head), ("neck", neck), ("l_shoulder", shoulder_l), ("r_shoulder", shoulder_r),
        ("l_elbow", elbow_l), ("r_elbow", elbow_r), ("l_wrist", left), ("r_wrist", wrist),
        ("pelvis", pelvis), ("l_hip", hip_l), ("r_hip", hip_r), ("l_knee", knee_l), ("r_knee", knee_r),
        ("l_ankle", ankle_l), ("r_ankle", ankle_r), ("racket_head", racket_head),
    ):  # fmt: skip
        local[JOINT_INDEX[name]] = value
    return world(local)


def to_local(offset: np.ndarray, facing: float) -> np.ndarray:
    """World-axes offset -> local (right, forward, up)."""
    cf, sf = math.cos(facing), math.sin(facing)
    return np.array([offset[0] * sf - offset[1] * cf, offset[0] * cf + offset[1] * sf, offset[2]])


def to_world(local: np.ndarray, facing: float) -> np.ndarray:
    cf, sf = math.cos(facing), math.sin(facing)
    return np.array([local[0] * sf + local[1] * cf, -local[0] * cf + local[1] * sf, local[2]])
