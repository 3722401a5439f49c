"""Native batched stepping against Gymnasium's SyncVectorEnv of single environments over the same model.

Writes ``benchmarks/results/vector_env.json``: environment steps per second (rows x steps / s, median of repeats)
for both at each batch size, and their ratio measured in the same run.

    python benchmarks/vector_env.py --env Toy-v0 --batch 1 4 16 64 256
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

import lge_gym  # noqa: F401 - registers the IDs
from lge_gym.benchmarking import machine_info, vector_env_rate


@dataclass
class Args:
    env: str = "Toy-v0"
    batch: list[int] = field(default_factory=lambda: [1, 4, 16, 64, 256])
    obs_types: list[str] = field(default_factory=lambda: ["state", "image"])
    steps: int = 40
    repeats: int = 5
    threads: int = 2
    out: str = "benchmarks/results/vector_env.json"


def parse() -> Args:
    defaults = Args()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=defaults.env, help="environment ID with a vector_entry_point")
    parser.add_argument("--batch", type=int, nargs="+", default=defaults.batch, help="batch sizes")
    parser.add_argument("--obs-types", nargs="+", default=defaults.obs_types, help="observation types to measure")
    parser.add_argument("--steps", type=int, default=defaults.steps, help="vector steps per repeat")
    parser.add_argument("--repeats", type=int, default=defaults.repeats, help="repeats (the median is reported)")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch threads")
    parser.add_argument("--out", default=defaults.out, help="JSON output")
    return Args(**vars(parser.parse_args()))


def main() -> None:
    args = parse()
    torch.set_num_threads(args.threads)
    rows = []
    cases = [(obs_type, batch) for obs_type in args.obs_types for batch in args.batch]
    for obs_type, batch in tqdm(cases, desc="cases"):
        # Fewer sync steps at large batch keep the run short; rates are per second, so they stay comparable.
        sync_steps = max(5, args.steps // max(1, batch // 16))
        kwargs = {"obs_type": obs_type}
        native = vector_env_rate(args.env, batch, "vector_entry_point", steps=args.steps, repeats=args.repeats, **kwargs)
        sync = vector_env_rate(args.env, batch, "sync", steps=sync_steps, repeats=args.repeats, **kwargs)
        rows.append(
            {
                "obs_type": obs_type,
                "batch": batch,
                "native_steps_per_s": native["median"],
                "sync_steps_per_s": sync["median"],
                "speedup": native["median"] / sync["median"],
            }
        )
        tqdm.write(f"{obs_type:5s} batch {batch:4d}: native {native['median']:10.0f}/s  sync {sync['median']:8.0f}/s  "
                   f"x{rows[-1]['speedup']:.1f}")
    result = {
        "benchmark": "vector_env",
        "env_id": args.env,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": f"python benchmarks/vector_env.py --env {args.env} --batch {' '.join(map(str, args.batch))} "
        f"--obs-types {' '.join(args.obs_types)}",
        "machine": machine_info(),
        "repeats": args.repeats,
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
