"""LGE-Tennis-v0: tennis animated by the Learnable Game Engine's animation model, played with text.

The model generates windows of object states conditioned on the last frames and on each player's text action;
the engine's referee reads the generated states and decides the point.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from gymnasium.vector import AutoresetMode
from tensordict import TensorDict

from lge_gym.envs.models import resolve_model
from lge_gym.envs.tennis_sim import BoundedTennisState
from lge_gym.envs.world_model_env import (
    InvalidActionError,
    ObsType,
    Task,
    WorldModelEnv,
    WorldModelParallelEnv,
    WorldModelVectorEnv,
)
from world_models.core.text import shared_text_encoder
from world_models.engines.tennis import layout
from world_models.engines.tennis.captions import OUTCOME_PHRASES
from world_models.engines.tennis.commands import AUTO, COMMAND_VOCABULARY, Command
from world_models.engines.tennis.court import (
    HALF_LENGTH,
    SINGLES_HALF_WIDTH,
    SURFACE_NAMES,
    SURFACES,
    TARGET_AREAS,
)
from world_models.engines.tennis.referee import judge
from world_models.lge.data import depth_turns
from world_models.lge.world import HISTORY, LGEWorldModel

PLAYERS = ("bottom", "top")
ACTION_TYPES = ("command", "target", "text")
DEFAULT_CHECKPOINT = "lge_tennis_small"
MAX_TEXT = 200

_SHOT_WORDS = {"forehand": "hits a forehand", "backhand": "hits a backhand", "volley": "plays a volley",
               "smash": "smashes the ball", "lob": "plays a lob", "drop_shot": "plays a drop shot"}  # fmt: skip
_AREA_WORDS = {"left_corner": "to the left corner", "right_corner": "to the right corner", "centre": "to the centre",
               "deep": "deep", "short": "short", "left_box": "to the left service box",
               "right_box": "to the right service box"}  # fmt: skip
_OUTCOME_WORDS = {"does_not_reach": "does not reach the ball", "into_net": "hits the ball but it goes into the net",
                  "out": "hits the ball but it goes out"}  # fmt: skip


def command_caption(player: str, command: Command) -> str:
    """A caption in the style of the engine's for a player about to play the ball under ``command``."""
    subject = f"the {player} player"
    if command.outcome != "play":
        return f"{subject} {_OUTCOME_WORDS[command.outcome]}"
    shot = _SHOT_WORDS.get(command.shot, "plays the ball back")
    if command.target is None:
        return f"{subject} runs to the ball and {shot}"
    return f"{subject} runs to the ball and {shot}, sending the ball {_AREA_WORDS[command.target]}"


def nearest_area(target: np.ndarray) -> str:
    """The named target area whose aim point is nearest a `TennisSim-v0`-style target: screen x from the left to
    the right singles sideline and depth from the net to the baseline, both in [-1, 1]."""
    x = float(target[0]) * SINGLES_HALF_WIDTH
    depth = (float(target[1]) + 1) / 2 * HALF_LENGTH

    def distance(name: str) -> float:
        area = TARGET_AREAS[name]
        return (0.5 * sum(area.x) - x) ** 2 + (0.5 * sum(area.depth) - depth) ** 2

    return min(("left_corner", "right_corner", "centre", "short", "left_box", "right_box"), key=distance)


def strike_frame(current: torch.Tensor, frame: torch.Tensor, fps: float, horizon: int = 32) -> torch.Tensor:
    """``(B, 2)`` point frame at which the ball, flying on at its current depth speed, reaches each player's striking
    depth (half a metre in front of its root), or -1 for the player it flies away from (or has passed), for a ball
    slower than a shot (`STRIKE_MIN_SPEED` in depth) and beyond ``horizon`` frames (a model window: a later
    change would not reach the window, and toggling it would only re-plan).

    Args:
        current: ``(B, STATE_SIZE)`` flat states of the current frame, the point's frame ``frame`` ``(B,)``.
    """
    pos, vel = layout.SLICES["ball.position"].start, layout.SLICES["ball.velocity"].start
    by, vy = current[:, pos + 1], current[:, vel + 1]
    out = torch.full((len(current), 2), -1, dtype=torch.int64, device=current.device)
    for i, player in enumerate(PLAYERS):
        sign = -1.0 if player == "bottom" else 1.0  # the bottom player stands at negative y
        depth = current[:, layout.SLICES[f"{player}.root"].start + 1] - sign * STRIKE_AHEAD
        towards = vy * sign > STRIKE_MIN_SPEED
        frames = ((depth - by) / torch.where(towards, vy, torch.ones_like(vy)) * fps).round()
        coming = towards & (frames > -3) & (frames <= horizon)  # a ball well past the player will not be struck
        out[:, i] = torch.where(coming, frame + frames.clamp(min=0).long(), out[:, i])
    return out


