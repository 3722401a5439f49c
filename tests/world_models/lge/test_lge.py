"""The LGE animation model on its real code path with the tiny preset."""

import dataclasses

import numpy as np
import pytest
import torch

from world_models import build_model, load_model, preset, save_model
from world_models.engines.tennis import layout
from world_models.engines.tennis.sequence import generate
from world_models.lge.data import CONTACT_FRAMES, WindowSampler, _collect, near_contact, random_known_mask
from world_models.lge.director import Constraint, TextSpan, direct
from world_models.lge.objects import FEATURE_DIM, OBJECTS, to_objects, to_states


@pytest.fixture(scope="module")
def points():
    return [generate(7, i, render=False) for i in range(3)]


@pytest.fixture(scope="module")
def data(points):
    return _collect(((p.vectors(), p.captions) for p in points), stride=2)


def _model(**changes):
    torch.manual_seed(0)
    return build_model("lge", dataclasses.replace(preset("lge", "tiny"), **changes))


def _loss_setup(data, **changes):
    """A tiny model with statistics set on a batch of 8 windows, the batch, a conditioning mask and text switches."""
    model = _model(**changes)
    c = model.config
    sampler = WindowSampler(data, torch.randn(len(data.captions), c.text_dim), c)
    g = torch.Generator().manual_seed(0)
    batch = sampler.batch(8, g)
    known = random_known_mask(8, c, g)
    model.animation.set_statistics(batch["objects"])
    return model, batch, known, torch.ones(8, c.window, 2, dtype=torch.bool)


