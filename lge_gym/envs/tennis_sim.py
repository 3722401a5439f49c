"""TennisSim-v0: the ground-truth tennis engine as a real game (one agent against the scripted opponent), and its
two-player PettingZoo version."""

from __future__ import annotations

from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from lge_gym.window import WindowOwner
from world_models.engines.tennis import layout
from world_models.engines.tennis.camera import CameraSampler
from world_models.engines.tennis.commands import COMMAND_VOCABULARY, Command, command_index
from world_models.engines.tennis.court import FPS, HALF_LENGTH, PLAYERS, SINGLES_HALF_WIDTH, SURFACES
from world_models.engines.tennis.game import EngineConfig, TennisEngine
from world_models.engines.tennis.render import Renderer, SceneStyle

ObsType = Literal["state", "image", "both"]
ActionType = Literal["command", "target"]

STATE_BOUND = 8.0
"""Normalised state observations are clipped to [-STATE_BOUND, STATE_BOUND]."""


class BoundedTennisState:
    """Mixin for the `Task` of a learned tennis game: state observations exactly as `TennisSim-v0`'s (the
    normalised layout state clipped to ``[-STATE_BOUND, STATE_BOUND]``), so a policy trained in the learned game runs
    unchanged in the engine."""

    def observation_space(self) -> spaces.Space:
        space = super().observation_space()
        state = spaces.Box(-STATE_BOUND, STATE_BOUND, (layout.STATE_SIZE,), np.float32)
        if self.obs_type == "state":
            return state
        if self.obs_type == "both":
            return spaces.Dict({"image": space["image"], "state": state})
        return space

    def observe(self, state: Any) -> dict[str, Any]:
        out = super().observe(state)
        if "state" in out:
            out["state"] = out["state"].clamp(-STATE_BOUND, STATE_BOUND)
        return out

KEYMAP: dict[str, int] = {
    "space": 0,  # let the scripted policy choose
    "left": command_index(Command(target="left_corner")),
    "right": command_index(Command(target="right_corner")),
    "up": command_index(Command(target="deep")),
    "down": command_index(Command(target="short")),
    "f": command_index(Command(shot="forehand", target="deep")),
    "b": command_index(Command(shot="backhand", target="deep")),
    "l": command_index(Command(shot="lob", target="deep")),
    "d": command_index(Command(shot="drop_shot", target="short")),
    "v": command_index(Command(shot="volley", target="centre")),
    "s": command_index(Command(shot="smash", target="centre")),
    "n": command_index(Command(outcome="does_not_reach")),
}
"""pygame key name -> action (``action_type="command"``): arrows aim (screen left/right, deep, short), letters choose
the shot, space hands the choice back to the scripted policy, ``n`` lets the next ball go."""


