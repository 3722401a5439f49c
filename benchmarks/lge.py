"""LGE-Tennis-v0 speed: one environment step with rendering, and natively batched throughput.

Writes ``benchmarks/results/lge.json``: single-env steps per second and milliseconds per step (image
observation: the animation model plus the renderer), and native vector env steps per second at each batch size
(state and image observations), medians of repeats, with the machine's fp32 matmul FLOP/s for scale.

    python benchmarks/lge.py --checkpoint lge_tennis_small --batch 1 8 32
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
    parser.add_argument("--checkpoint", default="lge_tennis_small", help="LGE checkpoint path or shipped name")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8, 32], help="native vector env batch sizes")
    parser.add_argument("--steps", type=int, default=150, help="single-env steps per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="repeats (medians are reported)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--device", default="cpu", help="torch device of the model (cpu, cuda, auto)")
    parser.add_argument("--out", default="benchmarks/results/lge.json", help="JSON output")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kwargs = {"checkpoint": args.checkpoint, "device": args.device}
    result = {
        "benchmark": "lge",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": command_line(args, "python benchmarks/lge.py"),
        "machine": machine_info(),
        "matmul_fp32_flops": matmul_flops(device=resolve_device(args.device)),
        "renderer": "neural (render_tennis_small) for image observations",
        "load_average_at_start": os.getloadavg()[0],
    }
    single = {}
    for obs_type in ("image", "state"):
        rate = single_env_rate("LGE-Tennis-v0", steps=args.steps, repeats=args.repeats, obs_type=obs_type, **kwargs)
        single[obs_type] = {"steps_per_s": rate["median"], "ms_per_step": 1000 / rate["median"]}
        print(f"single env, {obs_type}: {1000 / rate['median']:.1f} ms/step")
    result["single_env"] = single
    batched = []
    for obs_type in ("state", "image"):
        for batch in args.batch:
            steps = max(10, args.steps // batch)
            rate = vector_env_rate("LGE-Tennis-v0", batch, "vector_entry_point", steps=steps, repeats=args.repeats,
                                   obs_type=obs_type, **kwargs)  # fmt: skip
            batched.append({"obs_type": obs_type, "batch": batch, "env_steps_per_s": rate["median"]})
            print(f"native vector, {obs_type}, batch {batch}: {rate['median']:.0f} env steps/s")
    result["native_vector"] = batched
    result["load_average_at_end"] = os.getloadavg()[0]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
