"""PVG-Breakout-v0 speed: one environment's steps per second, and batched stepping against the machine's matmul.

Writes ``benchmarks/results/pvg.json``:

- ``single_env``: steps per second of one ``gym.make("PVG-Breakout-v0")`` environment (median of repeats);
- ``batched``: at ``--batch`` rows, the FLOPs of one model step counted with `torch.utils.flop_counter.FlopCounterMode`,
  the median time of a natively batched vector-env step and of a bare model step, and the achieved FLOP/s as a
  fraction of this machine's fp32 square-matmul FLOP/s measured in the same run with the same threads.

    python benchmarks/pvg.py                      # the shipped checkpoint
    python benchmarks/pvg.py --checkpoint runs/pvg_breakout_small/best.safetensors
    python benchmarks/pvg.py --env PVG-Tennis-v0 --checkpoint pvg_tennis_small --out benchmarks/results/pvg_tennis.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import torch
from torch.utils.flop_counter import FlopCounterMode

import lge_gym  # noqa: F401 - registers the IDs
from lge_gym.benchmarking import machine_info, matmul_flops, single_env_rate, synchronize
from world_models.core.device import resolve_device


@dataclass
class Args:
    env: str = "PVG-Breakout-v0"
    checkpoint: str | None = "pvg_breakout_small"
    preset: str | None = None
    batch: int = 64
    steps: int = 10
    single_steps: int = 100
    repeats: int = 5
    threads: int = 2
    device: str = "cpu"
    out: str = "benchmarks/results/pvg.json"


def parse() -> Args:
    defaults = Args()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=defaults.env, help="PVG environment ID (PVG-Breakout-v0, PVG-Tennis-v0)")
    parser.add_argument("--checkpoint", default=defaults.checkpoint, help="checkpoint name or path; 'none' for a random model")
    parser.add_argument("--preset", default=defaults.preset, help="preset of the random model (with --checkpoint none; default: the game's)")
    parser.add_argument("--batch", type=int, default=defaults.batch, help="rows of the batched measurement")
    parser.add_argument("--steps", type=int, default=defaults.steps, help="batched steps per repeat")
    parser.add_argument("--single-steps", type=int, default=defaults.single_steps, help="single-env steps per repeat")
    parser.add_argument("--repeats", type=int, default=defaults.repeats, help="repeats (the median is reported)")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch threads")
    parser.add_argument("--device", default=defaults.device, help="torch device of the model (cpu, cuda, auto)")
    parser.add_argument("--out", default=defaults.out, help="JSON output")
    args = Args(**vars(parser.parse_args()))
    if args.checkpoint and args.checkpoint.lower() == "none":
        args.checkpoint = None
    return args


def _median_seconds(run, repeats: int, device: torch.device) -> float:
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        run()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    args = parse()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    kwargs = {"checkpoint": args.checkpoint, "preset": args.preset, "device": device}
    ceiling = matmul_flops(device=device)
    single = single_env_rate(args.env, steps=args.single_steps, repeats=args.repeats, **kwargs)

    venv = gym.make_vec(args.env, num_envs=args.batch, vectorization_mode="vector_entry_point", **kwargs)
    venv.reset(seed=0)
    venv.action_space.seed(0)
    actions = [venv.action_space.sample() for _ in range(8)]
    model = venv.unwrapped.model
    world = venv.unwrapped.world
    action = torch.as_tensor(actions[0], device=device).reshape(-1, 1)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.step(world.state, action, generator=world.generator)
    flops = counter.get_total_flops()

    def vector_steps() -> None:
        for i in range(args.steps):
            venv.step(actions[i % len(actions)])

    def model_steps() -> None:
        state = world.state
        with torch.no_grad():
            for _ in range(args.steps):
                state, _ = model.step(state, action, generator=world.generator)

    vector_steps()  # warm-up
    model_steps()
    vector_time = _median_seconds(vector_steps, args.repeats, device) / args.steps
    model_time = _median_seconds(model_steps, args.repeats, device) / args.steps
    venv.close()
    ceiling = statistics.median([ceiling, matmul_flops(device=device)])
    result = {
        "env": args.env,
        "checkpoint": args.checkpoint,
        "device": str(device),
        "frame_shape": list(model.frame_shape),
        "machine": machine_info(),
        "matmul_flops_per_s": ceiling,
        "single_env": {"steps_per_s": single, "bar_steps_per_s": 30, "meets_bar": single["median"] >= 30},
        "batched": {
            "batch": args.batch,
            "flops_per_step": flops,
            "vector_env_step_s": vector_time,
            "model_step_s": model_time,
            "vector_env_steps_per_s": args.batch / vector_time,
            "vector_env_flops_per_s": flops / vector_time,
            "model_flops_per_s": flops / model_time,
            "fraction_of_matmul_vector_env": flops / vector_time / ceiling,
            "fraction_of_matmul_model": flops / model_time / ceiling,
            "bar_fraction": 0.4,
            "meets_bar": flops / vector_time / ceiling >= 0.4,
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"single_env_steps_per_s": single["median"], **{k: result["batched"][k] for k in (
        "flops_per_step", "vector_env_steps_per_s", "fraction_of_matmul_vector_env", "fraction_of_matmul_model")}}, indent=2))


if __name__ == "__main__":
    main()
