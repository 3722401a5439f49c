"""Writing frames to video files (moviepy) and to PNG strips people can look at."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def write_video(frames: Sequence[np.ndarray], path: str | os.PathLike, *, fps: float) -> Path:
    """Write uint8 ``(H, W, 3)`` frames to ``path`` (mp4 or gif by suffix); returns the path."""
    if len(frames) == 0:
        raise ValueError("no frames to write")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from moviepy import ImageSequenceClip

    # H.264 needs even sizes: pad odd frames by one pixel of edge.
    height, width = frames[0].shape[:2]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    clip = ImageSequenceClip([np.pad(f, pad, mode="edge") for f in frames], fps=fps)
    if path.suffix == ".gif":
        clip.write_gif(str(path), fps=fps, logger=None)
    else:
        clip.write_videofile(str(path), fps=fps, codec="libx264", audio=False, logger=None)
    return path
