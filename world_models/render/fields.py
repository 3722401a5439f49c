"""The neural fields, one per object class: plain `nn.Module`s on tensors of sample points (no I/O, no devices).

- `PlanarBackdrop`: the ground and the walls, each a 2-D feature field on its plane, feature c at (a, b) =
  line_a[c](a) * line_b[c](b), each 1-D line box-filtered over the pixel's footprint (exact for a separable
  product, so thin court lines do not alias at grazing angles, and there is no upsampler to leave checkerboards),
  plus a colour head conditioned on the scene style.
- `NetField`: an RGBA texture on the net plane.
- `PlayerField`: opacity and colour of a point from its offsets to the player's bones (pose) and the player's
  style colours.
- `BallField`: a tiny sphere field of the ray's distance to the ball centre (in metres and in pixels).
- `ShadowField`: the darkening a player casts on the ground around its root.

Colours come from a *palette head*: an MLP predicts mixing weights over the style colours plus an offset, so
colour is affine in the style (as paint is) and a new style recolours the same learned pattern.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def mlp(inputs: int, hidden: int, layers: int, outputs: int) -> nn.Sequential:
    """``layers`` hidden ReLU layers of width ``hidden``."""
    mods: list[nn.Module] = []
    width = inputs
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    mods.append(nn.Linear(width, outputs))
    return nn.Sequential(*mods)


def palette_colour(weights: torch.Tensor, offset: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """rgb (M, 3) = sum_p weights (M, P) * palette (M, P, 3) + offset (M, 3)."""
    return (weights.unsqueeze(-1) * palette).sum(-2) + offset


class SegmentedLines(nn.Module):
    """Several 1-D feature lines (one per plane axis) in one table, box-filtered over pixel footprints.

    Segment k covers ``[start_k, start_k + n_k * cell_k)``; beyond its ends the edge texels extend. A lookup of
    coordinates x (M,), footprint widths w (M,) and segment ids (M,) returns the average of the piecewise-constant
    line over ``[x - w/2, x + w/2]`` (w >= one texel): (M, C). It uses the running integral of the table, linearly
    interpolated, so any footprint costs one fused weighted sum of four table rows (`F.embedding_bag`).
    """

    def __init__(self, segments: list[tuple[float, float, int]], channels: int) -> None:
        super().__init__()
        total = sum(n for _, _, n in segments)
        self.table = nn.Parameter(1.0 + 0.1 * torch.randn(total, channels))  # (N, C)
        offsets = torch.tensor([0] + [n for _, _, n in segments]).cumsum(0)[:-1]
        self.register_buffer("seg_start", torch.tensor([s for s, _, _ in segments]), persistent=False)
        self.register_buffer("seg_cell", torch.tensor([c for _, c, _ in segments]), persistent=False)
        self.register_buffer("seg_offset", offsets, persistent=False)
        self.register_buffer("seg_size", torch.tensor([n for _, _, n in segments]), persistent=False)
        cells = torch.cat([torch.full((n,), c) for _, c, n in segments])
        self.register_buffer("row_cell", cells.unsqueeze(-1), persistent=False)  # (N, 1)

    def forward(self, x: torch.Tensor, width: torch.Tensor, segment: torch.Tensor) -> torch.Tensor:
        table = self.table
        n = table.shape[0]
        step = table * self.row_cell  # (N, C) integral over each texel
        both = torch.cat([torch.cumsum(step, 0) - step, table], 0)  # (2N, C): integral up to each texel, value
        start, cell = self.seg_start[segment], self.seg_cell[segment]
        offset, last = self.seg_offset[segment], (self.seg_size[segment] - 1).to(x.dtype)
        w = torch.maximum(width, cell)
        pos = (torch.stack([x + w / 2, x - w / 2], -1) - start.unsqueeze(-1)) / cell.unsqueeze(-1)  # (M, 2) texels
        i = torch.minimum(pos.floor().clamp_min(0.0), last.unsqueeze(-1))
        frac = (pos - i) * cell.unsqueeze(-1)  # metres past the texel's start (linear beyond the ends)
        rows = i.long() + offset.unsqueeze(-1)  # (M, 2)
        # average = (I(x + w/2) - I(x - w/2)) / w with I(p) = integral[row] + frac * value[row]: one fused
        # weighted sum of four rows per lookup.
        index = torch.stack([rows[:, 0], rows[:, 0] + n, rows[:, 1], rows[:, 1] + n], -1)  # (M, 4)
        inv = 1.0 / w
        weights = torch.stack([inv, frac[:, 0] * inv, -inv, -frac[:, 1] * inv], -1)  # (M, 4)
        return F.embedding_bag(index, both, mode="sum", per_sample_weights=weights)


class PlanarBackdrop(nn.Module):
    """Opaque textured planes (the ground and the walls), one sample per ray, coloured by the scene style.

    Plane k has a 2-D feature field ``f(a, b) = line_a(a) * line_b(b)`` (C channels; separable, so box filtering
    each line over the pixel footprint filters the product exactly) and all planes share a palette head:
    ``MLP([f, style, plane one-hot]) -> weights over the style palette + offset``.
    """

    def __init__(self, planes: list[tuple[tuple[float, float], tuple[float, float], float]], channels: int,
                 style_size: int, palette_size: int, hidden: int) -> None:  # fmt: skip
        super().__init__()
        segs_a, segs_b = [], []
        for extent_a, extent_b, texels_per_metre in planes:
            for extent, segs in ((extent_a, segs_a), (extent_b, segs_b)):
                n = max(2, round((extent[1] - extent[0]) * texels_per_metre))
                segs.append((float(extent[0]), 1.0 / texels_per_metre, n))
        self.lines_a = SegmentedLines(segs_a, channels)
        self.lines_b = SegmentedLines(segs_b, channels)
        self.num_planes = len(planes)
        self.palette_size = palette_size
        self.features_in = nn.Linear(channels, hidden, bias=False)
        self.condition_in = nn.Linear(style_size + len(planes), hidden)  # evaluated once per (frame, plane)
        self.out = nn.Linear(hidden, palette_size + 3)

    def forward(self, plane: torch.Tensor, frame: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                width_a: torch.Tensor, width_b: torch.Tensor, style: torch.Tensor,
                palette: torch.Tensor) -> torch.Tensor:  # fmt: skip
        """plane, frame (M,) int64; a, b, widths (M,); style (B, S) and palette (B, P, 3) per frame -> rgb (M, 3)."""
        features = self.lines_a(a, width_a, plane) * self.lines_b(b, width_b, plane)  # (M, C)
        nb, k = style.shape[0], self.num_planes
        condition = torch.cat([style.repeat_interleave(k, 0), torch.eye(k, device=style.device).repeat(nb, 1)], -1)
        bias = self.condition_in(condition)  # (B * planes, hidden)
        hidden = torch.relu(self.features_in(features) + bias[frame * k + plane])
        out = self.out(hidden)  # (M, P + 3)
        weights = out[:, : self.palette_size]
        pal = palette.reshape(nb, -1)[frame].view(-1, self.palette_size, 3)  # (M, P, 3)
        return torch.bmm(weights.unsqueeze(1), pal).squeeze(1) + out[:, self.palette_size :]


class NetField(nn.Module):
    """RGBA texture of the net plane y = 0 over x in [-half_width, half_width], z in [0, height]."""

    def __init__(self, half_width: float, height: float, texels_per_metre: float) -> None:
        super().__init__()
        self.half_width, self.height = half_width, height
        nx = max(2, round(2 * half_width * texels_per_metre))
        nz = max(2, round(height * texels_per_metre))
        rgba = torch.zeros(1, 4, nz, nx)
        rgba[:, 3] = -1.0
        self.rgba = nn.Parameter(rgba)  # (1, 4, Nz, Nx) logits; row 0 is z = 0

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x, z: (M,) -> alpha (M,) (0 outside the texture) and rgb (M, 3)."""
        gx = x / self.half_width
        gz = z / self.height * 2 - 1
        grid = torch.stack([gx, gz], -1).view(1, 1, -1, 2)
        out = F.grid_sample(self.rgba, grid, mode="bilinear", padding_mode="border", align_corners=False)
        out = out.view(4, -1).t()  # (M, 4)
        inside = (gx.abs() <= 1) & (gz.abs() <= 1)
        alpha = torch.sigmoid(out[:, 3]) * inside
        return alpha, torch.sigmoid(out[:, :3])


