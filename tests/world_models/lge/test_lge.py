"""The LGE animation model on its real code path with the tiny preset."""

import dataclasses

import numpy as np
import pytest
import torch

from world_models import build_model, load_model, save_model
from world_models.engines.tennis import layout
from world_models.engines.tennis.sequence import generate
from world_models.lge.data import WindowSampler, _collect, random_known_mask
from world_models.lge.director import Constraint, TextSpan, direct
from world_models.lge.objects import FEATURE_DIM, OBJECTS, to_objects, to_states


@pytest.fixture(scope="module")
def points():
    return [generate(7, i, render=False) for i in range(3)]


@pytest.fixture(scope="module")
def data(points):
    return _collect(((p.vectors(), p.captions) for p in points), stride=2)


def _model():
    torch.manual_seed(0)
    return build_model("lge", "tiny")


def test_object_round_trip(points):
    states = torch.as_tensor(points[0].vectors())
    back = to_states(to_objects(states), states[:1])
    torch.testing.assert_close(back, states, atol=1e-5, rtol=1e-5)


def test_training_lowers_loss(data):
    model = _model()
    c = model.config
    table = torch.randn(len(data.captions), c.text_dim)
    sampler = WindowSampler(data, table, c)
    g = torch.Generator().manual_seed(0)
    batch = sampler.batch(8, g)
    known = random_known_mask(8, c, g)
    text_on = torch.ones(8, c.window, 2, dtype=torch.bool)
    model.animation.set_statistics(batch["objects"])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss():
        return model.animation.loss(batch["objects"], known, batch["text"], text_on, batch["surface"],
                                    torch.Generator().manual_seed(1))

    first = loss().item()
    for _ in range(40):
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
    assert loss().item() < 0.7 * first


def test_acceleration_term_penalises_jitter(data):
    """The acceleration loss is part of the objective when its weight is set (and scales with it)."""
    model = _model()
    c = model.config
    sampler = WindowSampler(data, torch.randn(len(data.captions), c.text_dim), c)
    g = torch.Generator().manual_seed(0)
    batch = sampler.batch(8, g)
    known = random_known_mask(8, c, g)
    text_on = torch.ones(8, c.window, 2, dtype=torch.bool)
    model.animation.set_statistics(batch["objects"])

    def loss(weight: float) -> float:
        c.acceleration_weight = weight
        with torch.no_grad():
            return model.animation.loss(batch["objects"], known, batch["text"], text_on, batch["surface"],
                                        torch.Generator().manual_seed(1)).item()  # fmt: skip

    assert loss(1.0) > loss(0.0) + 1e-3
    assert loss(2.0) - loss(0.0) == pytest.approx(2 * (loss(1.0) - loss(0.0)), rel=1e-4)


def test_warm_start_may_change_loss_and_sampler_settings_only(tmp_path):
    from world_models.core.checkpoint import CheckpointError
    from world_models.zoo import warm_start

    save_model(tmp_path / "m", _model(), info={"steps": 7})
    other = _model()
    other.config.acceleration_weight, other.config.sample_steps = 3.0, 5
    assert warm_start(other, tmp_path / "m.safetensors")[0] == 7
    wider = build_model("lge", dataclasses.replace(other.config, d_model=64))
    with pytest.raises(CheckpointError, match="another config"):
        warm_start(wider, tmp_path / "m.safetensors")


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_generation_keeps_known_entries_and_is_seeded(points, eta):
    """Deterministic DDIM and the ancestral sampler alike: one seed, one sequence; given entries kept."""
    model = _model()
    c = model.config
    c.eta = eta
    window = torch.as_tensor(points[0].vectors()[: c.window * 2 : 2]).unsqueeze(0)
    known = torch.zeros(1, c.window, len(OBJECTS), FEATURE_DIM)
    known[:, : c.context] = 1
    known[:, -1, 0, :2] = 1  # the bottom player's root at the last frame

    def run(seed):
        return model.animation.generate(window[:, 0], known_states=window, known=known,
                                        generator=torch.Generator().manual_seed(seed))

    a, b, other = run(0), run(0), run(1)
    assert torch.equal(a, b) and not torch.equal(a, other)
    if eta:  # fresh noise each step: not the deterministic sampler's sequence from the same seed
        c.eta = 0.0
        assert not torch.allclose(a, run(0), atol=1e-3)
    root = layout.SLICES["bottom.root"]
    torch.testing.assert_close(a[0, -1, root], window[0, -1, root], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a[0, : c.context], window[0, : c.context], atol=1e-4, rtol=1e-4)
    style = layout.SLICES["top.style"]
    assert torch.equal(a[0, 5, style], window[0, 0, style])  # styles come from the template


def test_director_constraints_and_text(points):
    from world_models.core.text import shared_text_encoder

    model = _model()
    start = torch.as_tensor(points[1].vectors()[0])
    target = (1.5, -10.0)
    seq = direct(model, shared_text_encoder(), start, frames=20, generator=torch.Generator().manual_seed(0),
                 text=[TextSpan("top", 0, 20, "the top player does not reach the ball")],
                 constraints=[Constraint(19, "bottom", "root", target), Constraint(12, "ball", "position", (0, 0, 2))])
    assert seq.shape == (20, layout.STATE_SIZE)
    assert torch.equal(seq[0], start)
    np.testing.assert_allclose(seq[19, layout.SLICES["bottom.root"]].numpy(), target, atol=1e-4)
    np.testing.assert_allclose(seq[12, layout.SLICES["ball.position"]].numpy(), (0, 0, 2), atol=1e-4)
    with pytest.raises(ValueError, match="does not belong"):
        direct(model, shared_text_encoder(), start, frames=5, generator=torch.Generator(),
               constraints=[Constraint(2, "bottom", "position", (0, 0, 0))])
    with pytest.raises(ValueError, match="outside"):
        direct(model, shared_text_encoder(), start, frames=5, generator=torch.Generator(),
               constraints=[Constraint(9, "ball", "position", (0, 0, 0))])


def test_world_step_replans_on_new_text(points):
    model = _model()
    model.set_start_states(torch.as_tensor(np.stack([p.vectors()[0] for p in points])))
    g = torch.Generator().manual_seed(0)
    state = model.initial_state(2, generator=g)
    text = torch.zeros(2, 2, model.config.text_dim)
    action = {"text": text, "text_on": torch.ones(2, 2, dtype=torch.bool)}
    state, aux = model.step(state, action, generator=g)  # first step plans a window
    assert state["cursor"].tolist() == [1, 1] and aux["reward"].shape == (2,)
    state, _ = model.step(state, action, generator=g)
    assert state["cursor"].tolist() == [2, 2]  # same text: keeps stepping through the window
    changed = {"text": text.clone(), "text_on": action["text_on"]}
    changed["text"][1, 0, 0] = 1.0
    state, _ = model.step(state, changed, generator=g)
    assert state["cursor"].tolist() == [3, 2]  # row 1 re-planned from its last context frames
    assert state["length"].tolist() == [4, 4]


def test_checkpoint_round_trip_with_start_states(tmp_path, points):
    model = _model()
    model.set_start_states(torch.as_tensor(points[0].vectors()[:2]))
    path = save_model(tmp_path / "lge", model, extras=model.extras())
    loaded, header, _ = load_model(path, family="lge")
    assert torch.equal(loaded.start_states, model.start_states)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    s1, s2 = model.initial_state(2, generator=g1), loaded.initial_state(2, generator=g2)
    assert torch.equal(s1["window"], s2["window"])
