"""Action network A and the action centroids (design note ``pvg.md`` section 6).

Per frame the network maps the attended state to a Gaussian "action state" N(mu_t, var_t) in a D-dimensional
action space. The action direction between frames t and t+1 is N(mu_{t+1} - mu_t, var_{t+1} + var_t); a linear
layer classifies a sample of it into A discrete actions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from world_models.layers.blocks import ResidualBlock
from world_models.pvg.config import PVGConfig

KEYPOINT_SHARPNESS = 3.0
"""Initial inverse temperature of the keypoint softmax over standardised map values."""
KEYPOINT_GAIN = 10.0
"""Initial scale of the keypoint action state (the shipped Breakout model's pooled action state spans about -17 to
+14 across the court)."""


@dataclass
class ActionOutput:
    """What the action network infers from a sequence of T states."""

    frame_mean: torch.Tensor
    """(B, T, D) per-frame action-state means."""
    frame_variance: torch.Tensor
    """(B, T, D) per-frame action-state variances."""
    direction_mean: torch.Tensor
    """(B, T-1, D) mean of the direction between consecutive frames."""
    direction_variance: torch.Tensor
    """(B, T-1, D)."""
    direction: torch.Tensor
    """(B, T-1, D) the sampled direction (the mean when no generator is given)."""
    logits: torch.Tensor
    """(B, T-1, A) action logits of the sampled direction."""


class ActionNetwork(nn.Module):
    """Attended state -> two residual blocks -> global average pool -> (mean, |variance|); final_fc classifies.

    With ``action_keypoints`` K > 0 the mean is instead a linear function of K soft-argmax keypoints computed at the
    state's resolution (a softmax over the positions of K learned maps, then each map's expected x and y)."""

    def __init__(self, config: PVGConfig) -> None:
        super().__init__()
        width, d = config.action_hidden, config.action_space_dim
        self.coordinates = config.action_coordinates
        inputs = config.state_channels + (2 if self.coordinates else 0)
        self.residuals = nn.ModuleList([ResidualBlock(inputs, width, 2), ResidualBlock(width, width, 1)])
        self.keypoints = config.action_keypoints
        if self.keypoints:
            self.keypoint_maps = nn.Sequential(
                nn.Conv2d(inputs, width, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(width, self.keypoints, 1)
            )
            self.keypoint_sharpness = nn.Parameter(torch.tensor(KEYPOINT_SHARPNESS))
            self.mean_fc = nn.Linear(2 * self.keypoints, d)
            # Keypoint coordinates span [-1, 1] and move by a few hundredths per frame: without a gain the action
            # directions start far below the sampling noise (a trained pooled head's variances are about 0.01), so
            # the inferred actions would be noise and the mutual information would have nothing to grow from.
            nn.init.normal_(self.mean_fc.weight, std=KEYPOINT_GAIN / (2 * self.keypoints) ** 0.5)
        else:
            self.mean_fc = nn.Linear(width, d)
        self.variance_fc = nn.Linear(width, d)
        self.final_fc = nn.Linear(d, config.num_actions)

    def frame_gaussians(self, states: torch.Tensor, attention: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, F, h, w), (N, 1, h, w) -> mean (N, D), variance (N, D)."""
        x = states * attention
        if self.coordinates:
            n, _, h, w = x.shape
            ys, xs = torch.meshgrid(torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype),
                                    torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype), indexing="ij")  # fmt: skip
            x = torch.cat([x, torch.stack([xs, ys]).expand(n, 2, h, w)], dim=1)
        position = self._keypoints(x) if self.keypoints else None
        for block in self.residuals:
            x = block(x)
        x = x.mean(dim=(2, 3))  # (N, width)
        return self.mean_fc(x if position is None else position), self.variance_fc(x).abs()

    def _keypoints(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) -> (N, 2K): the expected (x, y) in [-1, 1] of each keypoint map's softmax over positions."""
        n, _, h, w = x.shape
        logits = self.keypoint_maps(x).flatten(2)
        # Standardised over positions, then sharpened: a map's peak dominates from the start, whatever the features'
        # scale (a random map's raw softmax is nearly uniform: its keypoint would sit at the centre and not move).
        logits = (logits - logits.mean(-1, keepdim=True)) / (logits.std(-1, keepdim=True) + 1e-5)
        weights = (logits * self.keypoint_sharpness).softmax(-1).view(n, self.keypoints, h, w)
        xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype)
        ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype)
        return torch.cat([(weights.sum(2) * xs).sum(-1), (weights.sum(3) * ys).sum(-1)], dim=1)

    def forward(
        self, states: torch.Tensor, attention: torch.Tensor, *, generator: torch.Generator | None
    ) -> ActionOutput:
        """states (B, T, F, h, w), attention (B, T, 1, h, w); ``generator=None`` uses direction means (no noise)."""
        b, t = states.shape[:2]
        mean, variance = self.frame_gaussians(states.flatten(0, 1), attention.flatten(0, 1))
        mean, variance = mean.view(b, t, -1), variance.view(b, t, -1)
        d_mean = mean[:, 1:] - mean[:, :-1]
        d_var = variance[:, 1:] + variance[:, :-1]
        if generator is None:
            direction = d_mean
        else:
            noise = torch.randn(d_mean.shape, generator=generator, device=d_mean.device, dtype=d_mean.dtype)
            direction = d_mean + torch.sqrt(d_var + 1e-8) * noise
        return ActionOutput(mean, variance, d_mean, d_var, direction, self.final_fc(direction))

    @torch.no_grad()
    def refit_classifier(self, centroids: torch.Tensor, directions: torch.Tensor) -> float:
        """Set ``final_fc`` to the Gaussian classifier of ``centroids`` (A, D) with one shared isotropic variance v,
        estimated from ``directions`` (N, D) around their nearest centroid: logit_k = (c_k . d - |c_k|^2 / 2) / v, the
        log-posterior of equal-prior classes up to a constant. Returns v."""
        distance = torch.cdist(directions, centroids).min(-1).values  # (N,)
        variance = float((distance**2).mean() / directions.shape[-1]) + 1e-6
        self.final_fc.weight.copy_(centroids / variance)
        self.final_fc.bias.copy_(-(centroids**2).sum(-1) / (2 * variance))
        return variance


class CentroidEstimator(nn.Module):
    """Non-trainable action centroids (A, D), updated by EMA from probability-weighted direction means."""

    def __init__(self, config: PVGConfig) -> None:
        super().__init__()
        self.momentum = config.centroid_momentum
        self.estimated_centroids = nn.Parameter(
            torch.randn(config.num_actions, config.action_space_dim), requires_grad=False
        )

    @torch.no_grad()
    def update(self, direction_mean: torch.Tensor, probabilities: torch.Tensor) -> None:
        """direction_mean (N, D), probabilities (N, A): c <- (1 - alpha) c + alpha sum_i p_ik mu_i / sum_i p_ik."""
        weights = probabilities.sum(0)  # (A,)
        batch = probabilities.t() @ direction_mean / weights.clamp_min(1e-8)[:, None]
        present = weights > 1e-6
        new = (1 - self.momentum) * self.estimated_centroids + self.momentum * batch
        self.estimated_centroids.copy_(torch.where(present[:, None], new, self.estimated_centroids))

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        """Action-weighted centroid sum_k a_k c_k: (..., A) -> (..., D)."""
        return actions @ self.estimated_centroids
