"""The launch planner (`lge.planner`): contacts found in engine points, examples, training, and sampling with it."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from world_models import build_model, load_model, preset, save_model
from world_models.engines.tennis import layout
from world_models.engines.tennis.referee import judge
from world_models.engines.tennis.sequence import generate
from world_models.lge.objects import FEATURE_DIM, OBJECTS
from world_models.lge.planner import INPUTS, contact_examples, contacts, flight_ends, striker_of
from world_models.zoo import checkpoint_path, warm_start

FRAMES = (2, 4)


@pytest.fixture(scope="module")
def points():
    return [generate(7, i, render=False) for i in range(4)]


def _states(point) -> torch.Tensor:
    return torch.as_tensor(point.vectors(), dtype=torch.float32)


def test_contacts_are_the_engine_shots(points):
    """Every racket contact the engine records (serves included) is found within a frame, by the right player,
    and nothing else is (bounces do not turn the ball back)."""
    for point in points:
        states = _states(point)
        found = torch.nonzero(contacts(states.unsqueeze(0))[0]).flatten().tolist()
        shots = [s for s in point.engine.shots if s.frame + 1 < len(states)]
        assert len(found) == len(shots)
        for shot, frame in zip(shots, found, strict=True):
            assert abs(frame - shot.frame) <= 1
            assert ("bottom", "top")[int(striker_of(states[frame]))] == shot.player


def _tiny_with_planner():
    torch.manual_seed(0)
    config = dataclasses.replace(preset("lge", "tiny"), planner_frames=FRAMES, planner_width=32)
    return build_model("lge", config)


def test_planner_learns_the_flights_after_contacts(points):
    """Examples are mirrored onto one half (the top player's shots have the bottom player's sign of depth) and a
    few hundred steps fit them (each shot with its own caption) far better than their mean does."""
    model = _tiny_with_planner()
    planner = model.animation.planner
    states = [_states(p)[:: model.config.frame_stride] for p in points]  # the model's frame rate
    ids = [torch.zeros(len(s), 2, dtype=torch.long) for s in states]
    examples = contact_examples(states, ids, FRAMES, model.config.num_surfaces)
    valid = examples["valid"]
    assert valid[:, 0].all() and (examples["targets"][valid][:, 1] > 0).all()  # away from the striker: +y mirrored
    captions = torch.randn(1000, model.config.text_dim)
    planner.set_text_statistics(captions)
    text = captions[: len(examples["caption"])]
    optimizer = torch.optim.Adam(planner.net.parameters(), lr=3e-3)
    for _ in range(300):
        loss = (planner(text, examples["inputs"]) - examples["targets"])[valid].square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    spread = (examples["targets"] - examples["targets"].mean(0))[valid].square().mean().item()
    assert loss.item() < 0.2 * spread


def test_flights_end_at_bounces_and_contacts(points):
    """A flight ends where the referee sees a bounce or a strike, and the planner's training frames stop there:
    frames after the next bounce are not targets (the arc is one flight)."""
    for point in points:
        states = _states(point)
        ends = torch.nonzero(flight_ends(states.unsqueeze(0))[0]).flatten().tolist()
        j = judge(states.numpy(), 25.0)
        for event in [*j.bounces, *j.hits]:
            if 0 < event.frame < len(states) - 1:
                assert any(abs(event.frame - e) <= 1 for e in ends), event
    long = (2, 10, 20, 40)
    examples = contact_examples([_states(p) for p in points], [torch.zeros(len(_states(p)), 2, dtype=torch.long)
                                                                for p in points], long, 3)  # fmt: skip
    assert examples["valid"][:, 0].all() and not examples["valid"][:, -1].all()  # 1.6 s: every flight has landed
    assert (examples["targets"][~examples["valid"]] == 0).all()


def test_plan_keeps_the_frames_inside_the_window_and_above_the_ground(points):
    """A contact near a window's end is planned with the frames that fit; an arc driven into the ground is planned
    up to where it comes down (the animation model generates the bounce)."""
    model = _tiny_with_planner()
    c, planner = model.config, model.animation.planner
    every = _states(points[0])[:: c.frame_stride].unsqueeze(0)
    first = int(torch.nonzero(contacts(every)[0]).flatten()[0])
    text = torch.randn(1, c.window, 2, c.text_dim)
    on = torch.ones(1, c.window, 2, dtype=torch.bool)
    free = torch.ones(1, c.window, dtype=torch.bool)
    last = planner.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([0.0, 0.6, 0.2, 0.0, 0.0, -1.0]))  # 18 m/s away, 6 m/s up, gravity
    late = every[:, first - (c.window - 3) : first + 3]  # the contact 3 frames from the window's end
    (_, frame, planned, ball), = planner.plan(late, free, text, on)
    assert frame == c.window - 3 and planned == (1, 2) and ball.shape == (3, 6)  # and the frame after the contact
    with torch.no_grad():
        last.bias.copy_(torch.tensor([0.0, 0.6, -3.0, 0.0, 0.0, -1.0]))  # 90 m/s down: in the ground by frame 2
    early = every[:, first - 2 : first - 2 + c.window]
    (_, frame, planned, ball), = planner.plan(early, free, text, on)
    assert frame == 2 and planned == () and ball.shape == (1, 6)


def test_sampling_redraws_a_planned_shot(points):
    """A window with a generated contact is drawn again with the planned ball positions given: they are where the
    planner put them, the given frames are kept, and one seed still gives one window."""
    model = _tiny_with_planner()
    c = model.config
    every = _states(points[0])[:: c.frame_stride].unsqueeze(0)
    first = int(torch.nonzero(contacts(every)[0]).flatten()[0])
    states = every[:, first - 2 : first - 2 + c.window]  # a window with a contact at its frame 2
    text = torch.randn(1, c.window, 2, c.text_dim)
    on = torch.ones(1, c.window, 2, dtype=torch.bool)
    free = torch.ones(1, c.window, dtype=torch.bool)
    free[:, 0] = False
    plans = model.animation.planner.plan(states, free, text, on)
    assert len(plans) == 1
    row, frame, planned, positions = plans[0]
    assert row == 0 and bool(contacts(states)[0, frame]) and positions.shape == (1 + len(planned), 6)
    assert planned == (1, *FRAMES)[: len(planned)]
    torch.testing.assert_close(positions[0, :3], states[0, frame, layout.SLICES["ball.position"]])  # from the contact

    # Generation with a plan for the first draw's frame 3: the redrawn window keeps the first draw's frames up to
    # it, puts the ball where the plan says (at the contact its velocity only), and one seed still gives one window.
    first_draws = []
    wanted = torch.tensor([[0.0, 0.0, 0.0, 3.0, 20.0, 4.0], [1.0, -3.0, 1.2, 2.5, 19.0, 1.0],
                           [1.5, 2.0, 0.8, 2.0, 18.0, -2.0]])  # fmt: skip

    def fixed_plan(drawn, free, text, text_on, strikes, missed):
        assert strikes == [(0, 3, 0, list(FRAMES))] and missed == ()
        first_draws.append(drawn.clone())
        plan = wanted.clone()
        plan[0, :3] = drawn[0, 3, layout.SLICES["ball.position"]]  # a plan starts at the contact
        return [(0, 3, FRAMES, plan)]

    model.config.reach_speed = 0.0  # the contact stays where the strike says (`reach` is tested on its own)
    model.animation.planner.strikes = lambda drawn, free, text_on: [(0, 3, 0, list(FRAMES))]
    model.animation.planner.plan = fixed_plan
    known = torch.zeros(1, c.window, len(OBJECTS), FEATURE_DIM)
    known[:, :2] = 1

    def draw(seed):
        return model.animation.generate(states[:, 0], known_states=states, known=known, text=text, text_on=on,
                                        generator=torch.Generator().manual_seed(seed))  # fmt: skip

    window = draw(0)
    assert torch.equal(window, draw(0)) and not torch.equal(window, draw(1))
    ball, velocity = layout.SLICES["ball.position"], layout.SLICES["ball.velocity"]
    torch.testing.assert_close(window[0, [3 + k for k in FRAMES], ball], wanted[1:, :3], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(window[0, [3, 3 + FRAMES[0], 3 + FRAMES[1]], velocity], wanted[:, 3:], atol=1e-4,
                               rtol=1e-4)  # fmt: skip
    torch.testing.assert_close(window[0, :4, ball], first_draws[0][0, :4, ball], atol=1e-4, rtol=1e-4)
    assert not torch.allclose(window[0, 4:], first_draws[0][0, 4:])


def test_reach_moves_the_contact_or_the_striker_or_lets_the_ball_fly_on():
    """A contact whose striker's racket the first draw left far from the ball: the contact moves to the frame of the
    incoming flight nearest the racket when that is within the slack; else the striker is placed under the ball
    (racket over it, run frames freed) when it can run there; else it misses (None) and the frames up to the
    contact are kept for the ball to fly on."""
    from world_models.engines.tennis.referee import REACH
    from world_models.lge.objects import BALL_POSITION, JOINTS, ROOT, VELOCITY
    from world_models.lge.planner import REACH_SLACK, reach

    fps, window, turn = 25.0, 32, 20
    # The ball flies at 5 m/s along the court 1 m up on x = 0 (y = 8 + 0.2 per frame: 12 at the first draw's
    # contact, frame 20); the top player's racket head is 0.5 m to the right of its root; frames 0-1 are given.
    states = torch.zeros(window, layout.STATE_SIZE)
    ball, root = layout.SLICES["ball.position"], layout.SLICES["top.root"]
    states[:, ball] = torch.stack([torch.zeros(window), 8.0 + 0.2 * torch.arange(window), torch.ones(window)], 1)
    states[:, layout.SLICES["ball.velocity"]] = torch.tensor([0.0, 5.0, 0.0])
    racket = layout.SLICES["top.joints"].start + 3 * layout.JOINT_INDEX["racket_head"]
    states[:, racket : racket + 3] = torch.tensor([0.5, 0.0, 1.2])

    def case(x: float, y: float, speed: float = 5.0, given: int = 2):
        s = states.clone()
        s[:, root] = torch.tensor([x, y])
        known = torch.zeros(window, len(OBJECTS), FEATURE_DIM)
        known[:given] = 1.0
        return s, known, reach(s, known, turn, 1, speed, fps)

    # The racket (0.2 m above the ball) at y = 11 on the ball's line: it meets the ball at frame 15; nothing moves.
    s, known, contact = case(-0.5, 11.0)
    assert contact == 15 and s[:, root].eq(torch.tensor([-0.5, 11.0])).all()
    assert known[:16].eq(1).all() and known[16:].eq(0).all()
    # 2 m to the side of the ball's line: the striker runs 2 m in 0.76 s, its racket placed over the ball at the
    # first draw's contact, its frames since the given ones free, the ball's kept.
    s, known, contact = case(-2.5, 12.0)
    assert contact == turn
    torch.testing.assert_close(s[turn, root] + s[turn, racket : racket + 2], s[turn, ball][:2])
    assert s[:turn, root].eq(torch.tensor([-2.5, 12.0])).all()
    assert known[2:turn, 1].eq(0).all() and known[:2].eq(1).all() and known[: turn + 1, 2].eq(1).all()
    assert known[turn, 1, ROOT].eq(1).all() and known[turn, 1, JOINTS].eq(1).all()
    assert known[turn, 1, VELOCITY].eq(0).all() and known[turn + 1 :].eq(0).all()
    # 1.3 m to the side with no time to run (the striker given up to the frame before): a stretch the referee sees.
    s, known, contact = case(-1.8, 12.0, given=turn)
    assert contact == turn and s[:, root].eq(torch.tensor([-1.8, 12.0])).all() and known[: turn + 1].eq(1).all()
    # 1.6 m behind the ball's line at the first draw's contact, given up to the frame before: the ball flies on
    # (under gravity) to frame 24, where the striker can have run 0.8 m to meet it.
    s, known, contact = case(-0.5, 13.6, given=turn)
    assert contact == 24 and known[: turn + 1, 2].eq(1).all() and known[turn : contact + 1, 2, BALL_POSITION].eq(1).all()
    torch.testing.assert_close(s[contact, root] + s[contact, racket : racket + 2], s[contact, ball][:2])
    assert 0.5 < float(s[contact, ball.start + 2]) < 1.0  # fallen under gravity
    assert known[turn:contact, 1].eq(0).all() and known[contact, 1, ROOT].eq(1).all() and known[contact + 1 :].eq(0).all()
    # 11.5 m away: out of reach at 5 m/s, now or later; a miss, the frames up to the contact kept.
    s, known, contact = case(-12.0, 12.0)
    assert contact is None and known[: turn + 1].eq(1).all() and known[turn + 1 :].eq(0).all()
    # Off: the contact and the striker stay.
    s, known, contact = case(-2.5, 12.0, speed=0.0)
    assert contact == turn and s[:, root].eq(torch.tensor([-2.5, 12.0])).all()
    assert known[: turn + 1, :, BALL_POSITION].eq(1).all() and REACH_SLACK < REACH  # moved strikers are seen


def test_a_missed_ball_flies_on_under_gravity():
    """A strike the striker misses is planned as the ball's flight going on from the frame before, under gravity."""
    model = _tiny_with_planner()
    c, planner = model.config, model.animation.planner
    states = torch.zeros(1, c.window, layout.STATE_SIZE)
    ball, velocity = layout.SLICES["ball.position"], layout.SLICES["ball.velocity"]
    states[0, :, ball] = torch.tensor([1.0, 10.0, 3.0])
    states[0, :, velocity] = torch.tensor([2.0, 12.0, 0.0])
    free = torch.ones(1, c.window, dtype=torch.bool)
    text = torch.zeros(1, c.window, 2, c.text_features)
    on = torch.ones(1, c.window, 2, dtype=torch.bool)
    (_, frame, planned, waypoints), = planner.plan(states, free, text, on, [(0, 5, 1, list(FRAMES))], (0,))
    assert frame == 5 and planned == FRAMES
    dt = c.frame_stride / 25.0
    v0 = torch.tensor([2.0, 12.0, -9.81 * dt])
    for j, k in enumerate((0, *FRAMES)):
        t = k * dt
        expected = torch.tensor([1.0, 10.0, 3.0]) + v0 * t + 0.5 * torch.tensor([0.0, 0.0, -9.81]) * t * t
        torch.testing.assert_close(waypoints[j, :3], expected)


