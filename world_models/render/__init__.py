"""Compositional neural renderer of tennis scenes (LGE's synthesis module, built for CPU): see ``docs/renderer.md``."""

from world_models.render.config import PRESETS, RendererConfig, preset
from world_models.render.model import OBJECTS, STYLE_SIZE, TennisRenderer, default_styles, scene_style, state_cameras

__all__ = [
    "OBJECTS", "PRESETS", "STYLE_SIZE", "RendererConfig", "TennisRenderer", "default_styles", "preset", "scene_style",
    "state_cameras",
]  # fmt: skip
