"""LGE-Tennis-v0 specifics (the registry tests run the generic checkers on it)."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from lge_gym.envs.world_model_env import InvalidActionError
from world_models.engines.tennis.sequence import generate

FAST = {"checkpoint": None, "preset": "tiny"}


def test_free_text_actions():
    env = gym.make("LGE-Tennis-v0", action_type="text", **FAST)
    env.reset(seed=0)
    for text in ("the bottom player hits a lob to the left corner", "", "smash it"):
        obs, reward, terminated, truncated, info = env.step(text)
        assert obs.shape == (150,)
    with pytest.raises(InvalidActionError, match="strings"):
        env.step(3)
    with pytest.raises(InvalidActionError, match="at most"):
        env.step("x" * 500)


def test_target_actions():
    env = gym.make("LGE-Tennis-v0", action_type="target", **FAST)
    env.reset(seed=0)
    env.step(np.array([0.5, -0.5], dtype=np.float32))
    with pytest.raises(InvalidActionError, match="2 floats"):
        env.step(np.array([3.0, 0.0]))


def test_command_out_of_range():
    env = gym.make("LGE-Tennis-v0", **FAST)
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match="outside"):
        env.step(99)


def test_referee_rewards_a_finished_point():
    """Replay an engine point through the task's referee path frame by frame: the point ends once, at a bounce,
    and the reward goes to the engine's winner."""
    env = gym.make("LGE-Tennis-v0", **FAST).unwrapped
    env.reset(seed=0)
    point = generate(3, 0, render=False)
    states = torch.as_tensor(point.vectors()[:: env.model.config.frame_stride])
    state = env.world.state.clone()
    state["history"][0, : len(states)] = states
    ended = None
    for n in range(2, len(states) + 1):
        state["length"][0] = n
        rewards = env.task.rewards(state, state, None)
        if bool(env.task.terminated(state, state, None)[0]):
            ended = n, rewards[0].tolist()
            break
    winner = point.engine.winner
    assert winner in ("bottom", "top") and ended is not None
    expected = 1.0 if winner == "bottom" else -1.0
    assert ended[1] == [expected, -expected]
    assert ended[0] < len(states)  # decided during the point, before the post-point frames run out


def test_opponent_strategy_option():
    env = gym.make("LGE-Tennis-v0", **FAST)
    env.reset(seed=0, options={"opponent": "the top player does not reach the ball"})
    assert env.unwrapped.task.opponent_text == "the top player does not reach the ball"
    env.step(0)


def test_render_image():
    env = gym.make("LGE-Tennis-v0", obs_type="image", render_mode="rgb_array", **FAST)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (144, 256, 3) and obs.dtype == np.uint8 and obs.std() > 5
    assert np.array_equal(env.render(), obs)


def test_camera_and_style_options():
    from world_models.engines.tennis.camera import look_at

    env = gym.make("LGE-Tennis-v0", obs_type="image", **FAST)
    default, _ = env.reset(seed=0)
    extrinsics = look_at(np.array([0.0, -30.0, 9.0]), np.array([0.0, 2.0, 0.0]))
    moved, _ = env.reset(seed=0, options={"camera": {"intrinsics": [1.2, 2.1, 0.5, 0.5], "extrinsics": extrinsics}})
    clay, _ = env.reset(seed=0, options={"surface": "clay"})
    assert np.abs(moved.astype(int) - default).mean() > 5
    assert np.abs(clay.astype(int) - default).mean() > 5
    from world_models.engines.tennis import layout

    obs, *_ = env.step(0)
    state = env.unwrapped.model.current(env.unwrapped.world.state)[0]
    assert state[layout.SLICES["scene.surface"]].item() == 1.0  # clay, carried into generated frames
    assert np.abs(obs.astype(int) - clay).mean() < 20  # the style stays through the episode
    with pytest.raises(ValueError, match="surface option"):
        env.reset(options={"surface": "ice"})


