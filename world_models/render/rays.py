"""Camera rays and the analytic intersections the renderer needs, batched over rays (no Python loops).

Cameras follow the state layout (`world_models.engines.tennis.layout`): a camera is a 16-vector
``[fx/W, fy/H, cx/W, cy/H, R (3x3 camera-to-world, row-major, OpenCV axes), centre (3)]``. Ray directions are not
normalised: their camera-z component is 1, so the ray parameter ``t`` is the depth along the optical axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

CAMERA_SIZE = 16
"""Length of a camera vector."""


@dataclass
class Rays:
    """A set of N rays, each belonging to one frame of the batch."""

    origin: torch.Tensor
    """(N, 3) camera centre."""
    direction: torch.Tensor
    """(N, 3) world direction with camera-z = 1 (t is depth)."""
    du: torch.Tensor
    """(N, 3) change of ``direction`` per pixel to the right (for pixel footprints)."""
    dv: torch.Tensor
    """(N, 3) change of ``direction`` per pixel down."""
    frame: torch.Tensor
    """(N,) int64 index of the batch row (frame) each ray belongs to."""
    focal: torch.Tensor
    """(N,) focal length in pixels (x)."""
    pixel: torch.Tensor
    """(N, 2) pixel position (u, v) of the ray (pixel centres at integer + 0.5)."""

    def __len__(self) -> int:
        return self.origin.shape[0]

    def subset(self, index: torch.Tensor) -> Rays:
        return Rays(self.origin[index], self.direction[index], self.du[index], self.dv[index], self.frame[index],
                    self.focal[index], self.pixel[index])  # fmt: skip


def pixel_rays(cameras: torch.Tensor, frame: torch.Tensor, u: torch.Tensor, v: torch.Tensor, height: int,
               width: int) -> Rays:  # fmt: skip
    """Rays through pixel positions ``(u, v)`` (pixel centres are at integer + 0.5) of frames ``frame``.

    cameras: (B, 16) camera vectors; frame, u, v: (N,) the frame index and the pixel position of each ray.
    """
    cam = cameras[frame]  # (N, 16)
    fx, fy = cam[:, 0] * width, cam[:, 1] * height
    cx, cy = cam[:, 2] * width, cam[:, 3] * height
    rot = cam[:, 4:13].reshape(-1, 3, 3)  # (N, 3, 3) camera-to-world
    local = torch.stack([(u - cx) / fx, (v - cy) / fy, torch.ones_like(u)], dim=-1)  # (N, 3)
    direction = (rot @ local.unsqueeze(-1)).squeeze(-1)
    du = rot[:, :, 0] / fx.unsqueeze(-1)
    dv = rot[:, :, 1] / fy.unsqueeze(-1)
    return Rays(cam[:, 13:16], direction, du, dv, frame, fx, torch.stack([u, v], -1))


def image_rays(cameras: torch.Tensor, height: int, width: int) -> Rays:
    """All rays of full ``height x width`` images of every camera, row-major per frame: N = B * H * W.

    Same rays as `pixel_rays`, computed per frame with one batched matmul instead of per-ray camera gathers.
    """
    b, n = cameras.shape[0], height * width
    device, dtype = cameras.device, cameras.dtype
    v, u = torch.meshgrid(torch.arange(height, device=device, dtype=dtype) + 0.5,
                          torch.arange(width, device=device, dtype=dtype) + 0.5, indexing="ij")  # fmt: skip
    u, v = u.reshape(1, -1), v.reshape(1, -1)
    fx, fy = cameras[:, 0:1] * width, cameras[:, 1:2] * height  # (B, 1)
    cx, cy = cameras[:, 2:3] * width, cameras[:, 3:4] * height
    local = torch.stack([(u - cx) / fx, (v - cy) / fy, torch.ones(b, n, device=device, dtype=dtype)], -1)  # (B, n, 3)
    rot = cameras[:, 4:13].reshape(b, 3, 3)
    direction = torch.bmm(local, rot.transpose(1, 2)).reshape(b * n, 3)
    du = (rot[:, :, 0] / fx).unsqueeze(1).expand(b, n, 3).reshape(b * n, 3)
    dv = (rot[:, :, 1] / fy).unsqueeze(1).expand(b, n, 3).reshape(b * n, 3)
    origin = cameras[:, 13:16].unsqueeze(1).expand(b, n, 3).reshape(b * n, 3)
    frame = torch.arange(b, device=device).repeat_interleave(n)
    focal = fx.expand(b, n).reshape(-1)
    pixel = torch.stack([u.expand(b, n), v.expand(b, n)], -1).reshape(b * n, 2)
    return Rays(origin, direction, du, dv, frame, focal, pixel)


def window_rays(cameras: torch.Tensor, corners: torch.Tensor, size: int, height: int, width: int) -> Rays:
    """Rays of one ``size x size`` pixel window per frame; corners (B, 2) int64 (left, top). N = B * size**2."""
    b = cameras.shape[0]
    device, dtype = cameras.device, cameras.dtype
    dv, du = torch.meshgrid(torch.arange(size, device=device), torch.arange(size, device=device), indexing="ij")
    u = corners[:, 0:1] + du.reshape(1, -1)  # (B, S*S)
    v = corners[:, 1:2] + dv.reshape(1, -1)
    frame = torch.arange(b, device=device).repeat_interleave(size * size)
    return pixel_rays(cameras, frame, u.reshape(-1).to(dtype) + 0.5, v.reshape(-1).to(dtype) + 0.5, height, width)


def plane_hit(rays: Rays, axis: int, value: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Intersection with the plane ``coordinate[axis] = value``: depth t (N,) (inf when missed or behind) and the
    hit point (N, 3)."""
    d = rays.direction[:, axis]
    safe = torch.where(d.abs() < 1e-9, torch.full_like(d, 1e-9), d)
    t = (value - rays.origin[:, axis]) / safe
    t = torch.where(t > 1e-4, t, torch.full_like(t, float("inf")))
    point = rays.origin + rays.direction * torch.where(torch.isfinite(t), t, torch.zeros_like(t)).unsqueeze(-1)
    return t, point