def test_object_round_trip(points):
    states = torch.as_tensor(points[0].vectors())
    back = to_states(to_objects(states), states[:1])
    torch.testing.assert_close(back, states, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("prediction, text_modulation", [("epsilon", False), ("v", False), ("epsilon", True)])
def test_training_lowers_loss(data, prediction, text_modulation):
    model, batch, known, text_on = _loss_setup(data, text_modulation=text_modulation)
    model.config.prediction = prediction
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


def _loss_under(data, field: str, contact: bool = False):
    """The loss of one fixed batch and noise draw as a function of the objective setting ``field``."""
    model, batch, known, text_on = _loss_setup(data)

    def loss(value: float) -> float:
        setattr(model.config, field, value)
        with torch.no_grad():
            return model.animation.loss(batch["objects"], known, batch["text"], text_on, batch["surface"],
                                        torch.Generator().manual_seed(1),
                                        contact=batch["contact"] if contact else None).item()  # fmt: skip

    return loss


def test_acceleration_term_penalises_jitter(data):
    """The acceleration loss is part of the objective when its weight is set (and scales with it)."""
    loss = _loss_under(data, "acceleration_weight")

    assert loss(1.0) > loss(0.0) + 1e-3
    assert loss(2.0) - loss(0.0) == pytest.approx(2 * (loss(1.0) - loss(0.0)), rel=1e-4)


def test_contact_frames_are_found_and_weighted(points, data):
    """Frames around each strike (not bounces) are marked, and `contact_weight` weights their loss."""
    point = points[0]
    states = torch.as_tensor(point.vectors())[None]
    marked = near_contact(states)[0]
    strikes = [s.frame for s in point.engine.shots]  # the serve included
    assert strikes and all(marked[f - CONTACT_FRAMES + 1 : f + CONTACT_FRAMES].all() for f in strikes)
    events = [(f, e["type"]) for f, evs in enumerate(point.engine.events) for e in evs]
    contacts = strikes + [f for f, kind in events if kind == "net"]
    far = [f for f, kind in events if kind == "bounce" and min(abs(f - h) for h in contacts) > 2 * CONTACT_FRAMES]
    assert far and not any(marked[f] for f in far)

    model, batch, _, _ = _loss_setup(data)
    assert batch["contact"].shape == (8, model.config.window) and batch["contact"].any()
    loss = _loss_under(data, "contact_weight", contact=True)
    assert loss(3.0) > loss(0.0) + 1e-3


def test_snr_floor_weighs_the_clean_sequence_error_of_high_noise_levels():
    from world_models.lge.diffusion import MAX_LEVEL_WEIGHT, cosine_alpha_bar, level_weight

    a = cosine_alpha_bar(1000)
    snr = a / (1 - a)
    w = level_weight(a, 0.1)
    assert torch.all(w[snr >= 0.1] == 1.0)  # low noise: the plain noise-prediction loss
    mid = (snr < 0.1) & (snr > 0.1 / MAX_LEVEL_WEIGHT)
    assert mid.any() and torch.allclose(w[mid] * snr[mid], torch.tensor(0.1))  # clean error weighs the floor
    assert w[-1] == MAX_LEVEL_WEIGHT and torch.all(level_weight(a, 0.0) == 1.0)


def test_snr_floor_raises_the_loss_of_noisy_draws(data):
    loss = _loss_under(data, "snr_floor")
    assert loss(0.1) > loss(0.0) + 1e-4


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_network_output_is_read_back_as_the_noise_and_the_clean_sequence(prediction):
    from world_models.lge.diffusion import cosine_alpha_bar, read_output, target

    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(2, 4, 3, 5, generator=g).unbind(0)
    for a in cosine_alpha_bar(1000)[[0, 500, 967]]:
        noisy = a.sqrt() * x0 + (1 - a).sqrt() * noise
        eps, clean = read_output(target(x0, noise, a, prediction), noisy, a, prediction)
        torch.testing.assert_close(eps, noise, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(clean, x0, atol=2e-3, rtol=1e-3)  # 1/sqrt(a) amplifies float error near noise


def test_v_prediction_is_its_own_target_and_samples(data):
    """With v prediction the same weights have another loss (the target differs; that it trains is tested above),
    the sampler reads the output as v, and the prediction must be one of the two and excludes the SNR floor."""
    loss = _loss_under(data, "prediction")
    assert abs(loss("v") - loss("epsilon")) > 1e-3
    model = _model()
    c = dataclasses.replace(model.config, prediction="v")
    model.config = model.animation.config = c
    start = torch.as_tensor(generate(7, 0, render=False).vectors()[0])
    out = direct(model, None, start, frames=c.window, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out).all()
    for bad in ({"prediction": "x0"}, {"prediction": "v", "snr_floor": 0.1}):
        with pytest.raises(ValueError):
            dataclasses.replace(c, **bad)


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


def test_text_modulation_carries_the_words(data):
    """With the additive text projections frozen at zero, one training step of the per-token modulation is enough
    for two captions to give different noise predictions: the route starts silent and learns."""
    model, batch, known, text_on = _loss_setup(data, text_modulation=True)
    network = model.animation.network
    with torch.no_grad():  # a trained network (a fresh one's zero output passes no gradient) without the new route
        for name, parameter in network.named_parameters():
            if ".token_modulation." not in name:
                parameter.normal_(std=0.1, generator=torch.Generator().manual_seed(len(name)))
    torch.nn.init.zeros_(network.text_in.weight)
    torch.nn.init.zeros_(network.text_in.bias)
    network.text_in.requires_grad_(False)
    c = model.config
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, c.window, len(OBJECTS), FEATURE_DIM, generator=g)
    args = (torch.zeros_like(x), torch.ones(1, c.window, 2, dtype=torch.bool), torch.zeros(1, dtype=torch.long),
            torch.tensor([50]))  # fmt: skip
    captions = torch.randn(2, 1, 1, 1, c.text_dim, generator=g).expand(-1, 1, c.window, 2, -1)

    def difference() -> float:
        with torch.no_grad():
            a, b = (network(x, args[0], text, *args[1:]) for text in captions)
        return (a - b).abs().max().item()

    assert difference() == 0.0
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.animation.loss(batch["objects"], known, batch["text"], text_on, batch["surface"],
                         torch.Generator().manual_seed(1)).backward()  # fmt: skip
    assert all(block.token_modulation.weight.grad.abs().sum() > 0 for block in network.blocks)
    optimizer.step()
    assert difference() > 1e-3


def test_growth_switches_keep_the_function_and_cannot_be_undone(tmp_path):
    """A checkpoint trained without text whitening, the ball's text route or the text modulation continues with them
    switched on:
    the grown network computes the same noise prediction until training moves it; switching off is refused."""
    from world_models.core.checkpoint import CheckpointError
    from world_models.zoo import warm_start

    source = _model()
    for parameter in source.parameters():  # non-trivial weights everywhere, text projections included
        torch.nn.init.normal_(parameter, std=0.2)
    save_model(tmp_path / "m", source, info={"steps": 3})
    grown = build_model("lge", dataclasses.replace(source.config, text_whitening=True, ball_text=True,
                                                   text_modulation=True))
    assert warm_start(grown, tmp_path / "m.safetensors")[0] == 3
    c = source.config
    captions = torch.randn(300, c.text_dim) * torch.linspace(0.01, 1.0, c.text_dim)  # anisotropic, as MiniLM's
    grown.animation.network.set_text_statistics(captions, keep_function=True)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, c.window, len(OBJECTS), FEATURE_DIM, generator=g)
    known = (torch.rand(x.shape, generator=g) > 0.5).float()
    text = captions[torch.randint(300, (2, c.window, 2), generator=g)]
    on = torch.rand(2, c.window, 2, generator=g) > 0.3
    args = (x, known, text, on, torch.zeros(2, dtype=torch.long), torch.tensor([3, 60]))
    with torch.no_grad():
        torch.testing.assert_close(grown.animation.network(*args), source.animation.network(*args), atol=1e-4, rtol=1e-4)
    whitened = (captions - grown.animation.network.text_mean) @ grown.animation.network.text_whiten
    spectrum = torch.linalg.eigvalsh(torch.cov(whitened.T))
    assert spectrum.max() / spectrum.median() < 1.5  # every direction of the captions now varies alike
    save_model(tmp_path / "g", grown)
    with pytest.raises(CheckpointError, match="switch them off"):
        warm_start(_model(), tmp_path / "g.safetensors")


