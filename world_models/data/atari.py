"""Record real Atari games (Arcade Learning Environment) in the PVG on-disk format.

``python -m world_models data atari --game Breakout --episodes 50 --out data/breakout``

Each episode becomes one video folder (``train``, ``val`` or ``test``, split by episode in order) with the raw
160x210 frames, the true ALE action taken at each frame (``actions[i]`` leads from frame i to frame i+1), the reward
received on arriving at each frame, ``dones[i]`` true on the last frame of a finished game, and per-frame metadata
(``lives``, ``life_lost``). The true actions are never shown to PVG during training; they grade what it discovered.

Behaviour policy: segments of a held random action (1 to 8 steps) alternate with segments that track a game
object (Breakout: the paddle follows the ball with a random offset, and FIRE serves a new ball), so the paddle
reaches both walls, the ball is hit, bricks break and lives are lost; a held action that pushes the paddle into a
wall is mostly turned around. Other games get sticky random actions.

Timing: actions are held ``--frameskip`` emulator frames, and each frame is captured ``--action-delay`` emulator
frames after its action starts, so what changes between frames i and i+1 is caused by ``actions[i]`` (Breakout's
paddle answers its input about two emulator frames late; without the delay a third of the transitions would show
the previous action's movement).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from world_models.core.command import command_line
from world_models.data.pvg_format import SPLITS, write_video

BREAKOUT_RED = (200, 72, 72)
BREAKOUT_PADDLE_ROWS = (189, 193)
BREAKOUT_PLAY_COLUMNS = (8, 152)


def breakout_paddle_x(frame: np.ndarray) -> float | None:
    """Paddle centre column of a raw 160x210 Breakout frame, or None when no paddle pixel is seen."""
    rows = frame[BREAKOUT_PADDLE_ROWS[0] : BREAKOUT_PADDLE_ROWS[1], BREAKOUT_PLAY_COLUMNS[0] : BREAKOUT_PLAY_COLUMNS[1]]
    mask = np.all(rows == BREAKOUT_RED, axis=-1).any(axis=0)
    columns = np.nonzero(mask)[0]
    return float(columns.mean()) + BREAKOUT_PLAY_COLUMNS[0] if len(columns) else None


def breakout_ball_x(frame: np.ndarray) -> float | None:
    """Ball centre column of a raw Breakout frame (red pixels between the bricks and the paddle), or None."""
    area = frame[94 : BREAKOUT_PADDLE_ROWS[0] - 1, BREAKOUT_PLAY_COLUMNS[0] : BREAKOUT_PLAY_COLUMNS[1]]
    mask = np.all(area == BREAKOUT_RED, axis=-1)
    columns = np.nonzero(mask.any(axis=0))[0]
    return float(columns.mean()) + BREAKOUT_PLAY_COLUMNS[0] if len(columns) else None


class BehaviourPolicy:
    """Segments of held random actions mixed with game-aware tracking segments; numpy `Generator` randomness."""

    def __init__(self, game: str, meanings: list[str], rng: np.random.Generator, track_probability: float = 0.6):
        self.game = game.lower()
        self.meanings = meanings
        self.rng = rng
        self.track_probability = track_probability if self.game == "breakout" else 0.0
        self.remaining = 0
        self.mode = "random"
        self.held = 0
        self.offset = 0.0

    def _index(self, name: str) -> int:
        return self.meanings.index(name)

    def __call__(self, frame: np.ndarray) -> int:
        if self.remaining <= 0:
            self.remaining = int(self.rng.integers(1, 9))
            self.mode = "track" if self.rng.random() < self.track_probability else "random"
            self.held = int(self.rng.integers(len(self.meanings)))
            self.offset = float(self.rng.uniform(-10, 10))
        self.remaining -= 1
        paddle = breakout_paddle_x(frame) if self.game == "breakout" else None
        if self.mode == "random":
            # Mostly turn away from a wall the held action pushes into (pushing into a wall shows no movement).
            if paddle is not None and self.rng.random() < 0.8:
                name = self.meanings[self.held]
                if (name == "LEFT" and paddle < 24) or (name == "RIGHT" and paddle > 136):
                    self.held = self._index("RIGHT" if name == "LEFT" else "LEFT")
            return self.held
        ball = breakout_ball_x(frame)
        if ball is None:
            if self.rng.random() < 0.3:
                return self._index("FIRE")
            return self.held
        if paddle is None:
            return self._index("NOOP")
        target = ball + self.offset
        if paddle > target + 4:
            return self._index("LEFT")
        if paddle < target - 4:
            return self._index("RIGHT")
        return self._index("NOOP")


def record_episode(env, policy: BehaviourPolicy, seed: int, max_steps: int, frameskip: int, action_delay: int) -> dict:
    """Play one episode; returns frames and per-frame lists in the PVG convention.

    ``env`` steps one emulator frame at a time. Action ``a_i`` is held for ``frameskip`` emulator frames, and frame
    ``i`` is captured ``action_delay`` frames after ``a_i`` starts: games respond to input a few frames late, so
    the change between frames i and i+1 is then caused by ``a_i`` alone (Breakout's paddle: 2 frames).
    """
    frame, info = env.reset(seed=seed)
    lives = int(info["lives"])
    action = policy(frame)
    reward_sum, done = 0.0, False
    for _ in range(action_delay):
        frame, reward, done, _, info = env.step(action)
        reward_sum += float(reward)
    frames, actions, rewards = [frame], [], [reward_sum]
    dones, metadata = [bool(done)], [{"lives": int(info["lives"]), "life_lost": False}]
    for _ in range(max_steps):
        if done:
            break
        reward_sum = 0.0
        for _ in range(frameskip - action_delay):
            frame, reward, done, truncated, info = env.step(action)
            reward_sum += float(reward)
            if done or truncated:
                break
        actions.append(int(action))
        if not done:
            action = policy(frame)
            for _ in range(action_delay):
                frame, reward, done, truncated, info = env.step(action)
                reward_sum += float(reward)
                if done:
                    break
        frames.append(frame)
        rewards.append(reward_sum)
        dones.append(bool(done))
        new_lives = int(info["lives"])
        metadata.append({"lives": new_lives, "life_lost": new_lives < lives})
        lives = new_lives
    actions.append(0)  # the last frame takes no action
    return {"frames": frames, "actions": actions, "rewards": rewards, "dones": dones, "metadata": metadata}


def split_of(index: int, episodes: int, val_fraction: float, test_fraction: float) -> str:
    """Split by episode order: the last episodes go to test, the ones before them to val (at least one each)."""
    n_test = max(1, round(episodes * test_fraction)) if episodes >= 3 else 0
    n_val = max(1, round(episodes * val_fraction)) if episodes >= 3 else 0
    if index >= episodes - n_test:
        return "test"
    if index >= episodes - n_test - n_val:
        return "val"
    return "train"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--game", default="Breakout", help="ALE game name, e.g. Breakout, Pong, Tennis")
    parser.add_argument("--episodes", type=int, default=50, help="episodes to record (split train/val/test in order)")
    parser.add_argument("--out", required=True, help="dataset folder to write (train/, val/, test/, info.json)")
    parser.add_argument("--frameskip", type=int, default=4, help="emulator frames per recorded frame (rewards are summed)")
    parser.add_argument(
        "--action-delay", type=int, default=2,
        help="emulator frames between the start of an action and the capture of a frame (the game's input latency)",
    )
    parser.add_argument("--max-steps", type=int, default=1000, help="cap on recorded steps per episode")
    parser.add_argument("--seed", type=int, default=0, help="seed of the emulator and of the behaviour policy")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="fraction of episodes for val")
    parser.add_argument("--test-fraction", type=float, default=0.1, help="fraction of episodes for test")


def run(args: argparse.Namespace) -> int:
    import ale_py
    import gymnasium as gym
    from tqdm import tqdm

    gym.register_envs(ale_py)
    if not 0 <= args.action_delay < args.frameskip:
        raise ValueError(f"--action-delay must lie in [0, frameskip), got {args.action_delay}")
    env = gym.make(f"ALE/{args.game}-v5", frameskip=1, repeat_action_probability=0.0, full_action_space=False)
    meanings = list(env.unwrapped.get_action_meanings())
    rng = np.random.default_rng(args.seed)
    policy = BehaviourPolicy(args.game, meanings, rng)
    out = Path(args.out)
    counters = dict.fromkeys(SPLITS, 0)
    stats = {"frames": 0, "reward": 0.0, "lives_lost": 0, "game_overs": 0}
    for episode in tqdm(range(args.episodes), desc=f"recording {args.game}", unit="episode"):
        data = record_episode(
            env, policy, seed=args.seed * 100_003 + episode, max_steps=args.max_steps, frameskip=args.frameskip,
            action_delay=args.action_delay,
        )
        split = split_of(episode, args.episodes, args.val_fraction, args.test_fraction)
        write_video(
            out / split / f"{counters[split]:05d}",
            data["frames"],
            actions=data["actions"],
            rewards=data["rewards"],
            dones=data["dones"],
            metadata=data["metadata"],
        )
        counters[split] += 1
        stats["frames"] += len(data["frames"])
        stats["reward"] += sum(data["rewards"])
        stats["lives_lost"] += sum(m["life_lost"] for m in data["metadata"])
        stats["game_overs"] += int(data["dones"][-1])
    env.close()
    info = {
        "source": "ale-py",
        "game": args.game,
        "frameskip": args.frameskip,
        "action_delay": args.action_delay,
        "repeat_action_probability": 0.0,
        "action_meanings": meanings,
        "episodes": counters,
        "seed": args.seed,
        "command": command_line(args, "python -m world_models data atari"),
        "conventions": "actions[i] leads from frame i to i+1 (frames captured action_delay emulator frames after the "
        "action starts); rewards[i] is received on arriving at frame i",
        "stats": stats,
    }
    (out / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info["stats"]))
    return 0
