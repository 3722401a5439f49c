"""The PE action module on the tiny preset: object states, networks, losses, ball rule, camera control."""

import math

import numpy as np
import pytest
import torch
from tensordict import TensorDict

from world_models.engines.tennis import layout
from world_models.engines.tennis.sequence import generate
from world_models.pe import ball as rally
from world_models.pe.data import WindowSampler, serve_contexts, style_bank, true_directions
from world_models.pe.losses import acmv, acmv_deltas
from world_models.pe.objects import FEATURE_DIM, box_locations, to_objects, to_states
from world_models.pe.train import Trainer
from world_models.render.views import engine_frame, move_camera
from world_models.zoo import build_model, preset


@pytest.fixture(scope="module")
def points():
    return [torch.as_tensor(generate(7, i, render=False).vectors()) for i in range(4)]


@pytest.fixture()
def model(points):
    torch.manual_seed(0)
    m = build_model("pe", "tiny").eval()
    m.set_start(serve_contexts(points), style_bank(points))
    return m


def test_objects_round_trip(points):
    states = points[0][:10]
    objects = to_objects(states)
    assert objects.shape == (10, 2, FEATURE_DIM)
    back = to_states(objects, states)
    for p in ("bottom", "top"):
        for field in ("root", "facing", "joints", "style"):
            piece = layout.SLICES[f"{p}.{field}"]
            assert torch.allclose(back[:, piece], states[:, piece], atol=1e-5)


def test_box_locations_near_annotated_roots(points):
    states = points[1]
    roots = torch.stack([states[:, layout.SLICES[f"{p}.root"]] for p in ("bottom", "top")], 1)
    error = (box_locations(states) - roots).norm(dim=-1)
    # The box bottom is at the lowest joint (an ankle), not the ground point under the pelvis.
    assert error.median() < 0.6


def test_step_is_deterministic_and_shaped(model):
    def rollout(seed):
        g = torch.Generator().manual_seed(seed)
        state = model.initial_state(3, generator=g)
        for t in range(6):
            state, aux = model.step(state, torch.full((3, 2), t % 7), generator=g)
        return state

    a, b = rollout(1), rollout(1)
    assert torch.equal(a["current"], b["current"])
    assert a["current"].shape == (3, layout.STATE_SIZE) and int(a["length"][0]) == 4 + 6 * model.config.frame_stride
    assert model.state_vector(a).shape == (3, layout.STATE_SIZE)
    with pytest.raises(ValueError, match="int64"):
        model.step(a, torch.zeros(3, 1, dtype=torch.int64), generator=torch.Generator())


def test_styles_are_kept_and_controllable(model):
    g = torch.Generator().manual_seed(0)
    state = model.initial_state(1, generator=g)
    current = state["current"].clone()
    current[:, layout.SLICES["bottom.style"]] = 0.5
    state, _ = model.step(state, TensorDict({"actions": torch.zeros(1, 2, dtype=torch.int64), "current": current},
                                            batch_size=[1]), generator=g)  # fmt: skip
    assert torch.allclose(state["current"][:, layout.SLICES["bottom.style"]], torch.full((1, 9), 0.5))


@pytest.mark.parametrize("locations", ["annotations", "boxes"])
def test_trainer_step_updates_weights_and_centroids(points, locations):
    torch.manual_seed(0)
    config = preset("pe", "tiny")
    config.locations = locations
    model = build_model("pe", config)
    trainer = Trainer(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    d_optimizer = torch.optim.Adam(trainer.discriminators.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    sampler = WindowSampler(points, 4)
    before = model.players[0].dynamics_network.mlp_heads[0].weight.clone()
    centroids = model.players[0].centroid_estimator.estimated_centroids.clone()
    terms = trainer.step(sampler.batch(4, 4, g), g, optimizer, d_optimizer)
    assert all(math.isfinite(v) for v in terms.values())
    assert {"location", "mutual_information", "acmv", "gan_generator", "prior", "discriminator"} <= set(terms)
    assert not torch.equal(before, model.players[0].dynamics_network.mlp_heads[0].weight)
    assert not torch.equal(centroids, model.players[0].centroid_estimator.estimated_centroids)


def test_acmv_is_zero_for_a_perfect_partition():
    deltas = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert acmv(deltas, torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])) < 1e-6
    assert acmv(deltas, torch.full((4, 2), 0.5)) > 0.99


def test_saturated_acmv_deltas_keep_direction_and_level_off_speed():
    config = preset("pe", "tiny")
    # Normalised locations of one player: still, 1 m/s right, 5 m/s right, 5 m/s towards +y (at 5 fps, box 5 x 10 m).
    steps = torch.tensor([[0.0, 0.0], [0.2 / 5, 0.0], [1.0 / 5, 0.0], [0.0, 1.0 / 10]])
    locations = torch.cumsum(steps, 0).unsqueeze(0)
    raw = acmv_deltas(config, locations)
    assert torch.allclose(raw, steps[1:])
    config.acmv_speed_scale = 1.0
    saturated = acmv_deltas(config, locations)
    assert torch.allclose(saturated.norm(dim=-1), torch.tensor([0.5, 5 / 6, 5 / 6]))  # |d| / (|d| + 0.2 m)
    assert torch.allclose(saturated[2], torch.tensor([0.0, 5 / 6]))  # y is in metres again: same length as x


def test_true_directions():
    states = np.zeros((4, layout.STATE_SIZE), dtype=np.float32)
    states[:, layout.SLICES["bottom.root"].start] = [0.0, 0.1, 0.1, 0.1]  # right, then still, still
    assert true_directions(states, "bottom").tolist() == [1, 0, 0]


def test_contact_rule_and_strike():
    racket = np.array([0.0, -11.0, 1.0])
    assert rally.may_strike(0, 1, 1, [0.3, -11.0, 0.8], [0.0, -15.0, 1.0], racket, 1.2, 2.6)
    assert not rally.may_strike(0, 0, 1, [0.3, -11.0, 0.8], [0.0, -15.0, 1.0], racket, 1.2, 2.6)  # own shot
    assert not rally.may_strike(0, 1, 2, [0.3, -11.0, 0.8], [0.0, -15.0, 1.0], racket, 1.2, 2.6)  # bounced twice
    assert not rally.may_strike(0, 1, 1, [2.0, -11.0, 0.8], [0.0, -15.0, 1.0], racket, 1.2, 2.6)  # out of reach
    velocity = rally.strike(0, 0, np.array([0.0, -11.5]), np.array([0.0, 11.5]), [0.3, -11.0, 0.8],
                            np.random.default_rng(0))  # fmt: skip
    assert velocity[1] > 5.0  # towards the top half


def test_move_camera(points):
    flat = points[0][0].numpy()
    assert np.allclose(move_camera(flat), flat, atol=1e-5)
    moved = move_camera(flat, yaw=0.2, pitch=0.05, zoom=0.1)
    camera = slice(layout.SLICES["camera.intrinsics"].start, layout.SLICES["camera.translation"].stop)
    assert not np.allclose(moved[camera], flat[camera])
    assert np.allclose(np.delete(moved, np.arange(camera.start, camera.stop)),
                       np.delete(flat, np.arange(camera.start, camera.stop)))  # fmt: skip
    assert engine_frame(moved, 36, 64).shape == (36, 64, 3)
