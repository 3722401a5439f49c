"""`DecisionSteps`: agents shown only the steps that read their action."""

import json

import gymnasium as gym
import numpy as np
import pytest

import lge_gym  # noqa: F401 - registers the environments
from agents.cli import main
from agents.decisions import DecisionSteps

LGE_TINY = {"checkpoint": None, "preset": "tiny"}


def test_decision_steps_skip_to_the_steps_that_read_the_action():
    """Shipped model: every decision but an episode's last is at a state whose next step reads the action, and the
    point is the one the plain environment plays with the same actions (skipped steps' rewards summed in)."""
    wrapped = DecisionSteps(gym.make("LGE-Tennis-v0", obs_type="state", action_type="command"))
    obs, info = wrapped.reset(seed=4)
    assert info["action_due"]
    actions, total, played, done = [7, 20, 7, 20, 7, 20], 0.0, 0, False
    decisions = 0
    while not done:
        obs, reward, terminated, truncated, info = wrapped.step(actions[decisions % len(actions)])
        decisions += 1
        total += reward
        played += info["env_steps"]
        done = terminated or truncated
        assert done or info["action_due"]
    assert decisions < played and total in (-1.0, 1.0)

    plain = gym.make("LGE-Tennis-v0", obs_type="state", action_type="command")
    plain_obs, info = plain.reset(seed=4)
    plain_total, steps, done, made = 0.0, 0, False, 0
    while not done:  # a new action at each due step, repeated at the others, as the wrapper plays it
        if info["action_due"]:
            action = actions[made % len(actions)]
            made += 1
        plain_obs, reward, terminated, truncated, info = plain.step(action)
        plain_total += reward
        steps += 1
        done = terminated or truncated
    assert steps == played and plain_total == total
    np.testing.assert_array_equal(plain_obs, obs)


def test_decision_steps_need_an_environment_that_says_when():
    with pytest.raises(TypeError, match="action_due"):
        DecisionSteps(gym.make("TennisSim-v0")).reset(seed=0)


def test_train_with_decisions(tmp_path):
    out = tmp_path / "ppo"
    assert main(["train", "LGE-Tennis-v0", "--decisions", "--gamma", "1", "--timesteps", "16", "--num-envs", "2",
                 "--n-steps", "8", "--env-kwargs", json.dumps({**LGE_TINY, "max_episode_steps": 12}),
                 "--out", str(out)]) == 0  # fmt: skip
    record = json.loads((out / "policy.json").read_text())
    assert record["decisions"] and record["timesteps"] >= 16 and record["env_steps"] >= record["timesteps"]
