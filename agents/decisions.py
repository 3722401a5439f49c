"""Agents that decide only where their action counts.

An LGE-Tennis command is latched for the next ball: of the ~70 steps of a point, the model reads the agent's action
at 3-4, and which ones depends on the state alone (``info["action_due"]``, `LGETennisTask.reads_action`).
Trained step by step, PPO spreads a point's reward over every step's action, most of which change nothing;
`DecisionSteps` shows it only the states where its action will be read. A policy trained so acts the same when run
step by step (at the other steps its action is not read), so it is evaluated in the plain environment.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym


class DecisionSteps(gym.Wrapper):
    """Skips the steps that do not read the action: after a reset and after each step, the environment plays on
    (with the last action, which it does not read) until the next step is due to read one
    (``info["action_due"]``) or the episode ends. Rewards of the skipped steps are summed into the step's;
    ``info["env_steps"]`` counts the steps played."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._check(info)
        if info["action_due"]:
            return obs, info
        noop = getattr(self.env.unwrapped, "noop_action", None)
        obs, _, terminated, truncated, info = self._play(noop() if callable(noop) else self.action_space.sample())
        if terminated or truncated:  # a point decided before the agent's first shot: start another
            return self.reset(options=options)
        return obs, info

    def step(self, action: Any):
        return self._play(action)

    def _play(self, action: Any):
        total, steps = 0.0, 0
        while True:
            obs, reward, terminated, truncated, info = self.env.step(action)
            self._check(info)
            total += float(reward)
            steps += 1
            if info["action_due"] or terminated or truncated:
                return obs, total, terminated, truncated, dict(info, env_steps=steps)

    def _check(self, info: dict[str, Any]) -> None:
        if "action_due" not in info:
            raise TypeError(f"DecisionSteps needs an environment whose info has 'action_due', not {self.env}")
