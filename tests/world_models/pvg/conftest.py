from __future__ import annotations

import pytest

from world_models.cli import main


@pytest.fixture(scope="session")
def breakout_data(tmp_path_factory):
    """A three-episode Breakout dataset (40 steps each) recorded with the suite's own command."""
    out = tmp_path_factory.mktemp("breakout_pvg")
    assert main(["data", "atari", "--game", "Breakout", "--episodes", "3", "--max-steps", "40", "--out", str(out)]) == 0
    return out
