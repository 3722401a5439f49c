"""Training and evaluation frames for the renderer, read from a tennis engine dataset
(``python -m world_models data tennis``): frames, object masks, state vectors and scene style vectors.

The dataset's states hold the surface and the court colour but not the surround and wall colours the engine
painted; those are regenerated from the sequence's ``(seed, index)`` with the engine's own random streams
(`world_models.engines.tennis.sequence.sequence_rngs`) and checked against the stored court colour and camera.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from world_models.data.tennis import state_of
from world_models.engines.tennis import layout
from world_models.engines.tennis.court import SURFACES
from world_models.engines.tennis.render import SceneStyle
from world_models.engines.tennis.sequence import SequenceConfig, sequence_rngs
from world_models.render.model import default_styles, scene_style


def engine_scene_style(ann: dict) -> tuple[np.ndarray, SceneStyle | None]:
    """The (12,) style vector of a sequence and the engine's `SceneStyle` (None if it cannot be regenerated)."""
    config = SequenceConfig(width=ann["width"], height=ann["height"])
    _, look, _ = sequence_rngs(ann["seed"], ann["index"])
    camera = config.camera.sample(look, ann["width"], ann["height"])
    style = SceneStyle.sample(SURFACES[ann["surface"]], look)
    stored = np.asarray(ann["frames"][0]["camera"]["extrinsics"], dtype=np.float64)
    same = np.allclose(style.court, ann["scene"]["court_colour"], atol=1e-3) and np.allclose(
        camera.extrinsics, stored, atol=1e-3)  # fmt: skip
    if not same:
        state = torch.tensor(layout.flatten(state_of(ann, 0))).unsqueeze(0)
        return default_styles(state)[0].numpy(), None
    vec = scene_style(torch.tensor([style.surface.index]), torch.tensor([style.court]), torch.tensor([style.surround]),
                      torch.tensor([style.wall]))[0]  # fmt: skip
    return vec.numpy(), style


class RenderFrames:
    """Every ``stride``-th frame of (at most ``max_sequences``) sequences of one split, held in memory.

    Attributes: ``frames`` (F, H, W, 3) uint8, ``masks`` (F, H, W) uint8 (engine object ids), ``states``
    (F, STATE_SIZE) float32, ``styles`` (F, 12) float32, ``sequence`` (F,) int64, ``annotations`` (per sequence).
    """

    def __init__(self, root: str | Path, split: str, stride: int = 4, max_sequences: int | None = None,
                 offset: int = 0) -> None:  # fmt: skip
        from PIL import Image

        folder = Path(root) / split
        if not folder.is_dir():
            raise FileNotFoundError(
                f"split folder not found: {folder} (generate data with python -m world_models data tennis)"
            )
        sequences = sorted(p for p in folder.iterdir() if p.is_dir())[:max_sequences]
        frames, masks, states, styles, owner, self.annotations = [], [], [], [], [], []
        regenerated = 0
        for i, seq in enumerate(sequences):
            ann = json.loads((seq / "annotations.json").read_text())
            self.annotations.append(ann)
            style, engine_style = engine_scene_style(ann)
            regenerated += engine_style is not None
            keep = list(range(offset % stride, ann["num_frames"], stride))
            frames += [np.asarray(Image.open(seq / f"{t:05d}.png").convert("RGB")) for t in keep]
            m = np.load(seq / "masks.npz")["masks"]
            masks.append(m[keep])
            states += [layout.flatten(state_of(ann, t)) for t in keep]
            styles += [style] * len(keep)
            owner += [i] * len(keep)
        if regenerated < len(sequences):
            warnings.warn(f"{len(sequences) - regenerated} sequences: wall colours could not be regenerated; using the "
                          "default wall colour", stacklevel=2)  # fmt: skip
        self.frames = torch.from_numpy(np.stack(frames))
        self.masks = torch.from_numpy(np.concatenate(masks))
        self.states = torch.from_numpy(np.stack(states)).float()
        self.styles = torch.from_numpy(np.stack(styles)).float()
        self.sequence = torch.tensor(owner)

    @classmethod
    def from_sequences(cls, sequences: list, stride: int = 1) -> RenderFrames:
        """Frames of rendered engine `Sequence`s held in memory (no files; used by tests and benchmarks)."""
        self = cls.__new__(cls)
        frames, masks, states, styles, owner = [], [], [], [], []
        for i, seq in enumerate(sequences):
            keep = slice(0, len(seq.states), stride)
            frames.append(seq.frames[keep])
            masks.append(seq.masks[keep])
            states.append(seq.vectors()[keep])
            st = seq.style
            vec = scene_style(torch.tensor([st.surface.index]), torch.tensor([st.court]), torch.tensor([st.surround]),
                              torch.tensor([st.wall]))[0]  # fmt: skip
            styles.append(vec.expand(states[-1].shape[0], -1))
            owner += [i] * states[-1].shape[0]
        self.frames = torch.from_numpy(np.concatenate(frames))
        self.masks = torch.from_numpy(np.concatenate(masks))
        self.states = torch.from_numpy(np.concatenate(states)).float()
        self.styles = torch.cat(styles).float()
        self.sequence = torch.tensor(owner)
        self.annotations = []
        return self

    def __len__(self) -> int:
        return self.frames.shape[0]
