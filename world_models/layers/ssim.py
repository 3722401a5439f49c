"""Structural similarity (SSIM) with a Gaussian window, differentiable, for images of any size."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, device=like.device, dtype=like.dtype) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(
    x: torch.Tensor, y: torch.Tensor, *, data_range: float = 1.0, window: int = 11, sigma: float = 1.5,
    reduction: str = "mean",
) -> torch.Tensor:
    """SSIM of (N, C, H, W) images in [0, data_range]; the window shrinks (odd) to fit small images.

    ``reduction="none"`` returns one value per image (N,).
    """
    size = min(window, x.shape[-2], x.shape[-1])
    size -= 1 - size % 2
    kernel = _window(size, sigma, x.shape[1], x)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel, groups=x.shape[1])

    mu_x, mu_y = blur(x), blur(y)
    sxx = blur(x * x) - mu_x**2
    syy = blur(y * y) - mu_y**2
    sxy = blur(x * y) - mu_x * mu_y
    value = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    per_image = value.flatten(1).mean(1)
    return per_image.mean() if reduction == "mean" else per_image
