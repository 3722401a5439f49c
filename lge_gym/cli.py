"""``lge-gym`` (also ``python -m lge_gym``): list, info, check, rollout, play, bench, demo."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

DEMO_ORDER = ("LGE-Tennis-v0", "PVG-Breakout-v0", "Toy-v0")
"""``lge-gym demo`` plays the first of these whose model is available (trained games first)."""


def _env_kwargs(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise SystemExit(f"--env-kwargs must be a JSON object: {error}") from None
    if not isinstance(value, dict):
        raise SystemExit("--env-kwargs must be a JSON object, e.g. '{\"obs_type\": \"state\"}'")
    return value


def cmd_list(args: argparse.Namespace) -> int:
    from lge_gym.registration import ENVIRONMENTS

    width = max(len(e.id) for e in ENVIRONMENTS)
    for e in ENVIRONMENTS:
        flags = []
        if e.vector_entry_point:
            flags.append("vector")
        if e.parallel_entry_point:
            flags.append("pettingzoo")
        if e.for_tests_only:
            flags.append("random weights, tests only")
        print(f"{e.id:<{width}}  {e.description}  [{', '.join(flags)}]")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    import gymnasium as gym

    from lge_gym.registration import entry

    row = entry(args.env_id)
    env = gym.make(args.env_id, **_env_kwargs(args.env_kwargs))
    base = env.unwrapped
    info = {
        "id": row.id,
        "description": row.description,
        "entry_point": row.entry_point,
        "vector_entry_point": row.vector_entry_point,
        "parallel_entry_point": row.parallel_entry_point,
        "max_episode_steps": row.max_episode_steps,
        "observation_space": str(env.observation_space),
        "action_space": str(env.action_space),
        "render_fps": env.metadata.get("render_fps"),
        "for_tests_only": row.for_tests_only,
    }
    model = getattr(base, "model", None)
    if model is not None:
        info["model"] = {
            "family": model.family,
            "parameters": sum(p.numel() for p in model.parameters()),
            "device": str(model.device),
        }
    print(json.dumps(info, indent=2, default=str))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lge_gym.registration import entry
    from lge_gym.testing import CHECKS

    entry(args.env_id)
    kwargs = _env_kwargs(args.env_kwargs)
    failed = 0
    for name, check in tqdm(CHECKS.items(), desc=f"checking {args.env_id}", unit="check"):
        try:
            check(args.env_id, **kwargs)
            tqdm.write(f"  {name}: ok")
        except Exception as error:  # report every failing check, not just the first
            failed += 1
            tqdm.write(f"  {name}: FAILED: {type(error).__name__}: {error}")
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _policy(args: argparse.Namespace, env):
    if args.policy == "random":
        env.action_space.seed(args.seed)
        return lambda obs: env.action_space.sample()
    if args.policy == "noop":
        return lambda obs: getattr(env.unwrapped, "noop_action", 0)
    from agents.policies import load_sb3_policy

    return load_sb3_policy(args.policy, args.algo)


def cmd_rollout(args: argparse.Namespace) -> int:
    import gymnasium as gym
    from tqdm import trange

    from lge_gym.video import write_video

    env = gym.make(args.env_id, render_mode="rgb_array", **_env_kwargs(args.env_kwargs))
    policy = _policy(args, env)
    obs, _ = env.reset(seed=args.seed)
    frames = [env.render()]
    returns, current = [], 0.0
    for _ in trange(args.steps, desc=f"rollout {args.env_id}", unit="step"):
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        current += float(reward)
        frames.append(env.render())
        if terminated or truncated:
            returns.append(current)
            current = 0.0
            obs, _ = env.reset()
    out = write_video(frames, args.out, fps=env.metadata.get("render_fps", 15))
    summary = {"env_id": args.env_id, "steps": args.steps, "episode_returns": returns, "video": str(out)}
    print(json.dumps(summary, indent=2))
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    from lge_gym.play import play

    summary = play(
        args.env_id,
        env_kwargs=_env_kwargs(args.env_kwargs),
        seed=args.seed,
        fps=args.fps,
        scale=args.scale,
        record=args.record,
        frames=args.frames,
    )
    print(json.dumps(summary, indent=2))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from lge_gym.benchmarking import machine_info, single_env_rate, vector_env_rate
    from lge_gym.registration import entry

    row = entry(args.env_id)
    kwargs = _env_kwargs(args.env_kwargs)
    result: dict[str, Any] = {"env_id": args.env_id, "machine": machine_info()}
    result["single_env_steps_per_s"] = single_env_rate(args.env_id, steps=args.steps, **kwargs)
    print(f"single env: {result['single_env_steps_per_s']['median']:.1f} steps/s")
    if row.vector_entry_point:
        result["native_vector"] = {}
        for batch in args.batch:
            rate = vector_env_rate(args.env_id, batch, "vector_entry_point", steps=max(5, args.steps // 4), **kwargs)
            result["native_vector"][str(batch)] = rate
            print(f"native vector, batch {batch}: {rate['median']:.1f} env steps/s")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import gymnasium as gym
    from tqdm import trange

    from lge_gym.video import write_video
    from world_models.core.checkpoint import CheckpointError

    candidates = [args.env] if args.env else list(DEMO_ORDER)
    env, env_id = None, None
    for candidate in candidates:
        if candidate not in gym.registry:
            continue
        try:
            env = gym.make(candidate, render_mode="rgb_array")
            env_id = candidate
            break
        except CheckpointError as error:
            print(f"demo: skipping {candidate}: {error}")
    if env is None:
        raise SystemExit(f"demo: none of {candidates} could be made")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    policy = getattr(env.unwrapped, "demo_policy", None)
    env.action_space.seed(args.seed)
    obs, _ = env.reset(seed=args.seed)
    frames, returns, current, episodes = [env.render()], [], 0.0, 0
    start = time.perf_counter()
    for _ in trange(args.steps, desc=f"demo {env_id}", unit="step"):
        action = policy(obs) if policy else env.action_space.sample()
        obs, reward, terminated, truncated, _ = env.step(action)
        current += float(reward)
        frames.append(env.render())
        if terminated or truncated:
            returns.append(current)
            episodes += 1
            current = 0.0
            obs, _ = env.reset()
    elapsed = time.perf_counter() - start
    video = write_video(frames, out / "demo.mp4", fps=env.metadata.get("render_fps", 15))
    summary = {
        "env_id": env_id,
        "steps": args.steps,
        "episodes_finished": episodes,
        "episode_returns": returns,
        "episodes_won": sum(r > 0 for r in returns),
        "episodes_lost": sum(r < 0 for r in returns),
        "steps_per_second": args.steps / elapsed,
        "video": str(video),
        "trained_model": env_id != "Toy-v0",
    }
    if env_id == "Toy-v0":
        summary["note"] = "no trained game is installed yet; this is the randomly initialised test model"
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lge-gym", description="Learned world models as RL environments.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (the models are small: more threads than free cores slow every step)")  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)

    def with_env(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        p.add_argument("env_id", help="a registered environment ID (see `lge-gym list`)")
        p.add_argument("--env-kwargs", help="JSON object of constructor arguments, e.g. '{\"obs_type\": \"state\"}'")
        return p

    p = sub.add_parser("list", help="list every registered environment", description="List registered environments.",
                       parents=[common])  # fmt: skip
    p.set_defaults(func=cmd_list)
    p = with_env("info", "spaces, model and registration of an environment")
    p.set_defaults(func=cmd_info)
    p = with_env("check", "run every checker of lge_gym.testing on an environment")
    p.set_defaults(func=cmd_check)
    p = with_env("rollout", "run a policy and write a video")
    p.add_argument("--policy", default="random", help="random, noop, or the path of a Stable-Baselines3 .zip")
    p.add_argument("--algo", default="ppo", help="SB3 algorithm of --policy (ppo, a2c, dqn)")
    p.add_argument("--steps", type=int, default=200, help="environment steps")
    p.add_argument("--seed", type=int, default=0, help="reset seed")
    p.add_argument("--out", default="rollout.mp4", help="video file (.mp4 or .gif)")
    p.set_defaults(func=cmd_rollout)
    p = with_env("play", "play in a pygame window (headless fallback without a display)")
    p.add_argument("--seed", type=int, default=None, help="reset seed")
    p.add_argument("--fps", type=float, default=None, help="frames per second (default: the model's)")
    p.add_argument("--scale", type=int, default=4, help="window scale factor")
    p.add_argument("--record", default=None, help="record from the start to this video file (v toggles)")
    p.add_argument("--frames", type=int, default=None, help="stop after this many frames (headless default 100)")
    p.set_defaults(func=cmd_play)
    p = with_env("bench", "steps per second, single and natively batched")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8, 64], help="batch sizes of the native vector env")
    p.add_argument("--steps", type=int, default=200, help="steps per measurement")
    p.add_argument("--out", default=None, help="write the results to this JSON file")
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser(
        "demo",
        help="play a learned game headless with a built-in policy; writes a video and a summary",
        description="Play the best installed learned game headless; writes OUT/demo.mp4 and OUT/summary.json.",
        parents=[common],
    )
    p.add_argument("--env", default=None, help=f"environment ID (default: first available of {', '.join(DEMO_ORDER)})")
    p.add_argument("--steps", type=int, default=300, help="environment steps")
    p.add_argument("--seed", type=int, default=0, help="reset seed")
    p.add_argument("--out", default="lge-gym-demo", help="output folder")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    import gymnasium as gym
    import torch

    import lge_gym  # noqa: F401 - registers the environments
    from world_models.core.checkpoint import CheckpointError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    torch.set_num_threads(args.threads)
    try:
        return int(args.func(args) or 0)
    except (gym.error.Error, CheckpointError, FileNotFoundError) as error:
        # User errors (unknown ID, bad checkpoint, missing file) get one clear line, not a traceback.
        print(f"lge-gym {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
