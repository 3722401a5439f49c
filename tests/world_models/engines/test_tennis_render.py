"""The renderer: projection agrees with the mask, occlusion, ids and camera variation."""

import numpy as np

from world_models.engines.tennis.camera import CameraSampler
from world_models.engines.tennis.render import MASK_IDS
from world_models.engines.tennis.sequence import SequenceConfig, generate


def test_ball_projection_matches_its_mask_centroid():
    visible = within = 0
    for index in range(4):
        seq = generate(5, index)
        for state, mask in zip(seq.states, seq.masks, strict=True):
            ys, xs = np.nonzero(mask == MASK_IDS["ball"])
            if len(xs) == 0:
                continue
            visible += 1
            uv, _ = seq.camera.project(np.array([state["ball"]["position"]]))
            centroid = np.array([xs.mean() + 0.5, ys.mean() + 0.5])
            within += np.linalg.norm(centroid - uv[0]) <= 1.5
    assert visible > 300
    assert within / visible >= 0.99, f"{within}/{visible}"


def test_frames_masks_and_ids():
    seq = generate(2, 3, SequenceConfig(width=128, height=72))
    assert seq.frames.shape == (len(seq.states), 72, 128, 3) and seq.frames.dtype == np.uint8
    ids = set(np.unique(seq.masks))
    assert {0, MASK_IDS["bottom"], MASK_IDS["top"], MASK_IDS["net"]} <= ids
    # Each player's mask sits around the projection of its root and head.
    t = 30
    for name in ("bottom", "top"):
        ys, xs = np.nonzero(seq.masks[t] == MASK_IDS[name])
        s = seq.states[t][name]
        head = np.array([s["root"][0], s["root"][1], 0.0]) + s["joints"][0]
        uv, _ = seq.camera.project(head[None])
        assert xs.min() - 2 <= uv[0, 0] <= xs.max() + 3 and ys.min() - 3 <= uv[0, 1] <= ys.max() + 2


def test_net_occludes_what_is_behind_it():
    seq = generate(2, 3, SequenceConfig(width=256, height=144))
    from world_models.engines.tennis.render import Renderer

    renderer = Renderer(seq.camera, seq.style)
    state = {k: v for k, v in seq.states[0].items()}
    # Put the ball right behind the middle of the net, below the tape: it must be hidden by the net (id 4).
    state["ball"] = {"position": [0.0, 0.5, 0.45], "velocity": [0.0, 0.0, 0.0]}
    _, mask = renderer.render(state)
    assert not (mask == MASK_IDS["ball"]).any()
    state["ball"] = {"position": [0.0, -0.5, 0.45], "velocity": [0.0, 0.0, 0.0]}
    _, mask = renderer.render(state)
    assert (mask == MASK_IDS["ball"]).any()


def test_cameras_vary_per_sequence_and_frame_the_court():
    rng = np.random.default_rng(0)
    sampler = CameraSampler()
    cams = [sampler.sample(rng) for _ in range(20)]
    positions = np.array([c.position for c in cams])
    assert positions.std(axis=0).min() > 0.3
    assert len({round(c.fx, 3) for c in cams}) == 20
    corners = np.array([[x, y, 0.0] for x in (-4.115, 4.115) for y in (-11.885, 11.885)])
    for cam in cams:
        uv, z = cam.project(corners)
        assert (z > 0).all() and (uv[:, 0] >= 0).all() and (uv[:, 0] <= 256).all()
        assert (uv[:, 1] >= 0).all() and (uv[:, 1] <= 144).all()
