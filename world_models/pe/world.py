"""PE-Tennis as a `WorldModel`: each player's learned action drives its recurrent dynamics (location, facing, pose,
style); the ball stays physical (`world_models.pe.ball`); frames come from the synthesis module.

State (a `TensorDict`, batch ``B``): ``objects`` (B, 2, F) the players' current PE states, ``memory`` (B, 2, 2, 2, H)
the LSTM states, ``current`` (B, STATE_SIZE) the flat layout state of the frame (players, ball, scene, camera),
``history`` (B, HISTORY, STATE_SIZE) and ``length`` (B,) the point so far (for the referee), ``hitter`` (B,) who
struck the ball last (0 bottom, 1 top, -1 nobody) and ``bounces`` (B,) since that strike.
"""

from __future__ import annotations

import numpy as np
import torch
from tensordict import TensorDict
from torch import nn

from world_models.core.interface import ActionSpec, WorldModel
from world_models.engines.tennis import layout
from world_models.pe import ball as rally
from world_models.pe.config import PEConfig
from world_models.pe.data import objects_of, prior_inputs
from world_models.pe.network import PlayerAnimation
from world_models.pe.objects import STYLE, player_points, to_states

HISTORY = 768
"""Engine frames of the current point kept for the referee (30 s at 25 fps)."""
PLAYER_NAMES = ("bottom", "top")
RACKET = layout.JOINT_INDEX["racket_head"]
BALL = layout.BALL_SLICE
_PLAYERS = slice(0, 2 * layout.PLAYER_SIZE)


def _interpolate(a: torch.Tensor, b: torch.Tensor, w: float) -> torch.Tensor:
    """Flat state ``b`` with the players' blocks linearly between ``a`` and ``b`` (facing included: turns per step
    are small)."""
    out = b.clone()
    out[:, _PLAYERS] = torch.lerp(a[:, _PLAYERS], b[:, _PLAYERS], w)
    velocity = [layout.SLICES[f"{p}.velocity"] for p in PLAYER_NAMES]
    for piece in velocity:
        out[:, piece] = b[:, piece]
    return out