def test_synthesis_module_draws_the_generated_states():
    """Image observations come from the learned renderer by default; the engine's rasteriser draws the same
    states on request, and the two pictures agree about the scene."""
    from world_models.render.zoo import load_renderer

    neural = gym.make("LGE-Tennis-v0", obs_type="image", **FAST)
    engine = gym.make("LGE-Tennis-v0", obs_type="image", renderer="engine", **FAST)
    a, _ = neural.reset(seed=3)
    b, _ = engine.reset(seed=3)
    state = neural.unwrapped.model.current(neural.unwrapped.world.state)
    assert np.array_equal(a, load_renderer()[0].render(state)[0].numpy())
    psnr = 10 * np.log10(255**2 / np.mean((a.astype(float) - b) ** 2))
    assert psnr > 20, psnr
    with pytest.raises(ValueError, match="renderer must be"):
        gym.make("LGE-Tennis-v0", renderer="nerf", **FAST)


def test_camera_moves_mid_point_and_stays():
    """`move_camera` (the play window's camera keys) changes the view of the generated states, and windows
    generated later keep the new camera."""
    from world_models.engines.tennis import layout

    env = gym.make("LGE-Tennis-v0", obs_type="image", **FAST)
    before, _ = env.reset(seed=0)
    env.unwrapped.move_camera(yaw=0.3, pitch=0.1, zoom=0.2)
    camera = env.unwrapped.layout_state()[layout.SLICES["camera.translation"]].copy()
    for _ in range(20):  # past the end of the first window: new windows are generated from the moved states
        obs, *_ = env.step(0)
    assert np.allclose(env.unwrapped.layout_state()[layout.SLICES["camera.translation"]], camera, atol=1e-5)
    assert np.abs(obs.astype(int) - before).mean() > 5
    assert set(env.unwrapped.view_keys) == {"[", "]", ";", "'", "-", "="}


def test_striker_keeps_its_shot_text_until_the_ball_bounces():
    """As in the engine's captions, a shot's words stay on while it flies; the bounce hands over to recovery."""
    from tensordict import TensorDict

    from lge_gym.envs.lge_tennis import _in_flight_since_turn

    seq = generate(0, 0, render=False)
    vectors = torch.as_tensor(seq.vectors(), dtype=torch.float32)  # 25 fps, as the small model
    events = seq.engine.events
    shot = seq.engine.shots[1]  # the return of serve: the ball turns around at the strike
    bounce = next(f for f, evs in enumerate(events) for e in evs if f > shot.frame and e["type"] == "bounce")

    # One row per moment, each with its own length: after the strike, just before the bounce, after it.
    lengths = torch.tensor([shot.frame + 6, bounce - 2, bounce + 4]) + 1
    state = TensorDict({"history": vectors[None].expand(3, -1, -1), "length": lengths}, batch_size=[3])
    assert _in_flight_since_turn(state).tolist() == [True, True, False]


def test_strike_frame_expects_the_ball_at_the_player_it_flies_to():
    """The frame a player's next caption starts from (the opponent's expected strike): the ball flying on at its
    depth speed to half a metre in front of the striker; none for the player it leaves, a ball well past, a slow
    ball or a strike beyond the horizon."""
    from lge_gym.envs.lge_tennis import strike_frame
    from world_models.engines.tennis import layout

    states = np.zeros((5, layout.STATE_SIZE), dtype=np.float32)
    for row, (ball_y, vy) in enumerate([(5.0, -10.0), (-12.0, -10.0), (-5.0, 20.0), (5.0, -2.0), (10.0, -3.5)]):
        states[row, layout.SLICES["bottom.root"]] = (0.0, -11.0)
        states[row, layout.SLICES["top.root"]] = (0.0, 11.0)
        states[row, layout.SLICES["ball.position"]] = (0.0, ball_y, 1.0)
        states[row, layout.SLICES["ball.velocity"]] = (0.0, vy, 0.0)
    frames = strike_frame(torch.as_tensor(states), torch.full((5,), 100), fps=25.0, horizon=40)
    # (-10.5 - 5) / -10 * 25 = 38.75 frames to the bottom player's striking depth; (10.5 + 5) / 20 * 25 = 19.4;
    # a ball slower than a shot, and one beyond the horizon (146 frames), expect no strike
    assert frames.tolist() == [[139, -1], [-1, -1], [-1, 119], [-1, -1], [-1, -1]]


