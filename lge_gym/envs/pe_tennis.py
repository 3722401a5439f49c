"""PE-Tennis-v0: tennis driven by the Playable Environments action module; one of 7 learned actions per step.

Each player's learned action drives its recurrent dynamics (location, facing, pose); the ball stays physical (the
engine's ball physics and a contact rule, `world_models.pe.ball`); the synthesis module renders the scene from a
camera the player can move; the engine's referee judges the point.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from tensordict import TensorDict

from lge_gym.envs.lge_tennis import LGETennisTask, _scene_overrides, _synthesis_module
from lge_gym.envs.models import resolve_model
from lge_gym.envs.tennis_sim import STATE_BOUND, BoundedTennisState
from lge_gym.envs.world_model_env import (
    InvalidActionError,
    ObsType,
    Task,
    WorldModelEnv,
    WorldModelParallelEnv,
    WorldModelVectorEnv,
)
from world_models.engines.tennis import layout
from world_models.engines.tennis.referee import judge
from world_models.pe.config import ENGINE_FPS
from world_models.pe.data import context_frames
from world_models.pe.objects import STYLE
from world_models.pe.world import PLAYER_NAMES, PEWorldModel
from world_models.render.views import PITCH_STEP, YAW_STEP, ZOOM_STEP, move_camera

DEFAULT_CHECKPOINT = "pe_tennis_small"
RESET_OPTIONS = ("start", "opponent", "camera", "surface", "court_colour", "style")
OPPONENTS = ("prior", "random")

Opponent = str | Callable[[np.ndarray], int]
"""``"prior"`` (the model's learned action prior), ``"random"``, or a policy: normalised state -> action index."""


class PETennisTask(BoundedTennisState, Task):
    """The players of a `PEWorldModel`; rewards from the referee on the generated states.

    Args:
        model: the PE world model (with a renderer set for image observations).
        obs_type: ``"image"``, ``"state"`` or ``"both"``.
        controlled: players the environment takes actions for (0 bottom, 1 top).
        opponent: how an uncontrolled player acts (see `Opponent`).
        extra_actions: actions become ``Dict(action, camera, style)``: camera orbit/tilt/zoom and style cycling
            between steps (single-player environments only).
    """

    def __init__(self, model: PEWorldModel, *, obs_type: ObsType = "image", controlled: tuple[int, ...] = (0,),
                 opponent: Opponent = "prior", extra_actions: bool = False) -> None:  # fmt: skip
        super().__init__(model, obs_type=obs_type, controlled=controlled)
        if extra_actions and len(controlled) != 1:
            raise ValueError("extra_actions (camera and style components) need a single controlled player")
        self.extra_actions = extra_actions
        self.opponent = self._check_opponent(opponent)
        self._last_winners: list[str | None] = []

    @staticmethod
    def _check_opponent(opponent: Opponent) -> Opponent:
        if not callable(opponent) and opponent not in OPPONENTS:
            raise ValueError(f"opponent must be one of {OPPONENTS} or a callable policy, got {opponent!r}")
        return opponent

    # -- spaces -------------------------------------------------------------------------------------------------
    def action_space(self) -> gym.Space:
        if not self.extra_actions:
            return super().action_space()
        return gym.spaces.Dict({
            "action": gym.spaces.Discrete(self.model.config.num_actions),
            "camera": gym.spaces.Box(-1.0, 1.0, (3,), np.float32),
            "style": gym.spaces.Discrete(2),
        })  # fmt: skip

    # -- actions ------------------------------------------------------------------------------------------------
    def encode_actions(self, actions: Any, batch: int) -> Any:
        """Learned action indices (as `Task`), or with ``extra_actions`` dicts of ``action`` (index), ``camera``
        (orbit, tilt, zoom in [-1, 1]) and ``style`` (1 moves to the next style of the bank, once per press)."""
        if not self.extra_actions:
            return super().encode_actions(actions, batch)
        if isinstance(actions, dict) and "action" in actions and np.ndim(actions["action"]) == 1:
            # A batch as the vector env's Dict space holds it: one array per key.
            rows = [{k: np.asarray(v)[i] for k, v in actions.items()} for i in range(len(actions["action"]))]
        elif isinstance(actions, dict):
            rows = [actions]
        else:
            rows = list(actions) if isinstance(actions, (list, tuple)) else []
        if len(rows) != batch or not all(isinstance(r, dict) for r in rows):
            raise InvalidActionError(f"expected {batch} dict action(s) with keys action, camera, style; got {actions!r}")
        space = self.action_space()
        for row in rows:
            if set(row) != {"action", "camera", "style"}:
                raise InvalidActionError(f"a dict action has keys action, camera, style; got {sorted(row)}")
            camera = np.asarray(row["camera"], dtype=np.float32)
            if camera.shape != (3,) or not space["camera"].contains(camera):
                raise InvalidActionError(f"camera is 3 floats in [-1, 1] (orbit, tilt, zoom), got {row['camera']!r}")
            if not space["style"].contains(np.int64(np.asarray(row["style"]).item())):
                raise InvalidActionError(f"style is 0 (keep) or 1 (next style), got {row['style']!r}")
        indices = super().encode_actions(np.array([np.asarray(r["action"]).item() for r in rows]), batch)
        return {
            "actions": indices,
            "camera": np.stack([np.asarray(r["camera"], dtype=np.float32) for r in rows]),
            "style": np.array([int(np.asarray(r["style"]).item()) for r in rows]),
        }

    def opponent_actions(self, state: TensorDict, players: list[int], generator: torch.Generator) -> torch.Tensor:
        if self.opponent == "prior":
            return self.model.prior_actions(state, players, generator)
        if self.opponent == "random":
            return super().opponent_actions(state, players, generator)
        observations = self.model.state_vector(state).clamp(-STATE_BOUND, STATE_BOUND).cpu().numpy()
        k = self.model.config.num_actions
        out = []
        for row in observations:
            action = int(np.asarray(self.opponent(row)).item())
            if not 0 <= action < k:
                raise InvalidActionError(f"the opponent policy returned {action}, outside [0, {k})")
            out.append([action] * len(players))
        return torch.tensor(out, dtype=torch.int64, device=self.model.device)

    def model_action(self, actions: Any, state: TensorDict, generator: torch.Generator) -> Any:
        if not self.extra_actions:
            return super().model_action(actions, state, generator)
        full = super().model_action(actions["actions"], state, generator)
        current = state["current"].cpu().numpy()
        for row in range(len(current)):
            yaw, pitch, zoom = (float(v) for v in actions["camera"][row])
            if yaw or pitch or zoom:
                current[row] = move_camera(current[row], yaw * YAW_STEP, pitch * PITCH_STEP, zoom * ZOOM_STEP)
        pressed = actions["style"].astype(bool)
        previous = getattr(self, "_style_pressed", np.zeros_like(pressed))
        for row in np.nonzero(pressed & ~previous[: len(pressed)])[0]:  # a held key cycles once
            current[row] = self._next_style(current[row])
        self._style_pressed = pressed
        b = state.batch_size[0]
        return TensorDict({"actions": full, "current": torch.as_tensor(current, device=self.model.device)},
                          batch_size=[b])  # fmt: skip

    def _next_style(self, flat: np.ndarray) -> np.ndarray:
        """The flat state with the players' styles replaced by the bank entry after the nearest one."""
        bank = self.model.styles.numpy()
        if len(bank) == 0:
            return flat
        pair = np.stack([flat[layout.SLICES[f"{p}.style"]] for p in PLAYER_NAMES])
        nearest = int(np.abs(bank - pair).sum((1, 2)).argmin())
        out = flat.copy()
        for i, p in enumerate(PLAYER_NAMES):
            out[layout.SLICES[f"{p}.style"]] = bank[(nearest + 1) % len(bank), i]
        return out

    # -- episode ------------------------------------------------------------------------------------------------
    def initial_state(self, batch: int, generator: torch.Generator, options: dict[str, Any] | None) -> TensorDict:
        options = options or {}
        unknown = set(options) - set(RESET_OPTIONS)
        if unknown:  # a warning, not an error: generic tools (PettingZoo's API test) pass options of their own
            gym.logger.warn(f"PE-Tennis ignores reset options {sorted(unknown)}; it knows {RESET_OPTIONS}")
        if "opponent" in options:
            self.opponent = self._check_opponent(options["opponent"])
        context = None
        if "start" in options:
            start = np.asarray(options["start"], dtype=np.float32)
            if start.shape[-1] != layout.STATE_SIZE or start.ndim not in (1, 2):
                raise ValueError(f"start option: a flat state ({layout.STATE_SIZE},) or context (T, "
                                 f"{layout.STATE_SIZE}), got shape {start.shape}")  # fmt: skip
            start = torch.as_tensor(start).reshape(1, -1, layout.STATE_SIZE)
            context = TensorDict({"start": start.expand(batch, -1, -1)}, batch_size=[batch])
        state = self.model.initial_state(batch, generator=generator, context=context)
        overrides = _scene_overrides(options) + self._style_overrides(options)
        for piece, value in overrides:
            state["current"][..., piece] = torch.as_tensor(np.asarray(value, dtype=np.float32), device=self.model.device)
        if overrides:
            for i, p in enumerate(PLAYER_NAMES):
                state["objects"][:, i, STYLE] = state["current"][:, layout.SLICES[f"{p}.style"]]
        self._style_pressed = np.zeros(batch, dtype=bool)
        return state

    def _style_overrides(self, options: dict[str, Any]) -> list[tuple[slice, Any]]:
        """``style``: an index into the model's style bank, or ``{"bottom": 9 floats, "top": 9 floats}`` (shirt,
        shorts, skin RGB in [0, 1])."""
        if "style" not in options:
            return []
        style = options["style"]
        bank = self.model.styles.numpy()
        if isinstance(style, dict):
            out = []
            for p, value in style.items():
                colours = np.asarray(value, dtype=np.float32)
                if p not in PLAYER_NAMES or colours.shape != (9,) or colours.min() < 0 or colours.max() > 1:
                    raise ValueError(f"style option: {{'bottom' or 'top': 9 floats in [0, 1]}}, got {p!r}: {value!r}")
                out.append((layout.SLICES[f"{p}.style"], colours))
            return out
        if isinstance(style, (int, np.integer)) and 0 <= int(style) < len(bank):
            return [(layout.SLICES[f"{p}.style"], bank[int(style), i]) for i, p in enumerate(PLAYER_NAMES)]
        raise ValueError(f"style option: an index in [0, {len(bank)}) of the style bank, or a dict of colours; "
                         f"got {style!r}")  # fmt: skip

    def _judge(self, state: TensorDict) -> list[str | None]:
        """The referee's winner for each row, or None while the point goes on. The history holds engine frames
        (25 fps); the referee runs when the frames of the last step show a bounce (a low local minimum of the ball's
        height), as a point ends only at one."""
        winners: list[str | None] = []
        history, length = state["history"].cpu().numpy(), state["length"].cpu().numpy()
        z = layout.SLICES["ball.position"].start + 2
        span = self.model.config.frame_stride + 2
        for row in range(state.batch_size[0]):
            n = int(length[row])
            h = history[row, max(0, n - span) : n, z]
            bounced = any(h[k] < 0.3 and h[k] <= h[k - 1] and h[k] < h[k + 1] for k in range(1, len(h) - 1))
            winners.append(judge(history[row, :n], ENGINE_FPS).winner if bounced else None)
        return winners

    # +1 / -1 from the referee's winner, and the end of the point: as LGE-Tennis (same referee, same players).
    rewards = LGETennisTask.rewards
    terminated = LGETennisTask.terminated


@functools.lru_cache(maxsize=2)
def _engine_start(frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Serve contexts and styles of a few engine points, for models that ship none (random test models)."""
    from world_models.engines.tennis.sequence import generate
    from world_models.pe.data import serve_contexts, style_bank

    sequences = [torch.as_tensor(generate(12345, i, render=False).vectors()) for i in range(6)]
    return serve_contexts(sequences, frames), style_bank(sequences)


def _task(checkpoint, preset, device, obs_type, controlled, opponent, renderer, extra_actions=False) -> PETennisTask:
    model, _, _ = resolve_model("pe", checkpoint, preset=preset, device=device)
    if len(model.start_contexts) == 0:
        model.set_start(*_engine_start(context_frames(model.config)))
    model.set_renderer(_synthesis_module(renderer, model.device))
    return PETennisTask(model, obs_type=obs_type, controlled=controlled, opponent=opponent,
                        extra_actions=extra_actions)  # fmt: skip


class PETennisEnv(WorldModelEnv):
    """PE-Tennis-v0: a point of tennis in the Playable Environments model; you move a player with 7 learned actions.

    ## Description
    The PE action module learned, without action labels, 7 discrete actions per player from the tennis engine's
    object states (location, facing, pose, style), with recurrent dynamics that predict each player's next state
    from its action. You control the bottom (near) player; the top player follows the model's learned action prior
    (what players in the data did in that situation), uniform random actions, or a policy you give. PE does not
    model the ball: it flies with the engine's ball physics and is returned by a contact rule when it comes within
    reach of a player's racket (the engine's shot solver picks the shot), so where you move decides whether you
    return it. Frames come from the learned synthesis module (the compositional neural renderer) from a camera you
    can move; the engine's referee judges the point.

    ## Action space
    `Discrete(7)`: the learned action of your player for the next 0.2 s (the model runs at the paper's 5 fps;
    the engine frames in between are interpolated for the players and simulated for the ball, so the referee
    reads 25 fps states). The actions have no names: the
    model found them; `lge-gym play` and `docs/pe.md` show which way each moves. With `extra_actions=True`:
    `Dict(action=Discrete(7), camera=Box(-1, 1, (3,)), style=Discrete(2))`: camera orbit about the court point it
    looks at (3 degrees per step at 1), tilt (2 degrees), zoom (4% focal), and 1 to switch both players to the next
    style of the model's style bank (once per press).

    ## Observation space
    `obs_type="image"` (default): `Box(0, 255, (144, 256, 3), uint8)` from the neural renderer; `"state"`: the
    normalised flat state of `world_models.engines.tennis.layout` clipped to [-8, 8] (`Box(150,)`, as
    `TennisSim-v0`); `"both"`: a `Dict`.

    ## Rewards
    +1 when the referee gives the point to your player, -1 when it goes to the opponent, 0 otherwise.

    ## Starting state
    A held-out engine point just after its serve (the frames up to the serve go into the referee's history and
    warm the dynamics up), drawn with the seeded generator. Options: `"start"` (a flat layout state, or a context of such states), `"camera"`
    (`{"intrinsics": [fx/W, fy/H, cx/W, cy/H], "extrinsics": 4x4 camera-to-world}`), `"style"` (an index into the
    model's bank of player styles, or `{"bottom": 9 floats, "top": 9 floats}`: shirt, shorts, skin RGB),
    `"surface"` (`"hard"`, `"clay"`, `"grass"`), `"court_colour"` (RGB) and `"opponent"` (as the argument).

    ## Episode end
    Terminates when the referee decides the point; truncated after 150 steps (30 s at 5 fps).

    ## Arguments
    `obs_type`, `render_mode`, `checkpoint` (default: the shipped `pe_tennis_small`; None gives a random `preset` model
    for tests), `preset`, `device` ("auto": the GPU when there is one), `opponent` (`"prior"`, `"random"` or a callable:
    normalised state -> action), `renderer` (`"neural"`: the shipped synthesis module; `"engine"`: the engine's
    rasteriser; or a renderer checkpoint file), `extra_actions` (camera and style action components).

    ## Version history
    v0: initial version.
    """

    def __init__(
        self,
        obs_type: ObsType = "image",
        render_mode: str | None = None,
        checkpoint: Any = DEFAULT_CHECKPOINT,
        preset: str = "tiny",
        device: str = "auto",
        opponent: Opponent = "prior",
        renderer: str = "neural",
        extra_actions: bool = False,
    ) -> None:
        task = _task(checkpoint, preset, device, obs_type, (0,), opponent, renderer, extra_actions)
        super().__init__(task, render_mode=render_mode)

    play_kwargs = {"obs_type": "image", "extra_actions": True}
    """`lge-gym play` moves the camera and cycles styles through the extra action components."""

    @property
    def still_action(self) -> int:
        """The learned action whose centroid is nearest the origin of the action space (least movement)."""
        centroids = self.model.players[0].centroid_estimator.estimated_centroids
        return int(centroids.norm(dim=-1).argmin())

    def _action(self, index: int, camera: tuple[float, float, float] = (0.0, 0.0, 0.0), style: int = 0) -> Any:
        if not self.task.extra_actions:
            return index
        return {"action": index, "camera": np.asarray(camera, dtype=np.float32), "style": style}

    @property
    def keymap(self) -> dict[str, Any]:
        """Play keys: 1-7 the learned actions; arrows orbit (left/right) and tilt (up/down) the camera, z/x zoom
        in/out, s the next player style (with ``extra_actions``, as `lge-gym play` builds it)."""
        keys: dict[str, Any] = {str(i + 1): self._action(i) for i in range(self.model.config.num_actions)}
        if self.task.extra_actions:
            still = self.still_action
            keys.update({
                "left": self._action(still, (-1.0, 0.0, 0.0)), "right": self._action(still, (1.0, 0.0, 0.0)),
                "up": self._action(still, (0.0, 1.0, 0.0)), "down": self._action(still, (0.0, -1.0, 0.0)),
                "z": self._action(still, (0.0, 0.0, 1.0)), "x": self._action(still, (0.0, 0.0, -1.0)),
                "s": self._action(still, style=1),
            })  # fmt: skip
        return keys

    @property
    def noop_action(self) -> Any:
        """What `lge-gym play` sends with no key held: the least-moving learned action."""
        return self._action(self.still_action)


class PETennisVectorEnv(WorldModelVectorEnv):
    """Natively batched PE-Tennis-v0: one dynamics pass and one rendering pass for every row."""

    def __init__(
        self,
        num_envs: int = 1,
        obs_type: ObsType = "image",
        checkpoint: Any = DEFAULT_CHECKPOINT,
        preset: str = "tiny",
        device: str = "auto",
        opponent: Opponent = "prior",
        renderer: str = "neural",
        extra_actions: bool = False,
        max_episode_steps: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
    ) -> None:
        task = _task(checkpoint, preset, device, obs_type, (0,), opponent, renderer, extra_actions)
        super().__init__(task, num_envs, max_episode_steps=max_episode_steps, autoreset_mode=autoreset_mode,
                         render_mode=render_mode)  # fmt: skip


class PETennisParallelEnv(WorldModelParallelEnv):
    """PE-Tennis-v0 with both players as PettingZoo agents (``bottom`` and ``top``), 7 learned actions each."""

    metadata = dict(WorldModelParallelEnv.metadata, name="pe_tennis_v0")

    def __init__(
        self,
        obs_type: ObsType = "image",
        render_mode: str | None = None,
        checkpoint: Any = DEFAULT_CHECKPOINT,
        preset: str = "tiny",
        device: str = "auto",
        renderer: str = "neural",
        max_episode_steps: int | None = 150,
    ) -> None:
        task = _task(checkpoint, preset, device, obs_type, (0, 1), "prior", renderer)
        super().__init__(task, max_episode_steps=max_episode_steps, render_mode=render_mode)


__all__ = ["PETennisEnv", "PETennisParallelEnv", "PETennisTask", "PETennisVectorEnv"]
