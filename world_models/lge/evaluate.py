"""``python -m world_models eval lge``: judge the animation model with the engine's referee.

On held-out engine points (indices beyond any used in training) it measures, for the model and for the engine
itself (the ceiling, read by the same referee at the model's frame rate):

- **text adherence**: from the frames before a shot, generate the rest with the players' captions; does the
  striker's generated shot have the captioned type, and does the ball land in the captioned area? Again with the
  striker's caption replaced by a phrasing the engine never uses (`paraphrases`).
- **physical plausibility**: residual of a constant-acceleration fit of each ball flight between contacts, and
  player ground speeds against the engine's limit.
- **director's mode**: given the first and the last state of a held-out stretch, the error of the generated
  endpoints and the size of the last generated step (a model that teleports to a constraint shows a jump).

Writes ``OUT/lge_eval.json`` and ``OUT/lge_eval.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from world_models.core.command import command_line
from world_models.engines.tennis import layout
from world_models.engines.tennis.court import TARGET_AREAS, opponent, side_sign
from world_models.engines.tennis.referee import judge
from world_models.engines.tennis.sequence import generate
from world_models.lge.director import Constraint, TextSpan, direct
from world_models.lge.objects import OBJECTS
from world_models.lge.paraphrases import paraphrase
from world_models.lge.world import LGEWorldModel

PLAYER_SPEED_LIMIT = 6.5
"""The engine players' top speed (m/s, `players.Player.max_speed`)."""
APPROACH = 3
"""Model frames generated before the shot's contact frame."""
AFTER_SECONDS = 2.8
"""Seconds generated after the context: enough for the ball to land (the engine's slowest shots, lobs, fly for up
to 2.6 s; until session 12 it was 1.6 s, in which 6% of the engine's own shots had not landed)."""


LAUNCH_FRAMES = 4
"""Frames after a contact over which a shot's launch speed is read."""


def _shot_outcome(
    states: np.ndarray, player: str, after: int, fps: float
) -> tuple[str | None, tuple[float, float] | None, float | None]:
    """The first shot ``player`` plays at or after frame ``after``, where the ball next bounces, and the ball's
    mean speed over the `LAUNCH_FRAMES` after the contact (m/s; None when they are not all there)."""
    j = judge(states, fps)
    hit = next((h for h in j.hits if h.player == player and h.frame >= after), None)
    if hit is None:
        return None, None, None
    bounce = next((b for b in j.bounces if b.frame > hit.frame), None)
    flight = states[hit.frame + 1 : hit.frame + 2 + LAUNCH_FRAMES, layout.SLICES["ball.position"]]
    speed = None
    if len(flight) > LAUNCH_FRAMES:
        speed = float(np.linalg.norm(np.diff(flight, axis=0), axis=1).mean() * fps)
    return hit.shot, (None if bounce is None else (bounce.x, bounce.y)), speed


def _adherent(shot: str | None, landing, want_shot: str, area: str, player: str) -> tuple[bool, bool]:
    in_area = landing is not None and TARGET_AREAS[area].contains(opponent(player), landing[0], landing[1])
    return shot == want_shot, bool(in_area)


MISS_KINDS = ("in_area", "wide", "depth", "wide_and_depth", "no_landing")


def _miss_kind(landing, area: str, player: str) -> str:
    """Where a shot's landing misses its captioned area: across (wide), along (depth), both, or not at all."""
    if landing is None:
        return "no_landing"
    x0, x1, y0, y1 = TARGET_AREAS[area].rect(opponent(player))
    wide, deep = not x0 <= landing[0] <= x1, not y0 <= landing[1] <= y1
    return ("wide_and_depth" if deep else "wide") if wide else ("depth" if deep else "in_area")


def _depth(landing, player: str) -> float | None:
    """How far beyond the net (m) a shot of ``player`` landed."""
    return None if landing is None else float(side_sign(opponent(player)) * landing[1])


