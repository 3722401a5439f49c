"""On a CUDA device (skipped elsewhere; run with ``-m gpu``): every world-model environment passes every checker
with its model there, ``device="auto"`` picks the GPU, shipped checkpoints step there, and each trainer trains and
resumes there (model draws on the device's generator, batches on the CPU's)."""

import inspect

import gymnasium as gym
import numpy as np
import pytest
import torch

import lge_gym  # noqa: F401 - registers the IDs
from lge_gym.registration import ENVIRONMENTS, load_entry_point
from lge_gym.testing import CHECKS
from world_models.cli import main
from world_models.core.checkpoint import load_training_state

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

ON_DEVICE = [e for e in ENVIRONMENTS if "device" in inspect.signature(load_entry_point(e.entry_point)).parameters]
CASES = [(entry, name) for entry in ON_DEVICE for name in CHECKS]


@pytest.mark.parametrize(("entry", "check"), CASES, ids=[f"{e.id}-{n}" for e, n in CASES])
def test_checker_on_cuda(entry, check):
    if check == "gymnasium":  # its render check opens a window; the GPU machine may lack pygame
        pytest.importorskip("pygame")
    CHECKS[check](entry.id, **{**entry.test_kwargs, "device": "cuda"})


@pytest.mark.parametrize("entry", [e for e in ON_DEVICE if not e.for_tests_only], ids=lambda e: e.id)
def test_shipped_model_steps_on_auto_device(entry):
    env = gym.make(entry.id)  # default arguments: the shipped checkpoint, device "auto"
    assert env.unwrapped.model.device.type == "cuda"
    env.action_space.seed(0)
    first = []
    for _ in range(2):
        obs, _ = env.reset(seed=3)
        trace = [obs]
        for _ in range(4):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            assert env.observation_space.contains(obs) and np.isfinite(reward)
            trace.append(obs)
            if terminated or truncated:
                break
        first.append(trace)
        env.action_space.seed(0)
    for a, b in zip(*first, strict=True):  # same seed, same actions: same observations on the GPU too
        flat = [gym.spaces.flatten(env.observation_space, o).astype(np.float64) for o in (a, b)]
        np.testing.assert_allclose(*flat, atol=1e-4)
    env.close()


def test_lge_trains_and_resumes_on_cuda(tmp_path):
    args = ["train", "lge", "--run", str(tmp_path / "run"), "--preset", "tiny", "--engine-sequences", "6",
            "--batch-size", "4", "--device", "cuda"]  # fmt: skip
    assert main([*args, "--steps", "2"]) == 0
    state = load_training_state(tmp_path / "run" / "resume.pt")
    assert not torch.equal(state["generator"], state["data_generator"])  # two generators (unequal sizes: False)
    assert main([*args, "--steps", "3"]) == 0
    assert load_training_state(tmp_path / "run" / "resume.pt")["step"] == 3


def test_pe_trains_and_resumes_on_cuda(tmp_path):
    args = ["train", "pe", "--run", str(tmp_path / "run"), "--preset", "tiny", "--engine-sequences", "8",
            "--device", "cuda"]  # fmt: skip
    assert main([*args, "--steps", "2"]) == 0
    assert main([*args, "--steps", "3"]) == 0
    assert load_training_state(tmp_path / "run" / "resume.pt")["step"] == 3


def test_pvg_trains_and_resumes_on_cuda(tmp_path):
    data = tmp_path / "tennis"
    assert main(["data", "tennis-pvg", "--out", str(data), "--sequences", "3"]) == 0
    args = ["train", "pvg", "--data", str(data), "--preset", "tiny_tennis", "--run", str(tmp_path / "run"),
            "--save-minutes", "0", "--device", "cuda"]  # fmt: skip
    assert main([*args, "--steps", "2"]) == 0
    assert main([*args, "--steps", "3"]) == 0
    assert load_training_state(tmp_path / "run" / "state.pt")["step"] == 3
