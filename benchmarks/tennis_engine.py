"""Tennis engine: dataset generation speed on one core, and the engine's "must show" quality numbers.

Writes ``benchmarks/results/tennis_engine.json``:

- ``generation``: frames per second of ``world_models.data.tennis`` writing complete sequences (simulation,
  captions, rendering at 256x144, PNG frames, masks, annotations) in one process pinned to one core with one
  thread; median of ``--repeats`` runs over different sequences, with the time split into its phases;
- ``projection``: fraction of frames where the ball is visible in which its projected centre is within 1.5 px of
  its mask's centroid;
- ``commands``: per target area, the fraction of commanded forehands landing in it (200 trials each), and the
  fraction of points lost after ``does_not_reach`` (200 trials);
- ``referee``: agreement of the referee (states only) with the engine's own rules.

    python benchmarks/tennis_engine.py            # about three minutes on one core
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from world_models.data import tennis as data  # noqa: E402
from world_models.engines.tennis.commands import TARGETS, Command  # noqa: E402
from world_models.engines.tennis.court import TARGET_AREAS  # noqa: E402
from world_models.engines.tennis.game import EngineConfig, TennisEngine  # noqa: E402
from world_models.engines.tennis.referee import judge  # noqa: E402
from world_models.engines.tennis.render import MASK_IDS  # noqa: E402
from world_models.engines.tennis.sequence import SequenceConfig, generate  # noqa: E402


@dataclass
class Args:
    sequences: int = 12
    """Sequences per repeat of the speed measurement."""
    repeats: int = 3
    trials: int = 200
    """Trials per command."""
    out: str = "benchmarks/results/tennis_engine.json"


def generation_speed(args: Args) -> dict:
    config = SequenceConfig()
    runs = []
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            frames = 0
            phases = {"simulate_caption_render": 0.0, "write": 0.0}
            start = time.perf_counter()
            for i in range(args.sequences):
                index = r * args.sequences + i
                t0 = time.perf_counter()
                seq = generate(1234, index, config)
                t1 = time.perf_counter()
                data.write_sequence(seq, Path(tmp) / f"{index:05d}", index, 1234, "train")
                phases["simulate_caption_render"] += t1 - t0
                phases["write"] += time.perf_counter() - t1
                frames += len(seq.states)
            elapsed = time.perf_counter() - start
        runs.append({"frames": frames, "seconds": round(elapsed, 3), "fps": round(frames / elapsed, 1),
                     "ms_per_frame": {k: round(1000 * v / frames, 3) for k, v in phases.items()}})  # fmt: skip
    return {"resolution": [config.width, config.height], "runs": runs,
            "median_fps": statistics.median(r["fps"] for r in runs), "bar_fps": 150}  # fmt: skip


def projection(sequences: int = 10) -> dict:
    visible = within = 0
    errors = []
    for index in range(sequences):
        seq = generate(77, index)
        for state, mask in zip(seq.states, seq.masks, strict=True):
            ys, xs = np.nonzero(mask == MASK_IDS["ball"])
            if len(xs) == 0:
                continue
            uv, _ = seq.camera.project(np.array([state["ball"]["position"]]))
            err = float(np.linalg.norm(np.array([xs.mean() + 0.5, ys.mean() + 0.5]) - uv[0]))
            errors.append(err)
            visible += 1
            within += err <= 1.5
    return {"frames_with_ball_visible": visible, "fraction_within_1_5px": round(within / visible, 4),
            "median_error_px": round(float(np.median(errors)), 3), "bar": 0.99}  # fmt: skip


def commands(trials: int) -> dict:
    fast = EngineConfig(pre_serve_frames=(2, 3), post_point_frames=(1, 2))
    out = {}
    for target in TARGETS:
        command = Command(shot="forehand", target=target)
        executed = landed = 0
        for trial in range(trials):
            engine = TennisEngine(fast, seed=10_000 + trial, server="top")
            engine.set_command("bottom", command)
            engine.set_command("top", Command(outcome="does_not_reach"), persistent=True)  # let it land
            record = None
            while not engine.done and engine.frame < 600:
                engine.step()
                record = next((s for s in engine.shots if s.player == "bottom"), None)
                if (record is not None and record.landing is not None) or (engine.point_over and record is None):
                    break
            if record is None or record.landing is None:
                continue
            executed += 1
            landed += TARGET_AREAS[target].contains("top", *record.landing)
        out[f"forehand_to_{target}"] = {"trials": trials, "executed": executed,
                                        "landed_in_area": round(landed / max(executed, 1), 4)}  # fmt: skip
    lost = 0
    for trial in range(trials):
        engine = TennisEngine(fast, seed=20_000 + trial, server="top")
        engine.set_command("bottom", Command(outcome="does_not_reach"))
        while not engine.point_over:
            engine.step()
        lost += engine.winner == "top"
    out["does_not_reach"] = {"trials": trials, "lost_point": round(lost / trials, 4)}
    out["bars"] = {"landed_in_area": 0.9, "lost_point": 0.95}
    return out


def referee(sequences: int = 40) -> dict:
    agree = hits = hit_ok = shot_ok = 0
    for index in range(sequences):
        seq = generate(99, index, render=False)
        j = judge(seq.vectors())
        agree += (j.winner, j.reason) == (seq.engine.winner, seq.engine.end_reason)
        found = {h.frame: h for h in j.hits}
        for shot in seq.engine.shots:
            hits += 1
            h = found.get(shot.frame)
            hit_ok += h is not None and h.player == shot.player
            shot_ok += h is not None and h.shot == shot.shot
    return {"points": sequences, "winner_and_reason": round(agree / sequences, 4),
            "hitter": round(hit_ok / hits, 4), "shot_type": round(shot_ok / hits, 4)}  # fmt: skip


def main() -> None:
    defaults = Args()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=defaults.sequences, help="sequences per speed repeat")
    parser.add_argument("--repeats", type=int, default=defaults.repeats, help="speed repeats (median reported)")
    parser.add_argument("--trials", type=int, default=defaults.trials, help="trials per command")
    parser.add_argument("--out", default=defaults.out, help="where the JSON goes")
    args = Args(**vars(parser.parse_args()))
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    import platform

    result = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "pinned_cores": len(os.sched_getaffinity(0)),
            "numpy": np.__version__,
            "platform": platform.platform(),
        },  # fmt: skip
        "generation": generation_speed(args),
        "projection": projection(),
        "commands": commands(args.trials),
        "referee": referee(),
        "command": "python benchmarks/tennis_engine.py",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