STRIKE_AHEAD = 0.5
"""Metres in front of a player's root where `strike_frame` expects the ball to be struck."""
STRIKE_MIN_SPEED = 3.0
"""m/s in depth below which a ball is not a shot on its way to a player (`strike_frame` expects no strike)."""


def recovery_caption(player: str) -> str:
    return f"the {player} player recovers to the middle of the baseline"


_AFTER_FAILED = {"into_net": "watches the ball", "out": "lets the ball go out"}
"""What the engine's captions say the other player does once a shot is hit into the net or out (`captions._final`);
after a ball that is not reached, it keeps its recovery caption."""


def after_caption(player: str, outcome: str) -> str | None:
    """The text a player gets from the opponent's strike on, when that strike's intended outcome is ``outcome``:
    None for a shot in play (the player's own next shot) and for a ball not reached (no strike: no change)."""
    return f"the {player} player {_AFTER_FAILED[outcome]}" if outcome in _AFTER_FAILED else None


RESET_OPTIONS = ("start", "opponent", "camera", "surface", "court_colour")


def _in_flight_since_turn(state: TensorDict) -> torch.Tensor:
    """Per row, whether the ball has not bounced since it last turned around in depth (a strike sends it back)."""
    history, length = state["history"], state["length"]
    vel, pos = layout.SLICES["ball.velocity"].start, layout.SLICES["ball.position"].start
    vy, vz, z = history[:, :, vel + 1], history[:, :, vel + 2], history[:, :, pos + 2]
    frame = torch.arange(history.shape[1], device=history.device)
    valid = frame[None, 1:] < length[:, None]  # pairs (t-1, t) inside the point so far
    turned = depth_turns(vy) & valid
    since = torch.where(turned, frame[None, 1:], 0).amax(dim=1)  # first frame of the current flight direction
    bounced = (vz[:, :-1] <= 0) & (vz[:, 1:] > 0) & (z[:, 1:] < 0.3) & valid & (frame[None, :-1] >= since[:, None])
    return ~bounced.any(dim=1)


def _scene_overrides(options: dict[str, Any]) -> list[tuple[slice, Any]]:
    """Layout slices and values set by the ``camera``, ``surface`` and ``court_colour`` reset options."""
    out = []
    if "camera" in options:
        camera = options["camera"]
        extrinsics = np.asarray(camera["extrinsics"], dtype=np.float32)
        if extrinsics.shape != (4, 4) or len(camera["intrinsics"]) != 4:
            raise ValueError(
                "camera option: {'intrinsics': [fx/W, fy/H, cx/W, cy/H], 'extrinsics': 4x4 camera-to-world}"
            )
        out += [(layout.SLICES["camera.intrinsics"], np.asarray(camera["intrinsics"], dtype=np.float32)),
                (layout.SLICES["camera.rotation"], extrinsics[:3, :3].reshape(-1)),
                (layout.SLICES["camera.translation"], extrinsics[:3, 3])]  # fmt: skip
    if "surface" in options:
        if options["surface"] not in SURFACE_NAMES:
            raise ValueError(f"surface option must be one of {SURFACE_NAMES}, got {options['surface']!r}")
        out.append((layout.SLICES["scene.surface"], [float(SURFACE_NAMES.index(options["surface"]))]))
        if "court_colour" not in options:
            out.append((layout.SLICES["scene.court_colour"], list(SURFACES[options["surface"]].court)))
    if "court_colour" in options:
        out.append((layout.SLICES["scene.court_colour"], [float(v) for v in options["court_colour"]]))
    return out