def test_train_lge_planner_command(tmp_path):
    """`train lge-planner` adds a trained planner to a checkpoint: the animation weights are unchanged, the
    planner's validation error is reported, and the new checkpoint loads and samples."""
    torch.manual_seed(0)
    source = build_model("lge", "tiny")
    save_model(tmp_path / "base", source, info={"steps": 7})
    run = tmp_path / "run"
    command = [sys.executable, "-m", "world_models", "train", "lge-planner", "--checkpoint",
               str(tmp_path / "base.safetensors"), "--run", str(run), "--engine-sequences", "12", "--steps", "30",
               "--frames", "2", "4", "--width", "32", "--raw-text", "--text-noise", "1.0", "--mirror",
               "--short-captions", "0.5", "--reader", "8", "--token-dropout", "0.1", "--members", "2",
               "--distractors", "0.3"]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((run / "planner.json").read_text())
    assert result["contacts"]["train"] > 0 and len(result["median_error_m"]["validation"]) == 2
    model, header, _ = load_model(run / "lge.safetensors", family="lge")
    assert header["config"]["planner_frames"] == [2, 4] and header["info"]["steps"] == 7
    assert header["config"]["planner_members"] == 2
    assert "train lge-planner" in header["info"]["planner"]["command"]
    weights = model.state_dict()
    for key, value in source.state_dict().items():
        assert torch.equal(weights[key], value), key
    # `train lge --init` continues the animation weights without the planner (it is added again afterwards).
    continued = build_model("lge", "tiny")
    assert warm_start(continued, run / "lge.safetensors")[0] == 7 and continued.animation.planner is None
    assert continued.config.text_features == continued.config.text_dim
    for key, value in continued.state_dict().items():
        assert torch.equal(weights[key], value), key
    with pytest.raises(ValueError, match="planner_frames"):
        dataclasses.replace(model.config, planner_frames=(4, 2))