class _Match:
    """The engine, the camera and the renderer behind both environments."""

    def __init__(self, obs_type: ObsType, action_type: ActionType, points: int, frames_per_step: int, width: int,
                 height: int, randomise_view: bool, max_frames: int) -> None:  # fmt: skip
        if obs_type not in ("state", "image", "both"):
            raise ValueError(f"obs_type must be 'state', 'image' or 'both', got {obs_type!r}")
        if action_type not in ("command", "target"):
            raise ValueError(f"action_type must be 'command' or 'target', got {action_type!r}")
        if points < 1 or frames_per_step < 1:
            raise ValueError("points and frames_per_step must be at least 1")
        self.obs_type, self.action_type = obs_type, action_type
        self.points, self.frames_per_step = points, frames_per_step
        self.width, self.height = width, height
        self.randomise_view = randomise_view
        self.config = EngineConfig(points=points, max_frames=max_frames, post_point_frames=(2, 3))
        self.engine: TennisEngine | None = None
        self.renderer: Renderer | None = None
        self._renderers: dict[str, Renderer] = {}
        self._frame: np.ndarray | None = None
        self._applied: dict[str, Any] = {}

    def observation_space(self) -> spaces.Space:
        state = spaces.Box(-STATE_BOUND, STATE_BOUND, (layout.STATE_SIZE,), np.float32)
        image = spaces.Box(0, 255, (self.height, self.width, 3), np.uint8)
        return {"state": state, "image": image, "both": spaces.Dict({"image": image, "state": state})}[self.obs_type]

    def action_space(self) -> spaces.Space:
        if self.action_type == "command":
            return spaces.Discrete(len(COMMAND_VOCABULARY))
        return spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, rng: np.random.Generator, options: dict[str, Any] | None) -> None:
        options = options or {}
        surface = options.get("surface")
        if surface is not None and surface not in SURFACES:
            raise ValueError(f"unknown surface {surface!r}; choose from {list(SURFACES)}")
        config = EngineConfig(**{**self.config.__dict__, "surface": surface})
        self.engine = TennisEngine(config, rng=rng, server=options.get("server"))
        name = self.engine.surface.name
        if self.randomise_view:
            camera = CameraSampler().sample(rng, self.width, self.height)
            self.renderer = Renderer(camera, SceneStyle.sample(self.engine.surface, rng))
        else:
            if name not in self._renderers:  # a fixed view per surface, built once
                style_rng = np.random.default_rng(SURFACES[name].index)
                camera = CameraSampler().canonical(self.width, self.height)
                self._renderers[name] = Renderer(camera, SceneStyle.sample(self.engine.surface, style_rng))
            self.renderer = self._renderers[name]
        self._applied = {}
        self._frame = None

    def apply(self, player: str, action: Any) -> None:
        """Give ``player`` the command an action stands for (persistent until the action changes)."""
        if self.action_type == "command":
            index = int(action)
            if self._applied.get(player) == index:
                return
            self._applied[player] = index
            command = COMMAND_VOCABULARY[index]
            self.engine.set_command(player, None if index == 0 else command, persistent=True)
        else:
            a = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
            key = tuple(np.round(a, 3))
            if self._applied.get(player) == key:
                return
            self._applied[player] = key
            point = (float(a[0]) * (SINGLES_HALF_WIDTH - 0.3), (float(a[1]) + 1.0) / 2.0 * (HALF_LENGTH - 0.6) + 0.3)
            self.engine.set_command(player, Command(target_point=point), persistent=True)

    def advance(self) -> tuple[dict[str, float], bool, bool, list[dict[str, Any]]]:
        """Step the engine ``frames_per_step`` frames: per-player rewards, terminated, truncated, the events."""
        rewards = {p: 0.0 for p in PLAYERS}
        events: list[dict[str, Any]] = []
        terminated = truncated = False
        for _ in range(self.frames_per_step):
            frame_events = self.engine.step()
            events += frame_events
            for e in frame_events:
                if e["type"] == "point":
                    for p in PLAYERS:
                        rewards[p] += 1.0 if e["winner"] == p else -1.0
                    if self.engine.points_played + 1 >= self.points:
                        terminated = True
            if terminated:
                break
            if self.engine.done:
                truncated = self.engine.truncated
                terminated = not truncated
                break
        self._frame = None
        return rewards, terminated, truncated, events

    def frame(self) -> np.ndarray:
        if self._frame is None:
            state = self.engine.state()
            self._frame = self.renderer.render(state)[0]
        return self._frame

    def layout_state(self) -> np.ndarray:
        """The frame's flat layout state in metres and radians (what the referee reads)."""
        state = self.engine.state()
        state["scene"] = {"surface": self.engine.surface.index, "court_colour": self.renderer.style.court}
        state["camera"] = self.renderer.camera.to_json()
        return layout.flatten(state)

    def state_vector(self) -> np.ndarray:
        return np.clip(layout.normalise(self.layout_state()), -STATE_BOUND, STATE_BOUND).astype(np.float32)

    def observe(self) -> Any:
        if self.obs_type == "state":
            return self.state_vector()
        if self.obs_type == "image":
            return self.frame().copy()
        return {"image": self.frame().copy(), "state": self.state_vector()}

    def info(self, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        e = self.engine
        return {"frame": e.frame, "points_won": dict(e.points_won), "score": e.score_text(), "server": e.server,
                "events": events or []}  # fmt: skip


class TennisSimEnv(WindowOwner, gym.Env):
    """Singles tennis in the ground-truth engine: the agent plays one player against the scripted opponent.

    ## Description
    The tennis engine (`world_models.engines.tennis`): ITF court, ball physics with drag and surface-dependent
    bounces, serves with faults, rallies and the rules. The agent's player moves on its own to intercept the ball
    (bounded speed and acceleration, like the scripted policy); the agent decides what it does with each ball: the
    shot, where it goes, or to let it go. One step is ``frames_per_step`` frames at 25 fps.

    ## Action space
    ``action_type="command"`` (default): `Discrete(53)`, an index into
    `world_models.engines.tennis.commands.COMMAND_VOCABULARY`: 0 lets the scripted policy choose; then each target
    area (left corner, right corner, centre, deep, short, left box, right box; left/right are screen left/right)
    with the shot left to the policy; then every shot type x target area; then the intentional outcomes
    ``does_not_reach``, ``into_net``, ``out``. An action stays in force until a different one is given.
    ``action_type="target"``: `Box(-1, 1, (2,), float32)`, the landing point of the player's next shots on the
    opponent's half: screen x from the left to the right singles sideline, and depth from the net to the baseline.

    ## Observation space
    ``obs_type="state"`` (default): `Box(-8, 8, (150,), float32)`, the frame's state in the one state layout
    (`world_models.engines.tennis.layout`: both players' root, velocity, facing, 16 joints, colours; the ball;
    the surface; the camera), divided by `layout.SCALES` (positions / 12 m, velocities / 10 or 30 m/s, joints / 2 m,
    angles / pi). ``"image"``: `Box(0, 255, (height, width, 3), uint8)` broadcast view. ``"both"``: a `Dict` of the
    two.

    ## Rewards
    +1 when the agent's player wins a point, -1 when it loses one, 0 otherwise.

    ## Starting state
    A new point: the server, the game score (hence the serve side), the players' body parameters and colours and,
    unless ``options["surface"]`` fixes it, the surface are drawn from the generator seeded by ``reset(seed=...)``;
    ``options["server"]`` fixes the server.

    ## Episode end
    Terminated when ``points`` points have been played; truncated after ``max_frames`` frames (and by the
    registered ``max_episode_steps``).

    ## Arguments
    ``obs_type`` ("state" | "image" | "both"), ``action_type`` ("command" | "target"), ``player`` ("bottom", the
    near player, or "top"), ``points`` (points per episode, default 1), ``frames_per_step`` (default 1),
    ``width``/``height`` (image size, default 256 x 144), ``randomise_view`` (a random broadcast camera and colours
    per episode instead of the fixed one), ``max_frames``, ``render_mode`` (None, "rgb_array", "human").

    ## Version history
    v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": FPS}
    keymap = KEYMAP
    noop_action = 0

    def __init__(self, obs_type: ObsType = "state", action_type: ActionType = "command", player: str = "bottom",
                 points: int = 1, frames_per_step: int = 1, width: int = 256, height: int = 144,
                 randomise_view: bool = False, max_frames: int = 3000,
                 render_mode: str | None = None) -> None:  # fmt: skip
        if player not in PLAYERS:
            raise ValueError(f"player must be one of {PLAYERS}, got {player!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.player = player
        self.render_mode = render_mode
        self._match = _Match(obs_type, action_type, points, frames_per_step, width, height, randomise_view, max_frames)
        self.observation_space = self._match.observation_space()
        self.action_space = self._match.action_space()
        self._window = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self._match.reset(self.np_random, options)
        if self.render_mode == "human":
            self.render()
        return self._match.observe(), self._match.info()

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._match.engine is None:
            raise RuntimeError("call reset() before step()")
        self._match.apply(self.player, action)
        rewards, terminated, truncated, events = self._match.advance()
        if self.render_mode == "human":
            self.render()
        return self._match.observe(), rewards[self.player], terminated, truncated, self._match.info(events)

    def render(self) -> np.ndarray | None:
        if self._match.engine is None:
            return None
        return self._present(self._match.frame().copy(), "TennisSim-v0", self._match.engine.score_text())

    def layout_state(self) -> np.ndarray:
        """The current flat layout state in metres and radians (unclipped; what the referee reads)."""
        if self._match.engine is None:
            raise RuntimeError("call reset() before layout_state()")
        return self._match.layout_state()


class TennisSimParallelEnv(WindowOwner, ParallelEnv):
    """Both players are agents (``"bottom"``, the near player, and ``"top"``); the PettingZoo form of TennisSim-v0.

    Same arguments, observation and action spaces as `TennisSimEnv` (every agent observes the whole scene);
    rewards are zero-sum: +1 to a point's winner and -1 to its loser.
    """

    metadata = {"render_modes": ["rgb_array", "human"], "name": "tennis_sim_v0", "render_fps": FPS}

    def __init__(self, obs_type: ObsType = "state", action_type: ActionType = "command", points: int = 1,
                 frames_per_step: int = 1, width: int = 256, height: int = 144, randomise_view: bool = False,
                 max_frames: int = 3000, render_mode: str | None = None) -> None:  # fmt: skip
        self.possible_agents = list(PLAYERS)
        self.agents: list[str] = []
        self.render_mode = render_mode
        self._match = _Match(obs_type, action_type, points, frames_per_step, width, height, randomise_view, max_frames)
        self._obs_space = self._match.observation_space()
        self._act_space = self._match.action_space()
        self.observation_spaces = {a: self._obs_space for a in self.possible_agents}
        self.action_spaces = {a: self._act_space for a in self.possible_agents}
        self._window = None
        self._rng = np.random.default_rng()

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._match.reset(self._rng, options)
        self.agents = list(self.possible_agents)
        obs = self._match.observe()
        info = self._match.info()
        return {a: obs for a in self.agents}, {a: dict(info) for a in self.agents}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("the episode is over; call reset()")
        for agent, action in actions.items():
            self._match.apply(agent, action)
        rewards, terminated, truncated, events = self._match.advance()
        obs = self._match.observe()
        info = self._match.info(events)
        agents = self.agents
        out = (
            {a: obs for a in agents},
            {a: rewards[a] for a in agents},
            {a: terminated for a in agents},
            {a: truncated for a in agents},
            {a: dict(info) for a in agents},
        )
        if terminated or truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return out

    def render(self) -> np.ndarray | None:
        if self._match.engine is None:
            return None
        return self._present(self._match.frame().copy(), "TennisSim-v0 (two players)", self._match.engine.score_text())
