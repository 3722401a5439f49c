"""Evaluation of a PVG checkpoint: ``python -m world_models eval pvg --checkpoint PATH --data DIR --out DIR``.

Writes ``metrics.json`` and matplotlib (Agg) plots:

- learned-vs-true action agreement on held-out transitions after Hungarian matching (scipy), with the confusion
  matrix; true ALE actions are mapped to movement classes (stay / left / right) from their meanings;
- per-action movement consistency Δ-MSE: the variance of the paddle's horizontal movement within each inferred
  action, averaged over actions (paddle found by its colour on the paddle rows);
- rollouts of ``--rollout-length`` steps driven by the actions inferred from real test video (zero variability)
  after ``--context`` real frames (paper: 4): PSNR and SSIM per step against the real frames, and those of a
  copy-last-frame baseline;
- paddle detection ADD (mean |x_generated - x_real| in model pixels) and MDR (missed detections / real detections);
- reward-head precision and recall (predicted reward > 0.5 vs real reward > 0) on teacher-forced test steps;
- playability: from held-out real start frames, hold each learned action for ``--hold`` steps and measure the
  paddle displacement; the play keymap (which action moves left, right, stays) is derived from it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from world_models.data.pvg_format import SequenceSampler, Video, read_info, read_split
from world_models.layers.ssim import ssim
from world_models.pvg.model import PVGModel, to_uint8

PADDLE_RED = np.array([200, 72, 72], dtype=np.float32)


def movement_classes(info: dict, actions: np.ndarray) -> np.ndarray:
    """True ALE actions -> movement classes (0 stay, 1 left, 2 right) from the action meanings, else unchanged."""
    meanings = info.get("action_meanings")
    if not meanings:
        return np.asarray(actions)
    table = np.array([1 if "LEFT" in m else 2 if "RIGHT" in m else 0 for m in meanings])
    return table[np.clip(actions, 0, len(table) - 1)]


MOVEMENT_NAMES = ("stay", "left", "right")


def paddle_x(frames: np.ndarray, tolerance: float = 60.0) -> np.ndarray:
    """Horizontal paddle centre (model pixels) of uint8 frames (N, H, W, 3) at any Breakout resolution, NaN if absent.

    The paddle is found by its red colour on the rows of the raw frame's paddle (189..192 of 208), excluding the
    side walls (8 of 160 raw columns each side).
    """
    n, h, w = frames.shape[:3]
    r0, r1 = int(np.floor(189 * h / 208)), int(np.ceil(193 * h / 208))
    c0, c1 = int(np.ceil(8 * w / 160)), int(np.floor(152 * w / 160))
    band = frames[:, r0:r1, c0:c1].astype(np.float32)
    distance = np.linalg.norm(band - PADDLE_RED, axis=-1)  # (N, rows, cols)
    mask = (distance < tolerance).any(axis=1)  # (N, cols)
    out = np.full(n, np.nan, dtype=np.float64)
    for i in range(n):
        cols = np.nonzero(mask[i])[0]
        if len(cols) >= max(1, w // 80):
            out[i] = cols.mean() + c0
    return out


def hungarian_agreement(predicted: np.ndarray, true: np.ndarray, num_pred: int, num_true: int) -> tuple[float, np.ndarray, dict]:
    """Best one-to-one matching of learned to true classes; returns (agreement, confusion, mapping learned->true)."""
    from scipy.optimize import linear_sum_assignment

    confusion = np.zeros((num_pred, num_true), dtype=np.int64)
    np.add.at(confusion, (predicted, true), 1)
    rows, cols = linear_sum_assignment(-confusion)
    agreement = confusion[rows, cols].sum() / max(confusion.sum(), 1)
    return float(agreement), confusion, {int(r): int(c) for r, c in zip(rows, cols, strict=True)}


@torch.no_grad()
def infer_video_actions(model: PVGModel, video: Video, chunk: int = 128) -> np.ndarray:
    """Argmax learned action between each pair of consecutive frames of ``video`` (direction means, no noise)."""
    c = model.config
    sampler = SequenceSampler([video], skip=0, stack=c.frames_per_observation)
    obs = sampler.get([(0, 0)], len(video.frames))["observations"][0]  # (N, S, H, W, 3)
    means = []
    for start in range(0, len(obs), chunk):
        x = model.prepare_frames(obs[start : start + chunk])
        states, attention = model.representation_network(x)
        mean, _ = model.action_network.frame_gaussians(states, attention)
        means.append(mean)
    mean = torch.cat(means)
    logits = model.action_network.final_fc(mean[1:] - mean[:-1])
    return logits.argmax(-1).cpu().numpy()


def action_agreement(model: PVGModel, videos: list[Video], info: dict, max_transitions: int | None = None) -> dict:
    """Hungarian-matched agreement between learned and true movement actions on held-out transitions."""
    if info.get("game") == "Tennis":
        from world_models.pvg.tennis import tennis_action_agreement

        return tennis_action_agreement(model, videos, info, max_transitions)
    predicted, true, dx = [], [], []
    for video in videos:
        frames = video.frames if max_transitions is None else video.frames[: max_transitions + 1]
        clipped = Video(frames, video.actions[: len(frames)], video.rewards[: len(frames)], video.dones[: len(frames)])
        predicted.append(infer_video_actions(model, clipped))
        true.append(movement_classes(info, clipped.actions[:-1]))
        x = paddle_x(frames)
        dx.append(x[1:] - x[:-1])
        # Transitions across a lost life or the episode end are kept: the model must handle them too.
    predicted, true, dx = np.concatenate(predicted), np.concatenate(true), np.concatenate(dx)
    num_true = int(max(true.max() + 1, 3 if info.get("action_meanings") else 0))
    agreement, confusion, mapping = hungarian_agreement(predicted, true, model.config.num_actions, num_true)
    per_action = {}
    variances = []
    for k in range(model.config.num_actions):
        values = dx[(predicted == k) & np.isfinite(dx)]
        per_action[k] = {"count": int((predicted == k).sum()), "mean_dx": float(values.mean()) if len(values) else None,
                         "var_dx": float(values.var()) if len(values) else None}
        if len(values):
            variances.append(values.var())
    return {
        "agreement": agreement,
        "transitions": int(len(true)),
        "confusion": confusion.tolist(),
        "mapping_learned_to_true": mapping,
        "delta_mse": float(np.mean(variances)) if variances else None,
        "per_action_movement": per_action,
    }


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR per image of [0, 1] images (N, 3, H, W)."""
    mse = ((a - b) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return 10 * torch.log10(1.0 / mse)


@torch.no_grad()
def rollout_metrics(
    model: PVGModel, videos: list[Video], length: int, max_clips: int, generator: torch.Generator, context: int = 4
) -> dict:
    """Rollouts driven by actions inferred from real test clips; PSNR/SSIM vs copy-last-frame, paddle ADD/MDR.

    As in the paper's evaluation, the first ``context`` observations are real (they warm up the ConvLSTM memory);
    then ``length`` frames are generated autoregressively and compared with the real ones. The baseline copies the
    last real context frame.
    """
    c = model.config
    total = context + length
    sampler = SequenceSampler(videos, skip=0, stack=c.frames_per_observation)
    pairs = []
    for v, video in enumerate(videos):
        pairs += [(v, s) for s in range(0, len(video.frames) - total, total)]
    index = torch.randperm(len(pairs), generator=generator)[:max_clips].tolist()
    pairs = [pairs[i] for i in sorted(index)]
    psnr_model, psnr_copy, ssim_model, ssim_copy, add, missed, real_det = [], [], [], [], [], 0, 0
    for start in range(0, len(pairs), 16):
        batch = sampler.get(pairs[start : start + 16], total)
        b = len(batch["observations"])
        obs = model.prepare_frames(batch["observations"].flatten(0, 1)).view(b, total, -1, c.height, c.width)
        actions = model.infer_actions(obs)
        one_hot = F.one_hot(actions.logits.argmax(-1), c.num_actions).float()
        current, memory, generated = obs[:, 0], None, []
        for t in range(total - 1):
            frame, _, memory = model.step_frames(current, memory, one_hot[:, t])
            if t + 1 < context:
                current = obs[:, t + 1]  # teacher-forced context
                continue
            generated.append(frame)
            current = torch.cat([frame, current[:, :-3]], 1) if current.shape[1] > 3 else frame
        generated = (torch.stack(generated, 1) + 1) / 2  # (B, length, 3, H, W)
        real = (obs[:, context:, :3] + 1) / 2
        copy = ((obs[:, context - 1 : context, :3] + 1) / 2).expand_as(real)
        gen_q = to_uint8(generated * 2 - 1).movedim(-1, -3).float() / 255  # quantised as the environment shows them
        psnr_model.append(psnr(gen_q.flatten(0, 1), real.flatten(0, 1)).view(b, -1))
        psnr_copy.append(psnr(copy.flatten(0, 1), real.flatten(0, 1)).view(b, -1))
        ssim_model.append(ssim(gen_q.flatten(0, 1), real.flatten(0, 1), reduction="none").view(b, -1))
        ssim_copy.append(ssim(copy.flatten(0, 1), real.flatten(0, 1), reduction="none").view(b, -1))
        x_gen = paddle_x(to_uint8(generated * 2 - 1).flatten(0, 1).cpu().numpy())
        x_real = paddle_x(to_uint8(real * 2 - 1).flatten(0, 1).cpu().numpy())
        seen = np.isfinite(x_real)
        real_det += int(seen.sum())
        missed += int((seen & ~np.isfinite(x_gen)).sum())
        both = seen & np.isfinite(x_gen)
        add += list(np.abs(x_gen[both] - x_real[both]))
    pm, pc = torch.cat(psnr_model).cpu(), torch.cat(psnr_copy).cpu()
    sm, sc = torch.cat(ssim_model).cpu(), torch.cat(ssim_copy).cpu()
    return {
        "clips": int(pm.shape[0]),
        "context": context,
        "length": length,
        "psnr": float(pm.mean()),
        "psnr_copy_last_frame": float(pc.mean()),
        "ssim": float(sm.mean()),
        "ssim_copy_last_frame": float(sc.mean()),
        "psnr_per_step": pm.mean(0).tolist(),
        "psnr_copy_per_step": pc.mean(0).tolist(),
        "ssim_per_step": sm.mean(0).tolist(),
        "ssim_copy_per_step": sc.mean(0).tolist(),
        "paddle_add_pixels": float(np.mean(add)) if add else None,
        "paddle_mdr": missed / max(real_det, 1),
        "paddle_real_detections": real_det,
    }


@torch.no_grad()
def reward_metrics(model: PVGModel, videos: list[Video], length: int = 8, max_clips: int = 256) -> dict:
    """Precision/recall of the reward head (teacher-forced, true actions inferred from video)."""
    c = model.config
    sampler = SequenceSampler(videos, skip=0, stack=c.frames_per_observation)
    pairs = [(v, s) for v, video in enumerate(videos) for s in range(0, len(video.frames) - length, length - 1)][:max_clips]
    predicted, true = [], []
    for start in range(0, len(pairs), 16):
        batch = sampler.get(pairs[start : start + 16], length)
        b = len(batch["observations"])
        obs = model.prepare_frames(batch["observations"].flatten(0, 1)).view(b, length, -1, c.height, c.width)
        states, attention = model.encode(obs)
        act = model.action_network(states, attention, generator=None)
        one_hot = F.one_hot(act.logits.argmax(-1), c.num_actions).float()
        memory = None
        for t in range(length - 1):
            zero = torch.zeros(b, c.action_space_dim, device=states.device)
            hidden, memory = model.dynamics_network(states[:, t], one_hot[:, t], zero, memory)
            predicted.append(model.reward_head(hidden).cpu().numpy())
            true.append(batch["rewards"][:, t + 1].numpy())
    predicted, true = np.concatenate(predicted) > 0.5, np.concatenate(true) > 0
    tp = int((predicted & true).sum())
    return {
        "precision": tp / max(int(predicted.sum()), 1),
        "recall": tp / max(int(true.sum()), 1),
        "positives": int(true.sum()),
        "predicted_positives": int(predicted.sum()),
        "steps": int(len(true)),
    }


@torch.no_grad()
def playability(model: PVGModel, start_frames: torch.Tensor, hold: int = 8, threshold: float = 2.0) -> dict:
    """Hold each learned action ``hold`` steps from every start frame; paddle displacement decides the keymap.

    An action "moves left" at a start when the paddle ends ``threshold`` model pixels (or more) left of where it
    began (scaled to the model width: 2 px at 80 wide), "right" likewise, "stays" when it moved less than that.
    """
    c = model.config
    n = len(start_frames)
    generator = torch.Generator().manual_seed(0)
    threshold = threshold * c.width / 80
    results = {}
    x0 = paddle_x(start_frames.cpu().numpy())
    for k in range(c.num_actions):
        state = model.initial_state(n, generator=generator, context=_context(start_frames))
        action = torch.full((n, 1), k, dtype=torch.long)
        for _ in range(hold):
            state, _ = model.step(state, action, generator=generator)
        x1 = paddle_x(state["frame"].cpu().numpy())
        moved = x1 - x0
        valid = np.isfinite(moved)
        results[k] = {
            "left": float(((moved < -threshold) & valid).mean()),
            "right": float(((moved > threshold) & valid).mean()),
            "stay": float(((np.abs(moved) <= threshold) & valid).mean()),
            "mean_dx": float(np.nanmean(moved)) if valid.any() else None,
            "paddle_found": float(valid.mean()),
        }
    keymap = derive_keymap(results)
    best = {m: max(results[k][m] for k in results) for m in MOVEMENT_NAMES}
    return {"starts": n, "hold": hold, "threshold_pixels": threshold, "per_action": results, "keymap": keymap,
            "best_fraction": best, "assigned_fraction": {m: results[k][m] for m, k in keymap.items()}}


def _context(frames: torch.Tensor):
    from tensordict import TensorDict

    return TensorDict({"frames": frames}, batch_size=[len(frames)])


def derive_keymap(per_action: dict) -> dict:
    """Assign each movement (stay, left, right) to a distinct learned action maximising the consistency fractions."""
    from scipy.optimize import linear_sum_assignment

    actions = sorted(per_action)
    score = np.array([[per_action[k][m] for m in MOVEMENT_NAMES] for k in actions])
    rows, cols = linear_sum_assignment(-score)
    return {MOVEMENT_NAMES[c]: int(actions[r]) for r, c in zip(rows, cols, strict=True)}


def plot_results(metrics: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    roll = metrics["rollout"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    steps = np.arange(1, len(roll["psnr_per_step"]) + 1)
    axes[0].plot(steps, roll["psnr_per_step"], label="PVG")
    axes[0].plot(steps, roll["psnr_copy_per_step"], label="copy last frame")
    axes[0].set(xlabel="step", ylabel="PSNR (dB)", title="rollout PSNR")
    axes[0].legend()
    axes[1].plot(steps, roll["ssim_per_step"], label="PVG")
    axes[1].plot(steps, roll["ssim_copy_per_step"], label="copy last frame")
    axes[1].set(xlabel="step", ylabel="SSIM", title="rollout SSIM")
    axes[1].legend()
    confusion = np.array(metrics["actions"]["confusion"])
    axes[2].imshow(confusion, cmap="viridis")
    names = metrics["actions"].get("true_classes", MOVEMENT_NAMES)
    axes[2].set(xlabel=f"true movement ({', '.join(names)})", ylabel="learned action",
                title=f"agreement {metrics['actions']['agreement']:.3f}")
    for (i, j), v in np.ndenumerate(confusion):
        axes[2].text(j, i, str(v), ha="center", va="center", color="w")
    fig.tight_layout()
    fig.savefig(out / "eval.png", dpi=100)
    plt.close(fig)
    play = metrics.get("playability")
    if play:
        fig, ax = plt.subplots(figsize=(6, 4))
        ks = sorted(play["per_action"], key=int)
        movements = list(play["keymap"])
        width = 0.8 / len(movements)
        for i, m in enumerate(movements):
            ax.bar(np.arange(len(ks)) + width * i, [play["per_action"][k][m] for k in ks], width=width, label=m)
        ax.set(xticks=np.arange(len(ks)) + 0.4 - width / 2, xticklabels=[f"action {k}" for k in ks], ylabel="fraction of starts",
               title=f"holding an action {play['hold']} steps")
        ax.axhline(0.9, color="k", ls="--", lw=1)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "playability.png", dpi=100)
        plt.close(fig)


def evaluate(model: PVGModel, data: str, *, rollout_length: int = 16, max_clips: int = 128, starts: int = 20,
             hold: int = 8, split: str = "test", max_videos: int | None = None, context: int = 4) -> dict:
    """All metrics of one model on one dataset split."""
    c = model.config
    info = read_info(data)
    if info.get("game") == "Tennis":
        from world_models.pvg.tennis import evaluate_tennis

        return evaluate_tennis(model, data, info, rollout_length=rollout_length, max_clips=max_clips, starts=starts,
                               hold=hold, split=split, max_videos=max_videos, context=context)
    videos = read_split(data, split, size_hw=(c.height, c.width), crop=c.crop, max_videos=max_videos)
    generator = torch.Generator().manual_seed(0)
    metrics = {"split": split, "videos": len(videos), "frames": int(sum(len(v.frames) for v in videos))}
    metrics["actions"] = action_agreement(model, videos, info)
    metrics["rollout"] = rollout_metrics(model, videos, rollout_length, max_clips, generator, context=context)
    metrics["reward"] = reward_metrics(model, videos)
    picks = torch.randperm(sum(len(v.frames) for v in videos), generator=generator)[:starts].sort().values.tolist()
    flat = np.concatenate([v.frames for v in videos])
    metrics["playability"] = playability(model, torch.from_numpy(flat[picks]), hold=hold)
    return metrics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="PVG checkpoint (.safetensors) to evaluate")
    parser.add_argument("--data", required=True, help="PVG-format dataset folder")
    parser.add_argument("--out", required=True, help="folder for metrics.json and plots")
    parser.add_argument("--split", default="test", help="dataset split to evaluate on")
    parser.add_argument("--rollout-length", type=int, default=16, help="generated frames per rollout clip")
    parser.add_argument("--context", type=int, default=4, help="real frames that start each rollout (paper: 4)")
    parser.add_argument("--max-clips", type=int, default=128, help="rollout clips to evaluate")
    parser.add_argument("--starts", type=int, default=20, help="held-out start frames for the playability test")
    parser.add_argument("--hold", type=int, default=8, help="steps each learned action is held in the playability test")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument(
        "--export",
        default=None,
        help="also write a release checkpoint here (e.g. world_models/checkpoints/pvg_breakout_small) with the derived "
        "play keymap, the commands that reproduce it, and --ship-frames held-out start frames as extras",
    )
    parser.add_argument("--ship-frames", type=int, default=24, help="held-out start frames shipped with --export")


def run(args: argparse.Namespace) -> int:
    from world_models.zoo import load_model

    torch.set_num_threads(args.threads)
    model, header, _ = load_model(args.checkpoint, family="pvg")
    metrics = evaluate(model, args.data, rollout_length=args.rollout_length, max_clips=args.max_clips,
                       starts=args.starts, hold=args.hold, split=args.split, context=args.context)
    metrics["checkpoint"] = str(args.checkpoint)
    metrics["steps_trained"] = header.get("info", {}).get("steps_trained")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plot_results(metrics, out)
    summary = {
        "game": metrics.get("game", "Breakout"),
        "action_agreement": metrics["actions"]["agreement"],
        "delta_mse": metrics["actions"]["delta_mse"],
        "psnr": metrics["rollout"]["psnr"],
        "psnr_copy_last_frame": metrics["rollout"]["psnr_copy_last_frame"],
        "ssim": metrics["rollout"]["ssim"],
        "paddle_add": metrics["rollout"].get("paddle_add_pixels"),
        "paddle_mdr": metrics["rollout"].get("paddle_mdr"),
        "reward_precision": metrics["reward"]["precision"],
        "reward_recall": metrics["reward"]["recall"],
        "keymap": metrics["playability"]["keymap"],
        "playability": metrics["playability"]["assigned_fraction"],
    }
    if metrics.get("game") == "Tennis":
        for key in ("paddle_add", "paddle_mdr"):
            summary.pop(key)
        summary["action_agreement_directions"] = metrics["actions"]["agreement_directions"]
        summary["majority_baseline"] = metrics["actions"]["majority_baseline"]
        summary["delta_mse_single_action_baseline"] = metrics["actions"]["delta_mse_single_action_baseline"]
        summary["delta_mse_pixels"] = metrics["actions"]["delta_mse_pixels"]
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    if args.export:
        path = export(model, header, args, metrics, summary)
        print(f"exported {path}")
    return 0


def export(model: PVGModel, header: dict, args: argparse.Namespace, metrics: dict, summary: dict) -> Path:
    """Write the release checkpoint: weights, derived keymap, reproduction commands, held-out start frames."""
    from world_models.zoo import save_model

    c = model.config
    info = read_info(args.data)
    videos = read_split(args.data, args.split, size_hw=(c.height, c.width), crop=c.crop)
    flat = np.concatenate([v.frames for v in videos])
    picks = torch.randperm(len(flat), generator=torch.Generator().manual_seed(1))[: args.ship_frames].sort().values
    trained = header.get("info", {})
    tennis = info.get("game") == "Tennis"
    release_info = {
        "description": "PVG (CADDY) trained without action labels on tennis engine broadcast video cropped to the near "
        "half of the court (PVG-Tennis)" if tennis else
        "PVG (CADDY) trained without action labels on ALE Breakout videos recorded by this suite",
        "command": trained.get("command"),
        "steps_trained": trained.get("steps_trained"),
        **({"continued_from": trained["continued_from"]} if "continued_from" in trained else {}),
        "validation": trained.get("validation"),
        "dataset_command": info.get("command"),
        "dataset": {k: info.get(k) for k in (
            ("game", "fps", "stride", "episodes", "movement_names", "direction_names", "stats") if tennis
            else ("game", "frameskip", "episodes", "action_meanings", "stats"))},
        "export_command": "python -m world_models eval pvg " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("group", "name") and v is not None
        ),
        "keymap": metrics["playability"]["keymap"],
        "keymap_note": f"learned action index for each {'player' if tennis else 'paddle'} movement, derived by holding each action "
        f"{args.hold} steps from held-out {args.split} frames (evaluate.playability)",
        "eval": summary,
        "start_frames": f"{len(picks)} frames of the held-out {args.split} split",
    }
    return save_model(args.export, model, info=release_info, extras={"start_frames": torch.from_numpy(flat[picks.numpy()])})
