"""PVG-Tennis data: tennis engine points filmed by the fixed broadcast camera, cropped to the near half of the court.

``python -m world_models data tennis-pvg --out data/tennis_pvg --sequences 240``

This mirrors the paper's Tennis setup (design note ``pvg.md`` sections 3 and 13): broadcast video, near player only
(cropped at the net), stored at 256x96, one observation every 5th raw frame of 25 fps video. Each point becomes one
video folder of the PVG on-disk format (``train``/``val``/``test``, 80/10/10 in sequence order). Unlike real
broadcasts, the engine knows the truth, which grades what PVG discovers without labels:

- ``actions[i]``: the bottom player's movement direction from observation i to i+1, from the engine's root
  positions: 0 stay (moved less than ``--stay-threshold`` metres), else 1..8 = right, forward-right, forward,
  forward-left, left, backward-left, backward, backward-right (screen left = world -x; forward = towards the net).
- ``metadata[i]``: ``root`` (x, y) in metres, ``move`` (dx, dy) in metres to the next observation, ``pixel`` (u, v)
  of the root (the player's ground point) in stored-frame pixels, ``pixel_move`` likewise, ``direction`` (the
  action) and ``movement`` (the coarse class: 0 stay, 1 left, 2 right, 3 forward, 4 backward, by dominant axis).
- ``rewards``: +1 on the last frame when the bottom player won the point, -1 when it lost; ``dones``: the last frame.
- ``background.png`` per video: the static scene (no players, ball or shadows) of that point, same crop; the
  evaluation's player detector subtracts it from generated frames. The PVG reader ignores it.

The camera is the engine's canonical broadcast camera (the middle of every per-sequence range) and the surface is
fixed (grass by default, the paper's Wimbledon footage), so the crop is the same for every point. Sequence ``i`` is
generated from ``(seed, i)`` alone.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from world_models.core.command import command_line
from world_models.data.pvg_format import write_video
from world_models.data.tennis import split_sizes
from world_models.engines.tennis.camera import Camera, CameraSampler
from world_models.engines.tennis.game import EngineConfig
from world_models.engines.tennis.render import Renderer
from world_models.engines.tennis.sequence import ENGINE_VERSION, SequenceConfig, generate

DIRECTIONS = ("stay", "right", "forward-right", "forward", "forward-left", "left", "backward-left", "backward",
              "backward-right")  # fmt: skip
"""True action names (index = action); angles counter-clockwise from screen right, seen from above."""
MOVEMENTS = ("stay", "left", "right", "forward", "backward")
"""Coarse movement classes (dominant axis) used for agreement and the play keymap."""


def direction_of(move: np.ndarray, stay_threshold: float) -> int:
    """Ground displacement (dx, dy) in metres -> direction index of `DIRECTIONS`."""
    dx, dy = float(move[0]), float(move[1])
    if math.hypot(dx, dy) < stay_threshold:
        return 0
    return 1 + int(round(math.atan2(dy, dx) / (math.pi / 4))) % 8


def movement_of(move: np.ndarray, stay_threshold: float) -> int:
    """Ground displacement (dx, dy) in metres -> coarse class of `MOVEMENTS` (dominant axis)."""
    dx, dy = float(move[0]), float(move[1])
    if math.hypot(dx, dy) < stay_threshold:
        return 0
    if abs(dx) >= abs(dy):
        return 2 if dx > 0 else 1
    return 3 if dy > 0 else 4


def near_half_box(camera: Camera, size_wh: tuple[int, int]) -> tuple[int, int, int, int]:
    """Crop [left, upper, right, lower] from the net's ground line to the image bottom, centred, aspect of size_wh."""
    uv, _ = camera.project(np.array([[0.0, 0.0, 0.0]]))
    u, v = uv[0]
    upper = int(math.floor(v))
    height = camera.height - upper
    width = int(round(height * size_wh[0] / size_wh[1]))
    if width > camera.width:
        raise ValueError(f"render width {camera.width} is too narrow for a {width}x{height} near-half crop")
    left = int(round(u - width / 2))
    left = min(max(left, 0), camera.width - width)
    return left, upper, left + width, camera.height


def crop_resize(image: np.ndarray, box: tuple[int, int, int, int], size_wh: tuple[int, int]) -> np.ndarray:
    """uint8 (H, W, 3) -> the box resized bilinearly to size_wh."""
    from PIL import Image

    return np.asarray(Image.fromarray(image).crop(box).resize(size_wh, Image.BILINEAR), dtype=np.uint8)