def _flight_residuals(states: np.ndarray, start: int, fps: float) -> list[float]:
    """RMS residual (m) of a constant-acceleration fit to each ball flight (>= 5 frames) after ``start``."""
    j = judge(states, fps)
    cuts = sorted({start} | {h.frame for h in j.hits if h.frame > start} | {b.frame for b in j.bounces if b.frame > start}
                  | {len(states) - 1})  # fmt: skip
    ball = states[:, layout.SLICES["ball.position"]]
    out = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        a, b = a + 1, b - 1  # contact frames themselves belong to two flights
        if b - a + 1 < 5:
            continue
        t = np.arange(a, b + 1, dtype=np.float64)
        design = np.stack([np.ones_like(t), t, t * t], axis=1)
        fit, *_ = np.linalg.lstsq(design, ball[a : b + 1], rcond=None)
        out.append(float(np.sqrt(np.mean((design @ fit - ball[a : b + 1]) ** 2))))
    return out


def _spans(captions: list, w0: int, frames: int, striker: int, hit_caption: str, replacement: str | None) -> list:
    """Both players' captions over the generated frames; the striker's shot caption replaced when asked."""
    spans = []
    for f in range(frames):
        pair = captions[min(w0 + f, len(captions) - 1)]
        for i, player in enumerate(("bottom", "top")):
            text = replacement if replacement is not None and i == striker and pair[i] == hit_caption else pair[i]
            spans.append(TextSpan(player, f, f + 1, text))
    return spans


def mirrored(text: str) -> str:
    """``text`` with "left" and "right" swapped (a corner shot's caption sent to the other corner)."""
    return re.sub(r"\b(left|right)\b", lambda m: "right" if m.group(1) == "left" else "left", text)


MIRRORED_AREAS = ("left_corner", "right_corner")
"""Shots whose caption the mirror test sends to the other side: same context, same noise, mirrored words."""


def _speeds(states: np.ndarray, fps: float) -> np.ndarray:
    speeds = []
    for p in ("bottom", "top"):
        root = states[:, layout.SLICES[f"{p}.root"]]
        speeds.append(np.linalg.norm(np.diff(root, axis=0), axis=1) * fps)
    return np.concatenate(speeds)


