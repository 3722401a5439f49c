"""Training windows and held-out start contexts of the PE action module, from tennis engine state sequences.

Sequences come from `world_models.lge.data` (`from_engine`: points simulated without rendering, or `from_dataset`:
the annotations of a dataset on disk): PE needs object states only.
"""

from __future__ import annotations

import numpy as np
import torch

from world_models.engines.tennis import layout
from world_models.engines.tennis.referee import judge
from world_models.pe.config import PEConfig
from world_models.pe.objects import LOCATION_SCALE, box_locations, to_objects

BALL_POSITION_SCALE, BALL_VELOCITY_SCALE = 12.0, 30.0


def objects_of(states: torch.Tensor, config: PEConfig) -> torch.Tensor:
    """Player objects ``(..., 2, F)`` of flat states, locations from the annotations or from projected boxes."""
    return to_objects(states, box_locations(states) if config.locations == "boxes" else None)


def prior_inputs(states: torch.Tensor, objects: torch.Tensor) -> torch.Tensor:
    """Inputs ``(..., 2, PRIOR_INPUT)`` of each player's action prior: own location and facing, the other
    player's location, the ball's position and velocity."""
    ball = torch.cat([states[..., layout.SLICES["ball.position"]] / BALL_POSITION_SCALE,
                      states[..., layout.SLICES["ball.velocity"]] / BALL_VELOCITY_SCALE], -1)  # fmt: skip
    rows = []
    for i in range(2):
        own, other = objects[..., i, :4], objects[..., 1 - i, :2]
        rows.append(torch.cat([own, other, ball], -1))
    return torch.stack(rows, -2)


class WindowSampler:
    """Draws training windows of flat states ``(B, T, STATE_SIZE)`` from sequences at the model's frame rate."""

    def __init__(self, sequences: list[torch.Tensor], max_length: int) -> None:
        self.sequences = [s for s in sequences if len(s) >= max_length]
        if not self.sequences:
            raise ValueError(f"no sequence has {max_length} frames")
        self.lengths = torch.tensor([len(s) for s in self.sequences])

    def batch(self, size: int, length: int, generator: torch.Generator) -> torch.Tensor:
        which = torch.randint(len(self.sequences), (size,), generator=generator)
        offsets = (torch.rand(size, generator=generator) * (self.lengths[which] - length + 1)).long()
        return torch.stack([self.sequences[i][o : o + length] for i, o in zip(which.tolist(), offsets.tolist(), strict=True)])


START_FRAMES = 4
"""Engine frames of a start context at least: two before the serve's strike, the strike, one after."""


def context_frames(config: PEConfig) -> int:
    """Engine frames of a start context: enough for the referee to see the serve and for ``config.context``
    model steps of warm-up."""
    return max(START_FRAMES, (config.context - 1) * config.frame_stride + 3)


def serve_contexts(sequences: list[torch.Tensor], context: int = START_FRAMES, limit: int | None = None) -> torch.Tensor:
    """``(N, context, STATE_SIZE)`` start contexts at the engine's 25 fps: the frames up to one after the serve that
    starts each held-out point (at least two before the strike, so the referee sees the serve). Points with faults
    or unclear serves are skipped."""
    out = []
    for states in sequences:
        verdict = judge(states.numpy())
        serves = [h for h in verdict.hits if h.shot == "serve"]
        if not serves or verdict.faults or verdict.reason == "double_fault":
            continue
        start = serves[-1].frame + 2 - context
        if start < 0 or start + context > len(states):
            continue
        out.append(states[start : start + context])
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise ValueError("no held-out point has a clean serve to start from")
    return torch.stack(out)


def style_bank(sequences: list[torch.Tensor], limit: int = 16) -> torch.Tensor:
    """``(M, 2, 9)`` pairs of player styles (shirt, shorts, skin) seen in the data, for style control."""
    rows = []
    for states in sequences[:limit]:
        rows.append(torch.stack([states[0, layout.SLICES[f"{p}.style"]] for p in ("bottom", "top")]))
    return torch.stack(rows)


def true_directions(states: np.ndarray | torch.Tensor, player: str, still: float = 0.5, fps: float = 25.0,
                    sectors: int = 6) -> np.ndarray:  # fmt: skip
    """The engine's true movement class of each transition t -> t+1 of a player: 0 = still (speed below ``still``
    m/s), else 1 + the index of the ``sectors`` equal angular sectors of the ground displacement (sector 1 centred
    on screen right, +x, counter-clockwise)."""
    roots = np.asarray(states)[:, layout.SLICES[f"{player}.root"]].astype(np.float64)
    delta = np.diff(roots, axis=0)
    speed = np.linalg.norm(delta, axis=1) * fps
    angle = np.arctan2(delta[:, 1], delta[:, 0])
    sector = np.floor((angle + np.pi / sectors) / (2 * np.pi / sectors)).astype(int) % sectors
    return np.where(speed < still, 0, 1 + sector)


def strided(sequences: list[torch.Tensor], stride: int) -> list[torch.Tensor]:
    """Every sequence at the model's frame rate, once per phase (``stride`` views of each)."""
    return [s[o::stride].contiguous() for s in sequences for o in range(stride) if len(s) > o]


__all__ = ["LOCATION_SCALE", "WindowSampler", "context_frames", "strided", "objects_of", "prior_inputs", "serve_contexts", "style_bank",
           "true_directions"]  # fmt: skip
