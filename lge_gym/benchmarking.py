"""Throughput measurements shared by ``lge-gym bench`` and ``benchmarks/`` (medians of repeats; the machine is
shared and noisy, so every comparison is a ratio measured in one run)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch


def _median_rate(run, steps: int, repeats: int) -> dict[str, float]:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(steps)
        rates.append(steps / (time.perf_counter() - start))
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}


def single_env_rate(env_id: str, *, steps: int = 200, repeats: int = 5, **kwargs: Any) -> dict[str, float]:
    """Environment steps per second of one `gym.make` environment (random actions, resets included)."""
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(steps)]

    def run(n: int) -> None:
        for i in range(n):
            _, _, terminated, truncated, _ = env.step(actions[i % len(actions)])
            if terminated or truncated:
                env.reset()

    run(10)  # warm-up
    return _median_rate(run, steps, repeats)


def vector_env_rate(
    env_id: str, num_envs: int, mode: str, *, steps: int = 50, repeats: int = 5, **kwargs: Any
) -> dict[str, float]:
    """Environment steps per second (rows x steps / s) of ``gym.make_vec`` in ``mode``: ``"vector_entry_point"``
    (natively batched, one forward pass) or ``"sync"`` (Gymnasium's `SyncVectorEnv` of single environments)."""
    venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode, **kwargs)
    venv.reset(seed=0)
    venv.action_space.seed(0)
    actions = [venv.action_space.sample() for _ in range(8)]

    def run(n: int) -> None:
        for i in range(n):
            venv.step(actions[i % len(actions)])

    run(3)
    rates = _median_rate(run, steps, repeats)
    venv.close()
    return {k: v * num_envs for k, v in rates.items()}


def synchronize(device: str | torch.device) -> None:
    """Wait for queued GPU work, so that wall-clock timers measure it (a no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops(
    size: int | None = None, repeats: int = 10, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
) -> float:
    """Median FLOP/s of a square matrix multiply on ``device`` (the ceiling benchmarks compare with; default size
    1024 on the CPU, 8192 on a GPU, whose small products do not fill it)."""
    size = size or (8192 if torch.device(device).type == "cuda" else 1024)
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    a @ b
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        a @ b
        synchronize(device)
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times)


def machine_info() -> dict[str, Any]:
    import os
    import platform

    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32 if torch.cuda.is_available() else None,
    }
