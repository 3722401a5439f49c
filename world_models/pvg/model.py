"""`PVGModel`: CADDY (Playable Video Generation) as a `WorldModel`, plus reward and termination heads.

Networks: encoder E, action network A with EMA action centroids, ConvLSTM dynamics R, multi-resolution renderer D
(design note ``pvg.md``). At play time one step encodes the current observation stack, runs one dynamics step with
the one-hot learned action and zero variability, renders the frame and pushes it onto the stack; batch norm is in
eval mode, so a rollout is deterministic.

State of a batch of rollouts (a `TensorDict` with batch size [B]): ``observation`` float (B, 3S, H, W) in [-1, 1]
(newest frame first), ``memory_{0,1,2}_{h,c}`` the ConvLSTM memories, and ``frame`` uint8 (B, H, W, 3), the newest
frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tensordict import TensorDict
from torch import nn

from world_models.core.interface import ActionSpec, WorldModel
from world_models.layers.gumbel import gumbel_softmax
from world_models.pvg.action import ActionNetwork, ActionOutput, CentroidEstimator
from world_models.pvg.config import PVGConfig
from world_models.pvg.dynamics import Dynamics, Memory
from world_models.pvg.encoder import Encoder
from world_models.pvg.renderer import Renderer


class ScalarHead(nn.Module):
    """Global average pool of the dynamics hidden map, then a two-layer MLP to one value per row."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(channels, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

    def forward(self, hidden_map: torch.Tensor) -> torch.Tensor:  # (B, Hd, h, w) -> (B,)
        return self.net(hidden_map.mean(dim=(2, 3))).squeeze(-1)


@dataclass
class Unroll:
    """Outputs of a training-time unroll over T observations."""

    actions: ActionOutput
    """Action inference on the ground-truth states."""
    action_samples: torch.Tensor
    """(B, T-1, A) Gumbel-softmax samples fed to the dynamics."""
    states: torch.Tensor
    """(B, T, F, h, w) ground-truth states."""
    reconstructed_states: torch.Tensor
    """(B, T-1, F, h, w) states re-encoded from generated frames 1..T-1."""
    frames: list[torch.Tensor]
    """Generated frames 1..T-1 at [full, half, quarter] resolution, each (B, T-1, 3, h_i, w_i)."""
    hidden: torch.Tensor
    """(B, T-1, Hd, h, w) dynamics outputs."""
    reconstructed_actions: ActionOutput | None
    """Action inference on [first ground-truth state, re-encoded generated states]."""


