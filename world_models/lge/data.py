"""Training data of the animation model: state sequences with per-player captions, cut into windows.

Sequences come from a tennis engine dataset on disk (`python -m world_models data tennis ...`; only the
annotations are read) or straight from the engine (`from_engine`: the same simulation without rendering, which is
all the animation model needs). Captions are embedded once by the frozen text encoder; each frame stores the index
of its caption in that table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from world_models.core.checkpoint import atomic_path
from world_models.engines.tennis import layout
from world_models.lge.config import LGEConfig
from world_models.lge.objects import (
    BALL_POSITION,
    FEATURE_DIM,
    JOINTS,
    OBJECTS,
    ROOT,
    surface_of,  # noqa: F401 - re-exported for the trainer
    to_objects,
    valid_mask,
)


@dataclass
class StateSequences:
    """Sequences of flat layout states at the model's frame rate, with caption indices into ``captions``."""

    states: list[torch.Tensor]
    """Each ``(T_i, STATE_SIZE)`` float32."""
    caption_ids: list[torch.Tensor]
    """Each ``(T_i, 2)`` int64: the bottom and top player's caption at each frame."""
    captions: list[str]

    def save(self, path: str | os.PathLike) -> None:
        lengths = torch.tensor([len(s) for s in self.states])
        payload = {
            "states": torch.cat(self.states),
            "caption_ids": torch.cat(self.caption_ids),
            "lengths": lengths,
            "captions": list(self.captions),
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    @classmethod
    def load(cls, path: str | os.PathLike) -> StateSequences:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        lengths = payload["lengths"].tolist()
        return cls(
            list(payload["states"].split(lengths)), list(payload["caption_ids"].split(lengths)), payload["captions"]
        )


def _collect(items, stride: int) -> StateSequences:
    vocabulary: dict[str, int] = {}
    states, ids = [], []
    for vectors, captions in items:
        states.append(torch.as_tensor(vectors, dtype=torch.float32)[::stride].contiguous())
        pairs = [
            [vocabulary.setdefault(captions["bottom"][t], len(vocabulary)),
             vocabulary.setdefault(captions["top"][t], len(vocabulary))]
            for t in range(0, len(vectors), stride)
        ]  # fmt: skip
        ids.append(torch.tensor(pairs, dtype=torch.int64))
    return StateSequences(states, ids, list(vocabulary))


def from_dataset(root: str | os.PathLike, split: str, stride: int) -> StateSequences:
    """Read a split of a tennis engine dataset (annotations only)."""
    from world_models.data.tennis import TennisDataset

    dataset = TennisDataset(root, split, load_frames=False)
    if len(dataset) == 0:
        raise FileNotFoundError(f"no sequences in {Path(root) / split}")
    items = (
        (item["states"], item["captions"])
        for item in (dataset[i] for i in tqdm(range(len(dataset)), desc=f"reading {split}", unit="seq"))
    )
    return _collect(items, stride)


def from_engine(sequences: int, seed: int, stride: int, first_index: int = 0) -> StateSequences:
    """Simulate ``sequences`` points with the engine (indices ``first_index...``, dataset seed ``seed``), unrendered.

    The same (seed, index) gives the same point as the dataset command, frames aside.
    """
    from world_models.engines.tennis.sequence import generate

    def items():
        for index in tqdm(range(first_index, first_index + sequences), desc="simulating points", unit="point"):
            point = generate(seed, index, render=False)
            yield point.vectors(), point.captions

    return _collect(items(), stride)


def embed_captions(captions: list[str], encoder, batch: int = 256) -> torch.Tensor:
    """``(U, E)`` pooled embeddings of every caption (the encoder caches; batching keeps memory flat)."""
    rows = []
    for start in tqdm(range(0, len(captions), batch), desc="embedding captions", unit="batch"):
        rows.append(encoder(captions[start : start + batch]).pooled.cpu())
    return torch.cat(rows) if rows else torch.zeros(0, encoder.dim)


class WindowSampler:
    """Draws training windows: object features, text, surface and a random conditioning structure."""

    def __init__(self, data: StateSequences, text_table: torch.Tensor, config: LGEConfig) -> None:
        keep = [i for i, s in enumerate(data.states) if len(s) >= config.window]
        if not keep:
            raise ValueError(f"no sequence has {config.window} frames at stride {config.frame_stride}")
        self.states = [data.states[i] for i in keep]
        self.caption_ids = [data.caption_ids[i] for i in keep]
        self.text_table = text_table
        self.config = config
        self.starts = torch.tensor([len(s) - config.window + 1 for s in self.states])

    def batch(self, size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        window = self.config.window
        which = torch.randint(len(self.states), (size,), generator=generator)
        offsets = (torch.rand(size, generator=generator) * self.starts[which]).long()
        states = torch.stack(
            [self.states[i][o : o + window] for i, o in zip(which.tolist(), offsets.tolist(), strict=True)]
        )
        ids = torch.stack(
            [self.caption_ids[i][o : o + window] for i, o in zip(which.tolist(), offsets.tolist(), strict=True)]
        )
        return {
            "states": states,  # (B, T, STATE_SIZE)
            "contact": near_contact(states),  # (B, T)
            "objects": to_objects(states),  # (B, T, 3, F)
            "text": self.text_table[ids],  # (B, T, 2, E)
            "surface": surface_of(states[:, 0]),
        }


CONTACT_FRAMES = 4
"""Frames on either side of a racket contact that `near_contact` marks."""


def depth_turns(vy: torch.Tensor) -> torch.Tensor:
    """bool ``(..., T - 1)``: where the ball's depth velocity ``vy`` ``(..., T)`` changes sign between frames (a
    strike sends the ball back towards the other side)."""
    return torch.sign(vy[..., 1:]) * torch.sign(vy[..., :-1]) < 0


def depth_changes(states: torch.Tensor) -> torch.Tensor:
    """bool ``(B, T)``: frames of flat states ``(B, T, STATE_SIZE)`` into which the ball's depth velocity reverses
    or jumps by more than 10 m/s (a strike sends it back, a serve sends it off from rest; a bounce changes it by a
    few m/s at most): racket or net contacts. Frame 0 is never one (its previous frame is unknown)."""
    vy = states[:, :, layout.SLICES["ball.velocity"].start + 1]
    contact = torch.zeros(vy.shape, dtype=torch.bool, device=vy.device)
    contact[:, 1:] = depth_turns(vy) | ((vy[:, 1:] - vy[:, :-1]).abs() > 10.0)
    return contact


def near_contact(states: torch.Tensor) -> torch.Tensor:
    """bool ``(B, T)``: frames within `CONTACT_FRAMES` of a racket (or net) contact (`depth_changes`) in flat states
    ``(B, T, STATE_SIZE)``."""
    contact = depth_changes(states)
    width = 2 * CONTACT_FRAMES + 1
    spread = torch.nn.functional.max_pool1d(contact[:, None].float(), width, stride=1, padding=CONTACT_FRAMES)
    return spread[:, 0] > 0


def random_known_mask(batch: int, config: LGEConfig, generator: torch.Generator) -> torch.Tensor:
    """float ``(B, T, 3, F)`` conditioning masks mixing the tasks the model serves:

    35% continue from the first frames (autoregressive windows); 20% first frames and the last frame
    (interpolation); 15% first frames plus random waypoints (a player's location or the ball's position at a
    time); 10% the first frame and a player's final location; 20% nothing (text and surface only).
    """
    t_, o_, f_ = config.window, len(OBJECTS), FEATURE_DIM
    mask = torch.zeros(batch, t_, o_, f_)
    kind = torch.rand(batch, generator=generator)
    first = torch.randint(1, config.context + 1, (batch,), generator=generator)
    for b in range(batch):
        k, u = int(first[b]), float(kind[b])
        if u < 0.8:
            mask[b, :k] = 1
        if 0.35 <= u < 0.55:
            mask[b, -1] = 1
        elif 0.55 <= u < 0.70:
            for _ in range(int(torch.randint(1, 5, (1,), generator=generator))):
                frame = int(torch.randint(k, t_, (1,), generator=generator))
                obj = int(torch.randint(o_, (1,), generator=generator))
                mask[b, frame, obj, BALL_POSITION if obj == 2 else ROOT] = 1
        elif 0.70 <= u < 0.80:
            mask[b, 1:k] = 0
            mask[b, -1, int(torch.randint(2, (1,), generator=generator)), ROOT] = 1
    return mask * valid_mask().float()


__all__ = [
    "JOINTS",
    "CONTACT_FRAMES",
    "StateSequences",
    "WindowSampler",
    "depth_changes",
    "depth_turns",
    "embed_captions",
    "from_dataset",
    "from_engine",
    "near_contact",
    "random_known_mask",
]
