"""The animation network: a transformer over one token per object per frame that predicts the diffusion noise.

Each token reads its object's (noisy or known) features with the known-entry mask, plus embeddings of its object,
its frame and, for players, that player's text at that frame (with ``ball_text``, the ball's tokens read both
players' text as well). With ``text_whitening`` the text projections act on whitened embeddings; the whitening is
folded into their weights (``weight @ W``), which costs one small matrix product per pass instead of one per token.
The noise level and the court surface modulate every block through adaptive layer norm (as in DiT), with the
modulation initialised to zero so training starts from an identity network. With ``text_modulation`` the text
modulates every token as well: each block adds a per-token modulation computed from the noise level, the surface,
the token's object and both players' text at its frame, so the words act on normalised activations instead of
being summed, a few hundredths in size, into the noisy values' projection.
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
    """Pre-norm transformer block with adaLN-zero modulation from the conditioning vector, and with
    ``token_modulation`` a second, per-token one (zero-initialised: the block starts as it would be without it)."""

    def __init__(self, d: int, heads: int, mlp_ratio: int, token_modulation: bool = False) -> None:
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
        if token_modulation:
            self.token_modulation = nn.Linear(d, 6 * d)
            nn.init.zeros_(self.token_modulation.weight)
            nn.init.zeros_(self.token_modulation.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor, token_c: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, N, d) tokens; c: (B, d) conditioning; token_c: (B, N, d) per-token conditioning
        b, n, d = x.shape
        modulation = self.modulation(F.silu(c)).unsqueeze(1)
        if token_c is not None:
            modulation = modulation + self.token_modulation(F.silu(token_c))
        shift1, scale1, gate1, shift2, scale2, gate2 = modulation.chunk(6, dim=-1)
        h = self.norm1(x) * (1 + scale1) + shift1
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # 3 x (B, H, N, dh)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = x + gate1 * self.proj(attended)
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + gate2 * self.mlp(h)


def whitening(embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean ``(E,)``, whitening ``(E, E)`` and its inverse from embeddings ``(N, E)`` (float64). The covariance is
    regularised by 1% of its mean eigenvalue, so directions the embeddings never vary along are not blown up, and
    the whitening is scaled so that whitened embeddings keep the raw ones' total variance: every direction gets the
    same share, and a projection's weights see inputs of the usual size."""
    x = embeddings.double()
    mean = x.mean(0)
    values, vectors = torch.linalg.eigh(torch.cov((x - mean).T))
    values = values.clamp(min=0)
    scale = (values.sum() / len(values)).sqrt()
    values = values + 0.01 * values.mean()
    whiten = vectors @ torch.diag(scale * values.rsqrt()) @ vectors.T
    unwhiten = vectors @ torch.diag(values.sqrt() / scale) @ vectors.T
    return mean, whiten, unwhiten