def evaluate(
    model: LGEWorldModel,
    encoder,
    *,
    points: int,
    seed: int,
    first_index: int,
    generator: torch.Generator,
    director_cases: int = 20,
) -> dict[str, Any]:
    c = model.config
    stride, fps = c.frame_stride, 25.0 / c.frame_stride
    counts = {k: [] for k in ("model_shot", "model_target", "model_para_shot", "model_para_target",
                              "engine_shot", "engine_target")}  # fmt: skip
    misses = {who: dict.fromkeys(MISS_KINDS, 0) for who in ("model", "engine")}
    launch, depth = {"model": [], "engine": []}, {"model": [], "engine": []}  # per shot, None when not seen
    residual_model, residual_engine, speed_model, speed_engine = [], [], [], []
    director = {"endpoint_error_m": [], "last_step_m": [], "engine_last_step_m": []}
    mirror_shift, mirror_missing = [], 0
    for index in tqdm(range(first_index, first_index + points), desc="held-out points", unit="point"):
        point = generate(seed, index, render=False)
        gt = point.vectors()[::stride]
        captions = [[point.captions[p][t] for p in ("bottom", "top")] for t in range(0, len(point.states), stride)]
        for shot in point.engine.shots:
            if shot.shot == "serve" or shot.command.outcome != "play" or shot.area not in TARGET_AREAS:
                continue
            hit = shot.frame // stride
            w0 = hit - c.context - APPROACH
            if w0 < 0 or hit + 2 >= len(gt):
                continue
            frames = c.context + int(AFTER_SECONDS * fps)
            constraints = [Constraint(f, o, "state", tuple(gt[w0 + f])) for f in range(1, c.context) for o in OBJECTS]
            truth = np.concatenate([gt[: w0 + frames]])
            e_shot, e_land, e_speed = _shot_outcome(truth, shot.player, w0 + c.context, fps)
            a, b = _adherent(e_shot, e_land, shot.shot, shot.area, shot.player)
            counts["engine_shot"].append(a)
            counts["engine_target"].append(b)
            misses["engine"][_miss_kind(e_land, shot.area, shot.player)] += 1
            launch["engine"].append(e_speed)
            depth["engine"].append(_depth(e_land, shot.player))
            striker = ("bottom", "top").index(shot.player)
            hit_caption = captions[hit][striker]
            for variant in ("", "para_"):
                replacement = paraphrase(shot.player, shot.shot, shot.area) if variant else None
                spans = _spans(captions, w0, frames, striker, hit_caption, replacement)
                generated = direct(model, encoder, torch.as_tensor(gt[w0]), frames=frames, generator=generator,
                                   text=spans, constraints=constraints).cpu().numpy()  # fmt: skip
                full = np.concatenate([gt[:w0], generated])
                m_shot, m_land, m_speed = _shot_outcome(full, shot.player, w0 + c.context, fps)
                a, b = _adherent(m_shot, m_land, shot.shot, shot.area, shot.player)
                counts[f"model_{variant}shot"].append(a)
                counts[f"model_{variant}target"].append(b)
                if not variant:
                    misses["model"][_miss_kind(m_land, shot.area, shot.player)] += 1
                    launch["model"].append(m_speed)
                    depth["model"].append(_depth(m_land, shot.player))
                    residual_model += _flight_residuals(full, w0 + c.context, fps)
                    residual_engine += _flight_residuals(truth, w0 + c.context, fps)
                    speed_model.append(_speeds(generated[c.context - 1 :], fps))
                    speed_engine.append(_speeds(truth[w0 + c.context - 1 :], fps))
            if shot.area in MIRRORED_AREAS:
                # Its own generator, the same for both captions: only the words differ, and the other metrics'
                # draws are those of an evaluation without this test.
                landings = []
                for replacement in (None, mirrored(hit_caption)):
                    own = torch.Generator().manual_seed(index * 1000 + shot.frame)
                    spans = _spans(captions, w0, frames, striker, hit_caption, replacement)
                    generated = direct(model, encoder, torch.as_tensor(gt[w0]), frames=frames, generator=own,
                                       text=spans, constraints=constraints).cpu().numpy()  # fmt: skip
                    landings.append(_shot_outcome(np.concatenate([gt[:w0], generated]), shot.player, w0 + c.context, fps)[1])
                if None in landings:
                    mirror_missing += 1
                else:
                    toward = 1.0 if shot.area == "right_corner" else -1.0  # world x grows to the right on both halves
                    mirror_shift.append(toward * (landings[0][0] - landings[1][0]))
        if len(director["endpoint_error_m"]) < director_cases and len(gt) >= 31:
            length = 30
            a0 = (len(gt) - length) // 2
            seg = gt[a0 : a0 + length]
            cons = [Constraint(length - 1, o, "state", tuple(seg[-1])) for o in OBJECTS]
            spans = [
                TextSpan(p, f, f + 1, captions[a0 + f][i])
                for f in range(length)
                for i, p in enumerate(("bottom", "top"))
            ]
            out = direct(model, encoder, torch.as_tensor(seg[0]), frames=length, generator=generator, text=spans,
                         constraints=cons).cpu().numpy()  # fmt: skip
            err = max(np.linalg.norm(out[e, layout.SLICES[f"{p}.root"]] - seg[e, layout.SLICES[f"{p}.root"]])
                      for e in (0, -1) for p in ("bottom", "top"))  # fmt: skip
            director["endpoint_error_m"].append(float(err))
            director["last_step_m"].append(float(max(np.linalg.norm(out[-1, layout.SLICES[f"{p}.root"]]
                                                                   - out[-2, layout.SLICES[f"{p}.root"]]) for p in ("bottom", "top"))))  # fmt: skip
            director["engine_last_step_m"].append(float(max(np.linalg.norm(seg[-1, layout.SLICES[f"{p}.root"]]
                                                                          - seg[-2, layout.SLICES[f"{p}.root"]]) for p in ("bottom", "top"))))  # fmt: skip

    def rate(values: list[bool]) -> float | None:
        return float(np.mean(values)) if values else None

    def median(values: list[float | None]) -> float | None:
        seen = [v for v in values if v is not None]
        return float(np.median(seen)) if seen else None

    speeds_m = np.concatenate(speed_model) if speed_model else np.zeros(0)
    speeds_e = np.concatenate(speed_engine) if speed_engine else np.zeros(0)
    return {
        "shots_evaluated": len(counts["engine_shot"]),
        "text_adherence": {
            "model": {"shot_type": rate(counts["model_shot"]), "target_area": rate(counts["model_target"])},
            "model_unseen_phrasing": {
                "shot_type": rate(counts["model_para_shot"]),
                "target_area": rate(counts["model_para_target"]),
            },
            "engine": {"shot_type": rate(counts["engine_shot"]), "target_area": rate(counts["engine_target"])},
        },
        "landing_misses": misses
        | {"note": "shots by where the ball landed against the captioned area: inside it, wide of it (across), "
                   "outside its depth range, both, or no landing in the generated frames"},
        "launches": {
            f"{who}_{name}": median(values[who])
            for name, values in (("launch_speed_m_s_median", launch), ("landing_depth_m_median", depth))
            for who in ("model", "engine")
        }
        | {"note": "the evaluated shots' ball speed over the frames after the contact, and how far beyond the net "
                   "they landed (medians over the shots where each was seen)"},
        "mirror_test": {
            "shots": len(mirror_shift),
            "without_landing": mirror_missing,
            "mean_shift_toward_caption_m": float(np.mean(mirror_shift)) if mirror_shift else None,
            "fraction_toward_caption": float(np.mean(np.array(mirror_shift) > 0)) if mirror_shift else None,
            "corner_centres_apart_m": float(np.mean(TARGET_AREAS["right_corner"].x) - np.mean(TARGET_AREAS["left_corner"].x)),
            "note": "corner shots generated twice from the same context and noise, with the caption and with left and "
                    "right swapped; how far (m) the ball lands towards the captioned side",
        },
        "ball_flight_fit_rms_m": {
            "model_median": float(np.median(residual_model)) if residual_model else None,
            "model_p90": float(np.percentile(residual_model, 90)) if residual_model else None,
            "engine_median": float(np.median(residual_engine)) if residual_engine else None,
            "engine_p90": float(np.percentile(residual_engine, 90)) if residual_engine else None,
            "flights": len(residual_model),
        },
        "player_speed_m_s": {
            "limit": PLAYER_SPEED_LIMIT,
            "model_max": float(speeds_m.max()) if len(speeds_m) else None,
            "model_p99": float(np.percentile(speeds_m, 99)) if len(speeds_m) else None,
            "model_fraction_over_limit": float(np.mean(speeds_m > PLAYER_SPEED_LIMIT * 1.05))
            if len(speeds_m)
            else None,
            "engine_max": float(speeds_e.max()) if len(speeds_e) else None,
        },
        "director": {k: (float(np.mean(v)) if v else None) for k, v in director.items()}
        | {"cases": len(director["endpoint_error_m"])},
        "_raw": {
            "residual_model": residual_model,
            "residual_engine": residual_engine,
            "speeds_model": speeds_m.tolist(),
            "speeds_engine": speeds_e.tolist(),
        },
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    ta = result["text_adherence"]
    names = ["model", "model_unseen_phrasing", "engine"]
    x = np.arange(len(names))
    for k, (key, label) in enumerate((("shot_type", "shot type"), ("target_area", "target area"))):
        axes[0].bar(x + 0.35 * k, [ta[n][key] or 0 for n in names], 0.35, label=label)
    axes[0].set_xticks(x + 0.175, ["model", "model, unseen\nphrasing", "engine"])
    axes[0].set_ylim(0, 1)
    axes[0].axhline(0.8, color="grey", ls="--", lw=0.8)
    mirror = result["mirror_test"]
    title = f"text adherence ({result['shots_evaluated']} shots)"
    if mirror["mean_shift_toward_caption_m"] is not None:
        title += f"\nleft/right swapped: lands {mirror['mean_shift_toward_caption_m']:.2f} m of {mirror['corner_centres_apart_m']:.1f} m over"
    axes[0].set_title(title)
    axes[0].legend()
    raw = result["_raw"]
    bins = np.linspace(0, 0.3, 31)
    axes[1].hist(np.clip(raw["residual_model"], 0, 0.3), bins, alpha=0.6, label="model")
    axes[1].hist(np.clip(raw["residual_engine"], 0, 0.3), bins, alpha=0.6, label="engine")
    axes[1].axvline(0.05, color="grey", ls="--", lw=0.8)
    axes[1].set_title("ball flight fit RMS (m)")
    axes[1].legend()
    bins = np.linspace(0, 12, 49)
    axes[2].hist(raw["speeds_model"], bins, alpha=0.6, label="model", density=True)
    axes[2].hist(raw["speeds_engine"], bins, alpha=0.6, label="engine", density=True)
    axes[2].axvline(PLAYER_SPEED_LIMIT, color="grey", ls="--", lw=0.8)
    axes[2].set_title("player ground speed (m/s)")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="LGE checkpoint (.safetensors) or shipped name")
    parser.add_argument("--out", required=True, help="output folder for lge_eval.json and lge_eval.png")
    parser.add_argument("--points", type=int, default=60, help="held-out engine points to evaluate on")
    parser.add_argument("--seed", type=int, default=0, help="engine dataset seed")
    parser.add_argument("--first-index", type=int, default=1_000_000, help="first point index (beyond training)")
    parser.add_argument("--director-cases", type=int, default=20, help="director's-mode cases")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--text-encoder", default=None, help="local Hugging Face encoder folder (default: MiniLM)")
    parser.add_argument("--sample-steps", type=int, default=None, help="DDIM steps (default: the checkpoint's)")
    parser.add_argument("--guidance", type=float, default=None, help="text guidance scale (default: the checkpoint's)")
    parser.add_argument("--eta", type=float, default=None, help="sampler's fresh noise per step (default: the checkpoint's)")
    parser.add_argument("--reach-speed", type=float, default=None,
                        help="m/s: the average speed at which a planned contact's striker may run to meet the ball "
                             "(0: off; default: the checkpoint's)")
    parser.add_argument("--reconcile-weight", type=float, default=None,
                        help="refit positions to the generated velocities with this pull of the generated "
                             "positions (0: integrate; a negative value keeps the raw positions; default: the "
                             "checkpoint's)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from lge_gym.envs.models import resolve_model
    from world_models.core.text import shared_text_encoder

    torch.set_num_threads(args.threads)
    model, header, _ = resolve_model("lge", args.checkpoint, device="cpu")  # the CPU generator drives sampling
    overrides = {k: v for k, v in (("sample_steps", args.sample_steps), ("guidance", args.guidance), ("eta", args.eta),
                                   ("reach_speed", args.reach_speed)) if v is not None}  # fmt: skip
    if args.reconcile_weight is not None:
        overrides["reconcile_weight"] = None if args.reconcile_weight < 0 else args.reconcile_weight
    if overrides:  # sampler settings only: the weights do not depend on them
        config = dataclasses.replace(model.config, **overrides)
        model.config = model.animation.config = config
    encoder = shared_text_encoder(args.text_encoder)
    generator = torch.Generator().manual_seed(args.seed)
    result = evaluate(model, encoder, points=args.points, seed=args.seed, first_index=args.first_index,
                      generator=generator, director_cases=args.director_cases)  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(result, out / "lge_eval.png")
    result.pop("_raw")
    result["checkpoint"] = str(args.checkpoint)
    result["trained_steps"] = header.get("info", {}).get("steps")
    result["sampler"] = {"steps": model.config.sample_steps, "guidance": model.config.guidance, "eta": model.config.eta,
                         "reconcile_weight": model.config.reconcile_weight, "reach_speed": model.config.reach_speed}  # fmt: skip
    result["command"] = command_line(args, "python -m world_models eval lge")
    (out / "lge_eval.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0
