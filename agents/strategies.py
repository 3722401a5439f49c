"""Text-directed strategies: what happens, and who wins, when a player follows a strategy stated in words.

A strategy is a sentence about what the near (bottom) player does with each ball, e.g. "the bottom player plays
lobs deep". In `LGE-Tennis-v0` the words themselves are the action: the animation model reads them. In
`TennisSim-v0`, the real game, they are grounded to the engine command whose caption lies nearest in the frozen
text encoder's embedding space, so both games play the same stated strategy. Agents (random, Stable-Baselines3
policies over commands) play the same starts beside them. The engine's referee reads every point's states: who won,
which shots the player played, and where they landed. Points won and lost are the environments' rewards (the
real game's rules in `TennisSim-v0`, the referee on generated states in `LGE-Tennis-v0`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm import trange

from lge_gym.envs.lge_tennis import command_caption
from world_models.engines.tennis.commands import COMMAND_VOCABULARY
from world_models.engines.tennis.court import TARGET_AREAS, opponent
from world_models.engines.tennis.referee import judge

PLAYER = "bottom"
"""The player every strategy and agent controls (the environments' default player)."""


@dataclass(frozen=True)
class Strategy:
    """A named strategy stated in words."""

    name: str
    text: str


DEFAULT_STRATEGIES = (
    Strategy("forehands left", "the bottom player hits every ball with a forehand to the left corner"),
    Strategy("lobs deep", "the bottom player plays lobs deep"),
    Strategy("drop shots", "the bottom player plays drop shots"),
    Strategy("lets it go", "the bottom player does not reach the ball"),
)
"""Strategies evaluated when none are given: three ways to play and one way to lose (a sanity check)."""


def parse_strategy(spec: str) -> Strategy:
    """``"NAME=TEXT"`` or just ``"TEXT"`` (named by its first words)."""
    name, sep, text = spec.partition("=")
    if not sep:
        name, text = " ".join(spec.split()[:4]), spec
    if not text.strip() or not name.strip():
        raise ValueError(f"a strategy is 'NAME=TEXT' or 'TEXT', got {spec!r}")
    return Strategy(name.strip(), text.strip())


def ground_command(text: str, encoder: Any) -> int:
    """Index of the engine command (`COMMAND_VOCABULARY`) whose caption is nearest ``text`` by cosine similarity
    of the text encoder's pooled embeddings."""
    captions = [command_caption(PLAYER, command) for command in COMMAND_VOCABULARY]
    embeddings = encoder([text] + captions).pooled
    similarity = torch.nn.functional.cosine_similarity(embeddings[:1], embeddings[1:], dim=-1)
    return int(similarity.argmax())


def describe_point(states: np.ndarray, fps: float, player: str = PLAYER) -> dict[str, Any]:
    """The referee's reading of one point: the player's shots (types, and where each next bounced)."""
    j = judge(states, fps)
    shots, landings = [], []
    for hit in (h for h in j.hits if h.player == player):
        shots.append(hit.shot)
        bounce = next((b for b in j.bounces if b.frame > hit.frame), None)
        if bounce is None:
            landings.append(None)
        else:
            landings.append([name for name, area in TARGET_AREAS.items()
                             if area.contains(opponent(player), bounce.x, bounce.y)])  # fmt: skip
    return {"winner": j.winner, "reason": j.reason, "hits": len(j.hits), "shots": shots, "landings": landings}


def play_points(
    env_id: str,
    act: Callable[[Any], Any] | str,
    *,
    episodes: int,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    desc: str = "",
) -> dict[str, Any]:
    """Play ``episodes`` points (episode ``i`` resets with ``seed + i``, so every player meets the same starts) and
    summarise results and what the referee saw. ``act`` is ``obs -> action`` or ``"random"``."""
    env = gym.make(env_id, **(env_kwargs or {}))
    if not hasattr(env.unwrapped, "layout_state"):
        raise ValueError(f"{env_id} is not a tennis environment (it has no layout_state())")
    env.action_space.seed(seed)
    policy = (lambda obs: env.action_space.sample()) if act == "random" else act
    fps = float(env.metadata["render_fps"])
    returns, points = [], []
    for i in trange(episodes, desc=desc or env_id, unit="point", leave=False):
        obs, _ = env.reset(seed=seed + i)
        states, total, done = [env.unwrapped.layout_state()], 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            states.append(env.unwrapped.layout_state())
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        # A learned game's point starts before its first observation (a real serve): judge all of it.
        whole = env.unwrapped.point_states() if hasattr(env.unwrapped, "point_states") else np.stack(states)
        point = describe_point(whole, fps)
        # The engine ends a point on the frame of its deciding bounce, before the referee can see the bounce (it
        # needs the frame after): take the engine's own call then.
        called = next((e for e in (info.get("events") or []) if e.get("type") == "point"), None)
        if point["reason"] is None and called is not None:
            point.update(winner=called["winner"], reason=called["reason"])
        points.append(point)
    env.close()
    return summarise(env_id, returns, points)


def summarise(env_id: str, returns: list[float], points: list[dict[str, Any]]) -> dict[str, Any]:
    r = np.asarray(returns)
    shots = [s for p in points for s in p["shots"]]
    landings = [land for p in points for land in p["landings"]]
    shot_counts = Counter(shots)
    area_counts = Counter(name for land in landings if land for name in land)
    n = max(len(shots), 1)
    return {
        "env_id": env_id,
        "episodes": len(returns),
        "won": int((r > 0).sum()),
        "lost": int((r < 0).sum()),
        "undecided": int((r == 0).sum()),
        "mean_return": float(r.mean()) if len(r) else 0.0,
        "shots_played": len(shots),
        "hits_per_point": float(np.mean([p["hits"] for p in points])) if points else 0.0,
        "shot_types": {k: v / n for k, v in sorted(shot_counts.items())},
        "landed_in_a_target_area": sum(1 for land in landings if land) / n,
        "no_bounce_after_shot": sum(1 for land in landings if land is None) / n,
        "landing_areas": {k: v / n for k, v in sorted(area_counts.items())},
        "point_endings": dict(Counter(p["reason"] or "undecided" for p in points)),
    }


def evaluate_strategies(
    env_ids: list[str],
    strategies: list[Strategy],
    *,
    policies: dict[str, Callable[[Any], Any]] | None = None,
    episodes: int = 10,
    seed: int = 0,
    env_kwargs: dict[str, dict[str, Any]] | None = None,
    text_encoder: str | os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """One row per environment and player (each strategy, a random agent, each policy). Text-capable environments
    (`LGE-Tennis-v0`) take the strategy's words; the others get its grounded command."""
    from world_models.core.text import shared_text_encoder

    encoder = shared_text_encoder(text_encoder)
    rows = []
    for env_id in env_ids:
        kwargs = dict((env_kwargs or {}).get(env_id, {}))
        takes_text = env_id.startswith("LGE-")
        for strategy in strategies:
            if takes_text:
                row = play_points(env_id, lambda obs, text=strategy.text: text, episodes=episodes, seed=seed,
                                  env_kwargs={**kwargs, "action_type": "text"}, desc=f"{env_id} {strategy.name}")  # fmt: skip
                row["action"] = strategy.text
            else:
                index = ground_command(strategy.text, encoder)
                row = play_points(env_id, lambda obs, a=index: a, episodes=episodes, seed=seed, env_kwargs=kwargs,
                                  desc=f"{env_id} {strategy.name}")  # fmt: skip
                row["action"] = f"command {index}: {command_caption(PLAYER, COMMAND_VOCABULARY[index])}"
            rows.append({"player": strategy.name, "kind": "strategy", "text": strategy.text, **row})
        agents: dict[str, Callable[[Any], Any] | str] = {"random": "random", **(policies or {})}
        for name, act in agents.items():
            command_kwargs = {**kwargs, "action_type": "command"} if takes_text else kwargs
            row = play_points(env_id, act, episodes=episodes, seed=seed, env_kwargs=command_kwargs,
                              desc=f"{env_id} {name}")  # fmt: skip
            rows.append({"player": name, "kind": "agent", **row})
    return rows


def plot(rows: list[dict[str, Any]], path: str | os.PathLike) -> None:
    """Points won and lost per player and environment, and the shot types each played."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['player']}\n{r['env_id']}" for r in rows]
    x = np.arange(len(rows))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(6.0, 1.1 * len(rows) + 2), 7), sharex=True)
    top.bar(x, [r["won"] / max(r["episodes"], 1) for r in rows], label="won", color="tab:green")
    top.bar(x, [-r["lost"] / max(r["episodes"], 1) for r in rows], label="lost", color="tab:red")
    top.axhline(0, color="black", lw=0.8)
    top.set_ylabel("fraction of points")
    top.legend(loc="upper right")
    top.set_title("who wins when the near player follows a strategy in words, or is an agent")
    kinds = sorted({k for r in rows for k in r["shot_types"]})
    base = np.zeros(len(rows))
    for kind in kinds:
        values = np.array([r["shot_types"].get(kind, 0.0) for r in rows])
        bottom.bar(x, values, bottom=base, label=kind)
        base += values
    bottom.set_ylabel("share of the player's shots")
    bottom.legend(loc="upper right", fontsize=7, ncol=2)
    bottom.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