def test_reconcile_recovers_positions_from_velocities(points):
    """Engine states with jittered positions and exact velocities: integrating the velocities from the given
    first frames gives back the true positions (the engine's conventions for players and ball, a serve's flight
    and its bounce included), given frames stay as they are, and a large position weight keeps the generated
    positions. Before the toss the ball is held (no velocity): its generated positions are kept."""
    from world_models.lge.kinematics import reconcile

    vectors = torch.as_tensor(points[1].vectors())
    ball_speed = vectors[:, layout.SLICES["ball.velocity"]].norm(dim=1)
    serve = int(torch.nonzero(ball_speed > 10).flatten()[0])  # the serve's first frame: 25 fps from here
    truth = vectors[serve - 4 : serve + 28].unsqueeze(0)
    noisy = truth.clone()
    g = torch.Generator().manual_seed(0)
    moving = [layout.SLICES[n] for n in ("bottom.root", "top.root", "ball.position")]
    for piece in moving:
        noisy[..., piece] += 0.3 * torch.randn(noisy[..., piece].shape, generator=g)
    known = torch.zeros(1, 32, len(OBJECTS), FEATURE_DIM)
    known[:, :4] = 1
    noisy[:, :4] = truth[:, :4]
    fitted = reconcile(noisy, known, fps=25.0, weight=0.0)
    for piece in moving:
        assert (noisy[..., piece] - truth[..., piece]).abs().mean() > 0.15
        assert (fitted[..., piece] - truth[..., piece]).abs().max() < 0.15, piece
    assert torch.equal(fitted[:, :4], truth[:, :4])
    kept = reconcile(noisy, known, fps=25.0, weight=1e4)
    torch.testing.assert_close(kept, noisy, atol=1e-3, rtol=0)
    held = vectors[:8].unsqueeze(0).clone()  # the server holds the ball
    assert ball_speed[:8].max() == 0
    ball = layout.SLICES["ball.position"]
    held[:, 2:, ball] += 0.1 * torch.randn(held[:, 2:, ball].shape, generator=g)
    torch.testing.assert_close(reconcile(held, known[:, :8], fps=25.0, weight=0.0)[..., ball], held[..., ball])


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


