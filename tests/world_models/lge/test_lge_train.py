"""`python -m world_models train lge`: an interrupted run saves, and the same command resumes it."""

import os
import signal
import subprocess
import sys
import time

from world_models.core.checkpoint import load_training_state
from world_models.zoo import load_model


def test_sigterm_saves_and_resumes(tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "world_models", "train", "lge", "--run", str(run), "--preset", "tiny",
               "--engine-sequences", "6", "--steps", "100000", "--batch-size", "4", "--save-minutes", "0.02"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while not (run / "resume.pt").is_file() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(2)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    step = load_training_state(run / "resume.pt")["step"]
    assert 0 < step < 100000
    model, header, _ = load_model(run / "lge.safetensors", family="lge")
    assert header["info"]["steps"] == step and len(model.start_states) > 0

    resumed = subprocess.run(command[:-6] + ["--steps", str(step + 3), "--batch-size", "4", "--save-minutes", "5"],
                             env=env, capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resumed {run} at step {step}" in resumed.stdout
    assert load_training_state(run / "resume.pt")["step"] == step + 3