def test_shipped_planner_sends_the_ball_where_the_words_say():
    """The shipped planner's arcs, from true contacts of held-out engine points and their captions, come down in the
    captioned area (validation: 99% of 286 shots; here at least 90% of a few), also for phrasings the engine never
    uses (validation: 85%; here at least 60%: 26 of 36 measured), and swapping "left" and "right" in a corner shot's
    caption moves the landing to the other side."""
    from world_models.core.text import shared_text_encoder
    from world_models.engines.tennis.court import TARGET_AREAS, opponent
    from world_models.lge.evaluate import mirrored
    from world_models.lge.paraphrases import paraphrase

    model, _, _ = load_model(checkpoint_path("lge_tennis_small"), family="lge")
    planner, encoder = model.animation.planner, shared_text_encoder()
    inside, unseen, toward = [], [], []
    for index in range(500000, 500008):
        point = generate(0, index, render=False)
        states = _states(point)  # the shipped model's frame stride is 1
        found = torch.nonzero(contacts(states[None])[0]).flatten().tolist()
        for shot in point.engine.shots:
            near = [h for h in found if abs(h - shot.frame) <= 1]
            if shot.shot == "serve" or shot.command.outcome != "play" or shot.area not in TARGET_AREAS or not near:
                continue
            caption = point.captions[shot.player][near[0]]
            texts = model.embed_text(encoder([caption, mirrored(caption), paraphrase(shot.player, shot.shot, shot.area)]))
            spots = [planner.landing(text, states, near[0]) for text in texts]
            area = TARGET_AREAS[shot.area]
            inside.append(spots[0] is not None and area.contains(opponent(shot.player), *spots[0]))
            unseen.append(spots[2] is not None and area.contains(opponent(shot.player), *spots[2]))
            if shot.area in ("left_corner", "right_corner") and None not in spots[:2]:
                toward.append((spots[0][0] - spots[1][0]) * (1 if shot.area == "right_corner" else -1) > 0)
    assert len(inside) >= 20 and sum(inside) >= 0.9 * len(inside) and sum(unseen) >= 0.6 * len(unseen)
    assert len(toward) >= 10 and sum(toward) >= 0.8 * len(toward)


