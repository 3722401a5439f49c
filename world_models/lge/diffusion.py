"""The diffusion process around the animation network: noising, the masked training loss, and a few-step DDIM
sampler with classifier-free guidance on text (deterministic at ``eta=0``; ``eta=1`` re-injects fresh noise each
step as ancestral DDPM sampling does), every random draw from a passed generator.

Conditioning is inpainting-style: known entries are given clean at every noise level and excluded from the loss,
so one model serves prediction, interpolation, waypoints and text-only generation by changing the mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from world_models.lge.network import AnimationNetwork


def cosine_alpha_bar(steps: int) -> torch.Tensor:
    """Cumulative signal fractions ``alpha_bar[t]``, t = 0..steps-1 (Nichol & Dhariwal's cosine schedule)."""
    s = 0.008
    x = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((x + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = (f / f[0])[1:]
    return alpha_bar.clamp(1e-5, 0.9999).float()


@dataclass
class Conditioning:
    """What a window is conditioned on (all tensors batched over B windows)."""

    known_values: torch.Tensor
    """``(B, T, 3, F)`` standardised values of the known entries (anything elsewhere)."""
    known: torch.Tensor
    """``(B, T, 3, F)`` float, 1 where the entry is given."""
    text: torch.Tensor
    """``(B, T, 2, E)`` per-player per-frame text embeddings."""
    text_on: torch.Tensor
    """``(B, T, 2)`` bool."""
    surface: torch.Tensor
    """``(B,)`` int64."""


MAX_LEVEL_WEIGHT = 100.0
"""Cap of `level_weight`: near pure noise the implied clean sequence is undefined (SNR 1e-5 at the last level)."""


def level_weight(alpha_bar: torch.Tensor, snr_floor: float) -> torch.Tensor:
    """Weight of the noise-prediction loss at signal fractions ``alpha_bar`` so that the implied clean sequence's
    error weighs max(SNR, snr_floor) instead of SNR (truncated-SNR weighting), capped at `MAX_LEVEL_WEIGHT`."""
    snr = alpha_bar / (1 - alpha_bar)
    return (snr_floor / snr).clamp(min=1.0, max=MAX_LEVEL_WEIGHT)


def target(x0: torch.Tensor, noise: torch.Tensor, a: torch.Tensor, prediction: str) -> torch.Tensor:
    """What the network is trained to output for clean ``x0`` noised with ``noise`` to signal fraction ``a``."""
    return noise if prediction == "epsilon" else a.sqrt() * noise - (1 - a).sqrt() * x0


def read_output(
    output: torch.Tensor, x: torch.Tensor, a: torch.Tensor, prediction: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """The noise and the clean sequence implied by the network's ``output`` on noisy ``x`` at signal fraction ``a``."""
    if prediction == "epsilon":
        return output, (x - (1 - a).sqrt() * output) / a.sqrt()
    return (1 - a).sqrt() * x + a.sqrt() * output, a.sqrt() * x - (1 - a).sqrt() * output


def training_loss(
    network: AnimationNetwork,
    alpha_bar: torch.Tensor,
    x0: torch.Tensor,
    cond: Conditioning,
    entry_weight: torch.Tensor,
    generator: torch.Generator | None = None,
    velocity_weight: float = 1.0,
    acceleration_weight: float = 0.0,
    frame_weight: torch.Tensor | None = None,
    snr_floor: float = 0.0,
    prediction: str = "epsilon",
) -> torch.Tensor:
    """MSE of the network's `target` (the noise, or v with ``prediction="v"``) over the unknown entries of ``x0``
    ``(B, T, 3, F)``, each weighted by ``entry_weight`` ``(3, F)`` (zero on padding) and by ``frame_weight``
    ``(B, T)`` when given (frames that matter more; the average still counts each entry once) and by `level_weight`
    of its noise level when ``snr_floor`` is set, plus velocity and acceleration terms: the first and second
    frame-to-frame differences of the clean sequence implied by the prediction must match the data's (as the
    velocity loss of motion diffusion models), weighted by the signal fraction so that nearly pure-noise levels do
    not dominate. Without them a partly trained model jitters from frame to frame."""
    b = x0.shape[0]
    t = torch.randint(len(alpha_bar), (b,), generator=generator, device=x0.device)
    noise = torch.randn(x0.shape, generator=generator, device=x0.device)
    a = alpha_bar.to(x0.device)[t].view(b, 1, 1, 1)
    noisy = a.sqrt() * x0 + (1 - a).sqrt() * noise
    x_in = cond.known * x0 + (1 - cond.known) * noisy
    predicted = network(x_in, cond.known, cond.text, cond.text_on, cond.surface, t)
    unknown = 1 - cond.known
    weight = unknown * entry_weight
    count = (unknown * (entry_weight > 0)).sum().clamp(min=1)
    per_frame = weight if frame_weight is None else weight * frame_weight[:, :, None, None]
    if snr_floor:
        per_frame = per_frame * level_weight(a, snr_floor)
    loss = ((predicted - target(x0, noise, a, prediction)) ** 2 * per_frame).sum() / count
    x0_hat = cond.known * x0 + unknown * read_output(predicted, x_in, a, prediction)[1]
    for order, weight in ((1, velocity_weight), (2, acceleration_weight)):
        if weight:
            error = (x0_hat.diff(n=order, dim=1) - x0.diff(n=order, dim=1)) ** 2 * a * entry_weight
            loss = loss + weight * error.sum() / count
    return loss


@torch.no_grad()
def sample(
    network: AnimationNetwork,
    alpha_bar: torch.Tensor,
    cond: Conditioning,
    *,
    steps: int,
    guidance: float,
    generator: torch.Generator,
    eta: float = 0.0,
    prediction: str = "epsilon",
) -> torch.Tensor:
    """DDIM from noise drawn with ``generator``; returns standardised ``(B, T, 3, F)`` with the known entries equal
    to their given values. ``eta`` scales the fresh noise of each step (Song et al.'s sigma): 0 is the deterministic
    sampler; with 1, errors an early step commits to (frame-to-frame jitter) can still be corrected later."""
    device = cond.known.device
    alpha_bar = alpha_bar.to(device)
    levels = torch.linspace(len(alpha_bar) - 1, 0, steps, device=device).round().long()
    x = torch.randn(cond.known.shape, generator=generator, device=device)
    known, values = cond.known, cond.known_values
    guided = guidance != 1.0 and bool(cond.text_on.any())
    # The text's parts are the same at every step: computed once.
    if guided:
        text_parts = network.text_parts(torch.cat([cond.text, cond.text]),
                                        torch.cat([cond.text_on, torch.zeros_like(cond.text_on)]))  # fmt: skip
    else:
        text_parts = network.text_parts(cond.text, cond.text_on)
    for i, level in enumerate(levels):
        a = alpha_bar[level]
        a_prev = alpha_bar[levels[i + 1]] if i + 1 < len(levels) else torch.tensor(1.0, device=device)
        x_in = known * values + (1 - known) * x
        t = level.expand(x.shape[0])
        if guided:
            # One batched pass for the text-conditioned and the text-free predictions.
            both = network(
                torch.cat([x_in, x_in]),
                torch.cat([known, known]),
                torch.cat([cond.text, cond.text]),
                torch.cat([cond.text_on, torch.zeros_like(cond.text_on)]),
                torch.cat([cond.surface, cond.surface]),
                torch.cat([t, t]),
                text_parts=text_parts,
            )
            with_text, without = both.chunk(2)
            output = without + guidance * (with_text - without)
        else:
            output = network(x_in, known, cond.text, cond.text_on, cond.surface, t, text_parts=text_parts)
        eps, x0 = read_output(output, x_in, a, prediction)
        x0 = x0.clamp(-6, 6)
        sigma = eta * ((1 - a_prev) / (1 - a)).sqrt() * (1 - a / a_prev).sqrt()
        x = a_prev.sqrt() * x0 + (1 - a_prev - sigma**2).clamp(min=0).sqrt() * eps
        if eta:
            x = x + sigma * torch.randn(x.shape, generator=generator, device=device)
    return known * values + (1 - known) * x