def test_point_states_hold_the_whole_point_from_the_start():
    """What the referee must read: the start's real frames (its serve), then one generated frame per step."""
    prefix = generate(0, 3, render=False).vectors()[:20]
    env = gym.make("LGE-Tennis-v0", **FAST)
    env.reset(seed=0, options={"start": prefix})
    for _ in range(3):
        env.step(0)
    states = env.unwrapped.point_states()
    assert states.shape == (23, prefix.shape[1])
    np.testing.assert_allclose(states[:20], prefix, atol=1e-6)
    np.testing.assert_array_equal(states[-1], env.unwrapped.layout_state())


@pytest.mark.parametrize(
    ("outcome", "scheduled"), [("play", "default"), ("into_net", "watches"), ("out", "out"), ("does_not_reach", None)]
)
def test_the_next_text_follows_the_strikers_intended_outcome(outcome, scheduled):
    """While the top player's serve flies to the bottom player, the top player's text from the expected strike on
    is its next shot when the bottom player means to play the ball, "watches the ball" or "lets the ball go out"
    when it means to hit the net or out (the engine's captions), and nothing is scheduled when it means to miss."""
    from lge_gym.envs.lge_tennis import after_caption, command_caption
    from world_models.engines.tennis.commands import AUTO, COMMAND_VOCABULARY

    env = gym.make("LGE-Tennis-v0", **FAST).unwrapped
    point = generate(0, 0, render=False)  # the top player serves at frame 36, the bottom player returns at 60
    assert [(s.player, s.frame) for s in point.engine.shots[:2]] == [("top", 36), ("bottom", 60)]
    env.reset(seed=0, options={"start": point.vectors()[:48]})
    task = env.task
    index = next(i for i, c in enumerate(COMMAND_VOCABULARY) if c.outcome == outcome and c.shot is None)
    plan = task.model_action(task.encode_actions(index, 1), env.world.state, torch.Generator().manual_seed(0))
    assert task.intended_outcomes(plan["text"])[0][0] == outcome
    if scheduled is None:
        assert int(plan["switch_at"][0, 1]) == -1
        return
    assert 50 <= int(plan["switch_at"][0, 1]) <= 70
    text = command_caption("top", AUTO) if scheduled == "default" else after_caption("top", outcome)
    assert torch.allclose(plan["then_text"][0, 1], task._embed([text])[0])


def test_free_text_is_read_for_its_intended_outcome():
    """The outcome a free text means (what the other player's caption then becomes): its nearest command caption
    or engine phrasing of failing on purpose."""
    env = gym.make("LGE-Tennis-v0", **FAST).unwrapped
    cases = {
        "the bottom player puts the ball into the net": "into_net",
        "the bottom player lets the ball pass": "does_not_reach",
        "the bottom player doesn't catch the ball": "does_not_reach",
        "the bottom player hits it long, out of the court": "out",
        "the bottom player smashes the ball to the left corner": "play",
        "the bottom player returns the ball deep": "play",
    }
    embedded = env.task._embed(list(cases))
    outcomes = env.task.intended_outcomes(torch.stack([embedded, embedded], dim=1))
    assert [row[0] for row in outcomes] == list(cases.values())


def test_only_the_steps_it_announces_read_the_action():
    """``info["action_due"]`` (shipped model): two runs from the same start whose actions differ only at steps not
    announced as due play the same point; a different action at the due steps changes it."""

    def play(seed: int, due_action: int, other_actions: np.random.Generator) -> tuple[np.ndarray, int]:
        env = gym.make("LGE-Tennis-v0", obs_type="state", action_type="command")
        obs, info = env.reset(seed=seed)
        observations, due_steps = [obs], 0
        for _ in range(60):
            due_steps += bool(info["action_due"])
            action = due_action if info["action_due"] else int(other_actions.integers(53))
            obs, _, terminated, truncated, info = env.step(action)
            observations.append(obs)
            if terminated or truncated:
                break
        env.close()
        return np.stack(observations), due_steps

    first, due = play(3, 5, np.random.default_rng(0))
    second, _ = play(3, 5, np.random.default_rng(1))
    assert 1 <= due < 10 and len(first) > 30
    np.testing.assert_array_equal(first, second)
    third, _ = play(3, 50, np.random.default_rng(0))  # 50: "does not reach the ball"
    assert third.shape != first.shape or not np.array_equal(first, third)