def record_point(seed: int, index: int, *, stride: int, size_wh: tuple[int, int], render_wh: tuple[int, int],
                 surface: str, stay_threshold: float) -> dict:  # fmt: skip
    """One point as PVG lists: frames (every ``stride``-th engine frame), actions, rewards, dones, metadata."""
    config = SequenceConfig(width=render_wh[0], height=render_wh[1], engine=EngineConfig(surface=surface))
    seq = generate(seed, index, config, render=False)
    camera = CameraSampler().canonical(*render_wh)
    renderer = Renderer(camera, seq.style)
    box = near_half_box(camera, size_wh)
    sx, sy = size_wh[0] / (box[2] - box[0]), size_wh[1] / (box[3] - box[1])
    states = seq.states[::stride]
    frames = [crop_resize(renderer.render(s)[0], box, size_wh) for s in states]
    roots = np.array([s["bottom"]["root"] for s in states], dtype=np.float64)
    uv, _ = camera.project(np.concatenate([roots, np.zeros((len(roots), 1))], axis=1))
    pixels = np.stack([(uv[:, 0] - box[0]) * sx, (uv[:, 1] - box[1]) * sy], axis=1)
    moves = np.concatenate([roots[1:] - roots[:-1], np.zeros((1, 2))])  # the last frame takes no action
    pixel_moves = np.concatenate([pixels[1:] - pixels[:-1], np.zeros((1, 2))])
    actions = [direction_of(m, stay_threshold) for m in moves]
    metadata = [
        {"root": [round(float(v), 4) for v in r], "move": [round(float(v), 4) for v in m],
         "pixel": [round(float(v), 3) for v in p], "pixel_move": [round(float(v), 3) for v in pm],
         "direction": a, "movement": movement_of(m, stay_threshold)}
        for r, m, p, pm, a in zip(roots, moves, pixels, pixel_moves, actions, strict=True)
    ]  # fmt: skip
    rewards = [0.0] * len(frames)
    rewards[-1] = {"bottom": 1.0, "top": -1.0}.get(seq.engine.winner, 0.0)
    dones = [False] * (len(frames) - 1) + [True]
    background = crop_resize((renderer.background * 255.0 + 0.5).astype(np.uint8), box, size_wh)
    return {"frames": frames, "actions": actions, "rewards": rewards, "dones": dones, "metadata": metadata,
            "background": background, "box": box, "winner": seq.engine.winner}  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="dataset folder to write (train/, val/, test/, info.json)")
    parser.add_argument("--sequences", type=int, default=240, help="points to generate (split 80/10/10 in order)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed; point i is generated from (seed, i)")
    parser.add_argument("--stride", type=int, default=5, help="engine frames (25 fps) per stored frame (paper: 5)")
    parser.add_argument("--size", type=int, nargs=2, default=(256, 96), metavar=("W", "H"),
                        help="stored frame size (paper: 256 96)")  # fmt: skip
    parser.add_argument("--render-size", type=int, nargs=2, default=(384, 216), metavar=("W", "H"),
                        help="engine render size before the near-half crop (16:9)")  # fmt: skip
    parser.add_argument("--surface", default="grass", choices=("grass", "hard", "clay"), help="court surface")
    parser.add_argument("--stay-threshold", type=float, default=0.2,
                        help="metres per stored step below which the player 'stays'")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from PIL import Image
    from tqdm import tqdm

    from world_models.data.pvg_format import SPLITS

    if args.sequences < 1:
        raise ValueError(f"--sequences must be at least 1, got {args.sequences}")
    if args.stride < 1:
        raise ValueError(f"--stride must be at least 1, got {args.stride}")
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; choose a new --out folder")
    sizes = split_sizes(args.sequences)
    size_wh, render_wh = tuple(args.size), tuple(args.render_size)
    counts = np.zeros(len(DIRECTIONS), dtype=np.int64)
    stats = {"frames": 0, "bottom_won": 0, "top_won": 0}
    box = None
    started = time.time()
    for i in tqdm(range(args.sequences), desc="tennis-pvg", unit="point"):
        point = record_point(args.seed, i, stride=args.stride, size_wh=size_wh, render_wh=render_wh,
                             surface=args.surface, stay_threshold=args.stay_threshold)  # fmt: skip
        split = SPLITS[0] if i < sizes["train"] else SPLITS[1] if i < sizes["train"] + sizes["val"] else SPLITS[2]
        first = {"train": 0, "val": sizes["train"], "test": sizes["train"] + sizes["val"]}[split]
        folder = write_video(out / split / f"{i - first:05d}", point["frames"], actions=point["actions"],
                             rewards=point["rewards"], dones=point["dones"], metadata=point["metadata"])  # fmt: skip
        Image.fromarray(point["background"]).save(folder / "background.png")
        counts += np.bincount(point["actions"][:-1], minlength=len(DIRECTIONS))
        stats["frames"] += len(point["frames"])
        stats[f"{point['winner']}_won"] = stats.get(f"{point['winner']}_won", 0) + 1
        box = point["box"]
    stats["direction_counts"] = {name: int(n) for name, n in zip(DIRECTIONS, counts, strict=True)}
    stats["seconds"] = round(time.time() - started, 1)
    info = {
        "source": "tennis engine",
        "engine_version": ENGINE_VERSION,
        "game": "Tennis",
        "fps": 25.0 / args.stride,
        "stride": args.stride,
        "size": list(size_wh),
        "render_size": list(render_wh),
        "crop_box_in_render": list(box) if box else None,
        "camera": "canonical broadcast camera (CameraSampler().canonical)",
        "surface": args.surface,
        "stay_threshold_m": args.stay_threshold,
        "direction_names": list(DIRECTIONS),
        "movement_names": list(MOVEMENTS),
        "episodes": sizes,
        "seed": args.seed,
        "command": command_line(args, "python -m world_models data tennis-pvg"),
        "conventions": "actions[i] is the bottom player's movement direction from frame i to i+1 (engine root "
        "positions); metadata[i] holds root, move, pixel, pixel_move, direction, movement; background.png is the "
        "static scene of the point",
        "stats": stats,
    }
    (out / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(stats))
    return 0
