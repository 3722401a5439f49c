"""``python -m agents``: train an SB3 agent inside a (learned) game, and evaluate policies in any game.

    python -m agents train LGE-Tennis-v0 --timesteps 50000 --out runs/ppo_lge
    python -m agents eval runs/ppo_lge/policy.zip --env LGE-Tennis-v0 TennisSim-v0 --episodes 50 --out runs/ppo_lge
    python -m agents strategies --env LGE-Tennis-v0 TennisSim-v0 --strategy "lobs=the bottom player plays lobs deep"
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path


def _kwargs(text: str | None) -> dict:
    return json.loads(text) if text else {}


def cmd_train(args: argparse.Namespace) -> int:
    from agents.sb3 import train_ppo

    path = train_ppo(args.env_id, out=args.out, timesteps=args.timesteps, num_envs=args.num_envs, seed=args.seed,
                     env_kwargs=_kwargs(args.env_kwargs), n_steps=args.n_steps, minutes=args.minutes,
                     decisions=args.decisions, gamma=args.gamma,
                     learning_rate=args.learning_rate)  # fmt: skip
    print(f"wrote {path}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from agents.evaluate import play_episodes
    from agents.policies import load_sb3_policy

    policy = load_sb3_policy(args.policy, args.algo)
    results = []
    given = _kwargs(args.env_kwargs)
    per_id = bool(given) and set(given) <= set(args.env)  # {"ID": {...}} gives each environment its own
    for env_id in args.env:
        kwargs = given.get(env_id, {}) if per_id else given
        for name, act in (("policy", policy), ("random", "random")):
            row = play_episodes(env_id, act, episodes=args.episodes, seed=args.seed, env_kwargs=kwargs)
            row["agent"] = name
            results.append(row)
            print(f"{env_id:16s} {name:7s} won {row['won']:3d}  lost {row['lost']:3d}  mean return {row['mean_return']:+.3f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps({"policy": str(args.policy), "results": results}, indent=2) + "\n")
    _plot(results, out / "eval.png")
    return 0


def cmd_strategies(args: argparse.Namespace) -> int:
    from agents.policies import load_sb3_policy
    from agents.strategies import DEFAULT_STRATEGIES, evaluate_strategies, parse_strategy, plot

    strategies = [parse_strategy(s) for s in args.strategy] if args.strategy else list(DEFAULT_STRATEGIES)
    policies = {os.path.basename(os.path.dirname(os.path.abspath(p))) or p: load_sb3_policy(p) for p in args.policy}
    given = _kwargs(args.env_kwargs)
    per_id = bool(given) and set(given) <= set(args.env)
    env_kwargs = given if per_id else {env_id: given for env_id in args.env}
    rows = evaluate_strategies(args.env, strategies, policies=policies, episodes=args.episodes, seed=args.seed,
                               env_kwargs=env_kwargs, text_encoder=args.text_encoder)  # fmt: skip
    for r in rows:
        print(f"{r['env_id']:16s} {r['player']:18s} won {r['won']:3d}  lost {r['lost']:3d}  "
              f"shots {r['shots_played']:3d}  in an area {r['landed_in_a_target_area']:.2f}  {r.get('action', '')}")  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"command": "python -m agents " + " ".join(shlex.quote(a) for a in sys.argv[1:]), "rows": rows}
    (out / "strategies.json").write_text(json.dumps(record, indent=2) + "\n")
    plot(rows, out / "strategies.png")
    print(f"wrote {out / 'strategies.json'} and {out / 'strategies.png'}")
    return 0


def _plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['env_id']}\n{r['agent']}" for r in results]
    fig, ax = plt.subplots(figsize=(1.6 * len(results) + 2, 3.5))
    ax.bar(labels, [r["won"] for r in results], label="won")
    ax.bar(labels, [-r["lost"] for r in results], label="lost")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel("episodes")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agents", description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", parents=[common], help="train PPO inside an environment (native batched stepping)",
                       description="Train PPO inside an environment through its natively batched version.")
    p.add_argument("env_id", help="environment ID with a native vector env")
    p.add_argument("--timesteps", type=int, default=50_000, help="environment steps")
    p.add_argument("--num-envs", type=int, default=8, help="rows stepped together")
    p.add_argument("--n-steps", type=int, default=128, help="PPO rollout length per row")
    p.add_argument("--minutes", type=float, default=None, help="stop after this much wall time (before --timesteps)")
    p.add_argument("--seed", type=int, default=0, help="seed")
    p.add_argument("--decisions", action="store_true",
                   help="PPO sees only the steps that read its action (envs reporting info['action_due'], e.g. "
                   "LGE-Tennis-v0); --timesteps then counts decisions")  # fmt: skip
    p.add_argument("--gamma", type=float, default=0.99, help="PPO discount per (decision) step")
    p.add_argument("--learning-rate", type=float, default=3e-4, help="PPO learning rate")
    p.add_argument("--env-kwargs", help="JSON constructor arguments, e.g. '{\"obs_type\": \"state\"}'")
    p.add_argument("--out", required=True, help="output folder (policy.zip, policy.json)")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("eval", parents=[common], help="play a policy and a random agent; JSON and a plot",
                       description="Play a trained policy and a random agent for whole episodes in each environment.")
    p.add_argument("policy", help="SB3 .zip")
    p.add_argument("--algo", default="ppo", help="SB3 algorithm of the policy")
    p.add_argument("--env", nargs="+", required=True, help="environment IDs (same observation and action spaces)")
    p.add_argument("--episodes", type=int, default=50, help="episodes per environment and agent")
    p.add_argument("--seed", type=int, default=0, help="episode i resets with seed + i")
    p.add_argument("--env-kwargs", help="JSON constructor arguments for every environment, or {ID: arguments}")
    p.add_argument("--out", required=True, help="output folder (eval.json, eval.png)")
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("strategies", parents=[common], help="who wins when a player follows a strategy stated in words, vs agents",
                       description="Play strategies stated in words (LGE reads the words; the real game plays the "
                       "nearest command) and agents over the same starts; the referee says what happened.")  # fmt: skip
    p.add_argument("--env", nargs="+", default=["LGE-Tennis-v0", "TennisSim-v0"], help="tennis environment IDs")
    p.add_argument("--strategy", action="append", default=[],
                   help="'NAME=TEXT' (repeatable); default: a built-in set of four")  # fmt: skip
    p.add_argument("--policy", action="append", default=[], help="SB3 PPO .zip over commands to compare (repeatable)")
    p.add_argument("--episodes", type=int, default=10, help="points per environment and player")
    p.add_argument("--seed", type=int, default=0, help="point i resets with seed + i")
    p.add_argument("--env-kwargs", help="JSON constructor arguments for every environment, or {ID: arguments}")
    p.add_argument("--text-encoder", default=None, help="local Hugging Face encoder folder (default: MiniLM)")
    p.add_argument("--out", required=True, help="output folder (strategies.json, strategies.png)")
    p.set_defaults(func=cmd_strategies)
    return parser


def main(argv: list[str] | None = None) -> int:
    import torch

    import lge_gym  # noqa: F401 - registers the environments

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    # Small models on a shared CPU: more threads than free cores makes every step wait on busy ones.
    torch.set_num_threads(args.threads)
    return int(args.func(args) or 0)