def test_a_planner_reading_tokens_serves_the_environment(tmp_path):
    """With token readers (`planner_reader`, two `planner_members`) the model's text vectors carry each member's
    reading beside the pooled embedding: the environment and the director make them, a reader attends only to a
    caption's own tokens, the plan is the members' average, and the checkpoint saves and loads with them."""
    import gymnasium as gym

    import lge_gym  # noqa: F401  (registers the environments)
    from world_models.core.text import shared_text_encoder
    from world_models.lge.director import TextSpan, direct

    torch.manual_seed(0)
    config = dataclasses.replace(preset("lge", "tiny"), planner_frames=FRAMES, planner_width=32, planner_reader=8,
                                 planner_members=2)  # fmt: skip
    model = build_model("lge", config)
    assert config.text_features == config.text_dim + 16 and model.action_spec.dim == config.text_features
    encoder = shared_text_encoder()
    embedding = encoder(["the bottom player hits a forehand to the left corner", "the top player lobs"])
    vectors = model.embed_text(embedding)
    assert vectors.shape == (2, config.text_features)
    torch.testing.assert_close(vectors[:, : config.text_dim], embedding.pooled)
    padded = torch.cat([embedding.tokens, torch.randn(2, 3, config.text_dim)], dim=1)  # noise past the mask
    mask = torch.cat([embedding.mask, torch.zeros(2, 3, dtype=torch.bool)], dim=1)
    planner = model.animation.planner
    torch.testing.assert_close(planner.features(embedding.pooled, padded, mask), vectors)
    inputs = torch.randn(2, INPUTS)
    launches, accelerations = planner.arcs(vectors, inputs)
    assert launches.shape == accelerations.shape == (2, 2, 3) and not torch.allclose(launches[0], launches[1])
    launch, acceleration = planner.arc(vectors, inputs)
    torch.testing.assert_close((launch, acceleration), (launches.mean(0), accelerations.mean(0)))

    save_model(tmp_path / "reader", model)
    loaded, header, _ = load_model(tmp_path / "reader.safetensors", family="lge")
    assert header["config"]["planner_reader"] == 8 and header["config"]["planner_members"] == 2
    torch.testing.assert_close(loaded.embed_text(embedding), vectors)

    start = _states(generate(7, 0, render=False))[0]
    sequence = direct(loaded, encoder, start, frames=12, generator=torch.Generator().manual_seed(0),
                      text=[TextSpan("bottom", 0, 12, "the bottom player plays a lob")])  # fmt: skip
    assert sequence.shape == (12, layout.STATE_SIZE) and torch.isfinite(sequence).all()
    env = gym.make("LGE-Tennis-v0", checkpoint=str(tmp_path / "reader.safetensors"), obs_type="state",
                   action_type="text")  # fmt: skip
    env.reset(seed=0)
    observation, *_ = env.step("the near player volleys to the right box")
    assert np.isfinite(observation).all()
    env.close()


def test_distractor_words_are_neither_the_engines_nor_the_held_out_phrasings():
    """`train lge-planner --distractors` inserts only words that no training caption and no held-out phrasing
    (`paraphrases`) uses, so the held-out phrasings stay unseen and no inserted word contradicts a caption."""
    from world_models.core.text import shared_text_encoder
    from world_models.lge import paraphrases
    from world_models.lge.train_planner import _distractor_words

    point = generate(0, 3, render=False)
    captions = point.captions["bottom"] + point.captions["top"]
    words = set(_distractor_words(shared_text_encoder().tokenizer, captions))
    held_out = " ".join([*paraphrases.SUBJECTS.values(), *paraphrases.SHOTS.values(), *paraphrases.AREAS.values()])
    assert len(words) > 10_000
    assert not words & {w.strip(",") for w in held_out.split()}
    assert not words & {w.strip(",.") for c in captions for w in c.lower().split()}
    assert {"left", "right", "net", "dies", "athlete", "feathers"}.isdisjoint(words)
