"""The animation network: a transformer over one token per object per frame that predicts the diffusion noise.

Each token reads its object's (noisy or known) features with the known-entry mask, plus embeddings of its object,
its frame and, for players, that player's text at that frame. The noise level and the court surface modulate every
block through adaptive layer norm (as in DiT), with the modulation initialised to zero so training starts from an
identity network.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from world_models.lge.config import LGEConfig
from world_models.lge.objects import FEATURE_DIM, OBJECTS, PLAYERS


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding ``(B, dim)`` of integer noise levels ``(B,)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float().unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)


class Block(nn.Module):
    """Pre-norm transformer block with adaLN-zero modulation from the conditioning vector."""

    def __init__(self, d: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_ratio * d), nn.GELU(approximate="tanh"), nn.Linear(mlp_ratio * d, d))
        self.modulation = nn.Linear(d, 6 * d)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        # x: (B, N, d) tokens; c: (B, d) conditioning
        b, n, d = x.shape
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(F.silu(c)).unsqueeze(1).chunk(6, dim=-1)
        h = self.norm1(x) * (1 + scale1) + shift1
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # 3 x (B, H, N, dh)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = x + gate1 * self.proj(attended)
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + gate2 * self.mlp(h)


class AnimationNetwork(nn.Module):
    """Predicts the noise of every entry of a window of object states."""

    def __init__(self, config: LGEConfig) -> None:
        super().__init__()
        c = config
        d = c.d_model
        self.config = c
        self.value_in = nn.Linear(2 * FEATURE_DIM, d)
        self.object_embedding = nn.Parameter(torch.randn(len(OBJECTS), d) * 0.02)
        self.frame_embedding = nn.Parameter(torch.randn(c.window, d) * 0.02)
        self.text_in = nn.Linear(c.text_dim, d)
        self.null_text = nn.Parameter(torch.zeros(c.text_dim))
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.surface_embedding = nn.Embedding(c.num_surfaces, d)
        self.blocks = nn.ModuleList([Block(d, c.heads, c.mlp_ratio) for _ in range(c.layers)])
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False)
        self.modulation_out = nn.Linear(d, 2 * d)
        self.value_out = nn.Linear(d, FEATURE_DIM)
        for layer in (self.modulation_out, self.value_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(
        self,
        x: torch.Tensor,
        known: torch.Tensor,
        text: torch.Tensor,
        text_on: torch.Tensor,
        surface: torch.Tensor,
        t: torch.Tensor,
    ) -> torch.Tensor:
        """Noise prediction ``(B, T, 3, F)``.

        Args:
            x: ``(B, T, 3, F)`` standardised features, known entries clean, the rest noised.
            known: ``(B, T, 3, F)`` float, 1 where the entry is given.
            text: ``(B, T, 2, E)`` text embedding of each player at each frame.
            text_on: ``(B, T, 2)`` bool, False where a player has no text (the learned null text is used).
            surface: ``(B,)`` int64 court surface.
            t: ``(B,)`` int64 noise level.
        """
        b, frames, objects, _ = x.shape
        tokens = self.value_in(torch.cat([x, known], dim=-1))  # (B, T, 3, d)
        tokens = tokens + self.object_embedding + self.frame_embedding[:frames, None, :]
        text = torch.where(text_on.unsqueeze(-1), text, self.null_text)
        players = self.text_in(text)  # (B, T, 2, d)
        tokens = torch.cat([tokens[:, :, : len(PLAYERS)] + players, tokens[:, :, len(PLAYERS) :]], dim=2)
        c = self.time_mlp(timestep_embedding(t, self.config.d_model)) + self.surface_embedding(surface)  # (B, d)
        h = tokens.reshape(b, frames * objects, -1)
        for block in self.blocks:
            h = block(h, c)
        shift, scale = self.modulation_out(F.silu(c)).unsqueeze(1).chunk(2, dim=-1)
        h = self.norm_out(h) * (1 + scale) + shift
        return self.value_out(h).reshape(b, frames, objects, FEATURE_DIM)
