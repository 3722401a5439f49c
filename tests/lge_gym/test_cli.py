"""The command-line tools, run as a user runs them: in subprocesses."""

import json
import os
import subprocess
import sys

import pytest

ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "HF_HUB_OFFLINE": "1"}


def run(*args, cwd=None):
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("command", ["list", "info", "check", "rollout", "play", "bench", "demo"])
def test_every_command_has_help(command):
    assert "usage: lge-gym" in run("lge_gym", command, "--help")


def test_world_models_help():
    assert "data" in run("world_models", "--help")
    for group in ("data", "train", "eval", "sample"):
        assert "usage" in run("world_models", group, "--help")


def test_list_and_info():
    assert "Toy-v0" in run("lge_gym", "list")
    info = json.loads(run("lge_gym", "info", "Toy-v0", "--env-kwargs", '{"obs_type": "state"}'))
    assert info["model"]["family"] == "toy" and "Box" in info["observation_space"]


def test_check():
    assert "6 passed, 0 failed" in run("lge_gym", "check", "ToyDuel-v0")


def test_unknown_id_is_a_clear_error():
    result = subprocess.run([sys.executable, "-m", "lge_gym", "info", "Nope-v0"], capture_output=True, text=True, env=ENV)
    assert result.returncode != 0 and "Nope-v0" in result.stderr


def test_rollout_writes_video(tmp_path):
    out = tmp_path / "toy.mp4"
    summary = json.loads(run("lge_gym", "rollout", "Toy-v0", "--steps", "20", "--out", str(out)))
    assert out.stat().st_size > 0 and summary["steps"] == 20


def test_play_headless_records(tmp_path):
    out = tmp_path / "play.mp4"
    stdout = run("lge_gym", "play", "Toy-v0", "--frames", "8", "--record", str(out))
    assert "headless" in stdout
    assert out.stat().st_size > 0 and '"frames": 8' in stdout


def test_bench(tmp_path):
    out = tmp_path / "bench.json"
    run("lge_gym", "bench", "Toy-v0", "--batch", "1", "4", "--steps", "20", "--out", str(out))
    result = json.loads(out.read_text())
    assert result["native_vector"]["4"]["median"] > 0


def test_demo(tmp_path):
    summary = json.loads(run("lge_gym", "demo", "--steps", "20", "--out", str(tmp_path), "--env", "Toy-v0"))
    assert (tmp_path / "demo.mp4").stat().st_size > 0
    assert json.loads((tmp_path / "summary.json").read_text())["steps"] == summary["steps"] == 20
