"""The PVG on-disk video format (design note ``pvg.md`` section 13): writer, safe reader, sequence sampler.

Layout: ``ROOT/{train,val,test}/NNNNN/`` with one folder per video, frames ``00000.png, 00001.png, ...`` and four
pickled Python lists with one entry per frame: ``actions.pkl`` (int), ``rewards.pkl`` (float), ``metadata.pkl``
(dict) and ``dones.pkl`` (bool). A list made only of None means "absent" (defaults 0, 0.0, {}, False); mixing None
and values is an error.

The pickled lists are the official format, so they are written as pickles, but they are read with
`RestrictedUnpickler`, which refuses every global except a few builtin containers: a crafted ``.pkl`` file cannot
run code here.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

SPLITS = ("train", "val", "test")
LIST_FILES = {"actions": 0, "rewards": 0.0, "metadata": {}, "dones": False}
"""Per-frame list files and the default an all-None list stands for."""


class DatasetError(RuntimeError):
    """A dataset folder that is missing or does not follow the PVG format."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds builtin scalars and containers; any other global is refused."""

    ALLOWED = {("builtins", name) for name in ("list", "dict", "tuple", "set", "frozenset", "int", "float", "bool", "str", "complex", "bytes")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle global {module}.{name}: only builtin values are allowed")


def safe_load_pickle(path: str | Path) -> Any:
    """Read a pickle file that may only contain builtin values (lists, dicts, numbers, strings, None)."""
    data = Path(path).read_bytes()
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as error:
        raise DatasetError(f"{path}: {error}") from error


def _write_pickle(path: Path, value: list) -> None:
    with open(path, "wb") as handle:
        pickle.dump(value, handle, protocol=4)


def write_video(
    folder: str | Path,
    frames: Sequence[np.ndarray],
    *,
    actions: Sequence[int] | None = None,
    rewards: Sequence[float] | None = None,
    dones: Sequence[bool] | None = None,
    metadata: Sequence[dict] | None = None,
) -> Path:
    """Write one video folder: PNG frames and the four per-frame lists (None lists are written as all-None)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = len(frames)
    for index, frame in enumerate(frames):
        Image.fromarray(np.asarray(frame, dtype=np.uint8)).save(folder / f"{index:05d}.png", compress_level=1)
    lists = {
        "actions": None if actions is None else [int(a) for a in actions],
        "rewards": None if rewards is None else [float(r) for r in rewards],
        "dones": None if dones is None else [bool(d) for d in dones],
        "metadata": None if metadata is None else [dict(m) for m in metadata],
    }
    for name, values in lists.items():
        if values is None:
            values = [None] * n
        if len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries for {n} frames")
        _write_pickle(folder / f"{name}.pkl", values)
    return folder


@dataclass
class Video:
    """One video in memory: frames resized to the model resolution plus per-frame annotations."""

    frames: np.ndarray
    """uint8 (N, H, W, 3)."""
    actions: np.ndarray
    """int64 (N,)."""
    rewards: np.ndarray
    """float32 (N,)."""
    dones: np.ndarray
    """bool (N,)."""
    metadata: list[dict] = field(default_factory=list)
    name: str = ""


def _read_list(path: Path, n: int) -> list:
    name = path.stem
    if not path.is_file():
        return [LIST_FILES[name]] * n
    values = safe_load_pickle(path)
    if not isinstance(values, list):
        raise DatasetError(f"{path}: expected a list, got {type(values).__name__}")
    if len(values) != n:
        raise DatasetError(f"{path}: {len(values)} entries for {n} frames")
    nones = sum(v is None for v in values)
    if nones == len(values):
        return [LIST_FILES[name]] * n
    if nones:
        raise DatasetError(f"{path}: mixes None with values ({nones} of {n} are None)")
    return values


def load_image(path: Path, crop: Sequence[int] | None, size_hw: tuple[int, int]) -> np.ndarray:
    """PIL load; alpha composited on white; crop [left, upper, right, lower]; bilinear resize; uint8 (H, W, 3)."""
    from PIL import Image

    with Image.open(path) as image:
        if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        image = image.convert("RGB")
        if crop is not None:
            image = image.crop(tuple(crop))
        height, width = size_hw
        if image.size != (width, height):
            image = image.resize((width, height), Image.BILINEAR)
        return np.asarray(image, dtype=np.uint8).copy()


def video_folders(root: str | Path, split: str) -> list[Path]:
    """Sorted video folders of one split, with an error naming the missing folder."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root} (record one with `python -m world_models data atari`)")
    folder = root / split
    if not folder.is_dir():
        raise DatasetError(f"dataset split folder not found: {folder} (expected {root}/{{train,val,test}}/)")
    videos = sorted(p for p in folder.iterdir() if p.is_dir())
    if not videos:
        raise DatasetError(f"dataset split folder {folder} holds no video folders")
    return videos


