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
    assert header["info"]["steps"] == step and len(model.start_prefixes) > 0

    resumed = subprocess.run(command[:-6] + ["--steps", str(step + 3), "--batch-size", "4", "--save-minutes", "5"],
                             env=env, capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resumed {run} at step {step}" in resumed.stdout
    assert load_training_state(run / "resume.pt")["step"] == step + 3
    runs = load_model(run / "lge.safetensors", family="lge")[1]["info"]["runs"]
    assert [r["start_step"] for r in runs] == [0, step] and [r["steps"] for r in runs] == [100000, step + 3]

    # A new run folder continues from the release checkpoint alone (the resume state lost): same weights to start,
    # the step it records, and the chain of commands that made it in its info.
    fresh = tmp_path / "fresh"
    warm = [a if a != str(run) else str(fresh) for a in command[:-6]]
    warm += ["--batch-size", "4", "--save-minutes", "5", "--init", str(run / "lge.safetensors")]
    # ... under another objective (a loss setting given on the command line).
    continued = subprocess.run([*warm, "--steps", str(step + 5), "--snr-floor", "0.1"], env=env, capture_output=True,
                               text=True, timeout=240)  # fmt: skip
    assert continued.returncode == 0, continued.stdout + continued.stderr
    assert f"(step {step + 3})" in continued.stdout
    _, header, _ = load_model(fresh / "lge.safetensors", family="lge")
    assert header["info"]["steps"] == step + 5
    assert header["info"]["continued_from"]["steps"] == step + 3
    assert "--init" not in header["info"]["continued_from"]["command"]
    assert header["config"]["snr_floor"] == 0.1 and "--snr-floor 0.1" in header["info"]["command"]
    # Resumed without the flag, the run keeps the objective it started with.
    again = subprocess.run([*warm, "--steps", str(step + 6)], env=env, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stdout + again.stderr
    assert load_model(fresh / "lge.safetensors", family="lge")[1]["config"]["snr_floor"] == 0.1


def test_text_projections_can_learn_at_their_own_rate():
    """`--text-lr-scale` puts the text projections in their own optimizer group; every parameter is in one group."""
    from world_models import build_model
    from world_models.lge.train import _is_text_parameter, _parameter_groups

    animation = build_model("lge", "tiny").animation
    assert [g["lr_scale"] for g in _parameter_groups(animation, 1.0)] == [1.0]
    rest, text = _parameter_groups(animation, 10.0)
    assert (rest["lr_scale"], text["lr_scale"]) == (1.0, 10.0)
    named = dict(animation.named_parameters())
    expected = {id(p) for n, p in named.items() if _is_text_parameter(n)}
    assert {id(p) for p in text["params"]} == expected and "network.text_in.weight" in named
    assert len(rest["params"]) + len(text["params"]) == len(named)