def test_world_step_schedules_a_text_change(points, monkeypatch):
    """A scheduled change gives the window's frames from ``switch_at`` on the new text (the training captions
    change at the opponent's strike); a moved schedule re-plans."""
    model = _model()
    model.set_start_states(torch.as_tensor(np.stack([p.vectors()[0] for p in points])))
    g = torch.Generator().manual_seed(0)
    state = model.initial_state(2, generator=g)
    seen = []
    generate = model.animation.generate
    monkeypatch.setattr(model.animation, "generate", lambda *a, **k: seen.append(k["text"]) or generate(*a, **k))
    e = model.config.text_dim
    switch = state["length"][0].item() + 3  # the 4th new frame; the first new frame is window position 1
    action = {"text": torch.zeros(2, 2, e), "text_on": torch.ones(2, 2, dtype=torch.bool),
              "then_text": torch.ones(2, 2, e), "then_on": torch.ones(2, 2, dtype=torch.bool),
              "switch_at": torch.tensor([[switch, -1], [-1, -1]])}  # fmt: skip
    state, _ = model.step(state, action, generator=g)
    text = seen[-1]  # (2, W, 2, E); one known frame, so window position j is the point's frame length - 1 + j
    assert (text[0, :4, 0] == 0).all() and (text[0, 4:, 0] == 1).all()
    assert (text[0, :, 1] == 0).all() and (text[1] == 0).all()
    state, _ = model.step(state, action, generator=g)
    assert len(seen) == 1  # the same plan: no new window
    moved = dict(action, switch_at=torch.tensor([[switch + 1, -1], [-1, -1]]))
    state, _ = model.step(state, moved, generator=g)
    assert len(seen) == 2 and state["cursor"].tolist() == [2, 3]  # row 0 re-planned


def test_checkpoint_round_trip_with_start_prefixes(tmp_path, points):
    model = _model()
    prefixes = [torch.as_tensor(points[0].vectors()[:5]), torch.as_tensor(points[1].vectors()[:40])]
    model.set_start_prefixes(prefixes)
    path = save_model(tmp_path / "lge", model, extras=model.extras())
    loaded, header, _ = load_model(path, family="lge")
    assert all(torch.equal(a, b) for a, b in zip(loaded.start_prefixes, prefixes, strict=True))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    s1, s2 = model.initial_state(6, generator=g1), loaded.initial_state(6, generator=g2)
    assert torch.equal(s1["window"], s2["window"])
    for row in range(6):  # the whole prefix is the history; the current frame is its last
        n = int(s1["length"][row])
        prefix = prefixes[[len(p) for p in prefixes].index(n)]
        assert torch.equal(s1["history"][row, :n], prefix) and torch.equal(model.current(s1)[row], prefix[-1])
    with pytest.raises(ValueError, match="a start is"):
        model.set_start_prefixes([torch.zeros(3, 7)])


def test_serve_prefixes_end_after_a_legal_serve():
    """Episode starts are real points up to just after the serve bounced in: the referee sees a serve, in, and
    no point yet; the model continues from the last frames."""
    from world_models.engines.tennis.referee import judge
    from world_models.lge.world import SERVE_PREFIX_AFTER, serve_prefixes

    points = [torch.as_tensor(generate(11, i, render=False).vectors()) for i in range(6)]
    prefixes = serve_prefixes(points, fps=25.0, count=3)
    assert len(prefixes) == 3
    for prefix in prefixes:
        j = judge(prefix.numpy(), 25.0)
        serve = next(h for h in j.hits if h.shot == "serve")
        last_bounce = j.bounces[-1]
        assert j.winner is None and last_bounce.inside and last_bounce.frame > serve.frame
        assert len(prefix) == last_bounce.frame + SERVE_PREFIX_AFTER + 1
