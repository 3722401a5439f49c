"""LGE training speed: optimisation steps per second of the animation model on one device, at several batch sizes.

Runs the training command's own step (window sampling on the CPU, the masked diffusion loss, AdamW) on a few
simulated engine points and writes ``benchmarks/results/lge_train.json`` with medians of repeats, windows per
second, and the steps a CPU-hour or a GPU-hour buys. It tells how long a schedule of ``train lge`` takes where.

    python benchmarks/lge_train.py --device cpu --threads 2 --batch 32
    python benchmarks/lge_train.py --device cuda --batch 32 256 --out benchmarks/results/lge_train_cuda.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from lge_gym.benchmarking import machine_info, synchronize
from world_models.core.command import command_line
from world_models.core.device import resolve_device
from world_models.core.text import TextEncoder
from world_models.lge.data import WindowSampler, embed_captions, from_engine, random_known_mask
from world_models.lge.world import LGEWorldModel
from world_models.zoo import preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small", help="LGE preset")
    parser.add_argument("--batch", type=int, nargs="+", default=[32], help="windows per step")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="repeats (medians are reported)")
    parser.add_argument("--sequences", type=int, default=20, help="engine points simulated as training data")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, auto)")
    parser.add_argument("--out", default="benchmarks/results/lge_train.json", help="JSON output")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    config = preset("lge", args.preset)
    data = from_engine(args.sequences, 0, config.frame_stride)
    sampler = WindowSampler(data, embed_captions(data.captions, TextEncoder()), config)
    model = LGEWorldModel(config).to(device)
    animation = model.animation
    optimizer = torch.optim.AdamW(animation.parameters(), lr=1e-4)
    generator = torch.Generator(device=device).manual_seed(0)
    data_generator = torch.Generator().manual_seed(1)

    def step(batch_size: int) -> None:
        batch = sampler.batch(batch_size, data_generator)
        known = random_known_mask(batch_size, config, data_generator)
        text_on = torch.ones(batch_size, config.window, 2, dtype=torch.bool)
        loss = animation.loss(batch["objects"].to(device), known.to(device), batch["text"].to(device),
                              text_on.to(device), batch["surface"].to(device), generator)  # fmt: skip
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    rows = []
    for batch_size in args.batch:
        for _ in range(3):  # warm-up (allocator, kernels)
            step(batch_size)
        rates = []
        for _ in range(args.repeats):
            synchronize(device)
            start = time.perf_counter()
            for _ in range(args.steps):
                step(batch_size)
            synchronize(device)
            rates.append(args.steps / (time.perf_counter() - start))
        rate = statistics.median(rates)
        rows.append({"batch": batch_size, "steps_per_s": rate, "windows_per_s": rate * batch_size,
                     "steps_per_hour": rate * 3600})  # fmt: skip
        print(f"batch {batch_size}: {rate:.1f} steps/s ({rate * batch_size:.0f} windows/s)")
    result = {
        "benchmark": "lge_train",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "preset": args.preset,
        "device": str(device),
        "parameters": sum(p.numel() for p in animation.parameters()),
        "machine": machine_info(),
        "rows": rows,
        "command": command_line(args, "python benchmarks/lge_train.py"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