class PEWorldModel(WorldModel):
    """Two per-player PE animation models (``bottom``, ``top``) behind the `WorldModel` interface.

    Action: int64 ``(B, 2)`` learned action indices, or a `TensorDict` with ``actions`` (B, 2) and optionally
    ``current`` (B, STATE_SIZE), a flat state whose camera, scene and player styles replace the row's (camera and
    style control between steps).
    """

    family = "pe"

    def __init__(self, config: PEConfig, *, height: int = 144, width: int = 256) -> None:
        super().__init__()
        self.config = config
        self.fps = config.fps
        self.players = nn.ModuleList([PlayerAnimation(config) for _ in PLAYER_NAMES])
        self._height, self._width = height, width
        self.start_contexts = torch.zeros(0, config.context, layout.STATE_SIZE)
        self.styles = torch.zeros(0, 2, 9)
        # The synthesis module is its own checkpoint: kept out of this module's state dict (a plain attribute).
        self.__dict__["synthesis"] = None

    # -- WorldModel -------------------------------------------------------------------------------------------
    @property
    def action_spec(self) -> ActionSpec:
        names = tuple(f"action_{i + 1}" for i in range(self.config.num_actions))
        return ActionSpec("discrete", num_players=2, num_actions=self.config.num_actions, player_names=PLAYER_NAMES,
                          action_names=names)  # fmt: skip

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self._height, self._width

    @property
    def state_dim(self) -> int:
        return layout.STATE_SIZE

    def set_start(self, contexts: torch.Tensor, styles: torch.Tensor | None = None) -> None:
        """Held-out start contexts ``(N, context, STATE_SIZE)`` (`data.serve_contexts`) and a bank of player styles
        ``(M, 2, 9)`` (shipped with the checkpoint)."""
        self.start_contexts = contexts.float().cpu()
        if styles is not None:
            self.styles = styles.float().cpu()

    def extras(self) -> dict[str, torch.Tensor]:
        return {"start_contexts": self.start_contexts, "styles": self.styles}

    def load_extras(self, extras: dict[str, torch.Tensor]) -> None:
        if "start_contexts" in extras:
            self.set_start(extras["start_contexts"], extras.get("styles"))

    @torch.no_grad()
    def initial_state(self, batch, *, generator, context=None):
        """Warm the dynamics up on a start context (the first `config.context` frames read ground truth, with the
        actions inferred from them), drawn from the shipped contexts or given as ``context["start"]``."""
        device = self.device
        if context is not None and "start" in context.keys():
            frames = context["start"].to(device).float()
            if frames.dim() == 2:
                frames = frames.unsqueeze(1)
        else:
            if len(self.start_contexts) == 0:
                raise RuntimeError("this PE model has no start contexts; pass context={'start': states}")
            pick = torch.randint(len(self.start_contexts), (batch,), generator=generator, device=generator.device)
            frames = self.start_contexts[pick.cpu()].to(device)
        # Warm-up frames at the model's rate, ending at the last given (engine-rate) frame.
        last, stride = frames.shape[1] - 1, self.config.frame_stride
        steps = frames[:, [last - k * stride for k in range(min(self.config.context, last // stride + 1))][::-1]]
        objects = objects_of(steps, self.config)  # (B, C, 2, F)
        memories = []
        for i, animation in enumerate(self.players):
            memory = animation.dynamics_network.initial_memory(batch)
            if steps.shape[1] > 1:
                actions = animation.action_network(objects[:, :, i], generator=None)
                probabilities = actions.probabilities()
                variation = animation.variation(actions.direction, probabilities)
                for t in range(steps.shape[1] - 1):
                    _, memory = animation.dynamics_network(objects[:, t, i], probabilities[:, t], variation[:, t], memory)
            memories.append(memory)
        history = torch.zeros(batch, HISTORY, layout.STATE_SIZE, device=device)
        c = frames.shape[1]
        history[:, :c] = frames
        vy = frames[:, -1, layout.SLICES["ball.velocity"].start + 1]
        hitter = torch.where(vy > 0, 0, torch.where(vy < 0, 1, rally.NOBODY)).long()
        return TensorDict(
            {
                "objects": objects[:, -1],
                "memory": torch.stack(memories, 1),
                "current": frames[:, -1].clone(),
                "history": history,
                "length": torch.full((batch,), c, dtype=torch.int64, device=device),
                "hitter": hitter,
                "bounces": torch.zeros(batch, dtype=torch.int64, device=device),
            },
            batch_size=[batch],
            device=device,
        )

    @torch.no_grad()
    def step(self, state, action, *, generator):
        current = state["current"]
        if isinstance(action, TensorDict):
            if "current" in action.keys():
                current = action["current"].to(self.device).float()
            action = action["actions"]
        action = torch.as_tensor(action, device=self.device).long()
        if action.shape != (state.batch_size[0], 2):
            raise ValueError(f"PE actions are int64 (B, 2), got shape {tuple(action.shape)}")
        one_hot = nn.functional.one_hot(action, self.config.num_actions).float()
        objects = state["objects"].clone()
        objects[..., STYLE] = torch.stack([current[:, layout.SLICES[f"{p}.style"]] for p in PLAYER_NAMES], 1)
        next_objects, memories = [], []
        for i, animation in enumerate(self.players):
            zero = torch.zeros(len(action), self.config.action_space_dim, device=self.device)
            out, memory = animation.dynamics_network(objects[:, i], one_hot[:, i], zero, state["memory"][:, i])
            out[:, STYLE] = objects[:, i, STYLE]  # styles stay as chosen (the paper's play keeps the first style)
            next_objects.append(out)
            memories.append(memory)
        next_objects_t = torch.stack(next_objects, 1)
        stride = self.config.frame_stride
        target = to_states(next_objects_t, current, previous=current, fps=self.fps)
        history, length = state["history"].clone(), state["length"]
        hitter, bounces = state["hitter"].clone(), state["bounces"].clone()
        rows = torch.arange(len(length), device=self.device)
        previous = current
        for k in range(1, stride + 1):
            # Engine frames between model steps: players interpolated, the ball simulated frame by frame.
            frame = target.clone() if k == stride else _interpolate(current, target, k / stride)
            frame[:, BALL] = previous[:, BALL]
            hitter, bounces = self._ball(previous, frame, hitter, bounces, generator)
            length = length.clamp(max=HISTORY - 1)
            history[rows, length] = frame
            length = length + 1
            previous = frame
        nxt = previous
        next_state = TensorDict(
            {"objects": next_objects_t, "memory": torch.stack(memories, 1), "current": nxt, "history": history,
             "length": length, "hitter": hitter, "bounces": bounces},
            batch_size=state.batch_size,
            device=self.device,
        )  # fmt: skip
        zeros = torch.zeros(len(action), device=self.device)
        return next_state, TensorDict({"reward": zeros, "terminated": zeros.bool()}, batch_size=state.batch_size)

    def _ball(self, current, nxt, hitter, bounces, generator):
        """Advance each row's ball one frame with the engine's physics, then apply the contact rule (writes the
        ball into ``nxt``); returns the updated hitters and bounce counts."""
        pos_s, vel_s = layout.SLICES["ball.position"], layout.SLICES["ball.velocity"]
        cur, out = current.cpu().numpy().astype(np.float64), nxt.cpu().numpy()
        rackets = torch.stack([player_points(nxt, p)[:, RACKET] for p in PLAYER_NAMES], 1).cpu().numpy()
        hit_list, bounce_list = hitter.tolist(), bounces.tolist()
        for row in range(len(cur)):
            surface = int(round(float(cur[row, layout.SLICES["scene.surface"]][0])))
            position, velocity, n = rally.advance(surface, list(cur[row, pos_s]), list(cur[row, vel_s]))
            bounce_list[row] += n
            for i in range(2):
                if rally.may_strike(i, hit_list[row], bounce_list[row], position, velocity, rackets[row, i],
                                    self.config.contact_reach, self.config.contact_height):  # fmt: skip
                    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
                    roots = [out[row, layout.SLICES[f"{p}.root"]] for p in PLAYER_NAMES]
                    velocity = rally.strike(surface, i, roots[i], roots[1 - i], position, np.random.default_rng(seed))
                    hit_list[row], bounce_list[row] = i, 0
                    break
            out[row, pos_s], out[row, vel_s] = position, velocity
        nxt.copy_(torch.as_tensor(out, device=self.device))
        return (torch.tensor(hit_list, dtype=torch.int64, device=self.device),
                torch.tensor(bounce_list, dtype=torch.int64, device=self.device))  # fmt: skip

    @torch.no_grad()
    def prior_actions(self, state: TensorDict, players: list[int], generator: torch.Generator) -> torch.Tensor:
        """Actions ``(B, len(players))`` sampled from the learned action prior of each player."""
        inputs = prior_inputs(state["current"], state["objects"])
        out = []
        for i in players:
            probabilities = torch.softmax(self.players[i].prior(inputs[:, i]), -1)
            out.append(torch.multinomial(probabilities, 1, generator=generator).squeeze(1))
        return torch.stack(out, 1)

    def state_vector(self, state):
        return torch.as_tensor(layout.normalise(state["current"].cpu().numpy()), device=self.device)

    def set_renderer(self, renderer: nn.Module | None) -> None:
        """Draw frames with a trained `world_models.render.TennisRenderer` (the synthesis module), or with the
        engine's rasteriser when None. A renderer's resolution becomes the frame shape."""
        if renderer is not None:
            renderer = renderer.to(self.device).eval()
            self._height, self._width = renderer.config.height, renderer.config.width
        self.__dict__["synthesis"] = renderer

    def render(self, state, camera=None):
        current = state["current"]
        if camera is not None:
            current = current.clone()
            current[:, layout.SLICES["camera.intrinsics"].start : layout.SLICES["camera.translation"].stop] = camera
        if self.synthesis is not None:
            return self.synthesis.render(current).to(self.device)
        from world_models.render.views import engine_frame

        frames = [engine_frame(s, self._height, self._width) for s in current.cpu().numpy()]
        return torch.as_tensor(np.stack(frames), device=self.device)
