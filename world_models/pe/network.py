"""The networks of the PE action module, one set per dynamic object (player): action network, action centroids,
recurrent dynamics, sequence discriminator, and the learned action prior that drives an uncontrolled player.

Shapes: B sequences, T frames, F = `objects.FEATURE_DIM` features, A actions, D action-space dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from world_models.layers.gumbel import gumbel_softmax
from world_models.pe.config import PEConfig
from world_models.pe.objects import FACING, FEATURE_DIM, LOCATION, POSE, POSE_DIM, STYLE, STYLE_DIM
from world_models.pvg.action import CentroidEstimator

ACTION_INPUT = 4
"""Action network input: facing sin/cos (2) and location / normalising box (2) (pose and style are not used)."""
PRIOR_INPUT = 4 + 2 + 6
"""Prior input: own location and facing (4), the other player's location (2), ball position and velocity (6)."""


@dataclass
class Actions:
    """What the action network infers from T frames of one player."""

    frame_mean: torch.Tensor  # (B, T, D)
    frame_variance: torch.Tensor  # (B, T, D)
    direction_mean: torch.Tensor  # (B, T-1, D)
    direction_variance: torch.Tensor  # (B, T-1, D)
    direction: torch.Tensor  # (B, T-1, D) sampled (the mean without a generator)
    logits: torch.Tensor  # (B, T-1, A)

    def probabilities(self) -> torch.Tensor:
        return torch.softmax(self.logits, -1)


class ActionNetwork(nn.Module):
    """Per-frame Gaussian N(mu_t, var_t) over the action space from location and facing; the direction t -> t+1 is
    N(mu_{t+1} - mu_t, var_{t+1} + var_t); `final_fc` classifies a sample of it into A actions."""

    def __init__(self, config: PEConfig) -> None:
        super().__init__()
        width, d = config.action_hidden, config.action_space_dim
        layers: list[nn.Module] = []
        for i in range(3):
            layers += [nn.Linear(ACTION_INPUT if i == 0 else width, width), nn.BatchNorm1d(width, momentum=0.1),
                       nn.ReLU()]  # fmt: skip
        self.mlp_backbone = nn.Sequential(*layers)
        self.mean_fc = nn.Linear(width, d)
        self.log_variance_fc = nn.Linear(width, d)
        self.final_fc = nn.Linear(d, config.num_actions)

    @staticmethod
    def inputs(objects: torch.Tensor) -> torch.Tensor:
        """(..., F) -> (..., 4): facing sin/cos and normalised location."""
        return torch.cat([objects[..., FACING], objects[..., LOCATION]], -1)

    def forward(self, objects: torch.Tensor, *, generator: torch.Generator | None) -> Actions:
        """objects (B, T, F); ``generator=None`` uses the direction means (no noise)."""
        b, t = objects.shape[:2]
        x = self.mlp_backbone(self.inputs(objects).flatten(0, 1))
        mean = self.mean_fc(x).view(b, t, -1)
        variance = self.log_variance_fc(x).clamp(-12, 6).exp().view(b, t, -1)
        d_mean = mean[:, 1:] - mean[:, :-1]
        d_var = variance[:, 1:] + variance[:, :-1]
        if generator is None:
            direction = d_mean
        else:
            noise = torch.randn(d_mean.shape, generator=generator, device=d_mean.device, dtype=d_mean.dtype)
            direction = d_mean + d_var.sqrt() * noise
        return Actions(mean, variance, d_mean, d_var, direction, self.final_fc(direction))


