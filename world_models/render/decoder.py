"""The alternative the renderer was measured against: render a feature image at reduced resolution and decode it
with a CNN upsampler (Playable Environments' design). Not used by `TennisRenderer`; ``benchmarks/renderer.py
--decoder-study`` trains both and compares quality, speed and how well textures follow sub-pixel camera motion."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from world_models.render import rays as R
from world_models.render.model import Scene, TennisRenderer


class FeatureUpsampler(nn.Module):
    """Feature image (B, C, h, w) -> rgb (B, 3, h * scale, w * scale): two 3x3 convolutions and a pixel shuffle,
    plus a bilinear skip of the colour channels (the first three)."""

    def __init__(self, channels: int = 8, hidden: int = 32, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale
        self.conv1 = nn.Conv2d(channels, hidden, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden, 3 * scale * scale, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        skip = F.interpolate(features[:, :3], scale_factor=self.scale, mode="bilinear", align_corners=False)
        residual = F.pixel_shuffle(self.conv2(torch.relu(self.conv1(features))), self.scale)  # (B, 3, H, W)
        return skip + residual


def render_decoded(renderer: TennisRenderer, decoder: FeatureUpsampler, scene: Scene, corners: torch.Tensor | None,
                   size: tuple[int, int], height: int, width: int) -> torch.Tensor:  # fmt: skip
    """rgb (B, h, w, 3) of full-resolution windows of ``size`` (h, w) at ``corners`` (B, 2) (None: whole images),
    rendered as colour + per-object coverage at 1/scale resolution and decoded."""
    s = decoder.scale
    lh, lw = height // s, width // s
    if corners is None:
        rays = R.image_rays(scene.cameras, lh, lw)
        ph, pw = lh, lw
    else:
        rays = R.window_rays(scene.cameras, corners // s, size[0] // s, lh, lw)
        ph = pw = size[0] // s
    colour, cover = renderer.render_rays(scene, rays, lh, lw)
    features = torch.cat([colour, cover], -1).view(-1, ph, pw, 8).permute(0, 3, 1, 2)
    return decoder(features).permute(0, 2, 3, 1)
