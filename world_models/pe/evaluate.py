"""``python -m world_models eval pe``: how well the PE action module's learned actions, dynamics and the rendering
from a moved camera hold up on held-out engine points. Writes ``metrics.json`` and ``pe_eval.png``.

- **Action agreement**: the action inferred between consecutive held-out frames against the engine's true
  movement class of that player (still, or one of 6 ground directions), after the best one-to-one (Hungarian)
  matching of learned actions to classes, as PVG's evaluation does.
- **Delta-MSE** (the paper's): within-action variance of the true ground movement over its total variance, with
  the inferred actions (lower: each action means one movement).
- **Consistency**: each learned action held for ``--hold`` steps from many held-out start states; per action, the
  mean cosine between each start's displacement and the action's mean displacement, and the Delta-MSE of those
  generated displacements.
- **ADD / MDR**: held-out points re-generated from their start context with the actions inferred from them; the
  players' box centres (projected joints) in the generated states against the engine's, in pixels at 256x144;
  a player is missed when the squared normalised distance is 0.1 or more (the paper's matching threshold).
- **Camera control**: the camera orbits, tilts and zooms during play; the neural render of each frame against the
  engine's render of the same state from the same camera (PSNR).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

from world_models.engines.tennis import layout
from world_models.pe.data import context_frames, objects_of, serve_contexts, true_directions
from world_models.pe.objects import boxes
from world_models.pe.world import PEWorldModel
from world_models.pvg.evaluate import hungarian_agreement
from world_models.render.views import PITCH_STEP, YAW_STEP, ZOOM_STEP, engine_frame, move_camera

TRUE_CLASSES = ("still", "right", "right-up", "left-up", "left", "left-down", "right-down")
"""True movement classes (`data.true_directions` with 6 sectors); up is +y, away from the near camera."""
WIDTH, HEIGHT = 256, 144


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="PE checkpoint (.safetensors or a shipped name)")
    parser.add_argument("--out", required=True, help="folder for metrics.json and pe_eval.png")
    parser.add_argument("--points", type=int, default=60, help="held-out engine points to evaluate on")
    parser.add_argument("--seed", type=int, default=0, help="engine dataset seed of the held-out points")
    parser.add_argument("--first-index", type=int, default=100_000,
                        help="index of the first held-out point (training used indices below --engine-sequences)")  # fmt: skip
    parser.add_argument("--hold", type=int, default=4, help="steps each action is held in the consistency test")
    parser.add_argument("--length", type=int, default=16, help="generated frames per point for ADD/MDR")
    parser.add_argument("--camera-steps", type=int, default=36, help="play steps of the camera-control test")
    parser.add_argument("--camera-points", type=int, default=3, help="held-out points of the camera-control test")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--export", default=None,
                        help="also write the evaluated model as a release checkpoint here (e.g. "
                        "world_models/checkpoints/pe_tennis_small), its info holding the training command, this "
                        "command and the summary")  # fmt: skip


def psnr(mse: float) -> float:
    return -10.0 * math.log10(max(mse, 1e-12))


@torch.no_grad()
def action_agreement(model: PEWorldModel, sequences: list[torch.Tensor]) -> dict:
    """Agreement of inferred actions with true movement classes, and the Delta-MSE of true movements, per player
    (each player has its own animation model, so its own matching of learned actions to classes)."""
    k = model.config.num_actions
    per_player, all_t = {}, []
    for i, name in enumerate(("bottom", "top")):
        predicted, true, moves = [], [], []
        for states in sequences:
            states = states[:: model.config.frame_stride]  # the model's frame rate
            objects = objects_of(states.unsqueeze(0), model.config)  # (1, T, 2, F)
            actions = model.players[i].action_network(objects[:, :, i], generator=None)
            predicted.append(actions.logits[0].argmax(-1).numpy())
            true.append(true_directions(states.numpy(), name, fps=model.fps))
            moves.append(np.diff(states[:, layout.SLICES[f"{name}.root"]].numpy(), axis=0))
        p, t, m = np.concatenate(predicted), np.concatenate(true), np.concatenate(moves)
        agreement, confusion, mapping = hungarian_agreement(p, t, k, len(TRUE_CLASSES))
        moving = t > 0
        # A second, court-aligned truth (still, right, towards +y, left, towards -y): added after the 7-class
        # result showed the learned actions follow the court's axes, which fall on the 6 sectors' boundaries.
        t4 = np.concatenate([true_directions(s[:: model.config.frame_stride].numpy(), name, fps=model.fps, sectors=4)
                             for s in sequences])  # fmt: skip
        per_player[name] = {
            "agreement_court_axes_5_classes": hungarian_agreement(p, t4, k, 5)[0],
            "agreement": agreement,
            "agreement_many_to_one": float(confusion.max(1).sum() / max(confusion.sum(), 1)),
            "agreement_moving_frames_only": hungarian_agreement(p[moving], t[moving], k, len(TRUE_CLASSES))[0],
            "mapping": {str(a): TRUE_CLASSES[c] for a, c in mapping.items()},
            "confusion": confusion.tolist(),
            "delta_mse": delta_mse(m, p, k),
            "transitions": int(len(p)),
        }
        all_t.append(t)
    t = np.concatenate(all_t)
    n = {name: per_player[name]["transitions"] for name in per_player}
    mean = lambda key: sum(per_player[q][key] * n[q] for q in n) / sum(n.values())  # noqa: E731
    return {
        "agreement": mean("agreement"),
        "agreement_many_to_one": mean("agreement_many_to_one"),
        "agreement_moving_frames_only": mean("agreement_moving_frames_only"),
        "agreement_court_axes_5_classes": mean("agreement_court_axes_5_classes"),
        "delta_mse": mean("delta_mse"),
        "transitions": int(len(t)),
        "true_classes": list(TRUE_CLASSES),
        "true_class_share": {TRUE_CLASSES[c]: float((t == c).mean()) for c in range(len(TRUE_CLASSES))},
        "per_player": per_player,
    }


def delta_mse(moves: np.ndarray, actions: np.ndarray, k: int) -> float:
    """Mean within-action variance of ``moves`` (N, 2) over their total variance."""
    total = float(((moves - moves.mean(0)) ** 2).sum(1).mean())
    within = sum(float(((moves[actions == a] - moves[actions == a].mean(0)) ** 2).sum()) for a in range(k)
                 if (actions == a).any())  # fmt: skip
    return within / len(moves) / max(total, 1e-12)


@torch.no_grad()
def consistency(model: PEWorldModel, contexts: torch.Tensor, hold: int) -> dict:
    """Hold each action ``hold`` steps from every start context (the other player takes the least-moving action)."""
    k = model.config.num_actions
    n = len(contexts)
    still = int(model.players[0].centroid_estimator.estimated_centroids.norm(dim=-1).argmin())
    generator = torch.Generator().manual_seed(0)
    starts = contexts.repeat(k, 1, 1)  # action-major rows
    state = model.initial_state(len(starts), generator=generator, context=_context(starts))
    first = state["current"].clone()
    chosen = torch.arange(k).repeat_interleave(n)
    out = {}
    for i, name in enumerate(("bottom", "top")):
        s = state
        actions = torch.full((len(starts), 2), still, dtype=torch.int64)
        actions[:, i] = chosen
        for _ in range(hold):
            s, _ = model.step(s, actions, generator=generator)
        piece = layout.SLICES[f"{name}.root"]
        moves = (s["current"][:, piece] - first[:, piece]).numpy()  # (k * n, 2)
        per_action, cosines = {}, []
        for a in range(k):
            m = moves[chosen.numpy() == a]
            mean = m.mean(0)
            cos = (m @ mean) / (np.linalg.norm(m, axis=1) * np.linalg.norm(mean) + 1e-9)
            cosines.append(float(cos.mean()))
            per_action[str(a)] = {"mean_move_m": [round(float(v), 3) for v in mean],
                                  "mean_cosine": round(float(cos.mean()), 3),
                                  "speed_m_s": round(float(np.linalg.norm(m, axis=1).mean() * model.fps / hold), 3)}  # fmt: skip
        out[name] = {"per_action": per_action, "mean_cosine": float(np.mean(cosines)),
                     "delta_mse": delta_mse(moves, chosen.numpy(), k)}  # fmt: skip
    out["mean_cosine"] = float(np.mean([out[p]["mean_cosine"] for p in ("bottom", "top")]))
    out["delta_mse"] = float(np.mean([out[p]["delta_mse"] for p in ("bottom", "top")]))
    out["starts"], out["hold"] = n, hold
    return out


def _context(frames: torch.Tensor):
    from tensordict import TensorDict

    return TensorDict({"start": frames}, batch_size=[len(frames)])


@torch.no_grad()
def add_mdr(model: PEWorldModel, sequences: list[torch.Tensor], length: int) -> dict:
    """Re-generate each held-out point from its first frames with the actions inferred from it; compare the
    players' box centres with the engine's."""
    c, stride = model.config.context, model.config.frame_stride
    usable = [s for s in sequences if len(s) >= (c + length) * stride]
    engine = torch.stack([s[: (c + length) * stride] for s in usable])  # (N, engine frames, S)
    frames = engine[:, ::stride]  # (N, C + L, S) at the model's rate
    objects = objects_of(frames, model.config)
    actions = torch.stack([model.players[i].action_network(objects[:, :, i], generator=None).logits.argmax(-1)
                           for i in range(2)], -1)  # (N, C + L - 1, 2)  # fmt: skip
    generator = torch.Generator().manual_seed(0)
    state = model.initial_state(len(usable), generator=generator, context=_context(engine[:, : (c - 1) * stride + 1]))
    distances, missed, metres = [], [], []
    for t in range(length):
        state, _ = model.step(state, actions[:, c - 1 + t], generator=generator)
        real = frames[:, c + t]
        gen_box, real_box = boxes(state["current"]), boxes(real)  # (N, 2, 4) normalised
        centre = lambda b: torch.stack([(b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2], -1)  # noqa: E731
        d = centre(gen_box) - centre(real_box)
        sq = (d**2).sum(-1)
        pixels = torch.stack([d[..., 0] * WIDTH, d[..., 1] * HEIGHT], -1).norm(dim=-1)
        distances.append(pixels)
        missed.append(sq >= 0.1)
        roots = torch.stack([state["current"][:, layout.SLICES[f"{p}.root"]] - real[:, layout.SLICES[f"{p}.root"]]
                             for p in ("bottom", "top")], 1)  # fmt: skip
        metres.append(roots.norm(dim=-1))
    dist, miss, err = torch.stack(distances, 1), torch.stack(missed, 1), torch.stack(metres, 1)  # (N, L, 2)
    matched = ~miss
    return {
        "add_pixels": float(dist[matched].mean()) if matched.any() else None,
        "mdr": float(miss.float().mean()),
        "add_pixels_per_step": [float(dist[:, t][matched[:, t]].mean()) if matched[:, t].any() else None
                                for t in range(length)],  # fmt: skip
        "location_error_m": float(err.mean()),
        "location_error_m_per_step": [float(v) for v in err.mean((0, 2))],
        "points": len(usable),
        "length": length,
        "resolution": [WIDTH, HEIGHT],
    }


CAMERA_PATH = [(1, 0, 0)] * 8 + [(0, 1, 0)] * 4 + [(0, 0, -1)] * 4 + [(-1, 0, 0)] * 16 + [(0, -1, 1)] * 4
"""Camera actions (orbit, tilt, zoom) per step of the camera test: orbit right 24 degrees, tilt up 8, zoom out,
orbit left 48, then tilt down and zoom in."""


@torch.no_grad()
def camera_control(model: PEWorldModel, seed: int, first_index: int, steps: int, points: int = 3) -> tuple[dict, list]:
    """Play with the learned prior while the camera moves; neural render vs engine render of each frame."""
    from world_models.engines.tennis.sequence import generate
    from world_models.render.model import scene_style

    errs, per_step, pairs = [], [[] for _ in range(steps)], []
    index, done = first_index + 5000, 0
    while done < points:
        point = generate(seed, index, render=False)
        index += 1
        try:
            context = serve_contexts([torch.as_tensor(point.vectors())], context_frames(model.config))
        except ValueError:
            continue
        style = point.style
        style_vector = scene_style(torch.tensor([style.surface.index]), torch.tensor([style.court]),
                                   torch.tensor([style.surround]), torch.tensor([style.wall]))  # fmt: skip
        generator = torch.Generator().manual_seed(done)
        state = model.initial_state(1, generator=generator, context=_context(context))
        for t in range(steps):
            yaw, pitch, zoom = CAMERA_PATH[t % len(CAMERA_PATH)]
            moved = move_camera(state["current"][0].numpy(), yaw * YAW_STEP, pitch * PITCH_STEP, zoom * ZOOM_STEP)
            state["current"][0] = torch.as_tensor(moved)
            state, _ = model.step(state, model.prior_actions(state, [0, 1], generator), generator=generator)
            flat = state["current"][0].numpy()
            truth = engine_frame(flat, HEIGHT, WIDTH, style)
            pred = model.synthesis.render(state["current"], styles=style_vector, height=HEIGHT, width=WIDTH)[0].numpy()
            e = float(((pred.astype(np.float32) - truth.astype(np.float32)) ** 2).mean() / 255**2)
            errs.append(e)
            per_step[t].append(e)
            if t in (0, steps // 2, steps - 1) and done == 0:
                pairs.append((truth, pred))
        done += 1
    return {"psnr": psnr(float(np.mean(errs))), "psnr_per_step": [psnr(float(np.mean(v))) for v in per_step],
            "points": points, "steps": steps,
            "camera_path": "orbit +24 deg, tilt +8 deg, zoom out 16%, orbit -48 deg, tilt -8 deg + zoom in"}, pairs  # fmt: skip


@torch.no_grad()
def play_points(model: PEWorldModel, contexts: torch.Tensor, max_steps: int = 150) -> dict:
    """Both players on the learned action prior from held-out serves until the referee decides each point: how
    points end and how many strikes (referee-detected hits) they hold."""
    from world_models.engines.tennis.referee import judge

    generator = torch.Generator().manual_seed(0)
    state = model.initial_state(len(contexts), generator=generator, context=_context(contexts))
    for _ in range(max_steps):
        state, _ = model.step(state, model.prior_actions(state, [0, 1], generator), generator=generator)
    reasons: dict[str, int] = {}
    hits = []
    for row in range(len(contexts)):
        verdict = judge(state["history"][row, : int(state["length"][row])].numpy())
        reason = verdict.reason or "undecided"
        reasons[reason] = reasons.get(reason, 0) + 1
        hits.append(len(verdict.hits))
    return {"points": len(contexts), "end_reasons": reasons, "mean_hits_per_point": float(np.mean(hits)),
            "returned_serve_fraction": float(np.mean([h >= 2 for h in hits]))}  # fmt: skip


def held_out(points: int, seed: int, first_index: int) -> list[torch.Tensor]:
    from world_models.lge.data import from_engine

    return from_engine(points, seed, 1, first_index=first_index).states


def plot(metrics: dict, pairs: list, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(16, 9))
    ax = fig.add_subplot(2, 3, 1)
    confusion = np.array(metrics["actions"]["per_player"]["bottom"]["confusion"])
    ax.imshow(confusion / np.maximum(confusion.sum(1, keepdims=True), 1), cmap="viridis")
    ax.set_xticks(range(len(TRUE_CLASSES)), TRUE_CLASSES, rotation=45, fontsize=7)
    ax.set_ylabel("learned action")
    ax.set_title(f"bottom player: learned action vs true movement\nagreement (both players) "
                 f"{metrics['actions']['agreement']:.3f}, Hungarian")
    ax = fig.add_subplot(2, 3, 2)
    for name, colour in (("bottom", "tab:blue"), ("top", "tab:red")):
        for a, row in metrics["consistency"][name]["per_action"].items():
            dx, dy = row["mean_move_m"]
            ax.arrow(0, 0, dx, dy, color=colour, head_width=0.03, length_includes_head=True)
            ax.text(dx * 1.1, dy * 1.1, str(int(a) + 1), color=colour, fontsize=8)
    lim = max(0.3, max(abs(v) for p in ("bottom", "top") for r in metrics["consistency"][p]["per_action"].values()
                       for v in r["mean_move_m"]) * 1.3)  # fmt: skip
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(f"mean move per key over {metrics['consistency']['hold']} steps (m)\nblue bottom, red top")
    ax = fig.add_subplot(2, 3, 3)
    ax.plot(metrics["add_mdr"]["location_error_m_per_step"])
    ax.set_xlabel("generated step")
    ax.set_ylabel("player location error (m)")
    ax.set_title(f"ADD {metrics['add_mdr']['add_pixels']:.2f} px, MDR {metrics['add_mdr']['mdr']:.3f}")
    ax = fig.add_subplot(2, 3, 4)
    ax.plot(metrics["camera"]["psnr_per_step"])
    ax.axhline(24, color="grey", ls="--")
    ax.set_xlabel("play step (camera moving)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"camera control: {metrics['camera']['psnr']:.2f} dB")
    if pairs:
        ax = fig.add_subplot(2, 3, (5, 6))
        grid = np.concatenate([np.concatenate(p, 0) for p in pairs], 1)
        ax.imshow(grid)
        ax.set_axis_off()
        ax.set_title("engine (top) vs neural render (bottom), moved cameras")
    fig.tight_layout()
    fig.savefig(out / "pe_eval.png", dpi=90)
    plt.close(fig)


def evaluate(model: PEWorldModel, *, points: int, seed: int, first_index: int, hold: int, length: int,
             camera_steps: int, camera_points: int = 3) -> tuple[dict, list]:  # fmt: skip
    sequences = held_out(points, seed, first_index)
    contexts = serve_contexts(sequences, context_frames(model.config))
    metrics = {
        "actions": action_agreement(model, sequences),
        "consistency": consistency(model, contexts, hold),
        "add_mdr": add_mdr(model, sequences, length),
        "play": play_points(model, contexts),
    }
    metrics["camera"], pairs = camera_control(model, seed, first_index, camera_steps, camera_points)
    metrics["held_out"] = {"seed": seed, "first_index": first_index, "points": points}
    return metrics, pairs


def run(args: argparse.Namespace) -> int:
    from world_models.render.zoo import load_renderer
    from world_models.zoo import checkpoint_path, load_model

    torch.set_num_threads(args.threads)
    model, header, _ = load_model(checkpoint_path(args.checkpoint), family="pe")
    model.set_renderer(load_renderer()[0])
    metrics, pairs = evaluate(model, points=args.points, seed=args.seed, first_index=args.first_index,
                              hold=args.hold, length=args.length, camera_steps=args.camera_steps,
                              camera_points=args.camera_points)  # fmt: skip
    metrics["checkpoint"] = str(args.checkpoint)
    metrics["steps_trained"] = header.get("info", {}).get("steps")
    metrics["bars"] = {
        "agreement >= 0.75": metrics["actions"]["agreement"] >= 0.75,
        "camera PSNR >= 24 dB": metrics["camera"]["psnr"] >= 24.0,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plot(metrics, pairs, out)
    summary = {"agreement": metrics["actions"]["agreement"], "delta_mse": metrics["actions"]["delta_mse"],
               "consistency_cosine": metrics["consistency"]["mean_cosine"],
               "consistency_delta_mse": metrics["consistency"]["delta_mse"], "add_pixels": metrics["add_mdr"]["add_pixels"],
               "mdr": metrics["add_mdr"]["mdr"], "camera_psnr": metrics["camera"]["psnr"]}  # fmt: skip
    print(json.dumps(summary, indent=2))
    if args.export:
        from world_models.zoo import save_model

        info = dict(header.get("info", {}))
        info["eval_command"] = "python -m world_models eval pe " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
            if k not in ("group", "name", "export") and v is not None
        )
        info["eval"] = summary
        model.set_renderer(None)
        print(f"exported {save_model(args.export, model, info=info, extras=model.extras())}")
    return 0