class Dynamics(nn.Module):
    """Two stacked LSTM cells with learned initial states; input [object features, action (A), variation (D)];
    Linear + ReLU, then heads for the location change, the next facing, the next pose and the next style."""

    def __init__(self, config: PEConfig) -> None:
        super().__init__()
        h = config.dynamics_hidden
        in_dim = FEATURE_DIM + config.num_actions + config.action_space_dim
        self.all_cells = nn.ModuleList([nn.LSTMCell(in_dim, h), nn.LSTMCell(h, h)])
        self.all_initial_hidden_states = nn.ParameterList([nn.Parameter(torch.zeros(h)) for _ in range(2)])
        self.all_initial_hidden_cell_states = nn.ParameterList([nn.Parameter(torch.zeros(h)) for _ in range(2)])
        self.mlp_backbone = nn.Sequential(nn.Linear(h, h), nn.ReLU())
        self.mlp_heads = nn.ModuleList([nn.Linear(h, 2), nn.Linear(h, 2), nn.Linear(h, POSE_DIM), nn.Linear(h, STYLE_DIM)])

    def initial_memory(self, batch: int) -> torch.Tensor:
        """(B, 2 cells, 2 (h, c), H) learned initial states."""
        h = torch.stack(list(self.all_initial_hidden_states))
        c = torch.stack(list(self.all_initial_hidden_cell_states))
        return torch.stack([h, c], 1).unsqueeze(0).expand(batch, -1, -1, -1)

    def forward(self, objects: torch.Tensor, action: torch.Tensor, variation: torch.Tensor,
                memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """objects (B, F), action (B, A), variation (B, D), memory (B, 2, 2, H) -> next objects (B, F), memory."""
        x = torch.cat([objects, action, variation], -1)
        new = []
        for i, cell in enumerate(self.all_cells):
            h, c = cell(x, (memory[:, i, 0], memory[:, i, 1]))
            new.append(torch.stack([h, c], 1))
            x = h
        x = self.mlp_backbone(x)
        d_location, facing, pose, style = (head(x) for head in self.mlp_heads)
        facing = objects[:, FACING] + facing
        facing = facing / facing.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        out = torch.cat([objects[:, LOCATION] + d_location, facing, objects[:, POSE] + pose, objects[:, STYLE] + style],
                        -1)  # fmt: skip
        return out, torch.stack(new, 1)


class SequenceDiscriminator(nn.Module):
    """Three spectral-norm Conv1d layers with ReLU over [location, pose, action, direction] sequences, average pool
    over time, a spectral-norm linear layer to one logit."""

    def __init__(self, config: PEConfig) -> None:
        super().__init__()
        c, k = config.discriminator_channels, config.discriminator_kernel
        in_dim = 2 + POSE_DIM + config.num_actions + config.action_space_dim
        self.convs = nn.ModuleList(
            [spectral_norm(nn.Conv1d(in_dim if i == 0 else c, c, k, padding=k // 2)) for i in range(3)]
        )
        self.head = spectral_norm(nn.Linear(c, 1))

    def forward(self, objects: torch.Tensor, actions: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """objects (B, T, F), actions (B, T, A), directions (B, T, D) -> logits (B,)."""
        x = torch.cat([objects[..., LOCATION], objects[..., POSE], actions, directions], -1).transpose(1, 2)
        for conv in self.convs:
            x = torch.relu(conv(x))
        return self.head(x.mean(-1)).squeeze(-1)


class ActionPrior(nn.Module):
    """p(action | own location and facing, other player's location, ball): the opponent policy learned from the
    inferred actions of the data (what a player in the data tends to do in this situation)."""

    def __init__(self, config: PEConfig) -> None:
        super().__init__()
        h = config.prior_hidden
        self.mlp = nn.Sequential(nn.Linear(PRIOR_INPUT, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                                 nn.Linear(h, config.num_actions))  # fmt: skip

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.mlp(inputs)


class PlayerAnimation(nn.Module):
    """The animation model of one player: action network, centroids, dynamics, prior (section 9 of ``pe.md``)."""

    def __init__(self, config: PEConfig) -> None:
        super().__init__()
        self.config = config
        self.action_network = ActionNetwork(config)
        self.dynamics_network = Dynamics(config)
        self.centroid_estimator = CentroidEstimator(config)
        self.prior = ActionPrior(config)

    def sample_actions(self, actions: Actions, generator: torch.Generator | None) -> torch.Tensor:
        """Soft Gumbel-softmax samples (B, T-1, A) of the action logits."""
        return gumbel_softmax(actions.logits, self.config.gumbel_temperature, generator=generator)

    def variation(self, direction: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Action variation: the sampled direction minus the action-weighted centroid."""
        return direction - self.centroid_estimator(action)
