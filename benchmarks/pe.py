"""PE-Tennis-v0 speed: one environment step with rendering, and natively batched throughput.

Writes ``benchmarks/results/pe.json``: single-env milliseconds per step (image observation: the action module,
the ball's five physics frames and the neural renderer; and state only), natively batched env steps per second
(one dynamics and one rendering pass per step) against Gymnasium's `SyncVectorEnv` of single envs, medians of
repeats, with the thread count, the machine's load average and its fp32 matmul FLOP/s for scale.

    python benchmarks/pe.py --checkpoint pe_tennis_small --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

import lge_gym  # noqa: F401 - registers the IDs
from lge_gym.benchmarking import machine_info, matmul_flops, single_env_rate, vector_env_rate
from world_models.core.command import command_line
from world_models.core.device import resolve_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="pe_tennis_small", help="PE checkpoint path or shipped name")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8, 32], help="native vector env batch sizes")
    parser.add_argument("--steps", type=int, default=100, help="single-env steps per repeat")
    parser.add_argument("--repeats", type=int, default=5, help="repeats (medians are reported)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--device", default="cpu", help="torch device of the model (cpu, cuda, auto)")
    parser.add_argument("--out", default="benchmarks/results/pe.json", help="JSON output")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kwargs = {"checkpoint": args.checkpoint, "device": args.device}
    result = {
        "benchmark": "pe",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": command_line(args, "python benchmarks/pe.py"),
        "threads": args.threads,
        "load_average_before": list(os.getloadavg()),
        "machine": machine_info(),
        "matmul_fp32_flops": matmul_flops(device=resolve_device(args.device)),
    }
    single = {}
    for obs_type in ("image", "state"):
        rate = single_env_rate("PE-Tennis-v0", steps=args.steps, repeats=args.repeats, obs_type=obs_type, **kwargs)
        single[obs_type] = {"ms_per_step_median": 1000 / rate["median"], "ms_per_step_best": 1000 / rate["max"],
                            "ms_per_step_worst": 1000 / rate["min"]}  # fmt: skip
        print(f"single env, {obs_type}: {1000 / rate['median']:.1f} ms/step (median of {args.repeats})")
    result["single_env"] = single
    result["bar_image_step_ms"] = {"bar": 100.0, "measured": single["image"]["ms_per_step_median"],
                                   "met": single["image"]["ms_per_step_median"] <= 100.0}  # fmt: skip
    batched = []
    for obs_type in ("state", "image"):
        for batch in args.batch:
            steps = max(5, args.steps // batch)
            rate = vector_env_rate("PE-Tennis-v0", batch, "vector_entry_point", steps=steps, repeats=args.repeats,
                                   obs_type=obs_type, **kwargs)  # fmt: skip
            row = {"obs_type": obs_type, "batch": batch, "env_steps_per_s": rate["median"]}
            if batch == max(args.batch):
                sync = vector_env_rate("PE-Tennis-v0", batch, "sync", steps=steps, repeats=args.repeats,
                                       obs_type=obs_type, **kwargs)  # fmt: skip
                row["sync_env_steps_per_s"] = sync["median"]
                row["speedup_vs_sync"] = rate["median"] / sync["median"]
            batched.append(row)
            print(f"native vector, {obs_type}, batch {batch}: {rate['median']:.0f} env steps/s")
    result["native_vector"] = batched
    result["load_average_after"] = list(os.getloadavg())
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