def _project(layer: nn.Linear, text: torch.Tensor, whiten: torch.Tensor | None) -> torch.Tensor:
    """``layer`` applied to ``text`` (..., k*E), each E-wide piece whitened first when ``whiten`` (E, E) is given."""
    if whiten is None:
        return layer(text)
    e = whiten.shape[0]
    weight = torch.cat([piece @ whiten for piece in layer.weight.split(e, dim=1)], dim=1)
    return F.linear(text, weight, layer.bias)


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
        if c.text_whitening:  # set from the training captions (`set_text_statistics`)
            self.register_buffer("text_mean", torch.zeros(c.text_dim))
            self.register_buffer("text_whiten", torch.eye(c.text_dim))
        if c.ball_text:
            self.ball_text_in = nn.Linear(len(PLAYERS) * c.text_dim, d)
            nn.init.zeros_(self.ball_text_in.weight)  # starts as a network without the route
            nn.init.zeros_(self.ball_text_in.bias)
        if c.text_modulation:  # the blocks' token_modulation starts at zero, so these start unused
            self.condition_text_in = nn.Linear(len(PLAYERS) * c.text_dim, d)
            self.condition_object_embedding = nn.Parameter(torch.randn(len(OBJECTS), d) * 0.02)
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.surface_embedding = nn.Embedding(c.num_surfaces, d)
        self.blocks = nn.ModuleList([Block(d, c.heads, c.mlp_ratio, c.text_modulation) for _ in range(c.layers)])
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False)
        self.modulation_out = nn.Linear(d, 2 * d)
        self.value_out = nn.Linear(d, FEATURE_DIM)
        for layer in (self.modulation_out, self.value_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    @torch.no_grad()
    def set_text_statistics(self, embeddings: torch.Tensor, *, keep_function: bool) -> None:
        """`whitening` from caption embeddings ``(N, E)`` (unscaled, the inputs would grow 20-fold and the same
        Adam steps throw a trained network off). ``keep_function`` re-expresses the text projections' weights so
        that the network computes what it computed before (when trained weights grow whitening)."""
        mean, whiten, unwhiten = whitening(embeddings)
        if keep_function:  # A x + b == (A W^-1) W (x - m) + (A m + b)
            old_mean, old_whiten = self.text_mean.double(), self.text_whiten.double()
            for name in ("text_in", "ball_text_in", "condition_text_in"):
                layer = getattr(self, name, None)
                if layer is None:
                    continue
                e = whiten.shape[0]
                pieces = [p.double() @ old_whiten for p in layer.weight.split(e, dim=1)]  # raw-space weights
                bias = layer.bias.double() - sum(p @ old_mean for p in pieces)
                layer.weight.copy_(torch.cat([p @ unwhiten for p in pieces], dim=1))
                layer.bias.copy_(bias + sum(p @ mean for p in pieces))
        self.text_mean.copy_(mean)
        self.text_whiten.copy_(whiten)

    def text_parts(self, text: torch.Tensor, text_on: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the text ``(B, T, 2, E)`` (null where ``text_on`` is False) gives the network, the same at every
        noise level: what each token adds, ``(B, T, 3, d)`` (each player's text on its own token and, with
        ``ball_text``, both players' on the ball's), and with ``text_modulation`` each token's part of the
        per-token conditioning, ``(B, T, 3, d)`` (else None). Text vectors wider than the pooled embedding (with
        the planner's reading, `LGEConfig.text_features`) are read up to it."""
        text = text[..., : self.config.text_dim]
        text = torch.where(text_on.unsqueeze(-1), text, self.null_text)
        whiten = None
        if self.config.text_whitening:
            text, whiten = text - self.text_mean, self.text_whiten
        players = _project(self.text_in, text, whiten)  # (B, T, 2, d)
        if self.config.ball_text:
            ball = _project(self.ball_text_in, text.flatten(-2), whiten).unsqueeze(2)
        else:
            ball = players.new_zeros(players.shape[:2] + (1, players.shape[-1]))
        condition = None
        if self.config.text_modulation:
            frame = _project(self.condition_text_in, text.flatten(-2), whiten).unsqueeze(2)  # (B, T, 1, d)
            condition = frame + self.condition_object_embedding
        return torch.cat([players, ball], dim=2), condition

    def forward(
        self,
        x: torch.Tensor,
        known: torch.Tensor,
        text: torch.Tensor,
        text_on: torch.Tensor,
        surface: torch.Tensor,
        t: torch.Tensor,
        text_parts: tuple[torch.Tensor, torch.Tensor | None] | None = None,
    ) -> torch.Tensor:
        """Noise prediction ``(B, T, 3, F)``.

        Args:
            x: ``(B, T, 3, F)`` standardised features, known entries clean, the rest noised.
            known: ``(B, T, 3, F)`` float, 1 where the entry is given.
            text: ``(B, T, 2, E)`` text embedding of each player at each frame.
            text_on: ``(B, T, 2)`` bool, False where a player has no text (the learned null text is used).
            surface: ``(B,)`` int64 court surface.
            t: ``(B,)`` int64 noise level.
            text_parts: `text_parts` of ``text`` and ``text_on``, when already computed (a sampler's steps share
                them).
        """
        b, frames, objects, _ = x.shape
        tokens = self.value_in(torch.cat([x, known], dim=-1))  # (B, T, 3, d)
        tokens = tokens + self.object_embedding + self.frame_embedding[:frames, None, :]
        text_tokens, text_condition = self.text_parts(text, text_on) if text_parts is None else text_parts
        tokens = tokens + text_tokens
        c = self.time_mlp(timestep_embedding(t, self.config.d_model)) + self.surface_embedding(surface)  # (B, d)
        token_c = None
        if text_condition is not None:
            token_c = (text_condition + c[:, None, None, :]).reshape(b, frames * objects, -1)
        h = tokens.reshape(b, frames * objects, -1)
        for block in self.blocks:
            h = block(h, c, token_c)
        shift, scale = self.modulation_out(F.silu(c)).unsqueeze(1).chunk(2, dim=-1)
        h = self.norm_out(h) * (1 + scale) + shift
        return self.value_out(h).reshape(b, frames, objects, FEATURE_DIM)
