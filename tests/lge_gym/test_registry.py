"""Every registered ID passes every checker of `lge_gym.testing` (registering an ID gets it tested)."""

import gymnasium as gym
import pytest

import lge_gym
from lge_gym.registration import ENVIRONMENTS
from lge_gym.testing import CHECKS

CASES = [(entry, name) for entry in ENVIRONMENTS for name in CHECKS]


@pytest.mark.parametrize(("entry", "check"), CASES, ids=[f"{e.id}-{n}" for e, n in CASES])
def test_checker(entry, check):
    CHECKS[check](entry.id, **entry.test_kwargs)


def test_import_registers_every_id():
    assert lge_gym.ENVIRONMENTS
    for entry in ENVIRONMENTS:
        assert entry.id in gym.registry
        assert gym.spec(entry.id).max_episode_steps == entry.max_episode_steps


@pytest.mark.parametrize("entry", ENVIRONMENTS, ids=[e.id for e in ENVIRONMENTS])
def test_documented(entry):
    """Each environment class carries a Gymnasium-style docstring."""
    from lge_gym.registration import load_entry_point

    doc = load_entry_point(entry.entry_point).__doc__ or ""
    for section in ("Action space", "Observation space", "Rewards", "Starting state", "Episode end", "Arguments"):
        assert f"## {section}" in doc, f"{entry.id} docstring lacks '## {section}'"
