"""``python -m world_models eval pe-select``: choose the export of a PE run (``train pe --keep-exports``) on
validation points, by a rule fixed before looking at the test points.

Action agreement is not monotone in training: early exports agree well because only the four fast directions and
standing are separated while several actions still stand still when held; later the dynamics gives every action
its own movement. So each kept export is scored on validation engine points (by default seed 0, points 800-899:
in no training seed's data and disjoint from `eval pe`'s test points 100,000+) by

- its action agreement (`evaluate.action_agreement`), and
- how many of each player's actions move slower than ``--min-speed`` when held ``--hold`` steps from the
  validation serves (`evaluate.consistency`);

and the rule picks, among exports with at most ``--max-slow`` slow actions per player, the best agreement.
Scores are cached in ``selection.json`` (a rerun scores only new exports); ``selection.png`` plots them. The
chosen weights are those of the training command run to the chosen step (`--steps STEP`): kept exports equal a run
stopped there.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import torch
from tqdm import tqdm

from world_models.core.checkpoint import atomic_path
from world_models.core.command import command_line
from world_models.pe.data import context_frames, serve_contexts
from world_models.pe.evaluate import action_agreement, consistency, held_out
from world_models.pe.objects import PLAYERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="PE run folder whose exports/ holds pe_<step>.safetensors")
    parser.add_argument("--points", type=int, default=100, help="validation engine points")
    parser.add_argument("--seed", type=int, default=0, help="engine dataset seed of the validation points")
    parser.add_argument("--first-index", type=int, default=800, help="index of the first validation point")
    parser.add_argument("--hold", type=int, default=4, help="steps each action is held for its speed")
    parser.add_argument("--min-speed", type=float, default=0.5, help="m/s under which a held action counts as still")
    parser.add_argument("--max-slow", type=int, default=1, help="most still actions per player an eligible export has")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--export", default=None,
                        help="also write the chosen export as a release checkpoint here, its info holding the rule, "
                        "this command and the validation agreement of every export (then `eval pe --export`)")  # fmt: skip


def exports_of(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every kept export, by step."""
    found = []
    for path in (run_dir / "exports").glob("pe_*.safetensors"):
        match = re.fullmatch(r"pe_(\d+)\.safetensors", path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def score(path: Path, sequences: list[torch.Tensor], hold: int, min_speed: float) -> dict:
    """Validation agreement and the number of slow held actions per player of one export."""
    from world_models.zoo import load_model

    model, _, _ = load_model(path, family="pe")
    held = consistency(model, serve_contexts(sequences, context_frames(model.config)), hold)
    speeds = {p: [row["speed_m_s"] for row in held[p]["per_action"].values()] for p in PLAYERS}
    return {
        "agreement": action_agreement(model, sequences)["agreement"],
        "slow_actions": {p: sum(s < min_speed for s in speeds[p]) for p in PLAYERS},
        "speeds_m_s": speeds,
    }


def eligible(row: dict, max_slow: int) -> bool:
    """Whether an export's score row has at most ``max_slow`` slow held actions for each player."""
    return max(row["slow_actions"].values()) <= max_slow


def choose(scores: dict[int, dict], max_slow: int) -> int | None:
    """The step of the best-agreeing eligible export (earliest on ties)."""
    steps = [s for s, row in scores.items() if eligible(row, max_slow)]
    return max(steps, key=lambda s: (scores[s]["agreement"], -s)) if steps else None


def plot(scores: dict[int, dict], chosen: int | None, max_slow: int, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = sorted(scores)
    ok = [eligible(scores[s], max_slow) for s in steps]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(steps, [scores[s]["agreement"] for s in steps], color="grey", lw=0.8)
    for flag, marker, label in ((True, "o", "eligible"), (False, "x", f"more than {max_slow} still held action(s)")):
        xs = [s for s, f in zip(steps, ok, strict=True) if f == flag]
        ax.scatter(xs, [scores[s]["agreement"] for s in xs], marker=marker, label=label, zorder=3)
    if chosen is not None:
        ax.axvline(chosen, color="tab:green", ls="--", label=f"chosen: step {chosen}")
    ax.axhline(0.75, color="tab:red", lw=0.6, ls=":")
    ax.set_xlabel("training step")
    ax.set_ylabel("validation action agreement")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run)
    exports = exports_of(run_dir)
    if not exports:
        raise SystemExit(f"{run_dir}/exports holds no pe_<step>.safetensors: train with --keep-exports")
    torch.set_num_threads(args.threads)
    rule = {k: getattr(args, k) for k in ("points", "seed", "first_index", "hold", "min_speed")}
    cache_path = run_dir / "selection.json"
    scores: dict[int, dict] = {}
    if cache_path.exists():
        cached = json.loads(cache_path.read_text())
        if cached.get("validation") == rule:  # scores from other validation settings are not reused
            scores = {int(s): row for s, row in cached["scores"].items()}

    def write() -> None:
        result = {"validation": rule, "max_slow": args.max_slow, "chosen_step": choose(scores, args.max_slow),
                  "scores": {str(s): scores[s] for s in sorted(scores)}}  # fmt: skip
        with atomic_path(cache_path) as tmp:
            tmp.write_text(json.dumps(result, indent=1) + "\n")

    todo = [(s, p) for s, p in exports if s not in scores]
    if todo:
        sequences = held_out(args.points, args.seed, args.first_index)
        for step, path in tqdm(todo, desc="score exports", unit="export"):
            scores[step] = score(path, sequences, args.hold, args.min_speed)
            write()  # each score survives an interruption
    else:
        write()  # every score was cached: chosen_step still follows this run's --max-slow
    chosen = choose(scores, args.max_slow)
    plot(scores, chosen, args.max_slow, run_dir / "selection.png")
    if chosen is None:
        print(f"no export has at most {args.max_slow} still held action(s) per player; scores in {cache_path}")
        return 1
    row = scores[chosen]
    chosen_path = run_dir / "exports" / f"pe_{chosen:06d}.safetensors"
    print(json.dumps({"chosen_step": chosen, "checkpoint": str(chosen_path),
                      "validation_agreement": round(row["agreement"], 4), "slow_actions": row["slow_actions"]}))  # fmt: skip
    if args.export:
        from world_models.zoo import load_model, save_model

        model, header, _ = load_model(chosen_path, family="pe")
        info = dict(header.get("info", {}))
        info["selection"] = {
            "command": command_line(args, "python -m world_models eval pe-select"),
            "rule": f"among exports with at most {args.max_slow} action(s) per player slower than {args.min_speed} "
            f"m/s when held {args.hold} steps, the best agreement on engine seed {args.seed} points "
            f"{args.first_index}-{args.first_index + args.points - 1}",
            "chosen_step": chosen,
            "validation_agreement_by_step": {str(s): round(scores[s]["agreement"], 4) for s in sorted(scores)},
            "slow_actions_by_step": {str(s): scores[s]["slow_actions"] for s in sorted(scores)},
        }
        print(f"exported {save_model(args.export, model, info=info, extras=model.extras())}")
    return 0
