"""Checkpoints: identical outputs after a round trip, atomic writes, no unpickling of arbitrary objects."""

import json
import pickle

import pytest
import torch

import world_models.core.checkpoint as checkpoint
from world_models import CheckpointError, build_model, load_model, save_model
from world_models.core.checkpoint import (
    load_foreign,
    load_training_state,
    register_converter,
    save_training_state,
)


def _outputs(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    state = model.initial_state(3, generator=g)
    action = torch.randint(model.action_spec.num_actions, (3, model.action_spec.num_players), generator=g)
    nxt, aux = model.step(state, action, generator=g)
    return model.render(nxt), aux["reward"], nxt["latent"]


@pytest.mark.parametrize("preset", ["tiny", "tiny2p"])
def test_round_trip_identical_outputs(tmp_path, preset):
    model = build_model("toy", preset).eval()
    path = save_model(tmp_path / "m", model, info={"command": "test"}, extras={"frames": torch.arange(6)})
    loaded, header, extras = load_model(path)
    assert header["family"] == "toy" and header["info"]["command"] == "test"
    assert torch.equal(extras["frames"], torch.arange(6))
    for a, b in zip(_outputs(model), _outputs(loaded), strict=True):
        assert torch.equal(a, b)
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["config"] == header["config"] and len(sidecar["sha256"]) == 64


def test_interrupted_write_keeps_previous_file(tmp_path, monkeypatch):
    model = build_model("toy", "tiny")
    path = save_model(tmp_path / "m", model)
    before = path.read_bytes()

    def crash_midway(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"partial")
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(checkpoint, "save_file", crash_midway)
    with torch.no_grad():
        model.reward_head.bias.add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        save_model(tmp_path / "m", model)
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    load_model(path)  # still loads


def test_training_state_round_trip(tmp_path):
    model = build_model("toy", "tiny")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.zeros(0)) if False else None
    loss = sum(p.sum() for p in model.parameters())
    loss.backward()
    optimizer.step()
    save_training_state(tmp_path / "resume.pt", {"step": 5, "optimizer": optimizer.state_dict(), "model": model.state_dict()})
    state = load_training_state(tmp_path / "resume.pt")
    assert state["step"] == 5
    fresh = torch.optim.Adam(build_model("toy", "tiny").parameters(), lr=1e-3)
    fresh.load_state_dict(state["optimizer"])


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_foreign_files_are_not_unpickled(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as handle:
        pickle.dump({"model": _Evil()}, handle)
    register_converter("identity", lambda raw: raw["model"])
    with pytest.raises(CheckpointError, match="weights_only"):
        load_foreign(path, "identity")
    with pytest.raises(CheckpointError, match="training state"):
        load_training_state(path)


def test_foreign_converter(tmp_path):
    model = build_model("toy", "tiny")
    torch.save({"model": {"module." + k: v for k, v in model.state_dict().items()}, "step": 3}, tmp_path / "x.pth")
    register_converter("strip_module", lambda raw: {k.removeprefix("module."): v for k, v in raw["model"].items()})
    state = load_foreign(tmp_path / "x.pth", "strip_module")
    fresh = build_model("toy", "tiny")
    fresh.load_state_dict(state)
    with pytest.raises(CheckpointError, match="unknown converter"):
        load_foreign(tmp_path / "x.pth", "nope")


def test_not_an_lge_checkpoint(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(CheckpointError, match="not an lge-gym checkpoint"):
        load_model(tmp_path / "plain.safetensors")


def test_checkpoint_files_are_ordinary_files(tmp_path):
    """Atomic writes go through mkstemp (0600); the files people ship and share must be readable by others."""
    import os
    import stat

    weights = save_model(tmp_path / "model", build_model("toy", "tiny"))
    umask = os.umask(0)
    os.umask(umask)
    for path in (weights, weights.with_suffix(".json")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path
