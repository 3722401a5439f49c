"""Train a Stable-Baselines3 PPO agent inside a learned game through the natively batched environment,
then compare it with a random agent.

    python examples/ppo_in_learned_game.py --env Toy-v0 --timesteps 20000
    python examples/ppo_in_learned_game.py --tiny      # a few seconds, used by the tests
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO

import lge_gym  # noqa: F401 - registers the IDs
from lge_gym.adapters.sb3 import make_sb3_vec_env


@dataclass
class Args:
    env: str = "Toy-v0"
    """environment ID with a natively batched version"""
    obs_type: str = "state"
    """observation: state, image or both"""
    num_envs: int = 16
    """rows stepped together in one forward pass"""
    timesteps: int = 20_000
    """PPO environment steps"""
    eval_episodes: int = 20
    """episodes to evaluate each policy on"""
    seed: int = 0
    tiny: bool = False
    """a few hundred steps: checks the script runs end to end"""


def evaluate(env_id: str, obs_type: str, act, episodes: int, seed: int) -> float:
    env = gym.make(env_id, obs_type=obs_type)
    env.action_space.seed(seed)
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done, total = False, 0.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(env, obs))
            total += reward
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in asdict(Args()).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            parser.add_argument(flag, action="store_true")
        else:
            parser.add_argument(flag, type=type(value), default=value)
    args = Args(**vars(parser.parse_args()))
    if args.tiny:
        args.num_envs, args.timesteps, args.eval_episodes = 4, 256, 2

    venv = make_sb3_vec_env(args.env, args.num_envs, obs_type=args.obs_type)
    venv.seed(args.seed)
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, seed=args.seed, verbose=0)
    model.learn(total_timesteps=args.timesteps, progress_bar=not args.tiny)

    trained = evaluate(args.env, args.obs_type, lambda env, obs: model.predict(obs, deterministic=True)[0],
                       args.eval_episodes, args.seed + 1000)
    random = evaluate(args.env, args.obs_type, lambda env, obs: env.action_space.sample(),
                      args.eval_episodes, args.seed + 1000)
    print(json.dumps({"env": args.env, "timesteps": args.timesteps, "ppo_return": trained, "random_return": random}))


if __name__ == "__main__":
    main()
