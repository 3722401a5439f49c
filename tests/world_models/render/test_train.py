"""Training and evaluation processes of the renderer, on the tiny preset and a one-point dataset."""

import json

import torch

from world_models.cli import main
from world_models.render.config import preset
from world_models.render.train import step_loss, training_batch


def test_training_steps_lower_the_loss(model, frames):
    config = preset("tiny")
    config.patch, config.batch_frames = 12, 4
    batch = training_batch(frames, config, torch.Generator().manual_seed(0))
    assert batch["target"].shape == (4, 12, 12, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss, stats = step_loss(model, frames, batch, config)
        first = first if first is not None else stats["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert stats["loss"] < 0.7 * first
    assert all(p.grad is not None for p in model.player.parameters())  # player patches reach the player field


def test_train_resume_and_evaluate_commands(dataset_dir, tmp_path):
    run = tmp_path / "run"
    common = ["train", "render", "--data", str(dataset_dir), "--run", str(run), "--preset", "tiny", "--sample-every", "2",
              "--frame-stride", "16"]  # fmt: skip
    assert main(common + ["--steps", "2"]) == 0
    assert (run / "latest.safetensors").is_file() and (run / "state.pt").is_file()
    assert list((run / "samples").glob("*.png"))
    assert main(common + ["--steps", "3"]) == 0  # resumes at step 2
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert steps[-1] == 3
    header = json.loads((run / "latest.json").read_text())
    assert header["info"]["steps"] == 3 and len(header["info"]["commands"]) == 2
    assert all(c.startswith("python -m world_models train render --") and f"--run {run}" in c for c in header["info"]["commands"])

    out = tmp_path / "eval"
    args = ["eval", "render", "--data", str(dataset_dir), "--out", str(out), "--checkpoint",
            str(run / "latest.safetensors"), "--frames", "4", "--novel", "2"]  # fmt: skip
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("test", "noise_ceiling", "novel_cameras", "style_control", "pose_control", "bars"):
        assert key in metrics
    assert metrics["test"]["frames"] == 4
    for name in ("test.png", "novel_cameras.png", "style.png", "pose.png"):
        assert (out / name).is_file()


def test_command_help_renders():
    import argparse

    from world_models.render import evaluate, train

    for module in (train, evaluate):
        parser = argparse.ArgumentParser()
        module.add_arguments(parser)
        assert "--data" in parser.format_help()