def read_video(folder: Path, *, size_hw: tuple[int, int], crop: Sequence[int] | None = None) -> Video:
    """Read one video folder into memory at ``size_hw``."""
    frames = sorted(p for p in folder.glob("[0-9][0-9][0-9][0-9][0-9].*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not frames:
        raise DatasetError(f"{folder} holds no frames (expected 00000.png, 00001.png, ...)")
    n = len(frames)
    images = np.stack([load_image(p, crop, size_hw) for p in frames])
    lists = {name: _read_list(folder / f"{name}.pkl", n) for name in LIST_FILES}
    return Video(
        frames=images,
        actions=np.asarray(lists["actions"], dtype=np.int64),
        rewards=np.asarray(lists["rewards"], dtype=np.float32),
        dones=np.asarray(lists["dones"], dtype=bool),
        metadata=list(lists["metadata"]),
        name=folder.name,
    )


def read_split(
    root: str | Path,
    split: str,
    *,
    size_hw: tuple[int, int],
    crop: Sequence[int] | None = None,
    max_videos: int | None = None,
) -> list[Video]:
    """Every video of one split at ``size_hw`` (optionally only the first ``max_videos``)."""
    folders = video_folders(root, split)
    if max_videos is not None:
        folders = folders[:max_videos]
    return [read_video(f, size_hw=size_hw, crop=crop) for f in folders]


def read_info(root: str | Path) -> dict[str, Any]:
    """The recorder's ``info.json`` beside the splits (empty when the dataset has none)."""
    import json

    path = Path(root) / "info.json"
    return json.loads(path.read_text()) if path.is_file() else {}


class SequenceSampler:
    """Draws training sequences from a list of videos, as the PVG format defines samples.

    A sample starts at any index of any video; observation i uses frame ``start + i * (skip + 1)`` and its stack
    holds that frame and the ``stack - 1`` previous frames at the same stride (clamped at frame 0), newest first.
    The reward of an observation is the sum over the frames it skips.
    """

    def __init__(self, videos: list[Video], *, skip: int = 0, stack: int = 1) -> None:
        if not videos:
            raise DatasetError("no videos to sample from")
        self.videos = videos
        self.skip = skip
        self.stack = stack

    def starts(self, length: int) -> list[tuple[int, int]]:
        """Every (video, start) pair that fits a sequence of ``length`` observations."""
        span = (length - 1) * (self.skip + 1) + 1
        return [(v, s) for v, video in enumerate(self.videos) for s in range(len(video.frames) - span + 1)]

    def get(self, pairs: Sequence[tuple[int, int]], length: int) -> dict[str, torch.Tensor]:
        """Sequences at given (video, start) pairs: observations uint8 (B, T, S, H, W, 3), actions, rewards, dones."""
        stride = self.skip + 1
        obs, actions, rewards, dones = [], [], [], []
        for v, start in pairs:
            video = self.videos[v]
            index = start + stride * np.arange(length)
            stack_index = np.clip(index[:, None] - stride * np.arange(self.stack)[None, :], 0, None)  # newest first
            obs.append(video.frames[stack_index])
            actions.append(video.actions[index])
            window = np.clip(index[:, None] - np.arange(stride)[None, :], 0, None)
            rew = video.rewards[window].sum(1) if stride > 1 else video.rewards[index]
            rewards.append(rew)
            dones.append(video.dones[index])
        return {
            "observations": torch.from_numpy(np.stack(obs)),
            "actions": torch.from_numpy(np.stack(actions)),
            "rewards": torch.from_numpy(np.stack(rewards).astype(np.float32)),
            "dones": torch.from_numpy(np.stack(dones)),
        }

    def sample(self, batch: int, length: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``batch`` random sequences of ``length`` observations, drawn with ``generator``."""
        span = (length - 1) * (self.skip + 1) + 1
        sizes = torch.tensor([max(len(v.frames) - span + 1, 0) for v in self.videos], dtype=torch.float64)
        if sizes.sum() == 0:
            raise DatasetError(f"no video is long enough for sequences of {length} observations")
        video_index = torch.multinomial(sizes, batch, replacement=True, generator=generator)
        pairs = []
        for v in video_index.tolist():
            start = int(torch.randint(int(sizes[v].item()), (1,), generator=generator).item())
            pairs.append((v, start))
        return self.get(pairs, length)
