"""Every example runs end to end with --tiny."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_tiny(script):
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, str(script), "--tiny"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
