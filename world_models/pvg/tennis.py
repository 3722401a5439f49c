"""PVG-Tennis grading against the engine's truth (datasets of ``python -m world_models data tennis-pvg``).

Real transitions carry the bottom player's true ground displacement in their metadata, so learned actions are
graded against it directly: Hungarian agreement with the coarse movement classes (stay, left, right, forward,
backward) and with the 8 directions + stay, and Δ-MSE, the per-action variance of the true displacement. Generated
frames have no metadata: the player is found there by a background-difference detector (`player_position`) against
the static scene that the dataset stores per point (``background.png``), which the playability test uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from world_models.data.pvg_format import Video, load_image, video_folders
from world_models.data.tennis_pvg import DIRECTIONS, MOVEMENTS
from world_models.pvg.evaluate import hungarian_agreement, infer_video_actions
from world_models.pvg.model import PVGModel


def _truth(video: Video, n: int) -> dict[str, np.ndarray]:
    meta = video.metadata[:n]
    if not meta or "move" not in meta[0]:
        raise ValueError(f"video {video.name!r} has no tennis-pvg metadata (record it with `data tennis-pvg`)")
    return {
        "movement": np.array([m["movement"] for m in meta], dtype=np.int64),
        "direction": np.array([m["direction"] for m in meta], dtype=np.int64),
        "move": np.array([m["move"] for m in meta], dtype=np.float64),
        "pixel_move": np.array([m["pixel_move"] for m in meta], dtype=np.float64),
    }


def tennis_action_agreement(model: PVGModel, videos: list[Video], info: dict, max_transitions: int | None = None) -> dict:
    """Learned actions vs the engine's true movement of the near player on held-out transitions.

    ``agreement`` uses the 5 coarse movement classes (the published Tennis actions are forward, backward, left,
    right, stay and two hitting motions); ``agreement_directions`` the 8 directions + stay. ``delta_mse`` is the
    per-action variance of the true ground displacement (m², summed over x and y), averaged over used actions;
    ``delta_mse_pixels`` the same for the displacement of the player's ground point in stored-frame pixels.
    """
    predicted, truth = [], []
    for video in videos:
        n = len(video.frames) if max_transitions is None else min(len(video.frames), max_transitions + 1)
        if n < 2:
            continue
        clipped = Video(video.frames[:n], video.actions[:n], video.rewards[:n], video.dones[:n], video.metadata[:n])
        predicted.append(infer_video_actions(model, clipped))
        truth.append(_truth(video, n - 1))
    if not predicted:
        raise ValueError("no video has two frames to grade")
    predicted = np.concatenate(predicted)
    true = {k: np.concatenate([t[k] for t in truth]) for k in truth[0]}
    a = model.config.num_actions
    agreement, confusion, mapping = hungarian_agreement(predicted, true["movement"], a, len(MOVEMENTS))
    agreement_dir, confusion_dir, _ = hungarian_agreement(predicted, true["direction"], a, len(DIRECTIONS))
    per_action, variances, variances_px = {}, [], []
    for k in range(a):
        chosen = predicted == k
        moves, pixels = true["move"][chosen], true["pixel_move"][chosen]
        entry = {"count": int(chosen.sum())}
        if len(moves):
            entry.update(mean_move_m=moves.mean(0).round(4).tolist(), var_move_m2=float(moves.var(0).sum()),
                         mean_pixel_move=pixels.mean(0).round(3).tolist(),
                         movement_histogram=np.bincount(true["movement"][chosen], minlength=len(MOVEMENTS)).tolist())
            variances.append(moves.var(0).sum())
            variances_px.append(pixels.var(0).sum())
        per_action[k] = entry
    total_var = float(true["move"].var(0).sum())
    return {
        "agreement": agreement,
        "true_classes": list(MOVEMENTS),
        "transitions": int(len(predicted)),
        "confusion": confusion.tolist(),
        "mapping_learned_to_true": {k: MOVEMENTS[v] for k, v in mapping.items()},
        "agreement_directions": agreement_dir,
        "confusion_directions": confusion_dir.tolist(),
        "majority_baseline": float(np.bincount(true["movement"]).max() / len(predicted)),
        "delta_mse": float(np.mean(variances)),
        "delta_mse_pixels": float(np.mean(variances_px)),
        "delta_mse_single_action_baseline": total_var,
        "per_action_movement": per_action,
    }


def read_backgrounds(root: str | Path, split: str, size_hw: tuple[int, int], crop) -> list[np.ndarray]:
    """The static scene (``background.png``) of every video of a split at the model resolution."""
    out = []
    for folder in video_folders(root, split):
        path = folder / "background.png"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing (datasets of `data tennis-pvg` store one per point)")
        out.append(load_image(path, crop, size_hw))
    return out


def player_position(frames: np.ndarray, backgrounds: np.ndarray, threshold: float = 60.0, min_pixels: int = 3,
                    max_fraction: float = 0.05, side_margin: float = 0.15) -> np.ndarray:  # fmt: skip
    """Near player's ground point (u, v) in frame pixels by background difference; NaN where nothing is found.

    frames and backgrounds are uint8 (N, H, W, 3). Pixels whose colour is ``threshold`` (L1 over RGB) or more from
    the static scene are foreground (player, racket, shadow, ball); the player is the column median and the lowest
    foreground rows (his feet) of the biggest such region, which a ball of a few pixels cannot move. A region
    under ``min_pixels`` or over ``max_fraction`` of the frame (a generated frame that drifted as a whole) is not a
    player, and the outer ``side_margin`` of the width on each side (walls only: the engine's near player never
    stands there, his ground point spans 21-83% of the width) is ignored, so wall artefacts of a generated frame
    are not taken for him.
    """
    from scipy import ndimage

    diff = np.abs(frames.astype(np.int16) - backgrounds.astype(np.int16)).sum(-1) >= threshold
    margin = int(round(side_margin * frames.shape[2]))
    diff[:, :, :margin] = False
    diff[:, :, frames.shape[2] - margin :] = False
    out = np.full((len(frames), 2), np.nan)
    for i, mask in enumerate(diff):
        labels, count = ndimage.label(mask)
        if count == 0:
            continue
        sizes = ndimage.sum(mask, labels, index=np.arange(1, count + 1))
        best = int(np.argmax(sizes)) + 1
        if not min_pixels <= sizes[best - 1] <= max_fraction * mask.size:
            continue
        rows, cols = np.nonzero(labels == best)
        out[i] = (float(np.median(cols)) + 0.5, float(np.percentile(rows, 90)) + 0.5)
    return out


def movement_fractions(moved: np.ndarray, threshold: float) -> dict[str, float]:
    """Fractions of starts whose (du, dv) pixel displacement is each movement (dominant axis; screen up = forward)."""
    du, dv = moved[:, 0], moved[:, 1]
    valid = np.isfinite(du) & np.isfinite(dv)
    size = np.hypot(du, dv)
    horizontal = np.abs(du) >= np.abs(dv)
    with np.errstate(invalid="ignore"):
        classes = {
            "stay": valid & (size <= threshold),
            "left": valid & (size > threshold) & horizontal & (du < 0),
            "right": valid & (size > threshold) & horizontal & (du > 0),
            "forward": valid & (size > threshold) & ~horizontal & (dv < 0),
            "backward": valid & (size > threshold) & ~horizontal & (dv > 0),
        }
    return {m: float(classes[m].mean()) for m in MOVEMENTS}


@torch.no_grad()
def tennis_playability(model: PVGModel, starts: torch.Tensor, backgrounds: np.ndarray, hold: int = 8,
                       threshold: float = 2.0) -> dict:  # fmt: skip
    """Hold each learned action ``hold`` steps from every start; the player's detected displacement decides the keymap.

    ``threshold`` is in model pixels at 128 wide (scaled with the width): an action "stays" at a start when the
    player's ground point moved less than that, else it moves along the dominant axis.
    """
    from world_models.pvg.evaluate import _context

    c = model.config
    n = len(starts)
    threshold = threshold * c.width / 128
    p0 = player_position(starts.cpu().numpy(), backgrounds)
    generator = torch.Generator().manual_seed(0)
    per_action = {}
    for k in range(c.num_actions):
        state = model.initial_state(n, generator=generator, context=_context(starts))
        action = torch.full((n, 1), k, dtype=torch.long)
        for _ in range(hold):
            state, _ = model.step(state, action, generator=generator)
        p1 = player_position(state["frame"].cpu().numpy(), backgrounds)
        moved = p1 - p0
        found = np.isfinite(moved).all(1)
        per_action[k] = {**movement_fractions(moved, threshold), "player_found": float(found.mean()),
                         "mean_move_pixels": np.nanmean(moved, 0).round(3).tolist() if found.any() else None}
    keymap = derive_tennis_keymap(per_action)
    return {"starts": n, "hold": hold, "threshold_pixels": threshold, "start_player_found": float(np.isfinite(p0).all(1).mean()),
            "per_action": per_action, "keymap": keymap,
            "best_fraction": {m: max(per_action[k][m] for k in per_action) for m in MOVEMENTS},
            "assigned_fraction": {m: per_action[k][m] for m, k in keymap.items()}}  # fmt: skip


def derive_tennis_keymap(per_action: dict) -> dict[str, int]:
    """Each movement (stay, left, right, forward, backward) -> a distinct learned action, maximising consistency."""
    from scipy.optimize import linear_sum_assignment

    actions = sorted(per_action)
    score = np.array([[per_action[k][m] for m in MOVEMENTS] for k in actions])
    rows, cols = linear_sum_assignment(-score)
    return {MOVEMENTS[c]: int(actions[r]) for r, c in zip(rows, cols, strict=True)}


def evaluate_tennis(model: PVGModel, data: str, info: dict, *, rollout_length: int = 16, max_clips: int = 128,
                    starts: int = 20, hold: int = 8, split: str = "test", max_videos: int | None = None,
                    context: int = 4) -> dict:  # fmt: skip
    """All PVG-Tennis metrics of one model on one split: agreement and Δ-MSE against the engine's true player
    displacement, rollout PSNR/SSIM against copy-last-frame, reward head, playability with the player detector."""
    from world_models.data.pvg_format import read_split
    from world_models.pvg.evaluate import reward_metrics, rollout_metrics

    c = model.config
    videos = read_split(data, split, size_hw=(c.height, c.width), crop=c.crop, max_videos=max_videos)
    backgrounds = read_backgrounds(data, split, (c.height, c.width), c.crop)[: len(videos)]
    generator = torch.Generator().manual_seed(0)
    metrics = {"game": "Tennis", "split": split, "videos": len(videos), "frames": int(sum(len(v.frames) for v in videos))}
    metrics["actions"] = tennis_action_agreement(model, videos, info)
    rollout = rollout_metrics(model, videos, rollout_length, max_clips, generator, context=context)
    metrics["rollout"] = {k: v for k, v in rollout.items() if not k.startswith("paddle")}  # Breakout's detector
    metrics["reward"] = reward_metrics(model, videos)
    flat = np.concatenate([v.frames for v in videos])
    flat_bg = np.concatenate([np.repeat(bg[None], len(v.frames), 0) for v, bg in zip(videos, backgrounds, strict=True)])
    picks = torch.randperm(len(flat), generator=generator)[:starts].sort().values.numpy()
    metrics["playability"] = tennis_playability(model, torch.from_numpy(flat[picks]), flat_bg[picks], hold=hold)
    real = player_position(flat, flat_bg)
    truth = np.array([m["pixel"] for v in videos for m in v.metadata]) * [c.width / c.crop[2], c.height / c.crop[3]]
    found = np.isfinite(real).all(1)
    metrics["detector_on_real_frames"] = {
        "found": float(found.mean()),
        "mean_error_pixels": float(np.linalg.norm(real[found] - truth[found], axis=1).mean()) if found.any() else None,
        "note": "background-difference detector vs the engine's projected ground point, model pixels",
    }
    return metrics
