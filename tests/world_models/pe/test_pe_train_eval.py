"""`python -m world_models train pe` resumes after SIGTERM; `eval pe` writes its JSON and plot."""

import json
import os
import signal
import subprocess
import sys
import time

from world_models.core.checkpoint import load_training_state
from world_models.zoo import load_model


def test_sigterm_saves_resumes_and_evaluates(tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "world_models", "train", "pe", "--run", str(run), "--preset", "tiny",
               "--engine-sequences", "8", "--steps", "1000000", "--save-minutes", "0.02"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while not (run / "resume.pt").is_file() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    step = load_training_state(run / "resume.pt")["step"]
    assert 0 < step < 1000000
    model, header, _ = load_model(run / "pe.safetensors", family="pe")
    assert header["info"]["steps"] == step and len(model.start_contexts) > 0 and len(model.styles) > 0
    assert header["info"]["command"].startswith("python -m world_models train pe")
    resumed = subprocess.run(command[:-6] + ["--steps", str(step + 3), "--save-minutes", "5"], env=env,
                             capture_output=True, text=True, timeout=240)  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resumed {run} at step {step}" in resumed.stdout
    assert load_training_state(run / "resume.pt")["step"] == step + 3

    out_dir = tmp_path / "eval"
    evaluated = subprocess.run([sys.executable, "-m", "world_models", "eval", "pe", "--checkpoint",
                                str(run / "pe.safetensors"), "--out", str(out_dir), "--points", "6", "--hold", "2",
                                "--length", "4", "--camera-steps", "2", "--camera-points", "1"],
                               env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert 0.0 <= metrics["actions"]["agreement"] <= 1.0
    assert {"delta_mse", "confusion", "mapping"} <= set(metrics["actions"]["per_player"]["bottom"])
    assert metrics["camera"]["psnr"] > 0 and metrics["add_mdr"]["mdr"] >= 0.0
    assert (out_dir / "pe_eval.png").stat().st_size > 1000