class LGETennisTask(BoundedTennisState, Task):
    """One or two players of the LGE animation model; rewards from the referee on the generated states.

    Each player's text at a step is its command caption while the ball travels towards it (the shot it is about to
    play) and on through that shot's flight until the ball next bounces, and a recovery caption otherwise, as in
    the engine's captions; a change of text makes the model re-plan from the current frame.
    """

    def __init__(
        self,
        model: LGEWorldModel,
        *,
        obs_type: ObsType = "state",
        action_type: str = "command",
        controlled: tuple[int, ...] = (0,),
        opponent: str | None = None,
        text_encoder: str | os.PathLike | None = None,
    ) -> None:
        super().__init__(model, obs_type=obs_type, controlled=controlled)
        if action_type not in ACTION_TYPES:
            raise ValueError(f"action_type must be one of {ACTION_TYPES}, got {action_type!r}")
        self.action_type = action_type
        self.text_encoder_path = text_encoder
        self.encoder = shared_text_encoder(text_encoder)
        if self.encoder.dim != model.config.text_dim:
            raise ValueError(f"the text encoder gives {self.encoder.dim}-d embeddings; the model was trained on "
                             f"{model.config.text_dim}-d ones")  # fmt: skip
        self.opponent_text = opponent
        self.commands = COMMAND_VOCABULARY
        # Embed every caption a command or the recovery phase can produce in one batch, so steps only look them up.
        self.encoder(
            [command_caption(p, c) for p in PLAYERS for c in self.commands]
            + [recovery_caption(p) for p in PLAYERS]
            + [after_caption(p, o) for p in PLAYERS for o in _AFTER_FAILED]
        )
        # Each player's command captions and the engine's phrasings of failing on purpose, to read the intended
        # outcome of any text (free text included) as that of its nearest caption.
        bank = [(command_caption("{player}", c), c.outcome) for c in self.commands]
        bank += [(phrase, outcome) for outcome, phrases in OUTCOME_PHRASES.items() for phrase in phrases]
        self._bank_outcomes = [outcome for _, outcome in bank]
        self._caption_bank = torch.stack(
            [F.normalize(self.encoder([text.format(player=p) for text, _ in bank]).pooled, dim=-1) for p in PLAYERS]
        ).to(model.device)  # (2, C, D): pooled embeddings

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["encoder"]  # frozen and shared: reloaded from its folder, not pickled
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.encoder = shared_text_encoder(self.text_encoder_path)

    # -- spaces -------------------------------------------------------------------------------------------------
    def player_action_space(self, player: int) -> gym.Space:
        if self.action_type == "command":
            return gym.spaces.Discrete(len(self.commands))
        if self.action_type == "target":
            return gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        return gym.spaces.Text(max_length=MAX_TEXT, min_length=0)

    def action_space(self) -> gym.Space:
        if len(self.controlled) == 1:
            return self.player_action_space(self.controlled[0])
        return gym.spaces.Tuple([self.player_action_space(p) for p in self.controlled])

    # -- actions ------------------------------------------------------------------------------------------------
    def _embed(self, texts: list[str]) -> torch.Tensor:
        """Text vectors ``(N, LGEConfig.text_features)`` of ``texts`` (`LGEWorldModel.embed_text`)."""
        return self.model.embed_text(self.encoder(texts))

    def encode_actions(self, actions: Any, batch: int) -> dict[str, Any]:
        """Per controlled player: the shot text of its next ball, and (``target``) a court target."""
        rows = [actions] if batch == 1 else list(actions)
        if len(rows) != batch:
            raise InvalidActionError(f"expected {batch} actions, got {len(rows)}")
        per_player = (
            [rows] if len(self.controlled) == 1 else [[r[i] for r in rows] for i in range(len(self.controlled))]
        )
        texts, targets = [], []
        for player, column in zip(self.controlled, per_player, strict=True):
            name = PLAYERS[player]
            player_texts, player_targets = [], []
            for action in column:
                text, target = self._one(name, action)
                player_texts.append(text)
                player_targets.append(target)
            texts.append(player_texts)
            targets.append(player_targets)
        return {"texts": texts, "targets": targets}

    def _one(self, name: str, action: Any) -> tuple[str, tuple[float, float] | None]:
        space = self.player_action_space(0)
        if self.action_type == "command":
            value = np.asarray(action)
            if value.dtype == object or value.size != 1 or not np.issubdtype(value.dtype, np.integer):
                raise InvalidActionError(f"command actions are integers in [0, {len(self.commands)}), got {action!r}")
            index = int(value.reshape(()))
            if not 0 <= index < len(self.commands):
                raise InvalidActionError(f"command index {index} outside [0, {len(self.commands)})")
            return command_caption(name, self.commands[index]), None
        if self.action_type == "target":
            value = np.asarray(action, dtype=np.float64) if not isinstance(action, str) else None
            if value is None or value.shape != (2,) or not space.contains(value.astype(np.float32)):
                raise InvalidActionError(f"target actions are 2 floats in [-1, 1] (court x, depth), got {action!r}")
            return command_caption(name, Command(target=nearest_area(value))), (float(value[0]), float(value[1]))
        if not isinstance(action, str) or len(action) > MAX_TEXT:
            raise InvalidActionError(f"text actions are strings of at most {MAX_TEXT} characters, got {action!r}")
        return action.strip() or command_caption(name, AUTO), None

    def model_action(self, actions: dict[str, Any], state: TensorDict, generator: torch.Generator) -> TensorDict:
        """Each player's text: while the ball flies towards it, the shot chosen when that ball started coming (the
        command is latched, as a player plans its return when the opponent strikes, so an agent that changes its
        action every step does not make the model re-plan every step); it stays on while that shot flies, until the
        ball bounces (the engine's captions describe a shot up to its landing); otherwise a recovery caption.

        While the ball flies towards one player, the other's next shot is scheduled from the frame after the ball
        is expected to reach the striker (`strike_frame`): the engine's captions change there, and the model reads
        the change as the strike's time (without it, generated receivers rarely return a serve; docs/lge.md). When the
        striker's text means to miss the ball, nothing is scheduled (no strike: no change); when it means to hit the
        net or out, the other player is scheduled to watch the ball, as in the engine's captions (`after_caption`).
        """
        b = state.batch_size[0]
        self._action_read = np.zeros(b, dtype=bool)  # rows whose controlled player's action this step reads
        rows = torch.arange(b, device=self.model.device)
        vy = layout.SLICES["ball.velocity"].start + 1
        now = self.model.current(state)[:, vy].cpu().numpy()
        before = state["history"][rows, (state["length"] - 2).clamp(min=0), vy].cpu().numpy()
        texts: list[list[str | None]] = [[recovery_caption(p) for p in PLAYERS] for _ in range(b)]
        flying = _in_flight_since_turn(state).cpu().numpy()
        text_on = state["text_on"].cpu().numpy()
        for row in range(b):
            for i, player in enumerate(PLAYERS):
                # The ball flies towards the bottom player when its y velocity is negative (bottom is at negative y).
                towards_now = now[row] < 0 if player == "bottom" else now[row] > 0
                towards_before = before[row] < 0 if player == "bottom" else before[row] > 0
                if not towards_now:
                    if text_on[row, i] and flying[row]:
                        texts[row][i] = None  # its shot is still flying: keep the shot's text
                    continue
                if towards_before and text_on[row, i]:
                    texts[row][i] = None  # keep the latched text
                else:
                    texts[row][i] = self._next_text(actions, row, i, player)
        strike = strike_frame(self.model.current(state), state["length"] - 1, self.model.fps,
                              horizon=self.model.config.window).cpu().numpy()  # fmt: skip
        then: list[list[str | None]] = [[None, None] for _ in range(b)]
        switch_at = torch.full((b, 2), -1, dtype=torch.int64)
        planned = state["switch_at"].cpu()
        table: dict[str, torch.Tensor] = {}
        embedded = self._embed_into(state["text"].clone(), texts, table)
        outcomes = self.intended_outcomes(embedded)
        for row in range(b):
            for i, player in enumerate(PLAYERS):
                striker = strike[row, 1 - i]  # the opponent's expected strike, if the ball flies towards it
                if striker < 0:
                    continue
                # Latched like the striker's command, text and frame: an action that changes every step, or an
                # estimate that moves as the ball slows, does not make the model re-plan every step.
                if planned[row, i] >= 0:
                    switch_at[row, i] = planned[row, i]
                    continue
                outcome = outcomes[row][1 - i]
                if outcome == "does_not_reach":
                    continue
                then[row][i] = after_caption(player, outcome) or self._next_text(actions, row, i, player)
                switch_at[row, i] = int(striker) + 1
        then_embedded = self._embed_into(state["then_text"].clone(), then, table)
        on = torch.ones(b, 2, dtype=torch.bool, device=self.model.device)
        return TensorDict(
            {"text": embedded, "text_on": on, "then_text": then_embedded, "then_on": on,
             "switch_at": switch_at.to(self.model.device)},
            batch_size=[b],
        )  # fmt: skip

    def _embed_into(
        self, target: torch.Tensor, texts: list[list[str | None]], table: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """``target`` ``(B, 2, D)`` with each row's and player's text embedded where ``texts`` has one (None keeps
        the entry); ``table`` caches the embeddings of this step's texts, so each is encoded once."""
        fresh = sorted({t for pair in texts for t in pair if t is not None} - set(table))
        if fresh:
            table.update(zip(fresh, self._embed(fresh), strict=True))
        for row, pair in enumerate(texts):
            for i, text in enumerate(pair):
                if text is not None:
                    target[row, i] = table[text]
        return target

    def intended_outcomes(self, embedded: torch.Tensor) -> list[list[str]]:
        """Per row and player, the intended outcome (`commands.OUTCOMES`) of the text embedded in ``embedded``
        ``(B, 2, D)``: that of the nearest of the player's command captions and the engine's phrasings of failing on
        purpose (`captions.OUTCOME_PHRASES`), by cosine similarity of the pooled embeddings."""
        pooled = embedded[..., : self.model.config.text_dim]
        similarity = torch.einsum("bpd,pcd->bpc", F.normalize(pooled, dim=-1), self._caption_bank)
        nearest = similarity.argmax(dim=-1).cpu().tolist()
        return [[self._bank_outcomes[c] for c in row] for row in nearest]

    def _next_text(self, actions: dict[str, Any], row: int, i: int, player: str) -> str:
        """The text a player will get when the ball next comes towards it (its current action, or the opponent's)."""
        if i in self.controlled:
            self._action_read[row] = True
            return actions["texts"][self.controlled.index(i)][row]
        return self.opponent_text or command_caption(player, AUTO)

    def reads_action(self, state: TensorDict) -> np.ndarray:
        """bool ``(B,)``: whether the next step from ``state`` reads a controlled player's action into its text.
        Only such steps change what happens (an action is latched for the next ball, `model_action`), and which
        they are depends on the state alone, so agents can decide at these steps only
        (`agents.decisions.DecisionSteps`)."""
        b = state.batch_size[0]
        placeholder = [[command_caption(PLAYERS[p], AUTO)] * b for p in self.controlled]
        self.model_action({"texts": placeholder, "targets": [[None] * b for _ in self.controlled]}, state, None)
        return self._action_read

    def step_info(self, state: TensorDict) -> dict[str, np.ndarray]:
        """``action_due``: the next step reads the action (`reads_action`)."""
        return {"action_due": self.reads_action(state)}

    # -- episode ------------------------------------------------------------------------------------------------
    def initial_state(self, batch: int, generator: torch.Generator, options: dict[str, Any] | None) -> TensorDict:
        options = options or {}
        unknown = set(options) - set(RESET_OPTIONS)
        if unknown:  # a warning, not an error: generic tools (PettingZoo's API test) pass options of their own
            gym.logger.warn(f"LGE-Tennis ignores reset options {sorted(unknown)}; it knows {RESET_OPTIONS}")
        if "opponent" in options:
            self.opponent_text = options["opponent"]
        context = None
        if "start" in options:  # a state, or the first frames of a point (its history so far)
            start = torch.as_tensor(np.asarray(options["start"], dtype=np.float32))
            size = layout.STATE_SIZE
            if start.ndim not in (1, 2) or start.shape[-1] != size or start.numel() >= HISTORY * size:
                raise ValueError(f"start option: a state ({layout.STATE_SIZE},) or first frames (L < {HISTORY}, "
                                 f"{layout.STATE_SIZE}), got shape {tuple(start.shape)}")  # fmt: skip
            start = start.reshape(1, -1, layout.STATE_SIZE).expand(batch, -1, -1)
            context = TensorDict({"start": start}, batch_size=[batch])
        state = self.model.initial_state(batch, generator=generator, context=context)
        overrides = _scene_overrides(options)
        if overrides:
            # Camera and court live in every frame of the window (the template the model copies them from) and of
            # the point's history.
            for key in ("window", "history"):
                frames = state[key]
                for piece, value in overrides:
                    frames[..., piece] = torch.as_tensor(value, dtype=frames.dtype, device=frames.device)
        return state

    def _judge(self, state: TensorDict) -> list[str | None]:
        """The referee's winner for each row, or None while the point goes on."""
        winners: list[str | None] = []
        history, length = state["history"].cpu().numpy(), state["length"].cpu().numpy()
        z = layout.SLICES["ball.position"].start + 2
        for row in range(state.batch_size[0]):
            n = int(length[row])
            heights = history[row, max(0, n - 3) : n, z]
            # A point ends only at a bounce (double bounce, out, net, fault): the referee reads the whole point,
            # so it runs when the last frames show one (a low local minimum of the ball's height), not every step.
            bounced = len(heights) == 3 and heights[1] < 0.3 and heights[1] <= heights[0] and heights[1] < heights[2]
            winners.append(judge(history[row, :n], self.model.fps).winner if bounced else None)
        return winners

    def rewards(self, state: TensorDict, next_state: TensorDict, aux: TensorDict) -> torch.Tensor:
        winners = self._judge(next_state)
        self._last_winners = winners
        out = torch.zeros(len(winners), 2, device=self.model.device)
        for row, winner in enumerate(winners):
            if winner is not None:
                i = PLAYERS.index(winner)
                out[row, i], out[row, 1 - i] = 1.0, -1.0
        return out

    def terminated(self, state: TensorDict, next_state: TensorDict, aux: TensorDict) -> torch.Tensor:
        return torch.tensor([w is not None for w in self._last_winners], device=self.model.device)


@functools.lru_cache(maxsize=1)
def _engine_starts(fps: float, stride: int) -> list[torch.Tensor]:
    """Serve prefixes of a few engine points, for models that ship none."""
    from world_models.engines.tennis.sequence import generate
    from world_models.lge.world import serve_prefixes

    points = [torch.as_tensor(generate(12345, i, render=False).vectors()[::stride]) for i in range(8)]
    return serve_prefixes(points, fps, count=4)


def _synthesis_module(renderer: str | os.PathLike, device: torch.device) -> torch.nn.Module | None:
    """The renderer named by an env's ``renderer`` argument: "neural" (the shipped synthesis module), "engine"
    (None: the engine's rasteriser) or a path to a renderer checkpoint."""
    if renderer == "engine":
        return None
    from world_models.render.zoo import load_renderer

    if renderer == "neural":
        return load_renderer(device=device)[0]
    if not os.path.isfile(renderer):
        raise ValueError(f"renderer must be 'neural', 'engine' or a renderer checkpoint file, got {renderer!r}")
    return load_renderer(renderer, device=device)[0]


def _task(
    checkpoint, preset, device, obs_type, action_type, controlled, opponent, text_encoder, renderer
) -> LGETennisTask:
    model, _, _ = resolve_model("lge", checkpoint, preset=preset, device=device)
    if len(model.start_lengths) == 0:
        model.set_start_prefixes(_engine_starts(model.fps, model.config.frame_stride))  # an untrained model (tests)
    model.set_renderer(_synthesis_module(renderer, model.device))
    return LGETennisTask(model, obs_type=obs_type, action_type=action_type, controlled=controlled,
                         opponent=opponent, text_encoder=text_encoder)  # fmt: skip


class LGETennisEnv(WorldModelEnv):
    """LGE-Tennis-v0: a point of tennis generated by the LGE animation model; you play one player with text.

    ## Description
    The animation model (masked diffusion over the states of both players and the ball, conditioned on each
    player's text action) generates the point window by window at its frame rate (25 fps for the shipped model);
    the engine's referee judges the generated states. You control the bottom (near) player; the top player follows
    the model given its own text (a default "plays the ball back" or a strategy in `opponent`). Frames are drawn
    from the generated states by the learned synthesis module (the compositional neural renderer), or by the
    tennis engine's rasteriser with `renderer="engine"`.

    ## Action space
    `action_type="command"`: `Discrete(53)`, the tennis engine's command vocabulary (shot x target, intentional
    outcomes), given to the model as text for the next ball. `"target"`: `Box(-1, 1, (2,))`, a court target for the
    next shot (screen x, depth) with the shot left to the model. `"text"`: `Text(200)`, any words, e.g. "the
    bottom player hits a lob to the left corner".

    ## Observation space
    `obs_type="state"`: the normalised flat state of `world_models.engines.tennis.layout` (`Box(150,)`);
    `"image"`: `Box(0, 255, (144, 256, 3), uint8)`; `"both"`: a `Dict`.

    ## Rewards
    +1 when the referee gives the point to your player, -1 when it goes to the opponent, 0 otherwise.

    ## Starting state
    The first frame of a held-out engine point shipped with the checkpoint (drawn with the seeded generator), or
    `options={"start": state}` (a flat layout state). Other options: `"opponent"` (the opponent's strategy as
    text), `"camera"` (`{"intrinsics": [fx/W, fy/H, cx/W, cy/H], "extrinsics": 4x4 camera-to-world}`),
    `"surface"` (`"hard"`, `"clay"` or `"grass"`: the model is conditioned on it, so bounces change) and
    `"court_colour"` (RGB in [0, 1]).

    ## Episode end
    Terminates when the referee decides the point; truncated after 750 steps (30 s at 25 fps).

    ## Arguments
    `obs_type`, `action_type`, `render_mode`, `checkpoint` (default: the shipped `lge_tennis_small`; None gives a random
    `preset` model for tests), `preset`, `device` ("auto": the GPU when there is one), `opponent`, `text_encoder` (a
    local Hugging Face folder), `renderer` (`"neural"`: the shipped synthesis module; `"engine"`: the engine's
    rasteriser; or a renderer checkpoint file).

    ## Version history
    v0: initial version.
    """

    def __init__(
        self,
        obs_type: ObsType = "state",
        action_type: str = "command",
        render_mode: str | None = None,
        checkpoint: Any = DEFAULT_CHECKPOINT,
        preset: str = "tiny",
        device: str = "auto",
        opponent: str | None = None,
        text_encoder: str | None = None,
        renderer: str = "neural",
    ) -> None:
        task = _task(checkpoint, preset, device, obs_type, action_type, (0,), opponent, text_encoder, renderer)
        super().__init__(task, render_mode=render_mode)

    play_kwargs = {"action_type": "text", "obs_type": "image"}
    """`lge-gym play` types actions: keys give canned commands, Enter opens a text box."""

    _KEYS = {
        "left": Command(target="left_corner"),
        "right": Command(target="right_corner"),
        "up": Command(target="deep"),
        "down": Command(target="short"),
        "f": Command(shot="forehand", target="centre"),
        "b": Command(shot="backhand", target="centre"),
        "l": Command(shot="lob", target="deep"),
        "d": Command(shot="drop_shot", target="short"),
        "n": Command(outcome="does_not_reach"),
    }

    @property
    def keymap(self) -> dict[str, Any]:
        """Play keys: arrows aim, f/b forehand/backhand, l lob, d drop shot, n "does not reach the ball"; as
        command indices, or as their captions with text actions."""
        if self.task.action_type == "text":
            return {key: command_caption("bottom", command) for key, command in self._KEYS.items()}
        index = {c: i for i, c in enumerate(COMMAND_VOCABULARY)}
        return {key: index[command] for key, command in self._KEYS.items()}

    @property
    def noop_action(self) -> Any:
        """What `lge-gym play` sends before any key: the scripted "play the ball back"."""
        if self.task.action_type == "text":
            return command_caption("bottom", AUTO)
        return 0

    VIEW_KEYS = {"[": (-1, 0, 0), "]": (1, 0, 0), ";": (0, -1, 0), "'": (0, 1, 0), "-": (0, 0, -1), "=": (0, 0, 1)}
    """`lge-gym play` camera keys: [ ] orbit, ; ' tilt, - = zoom (steps of `world_models.render.views`)."""

    @property
    def view_keys(self) -> dict[str, Any]:
        """pygame key name -> a function moving the camera (a view change, not a game action)."""
        from world_models.render.views import PITCH_STEP, YAW_STEP, ZOOM_STEP

        def mover(yaw: int, pitch: int, zoom: int):
            return lambda: self.move_camera(yaw * YAW_STEP, pitch * PITCH_STEP, zoom * ZOOM_STEP)

        return {key: mover(*step) for key, step in self.VIEW_KEYS.items()}

    def move_camera(self, yaw: float = 0.0, pitch: float = 0.0, zoom: float = 0.0) -> None:
        """Orbit the camera by ``yaw`` radians about the court point it looks at, tilt it by ``pitch`` radians and
        zoom by ``exp(zoom)``, mid-point: the generated states keep the new camera (later windows inherit it)."""
        from world_models.render.views import move_camera

        state = self.world.state
        if state is None:
            raise RuntimeError("call reset() before move_camera()")
        moved = move_camera(self.layout_state(), yaw, pitch, zoom)
        for name in ("camera.intrinsics", "camera.rotation", "camera.translation"):
            piece = layout.SLICES[name]
            value = torch.as_tensor(moved[piece], dtype=state["window"].dtype, device=state["window"].device)
            state["window"][..., piece] = value
            state["history"][..., piece] = value

    def layout_state(self) -> np.ndarray:
        """The current generated flat layout state in metres and radians (unclipped; what the referee reads)."""
        if self.world.state is None:
            raise RuntimeError("call reset() before layout_state()")
        return self.model.current(self.world.state)[0].cpu().numpy()

    def point_states(self) -> np.ndarray:
        """``(T, STATE_SIZE)`` the point so far, from its first frame (the start's real serve included): what the
        referee reads to judge it (`layout_state` gives only the current frame)."""
        if self.world.state is None:
            raise RuntimeError("call reset() before point_states()")
        state = self.world.state
        return state["history"][0, : int(state["length"][0])].cpu().numpy()

    def demo_policy(self, obs: Any) -> Any:
        """`lge-gym demo`'s built-in player: a forehand or a backhand to a corner, drawn with the env's generator
        (the task latches it when the ball starts coming)."""
        choice = int(torch.randint(4, (1,), generator=self.world.generator))
        command = Command(shot=("forehand", "backhand")[choice // 2], target=("left_corner", "right_corner")[choice % 2])
        if self.task.action_type == "text":
            return command_caption("bottom", command)
        if self.task.action_type == "target":
            return np.array([-0.7 if command.target == "left_corner" else 0.7, 0.8], dtype=np.float32)
        return COMMAND_VOCABULARY.index(command)


class LGETennisVectorEnv(WorldModelVectorEnv):
    """Natively batched LGE-Tennis-v0: one sampling pass generates the windows of every row that needs one."""

    def __init__(
        self,
        num_envs: int = 1,
        obs_type: ObsType = "state",
        action_type: str = "command",
        checkpoint: Any = DEFAULT_CHECKPOINT,
        preset: str = "tiny",
        device: str = "auto",
        opponent: str | None = None,
        text_encoder: str | None = None,
        max_episode_steps: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        renderer: str = "neural",
    ) -> None:
        if action_type == "text":
            raise ValueError("the vector env takes command or target actions; use LGE-Tennis-v0 for free text")
        task = _task(checkpoint, preset, device, obs_type, action_type, (0,), opponent, text_encoder, renderer)
        super().__init__(task, num_envs, max_episode_steps=max_episode_steps, autoreset_mode=autoreset_mode,
                         render_mode=render_mode)  # fmt: skip


class LGETennisParallelEnv(WorldModelParallelEnv):
    """LGE-Tennis-v0 with both players as PettingZoo agents (``bottom`` and ``top``)."""

    metadata = dict(WorldModelParallelEnv.metadata, name="lge_tennis_v0")

    def __init__(
        self,
        obs_type: ObsType = "state",
        action_type: str = "command",
        render_mode: str | None = None,
        checkpoint: Any = DEFAULT_CHECKPOINT,
        preset: str = "tiny",
        device: str = "auto",
        text_encoder: str | None = None,
        max_episode_steps: int | None = 750,
        renderer: str = "neural",
    ) -> None:
        task = _task(checkpoint, preset, device, obs_type, action_type, (0, 1), None, text_encoder, renderer)
        super().__init__(task, max_episode_steps=max_episode_steps, render_mode=render_mode)