def to_unit(frames_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float (..., 3, H, W) in [-1, 1]."""
    return frames_uint8.movedim(-1, -3).float().div(127.5).sub(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float (..., 3, H, W) in [-1, 1] -> uint8 (..., H, W, 3)."""
    return ((images.movedim(-3, -1) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


class PVGModel(WorldModel):
    family = "pvg"

    def __init__(self, config: PVGConfig) -> None:
        super().__init__()
        self.config = c = config
        self.fps = c.fps
        self.representation_network = Encoder(c)
        self.action_network = ActionNetwork(c)
        self.dynamics_network = Dynamics(c)
        self.rendering_network = Renderer(c)
        self.state_to_hidden_state_layer = nn.Conv2d(c.state_channels, c.dynamics_hidden, 3, padding=1)
        self.centroid_estimator = CentroidEstimator(c)
        self.reward_head = ScalarHead(c.dynamics_hidden, c.head_hidden)
        self.termination_head = ScalarHead(c.dynamics_hidden, c.head_hidden)
        nn.init.constant_(self.termination_head.net[-1].bias, -4.0)
        # Held-out start frames (uint8 (N, H, W, 3)); shipped as checkpoint extras, not weights.
        self.register_buffer("start_frames", torch.zeros(0, c.height, c.width, 3, dtype=torch.uint8), persistent=False)
        self.rediscovering = False  # set by `grow_from` when the action state's mean head starts afresh

    # --- WorldModel interface ---------------------------------------------------------------------------------
    @property
    def action_spec(self) -> ActionSpec:
        names = tuple(f"learned_{k}" for k in range(self.config.num_actions))
        return ActionSpec("discrete", num_players=1, num_actions=self.config.num_actions, action_names=names)

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self.config.height, self.config.width

    def grow_from(self, source: PVGModel) -> None:
        """Take ``source``'s weights where this model has more parts (`PVGConfig.GROWTH_FIELDS` switched on): the
        action network's coordinate channels get zero input weights, which leave its function unchanged. When the
        action state is read another way (`PVGConfig.REDISCOVERY_FIELDS`), its mean head keeps this model's fresh
        initialisation (to be matched to the source's, `train.match_action_state`)."""
        from world_models.core.checkpoint import CheckpointError

        mine = self.state_dict()
        fresh: tuple[str, ...] = ()
        if self.config.action_keypoints != source.config.action_keypoints:
            fresh = ("action_network.keypoint_", "action_network.mean_fc.")
            # The trained action network, to express the fresh mean head in its units (`train.match_action_state`);
            # kept outside the module tree (not saved, not trained).
            self.__dict__["rediscovery_source"] = source.action_network.eval()
        grown = {key: value for key, value in mine.items() if key.startswith(fresh)}  # startswith(()) is False
        self.rediscovering = bool(fresh)
        for key, value in source.state_dict().items():
            target = mine.get(key)
            if key.startswith(fresh):
                continue
            if target is None or target.shape == value.shape:
                grown[key] = value
            elif key.startswith("action_network.residuals.0.") and target.shape[1] == value.shape[1] + 2:
                grown[key] = torch.cat([value, value.new_zeros(value.shape[0], 2, *value.shape[2:])], dim=1)
            else:
                raise CheckpointError(f"cannot grow {key} from {tuple(value.shape)} to {tuple(target.shape)}")
        self.load_state_dict(grown)

    def set_start_frames(self, frames: torch.Tensor) -> None:
        """Held-out real frames (uint8 (N, H, W, 3)) that `initial_state` draws from when no context is given."""
        if frames.dim() != 4 or tuple(frames.shape[1:]) != (*self.frame_shape, 3):
            raise ValueError(f"start frames must be (N, {self.frame_shape[0]}, {self.frame_shape[1]}, 3), got {tuple(frames.shape)}")
        self.start_frames = frames.to(self.device, torch.uint8)

    def prepare_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (B, H', W', 3) or (B, S, H', W', 3) frames of any size -> observation (B, 3S, H, W) in [-1, 1].

        A single frame is repeated S times; other sizes are resized bilinearly to the model resolution.
        """
        s = self.config.frames_per_observation
        frames = frames.to(self.device)
        if frames.dim() == 4:
            frames = frames[:, None].expand(-1, s, -1, -1, -1)
        if frames.shape[1] != s:
            raise ValueError(f"expected {s} stacked frames, got {frames.shape[1]}")
        b = frames.shape[0]
        images = to_unit(frames).flatten(0, 1)  # (B*S, 3, H', W')
        if tuple(images.shape[-2:]) != self.frame_shape:
            images = F.interpolate(images, size=self.frame_shape, mode="bilinear", align_corners=False)
        return images.reshape(b, 3 * s, *self.frame_shape)

    def initial_state(self, batch: int, *, generator: torch.Generator, context: TensorDict | None = None) -> TensorDict:
        """Start frames from ``context["frames"]`` (uint8 (B, H, W, 3) or (B, S, H, W, 3)), else drawn with
        ``generator`` from the shipped held-out frames (a uniform-noise frame when the model has none)."""
        if context is not None and "frames" in context.keys():
            frames = context["frames"]
            if frames.shape[0] == 1 and batch > 1:
                frames = frames.expand(batch, *frames.shape[1:])
        elif len(self.start_frames):
            index = torch.randint(len(self.start_frames), (batch,), generator=generator, device=generator.device)
            frames = self.start_frames[index.to(self.start_frames.device)]
        else:  # an untrained or converted model without shipped frames: a noise frame drawn from the generator
            noise = torch.randint(256, (batch, *self.frame_shape, 3), generator=generator, device=generator.device)
            frames = noise.to(self.device, torch.uint8)
        observation = self.prepare_frames(frames)
        return self._pack(observation, self.dynamics_network.initial_memory(batch))

    def _pack(self, observation: torch.Tensor, memory: Memory) -> TensorDict:
        data = {"observation": observation, "frame": to_uint8(observation[:, :3])}
        for level, (h, c) in enumerate(memory):  # the learned initial states arrive expanded over the batch
            data[f"memory_{level}_h"] = h.contiguous()
            data[f"memory_{level}_c"] = c.contiguous()
        return TensorDict(data, batch_size=[observation.shape[0]], device=observation.device)

    @staticmethod
    def _memory(state: TensorDict) -> Memory:
        return [(state[f"memory_{i}_h"], state[f"memory_{i}_c"]) for i in range(3)]

    def step_frames(
        self, observation: torch.Tensor, memory: Memory, action: torch.Tensor, variation: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, Memory]:
        """One play step on tensors: observation (B, 3S, H, W), action (B, A) -> frame (B, 3, H, W), hidden, memory."""
        state, _ = self.representation_network(observation)
        if variation is None:
            variation = torch.zeros(action.shape[0], self.config.action_space_dim, device=action.device, dtype=action.dtype)
        hidden, memory = self.dynamics_network(state, action, variation, memory)
        frame, _ = self.rendering_network(hidden)
        return frame, hidden, memory

    def step(self, state: TensorDict, action: torch.Tensor, *, generator: torch.Generator) -> tuple[TensorDict, TensorDict]:
        """action (B, 1) int64 learned-action indices; zero variability; deterministic (generator unused)."""
        one_hot = F.one_hot(action.reshape(-1).long(), self.config.num_actions).float()
        observation = state["observation"]
        frame, hidden, memory = self.step_frames(observation, self._memory(state), one_hot)
        observation = torch.cat([frame, observation[:, : -3]], dim=1) if observation.shape[1] > 3 else frame
        aux = TensorDict(
            {
                "reward": self.reward_head(hidden),
                # The head is trained with a positive-class weight w; logit > log(w) is posterior > 1/2 without it.
                "terminated": self.termination_head(hidden) > math.log(max(self.config.termination_pos_weight, 1.0)),
            },
            batch_size=state.batch_size,
        )
        return self._pack(observation, memory), aux

    def render(self, state: TensorDict, camera: torch.Tensor | None = None) -> torch.Tensor:
        return state["frame"]

    # --- training-time computation ----------------------------------------------------------------------------
    def encode(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, 3S, H, W) -> states (B, T, F, h, w), attention (B, T, 1, h, w)."""
        b, t = observations.shape[:2]
        states, attention = self.representation_network(observations.flatten(0, 1))
        return states.view(b, t, *states.shape[1:]), attention.view(b, t, *attention.shape[1:])

    def infer_actions(self, observations: torch.Tensor, *, generator: torch.Generator | None = None) -> ActionOutput:
        """Actions between consecutive observations (B, T, 3S, H, W); ``generator=None`` uses direction means."""
        states, attention = self.encode(observations)
        return self.action_network(states, attention, generator=generator)

    def unroll(
        self,
        observations: torch.Tensor,
        *,
        temperature: float,
        teacher_forced: int,
        generator: torch.Generator,
        pretraining: bool = False,
    ) -> Unroll:
        """The training forward pass (design note section 9) over observations (B, T, 3S, H, W) in [-1, 1]."""
        c = self.config
        b, t = observations.shape[:2]
        states, attention = self.encode(observations)
        actions = self.action_network(states, attention, generator=generator)
        log_probs = torch.log_softmax(actions.logits, dim=-1)
        samples = gumbel_softmax(log_probs, temperature, generator=generator, hard=c.hard_gumbel)  # (B, T-1, A)
        if self.training:
            self.centroid_estimator.update(actions.direction_mean.detach().flatten(0, 1), log_probs.exp().detach().flatten(0, 1))
        variation = actions.direction - self.centroid_estimator(samples)  # (B, T-1, D)

        memory = None
        hidden_maps, frames, rec_states, rec_attention = [], [], [], []
        s = c.frames_per_observation
        past = [observations[:, 0, 3 * i : 3 * i + 3] for i in range(s)]  # frames as the dynamics sees them, newest first
        for step in range(t - 1):
            if pretraining or step < teacher_forced or step == 0:
                state_in = states[:, step]
            else:
                state_in = rec_states[-1]
            hidden, memory = self.dynamics_network(state_in, samples[:, step], variation[:, step], memory)
            hidden_maps.append(hidden)
            if pretraining:
                continue
            full, pyramid = self.rendering_network(hidden)
            frames.append(pyramid)
            # The stack of a generated frame mixes real (teacher-forced) and generated frames, newest first.
            stack = [full, *past[: s - 1]]
            seen = observations[:, step + 1, :3] if step + 1 < teacher_forced else full
            past = [seen, *past[: s - 1]]
            rec, rec_att = self.representation_network(torch.cat(stack, dim=1))
            rec_states.append(rec)
            rec_attention.append(rec_att)

        hidden = torch.stack(hidden_maps, dim=1)
        if pretraining:
            return Unroll(actions, samples, states, states[:, 1:], [], hidden, None)
        rec_states_t = torch.stack(rec_states, dim=1)  # (B, T-1, F, h, w)
        pyramid = [torch.stack([f[i] for f in frames], dim=1) for i in range(3)]
        # Re-run A on [first ground-truth state, re-encoded states] with their own attention maps.
        rec_sequence = torch.cat([states[:, :1], rec_states_t], dim=1)
        rec_attention_t = torch.cat([attention[:, :1], torch.stack(rec_attention, dim=1)], dim=1)
        rec_actions = self.action_network(rec_sequence, rec_attention_t, generator=generator)
        return Unroll(actions, samples, states, rec_states_t, pyramid, hidden, rec_actions)

    def pretrain_frames(self, states: torch.Tensor) -> list[torch.Tensor]:
        """Pretraining auto-encoder: states (B, T, F, h, w) -> [full, half, quarter] frames (B, T, 3, h_i, w_i)."""
        b, t = states.shape[:2]
        hidden = self.state_to_hidden_state_layer(states.flatten(0, 1))
        _, pyramid = self.rendering_network(hidden)
        return [p.view(b, t, *p.shape[1:]) for p in pyramid]
