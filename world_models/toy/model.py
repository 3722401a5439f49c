"""ToyWorldModel: a latent GRU world model with a convolutional decoder (random weights, for tests)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tensordict import TensorDict
from torch import nn

from world_models.core.interface import ActionSpec, WorldModel


@dataclass
class ToyConfig:
    """Sizes of the toy world model."""

    latent_dim: int = 16
    """Length of the latent state (also the state-vector observation)."""
    hidden_dim: int = 32
    """Width of the recurrent cell."""
    num_actions: int = 4
    """Discrete actions per player."""
    num_players: int = 1
    """Players acting at each step (2 gives a two-player model for PettingZoo)."""
    height: int = 32
    """Frame height; a multiple of 4."""
    width: int = 32
    """Frame width; a multiple of 4."""
    channels: int = 16
    """Decoder channels at quarter resolution."""
    noise_scale: float = 0.1
    """Standard deviation of the latent noise added each step (drawn from the passed generator)."""
    termination_bias: float = -3.0
    """Initial logit of the termination head, so random models end episodes every few dozen steps."""

    def __post_init__(self) -> None:
        if self.height % 4 or self.width % 4:
            raise ValueError(f"height and width must be multiples of 4, got {self.height}x{self.width}")
        if self.num_players not in (1, 2):
            raise ValueError(f"num_players must be 1 or 2, got {self.num_players}")


class ToyWorldModel(WorldModel):
    family = "toy"
    fps = 15.0

    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.config = c = config
        self.action_embedding = nn.Embedding(c.num_players * c.num_actions, c.hidden_dim)
        self.cell = nn.GRUCell(c.hidden_dim, c.latent_dim)
        self.reward_head = nn.Linear(c.latent_dim, 1)
        self.termination_head = nn.Linear(c.latent_dim, 1)
        nn.init.constant_(self.termination_head.bias, c.termination_bias)
        h4, w4 = c.height // 4, c.width // 4
        self.to_grid = nn.Linear(c.latent_dim, c.channels * h4 * w4)
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c.channels, c.channels, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c.channels, 3, 3, padding=1),
            nn.Tanh(),
        )

    @property
    def action_spec(self) -> ActionSpec:
        c = self.config
        names = ("player_0",) if c.num_players == 1 else ("player_0", "player_1")
        return ActionSpec("discrete", num_players=c.num_players, num_actions=c.num_actions, player_names=names)

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self.config.height, self.config.width

    @property
    def state_dim(self) -> int:
        return self.config.latent_dim

    def initial_state(self, batch, *, generator, context=None):
        latent = torch.randn(batch, self.config.latent_dim, generator=generator, device=self.device)
        return TensorDict({"latent": latent}, batch_size=[batch], device=self.device)

    def step(self, state, action, *, generator):
        c = self.config
        # (B, P) indices -> one summed embedding per row; player p's actions occupy their own rows of the table.
        offsets = torch.arange(c.num_players, device=action.device) * c.num_actions
        inputs = self.action_embedding(action + offsets).sum(dim=1)  # (B, hidden)
        latent = self.cell(inputs, state["latent"])  # (B, Z)
        noise = torch.randn(latent.shape, generator=generator, device=latent.device)
        latent = latent + c.noise_scale * noise
        p_end = torch.sigmoid(self.termination_head(latent)).squeeze(-1)
        draw = torch.rand(p_end.shape, generator=generator, device=latent.device)
        aux = TensorDict(
            {"reward": self.reward_head(latent).squeeze(-1), "terminated": draw < p_end},
            batch_size=state.batch_size,
        )
        return TensorDict({"latent": latent}, batch_size=state.batch_size, device=state.device), aux

    def render(self, state, camera=None):
        c = self.config
        grid = self.to_grid(state["latent"]).view(-1, c.channels, c.height // 4, c.width // 4)
        image = self.decoder(grid)  # (B, 3, H, W) in [-1, 1]
        return ((image + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()

    def state_vector(self, state):
        return state["latent"].float()
