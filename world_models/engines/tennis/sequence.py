"""One annotated sequence (one point): the engine run to the end, rendered by a per-sequence camera and style,
with states, captions, events, frames and object masks.

Randomness is split from one seed into independent streams (engine, camera and style, caption phrasing), so a
sequence is reproducible from ``(seed, index)`` alone and captions can change phrasing without changing the play.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from world_models.engines.tennis import layout
from world_models.engines.tennis.camera import Camera, CameraSampler
from world_models.engines.tennis.captions import caption_point
from world_models.engines.tennis.game import EngineConfig, TennisEngine
from world_models.engines.tennis.render import Renderer, SceneStyle

ENGINE_VERSION = "1.0"
"""Bumped whenever physics, rules, motion, captions or rendering change what a seed produces."""


@dataclass
class SequenceConfig:
    """How sequences are generated."""

    width: int = 256
    height: int = 144
    engine: EngineConfig = field(default_factory=EngineConfig)
    camera: CameraSampler = field(default_factory=CameraSampler)


@dataclass
class Sequence:
    """A generated point."""

    states: list[dict[str, Any]]
    """Nested `layout` state per frame (with scene and camera)."""
    captions: dict[str, list[str]]
    events: list[list[dict[str, Any]]]
    frames: np.ndarray | None
    """``(T, H, W, 3) uint8``, or None when not rendered."""
    masks: np.ndarray | None
    camera: Camera
    style: SceneStyle
    engine: TennisEngine

    def vectors(self) -> np.ndarray:
        """``(T, STATE_SIZE)`` float32 flat states."""
        return np.stack([layout.flatten(s) for s in self.states])


def sequence_rngs(seed: int, index: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Engine, look (camera and style), and caption generators of sequence ``index`` of a dataset seeded ``seed``."""
    engine_ss, look_ss, text_ss = np.random.SeedSequence([seed, index]).spawn(3)
    return np.random.default_rng(engine_ss), np.random.default_rng(look_ss), np.random.default_rng(text_ss)


def generate(seed: int, index: int = 0, config: SequenceConfig | None = None, render: bool = True,
             commands: dict | None = None) -> Sequence:  # fmt: skip
    """Simulate, caption and (optionally) render one point.

    Args:
        seed, index: the dataset seed and the sequence's index in it.
        config: resolution, engine, camera ranges.
        render: render frames and masks.
        commands: ``{player: Command}`` given to the engine before the point starts.
    """
    config = config or SequenceConfig()
    engine_rng, look_rng, text_rng = sequence_rngs(seed, index)
    engine = TennisEngine(config.engine, rng=engine_rng)
    for player, command in (commands or {}).items():
        engine.set_command(player, command)
    camera = config.camera.sample(look_rng, config.width, config.height)
    style = SceneStyle.sample(engine.surface, look_rng)
    scene = {"surface": engine.surface.index, "court_colour": list(style.court)}
    cam_json = camera.to_json()
    raw = [engine.state()]
    while not engine.done:
        engine.step()
        raw.append(engine.state())
    states = []
    for s in raw:
        s = dict(s)
        for name in ("bottom", "top"):
            s[name] = dict(s[name], joints=np.asarray(s[name]["joints"], dtype=np.float64).copy())
        s["scene"] = scene
        s["camera"] = cam_json
        states.append(s)
    roots = {p: np.array([s[p]["root"] for s in states], dtype=np.float64) for p in ("bottom", "top")}
    captions = caption_point(engine, roots, text_rng)
    frames = masks = None
    if render:
        renderer = Renderer(camera, style)
        frames = np.empty((len(states), config.height, config.width, 3), dtype=np.uint8)
        masks = np.empty((len(states), config.height, config.width), dtype=np.uint8)
        for t, s in enumerate(states):
            frames[t], masks[t] = renderer.render(s)
    return Sequence(states, captions, engine.events, frames, masks, camera, style, engine)