def plane_footprint(rays: Rays, axis: int, t: torch.Tensor) -> torch.Tensor:
    """(N, 3) extent of each pixel's footprint on the plane ``coordinate[axis] = const`` along each world axis
    (|d hit / d u| + |d hit / d v|), from the analytic derivative of the hit point."""
    d = rays.direction
    dk = d[:, axis : axis + 1]
    safe = torch.where(dk.abs() < 1e-9, torch.full_like(dk, 1e-9), dk)
    s = torch.where(torch.isfinite(t), t, torch.zeros_like(t)).unsqueeze(-1)
    dpu = s * (rays.du - d * rays.du[:, axis : axis + 1] / safe)
    dpv = s * (rays.dv - d * rays.dv[:, axis : axis + 1] / safe)
    return dpu.abs() + dpv.abs()


def project(cameras: torch.Tensor, points: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel positions (B, P, 2) and depths (B, P) of world points (B, P, 3) in each frame's camera."""
    rot = cameras[:, 4:13].reshape(-1, 3, 3)
    cam = torch.bmm(points - cameras[:, None, 13:16], rot)  # (B, P, 3) camera coordinates
    z = cam[..., 2]
    zs = z.clamp_min(1e-3)
    u = cam[..., 0] / zs * (cameras[:, 0:1] * width) + cameras[:, 2:3] * width
    v = cam[..., 1] / zs * (cameras[:, 1:2] * height) + cameras[:, 3:4] * height
    return torch.stack([u, v], -1), z


def screen_boxes(cameras: torch.Tensor, low: torch.Tensor, high: torch.Tensor, height: int,
                 width: int) -> torch.Tensor:  # fmt: skip
    """Pixel rectangles (B, O, 4) = (u0, v0, u1, v1) covering the projections of boxes (B, O, 3); a box reaching
    behind the camera covers the whole image."""
    b, o, _ = low.shape
    corners = torch.stack(
        [
            torch.where(torch.tensor([(k >> i) & 1 for i in range(3)], device=low.device).bool(), high, low)
            for k in range(8)
        ],
        2,
    )  # (B, O, 8, 3)
    uv, z = project(cameras, corners.view(b, o * 8, 3), height, width)
    uv, z = uv.view(b, o, 8, 2), z.view(b, o, 8)
    rect = torch.cat([uv.amin(2), uv.amax(2)], -1)
    behind = (z < 0.1).any(-1, keepdim=True)
    whole = rect.new_tensor([-1e9, -1e9, 1e9, 1e9])
    return torch.where(behind, whole, rect)


def box_hit(origin: torch.Tensor, direction: torch.Tensor, low: torch.Tensor,
            high: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Slab test of rays against axis-aligned boxes, broadcast over leading dims.

    origin, direction: (..., 3); low, high: (..., 3). Returns (hit bool, t_near, t_far), each (...).
    """
    inv = 1.0 / torch.where(direction.abs() < 1e-9, torch.full_like(direction, 1e-9), direction)
    t0 = (low - origin) * inv
    t1 = (high - origin) * inv
    t_near = torch.minimum(t0, t1).amax(-1).clamp_min(0.0)
    t_far = torch.maximum(t0, t1).amin(-1)
    return t_far > t_near, t_near, t_far


def closest_on_ray(origin: torch.Tensor, direction: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Ray parameter t >= 0 of the ray's point closest to segment ``[a, b]`` (broadcast; returns (...))."""
    e = b - a
    w0 = origin - a
    dd = (direction * direction).sum(-1)
    de = (direction * e).sum(-1)
    ee = (e * e).sum(-1)
    dw = (direction * w0).sum(-1)
    ew = (e * w0).sum(-1)
    denom = dd * ee - de * de
    s = torch.where(denom > 1e-9, (dd * ew - de * dw) / denom.clamp_min(1e-9), torch.zeros_like(denom))
    s = s.clamp(0.0, 1.0)
    return ((de * s - dw) / dd).clamp_min(0.0)


def segment_offsets(points: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Offsets from the closest point of each segment to each point, and the position along the segment.

    points: (..., K, 3); a, b: (..., J, 3). Returns offsets (..., K, J, 3) and s (..., K, J) in [0, 1].
    """
    e = (b - a).unsqueeze(-3)  # (..., 1, J, 3)
    w = points.unsqueeze(-2) - a.unsqueeze(-3)  # (..., K, J, 3)
    s = ((w * e).sum(-1) / (e * e).sum(-1).clamp_min(1e-9)).clamp(0.0, 1.0)
    return w - s.unsqueeze(-1) * e, s