class PlayerField(nn.Module):
    """Opacity and colour of sample points of a player from pose features: (M, F) -> alpha (M,), rgb (M, 3).

    Features (built by `player_features`): per bone the offset from the bone to the point in the player's heading
    frame, the position along the bone and two radial profiles of the distance; plus the ray direction.
    """

    def __init__(self, num_bones: int, hidden: int, layers: int, palette_size: int = 3) -> None:
        super().__init__()
        self.in_features = num_bones * 6 + 3
        self.palette_size = palette_size
        self.net = mlp(self.in_features, hidden, layers, 1 + palette_size + 3)
        with torch.no_grad():
            self.net[-1].bias[0] = -3.0  # start transparent

    def forward(self, features: torch.Tensor, palette: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(features)  # (M, 1 + P + 3)
        alpha = torch.sigmoid(out[:, 0])
        rgb = palette_colour(out[:, 1 : 1 + self.palette_size], out[:, 1 + self.palette_size :], palette)
        return alpha, rgb


def player_features(offsets: torch.Tensor, along: torch.Tensor, facing: torch.Tensor,
                    direction: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """Pose features of sample points.

    offsets: (Q, K, J, 3) bone-to-point offsets (world axes); along: (Q, K, J); facing: (Q,) radians;
    direction: (Q, 3) ray direction. Returns (Q, K, 6 J + 3).
    """
    c, s = torch.cos(facing), torch.sin(facing)  # heading frame: x forward, y left, z up

    def rotate(v: torch.Tensor, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return torch.stack([c * v[..., 0] + s * v[..., 1], -s * v[..., 0] + c * v[..., 1], v[..., 2]], -1)

    local = rotate(offsets, c.view(-1, 1, 1), s.view(-1, 1, 1))  # (Q, K, J, 3)
    dist2 = (offsets * offsets).sum(-1)  # (Q, K, J)
    near = torch.exp(-dist2 / 0.08**2)
    far = torch.exp(-dist2 / 0.2**2)
    per_bone = torch.cat([(local / 0.25).clamp(-4, 4), along.unsqueeze(-1), near.unsqueeze(-1), far.unsqueeze(-1)], -1)
    d = direction / direction.norm(dim=-1, keepdim=True)
    view = rotate(d, c.view(-1), s.view(-1))  # (Q, 3)
    k = offsets.shape[1]
    return torch.cat([per_bone.flatten(-2), view.unsqueeze(1).expand(-1, k, -1)], -1)


class BallField(nn.Module):
    """Tiny sphere field: distance of the ray to the ball centre in radii and in pixels -> alpha (M,), rgb (M, 3)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.net = mlp(2, hidden, 2, 4)
        with torch.no_grad():
            self.net[-1].bias[0] = -3.0

    def forward(self, radii: torch.Tensor, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(torch.stack([radii.clamp(0, 10) / 5, pixels.clamp(0, 10) / 2], -1))
        return torch.sigmoid(out[:, 0]), torch.sigmoid(out[:, 1:])


class ShadowField(nn.Module):
    """Darkening in [0, 1] that a player casts on the ground at offsets (M, P, 2) from its root -> (M, P)."""

    def __init__(self, texels: int, extent: float) -> None:
        super().__init__()
        self.extent = extent
        self.logits = nn.Parameter(torch.full((1, 1, texels, texels), -4.0))  # (1, 1, S, S) over (dy, dx)

    def forward(self, offsets: torch.Tensor) -> torch.Tensor:
        m, p, _ = offsets.shape
        grid = (offsets / self.extent).view(1, 1, m * p, 2)
        out = F.grid_sample(self.logits, grid, mode="bilinear", padding_mode="border", align_corners=False)
        inside = (offsets.abs() <= self.extent).all(-1)
        return torch.sigmoid(out.view(m, p)) * inside
