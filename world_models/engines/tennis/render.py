"""A fast CPU renderer of the tennis scene: perspective, z-buffered occlusion and a per-pixel object-id mask.

The static scene (textured court with lines, walls, stands, and the net) depends only on the camera, so it is ray
cast once per camera with 3x3 supersampling and kept; each frame then draws shadows, the two players as shaded
capsules (limbs, torso, head, racket) and the ball into copies of it, testing depth against the static depth and the
net. Object ids (`MASK_IDS`): 0 background and court, 1 bottom player, 2 top player, 3 ball, 4 net (where the
net is in front of a player or the ball, the pixel is the net's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from world_models.engines.tennis.camera import Camera
from world_models.engines.tennis.court import (
    BALL_RADIUS,
    BASELINE_WIDTH,
    DOUBLES_HALF_WIDTH,
    HALF_LENGTH,
    LINE_WIDTH,
    NET_HEIGHT_CENTRE,
    NET_HEIGHT_POST,
    NET_POST_X,
    SERVICE_LINE,
    SINGLES_HALF_WIDTH,
    Surface,
)
from world_models.engines.tennis.layout import JOINT_INDEX

MASK_IDS = {"background": 0, "bottom": 1, "top": 2, "ball": 3, "net": 4}

WALL_Y = HALF_LENGTH + 7.0
WALL_X = DOUBLES_HALF_WIDTH + 5.5
WALL_HEIGHT = 2.2
STANDS_TOP = 14.0
NET_OPACITY = 0.5

J = JOINT_INDEX
# (joint a, joint b, radius m, colour part). Negative indices are derived points (see _points).
_CAPSULES = [
    (J["head"], J["head"], 0.115, "skin"),
    (J["neck"], J["head"], 0.05, "skin"),
    (J["neck"], J["pelvis"], 0.15, "shirt"),
    (J["l_shoulder"], J["r_shoulder"], 0.075, "shirt"),
    (J["l_shoulder"], J["l_elbow"], 0.05, "shirt"),
    (J["r_shoulder"], J["r_elbow"], 0.05, "shirt"),
    (J["l_elbow"], J["l_wrist"], 0.04, "skin"),
    (J["r_elbow"], J["r_wrist"], 0.04, "skin"),
    (J["l_hip"], J["r_hip"], 0.11, "shorts"),
    (J["l_hip"], J["l_knee"], 0.08, "shorts"),
    (J["r_hip"], J["r_knee"], 0.08, "shorts"),
    (J["l_knee"], J["l_ankle"], 0.055, "skin"),
    (J["r_knee"], J["r_ankle"], 0.055, "skin"),
    (J["l_ankle"], 16, 0.05, "shoes"),
    (J["r_ankle"], 17, 0.05, "shoes"),
    (J["r_wrist"], 18, 0.016, "racket"),
    (19, 20, 0.11, "strings"),
]
_CA = np.array([c[0] for c in _CAPSULES])
_CB = np.array([c[1] for c in _CAPSULES])
_CR = np.array([c[2] for c in _CAPSULES])
_PARTS = ("shirt", "shorts", "skin", "shoes", "racket", "strings")
_CPART = np.array([_PARTS.index(c[3]) for c in _CAPSULES])
_LIGHT = np.array([-0.35, -0.75, -0.55]) / np.linalg.norm([-0.35, -0.75, -0.55])


@dataclass
class SceneStyle:
    """Per-sequence look of everything that is not a player."""

    surface: Surface
    court: tuple[float, float, float]
    surround: tuple[float, float, float]
    wall: tuple[float, float, float]
    seed: int

    @classmethod
    def sample(cls, surface: Surface, rng: np.random.Generator) -> SceneStyle:
        jitter = rng.normal(0.0, 0.03, 3)
        court = tuple(float(c) for c in np.clip(np.array(surface.court) + jitter, 0, 1))
        surround = tuple(float(c) for c in np.clip(np.array(surface.surround) + jitter * 0.8, 0, 1))
        wall = tuple(float(c) for c in rng.uniform(0.05, 0.35, 3))
        return cls(surface, court, surround, wall, int(rng.integers(2**31)))


class Renderer:
    """Renders frames of one camera and scene style. Build one per sequence (the static scene is precomputed)."""

    def __init__(self, camera: Camera, style: SceneStyle, supersample: int = 3) -> None:
        self.camera = camera
        self.style = style
        self._precompute(supersample)

    # ------------------------------------------------------------------ static scene
    def _precompute(self, ss: int) -> None:
        cam = self.camera
        h, w = cam.height, cam.width
        d = cam.rays(ss)
        o = cam.position
        inf = np.inf
        with np.errstate(divide="ignore", invalid="ignore"):
            t_ground = np.where(d[..., 2] < -1e-9, -o[2] / d[..., 2], inf)
            t_far = np.where(d[..., 1] > 1e-9, (WALL_Y - o[1]) / d[..., 1], inf)
            t_side = np.where(np.abs(d[..., 0]) > 1e-9, (np.sign(d[..., 0]) * WALL_X - o[0]) / d[..., 0], inf)
            t_net = np.where(d[..., 1] > 1e-9, -o[1] / d[..., 1], inf)
        t_wall = np.minimum(t_far, t_side)
        t_bg = np.minimum(t_ground, t_wall)
        hit = o + d * np.where(np.isfinite(t_bg), t_bg, 1e3)[..., None]
        rng = np.random.default_rng(self.style.seed)
        rgb = np.empty(d.shape, dtype=np.float32)

        # Ground: surround, court, lines, texture.
        ground = t_ground <= t_wall
        gx, gy = hit[..., 0], hit[..., 1]
        ax, ay = np.abs(gx), np.abs(gy)
        inside = (ax <= DOUBLES_HALF_WIDTH) & (ay <= HALF_LENGTH)
        col = np.where(inside[..., None], np.array(self.style.court), np.array(self.style.surround))
        if self.style.surface.name == "grass":  # mowing stripes
            stripe = (np.floor(gy / 2.2) % 2 == 0)[..., None]
            col = col * np.where(stripe, 1.06, 0.94)
        lw, bw = LINE_WIDTH, BASELINE_WIDTH
        lines = (
            ((ay <= HALF_LENGTH) & (ay >= HALF_LENGTH - bw) & (ax <= DOUBLES_HALF_WIDTH))
            | ((ay <= HALF_LENGTH) & (np.abs(ax - SINGLES_HALF_WIDTH + lw / 2) <= lw / 2))
            | ((ay <= HALF_LENGTH) & (np.abs(ax - DOUBLES_HALF_WIDTH + lw / 2) <= lw / 2))
            | ((np.abs(ay - SERVICE_LINE) <= lw / 2) & (ax <= SINGLES_HALF_WIDTH))
            | ((ax <= lw / 2) & (ay <= SERVICE_LINE))
            | ((ax <= lw / 2) & (ay >= HALF_LENGTH - 0.1) & (ay <= HALF_LENGTH))
        )
        col = np.where(lines[..., None], np.array([0.93, 0.93, 0.93]), col)
        # Low-frequency wear of the surface (per-pixel noise would look like film grain and defeat PNG compression).
        wear = rng.normal(0.0, 0.02, (h // 6 + 1, w // 6 + 1))
        col = col * (1.0 + np.repeat(np.repeat(wear, 6 * ss, 0), 6 * ss, 1)[: h * ss, : w * ss])[..., None]
        rgb[:] = col

        # Walls with advertising boards, stands above, a dark roof band.
        wall = ~ground & np.isfinite(t_bg)
        wz = hit[..., 2]
        wall_col = np.array(self.style.wall)
        boards = wall & (wz <= WALL_HEIGHT)
        board_pattern = (np.floor((hit[..., 0] + hit[..., 1]) / 3.0) % 3 == 0)[..., None]
        rgb[boards] = np.where(board_pattern, wall_col * 1.8 + 0.1, wall_col)[boards]
        stands = wall & (wz > WALL_HEIGHT)
        # Crowd: blobs of colour a few pixels wide over a dim base, so the stands read as people, not static.
        px = max(2, w // 128)  # a spectator is a couple of pixels at the default 256 x 144
        block = px * ss
        crowd = rng.uniform(0.2, 0.6, (h // px + 1, w // px + 1, 3)) * 0.5 + np.array(self.style.wall) * 0.6
        crowd = np.repeat(np.repeat(crowd, block, 0), block, 1)[: h * ss, : w * ss]
        rgb[stands] = crowd[stands]
        rgb[~np.isfinite(t_bg)] = 0.1
        rgb[wall & (wz > STANDS_TOP)] = 0.12

        # The net: a dark mesh plane with a white tape and the centre strap; posts outside the doubles lines.
        nx_, nz_ = o[0] + d[..., 0] * t_net, o[2] + d[..., 2] * t_net
        top = (
            NET_HEIGHT_CENTRE + (NET_HEIGHT_POST - NET_HEIGHT_CENTRE) * np.minimum(np.abs(nx_), NET_POST_X) / NET_POST_X
        )
        net = (t_net < t_bg) & (np.abs(nx_) <= NET_POST_X + 0.05) & (nz_ >= 0.0) & (nz_ <= top)
        solid = net & ((nz_ >= top - 0.06) | (np.abs(nx_) <= 0.025) | (np.abs(nx_) >= NET_POST_X - 0.05))
        net_col = np.array([0.08, 0.08, 0.1], dtype=np.float32)
        alpha = np.where(solid, 1.0, np.where(net, NET_OPACITY, 0.0))
        solid_col = np.where((np.abs(nx_) >= NET_POST_X - 0.05)[..., None], np.array([0.2, 0.2, 0.2]),
                             np.array([0.95, 0.95, 0.95]))  # fmt: skip
        net_rgb = np.where(solid[..., None], solid_col, net_col)
        rgb = rgb * (1 - alpha[..., None]) + net_rgb * alpha[..., None]

        def down(a: np.ndarray) -> np.ndarray:
            return a.reshape(h, ss, w, ss, *a.shape[2:]).mean(axis=(1, 3))

        c = ss // 2  # the centre sample of each pixel decides depth and ids
        self.background = np.clip(down(rgb), 0.0, 1.0).astype(np.float32)
        self.depth = np.where(np.isfinite(t_bg), t_bg, 1e4)[c::ss, c::ss].astype(np.float32)
        self.net_depth = np.where(net, t_net, np.inf)[c::ss, c::ss].astype(np.float32)
        self.net_alpha = down(alpha).astype(np.float32)
        self.net_rgb = down(net_rgb * alpha[..., None]) / np.maximum(self.net_alpha[..., None], 1e-6)
        self.mask = np.where(net[c::ss, c::ss], MASK_IDS["net"], 0).astype(np.uint8)
        self.ground_x = np.where(ground, gx, np.nan)[c::ss, c::ss].astype(np.float32)
        self.ground_y = np.where(ground, gy, np.nan)[c::ss, c::ss].astype(np.float32)
        self.background_u8 = (self.background * 255.0 + 0.5).astype(np.uint8)

    # ------------------------------------------------------------------ frames
    def render(self, state: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """RGB ``(H, W, 3) uint8`` and object ids ``(H, W) uint8`` of a frame state (nested `layout` form)."""
        img = self.background.copy()
        depth = self.depth.copy()
        mask = self.mask.copy()
        ball = np.asarray(state["ball"]["position"], dtype=np.float64)
        for name in ("bottom", "top"):
            root = state[name]["root"]
            self._shadow(img, root[0] + 0.2, root[1] + 0.12, 0.45, 0.3, 0.62)
        self._shadow(img, ball[0] + 0.15 * ball[2], ball[1] + 0.1 * ball[2], 0.06, 0.06, 0.55)
        for i, name in enumerate(("bottom", "top")):
            self._player(img, depth, mask, state[name], i + 1)
        self._ball(img, depth, mask, ball)
        return (img * 255.0 + 0.5).astype(np.uint8), mask

    def _shadow(self, img: np.ndarray, x: float, y: float, rx: float, ry: float, dark: float) -> None:
        corners = np.array([[x + sx * rx, y + sy * ry, 0.0] for sx in (-1, 1) for sy in (-1, 1)])
        uv, z = self.camera.project(corners)
        if np.any(z <= 0):
            return
        box = self._bbox(uv, 1.0)
        if box is None:
            return
        u0, u1, v0, v1 = box
        gx = self.ground_x[v0:v1, u0:u1]
        gy = self.ground_y[v0:v1, u0:u1]
        with np.errstate(invalid="ignore"):
            inside = ((gx - x) / rx) ** 2 + ((gy - y) / ry) ** 2 < 1.0
        inside &= self.mask[v0:v1, u0:u1] == 0
        img[v0:v1, u0:u1][inside] *= dark

    def _bbox(self, uv: np.ndarray, pad: float) -> tuple[int, int, int, int] | None:
        w, h = self.camera.width, self.camera.height
        u0 = max(int(math.floor(uv[:, 0].min() - pad)), 0)
        u1 = min(int(math.ceil(uv[:, 0].max() + pad)), w)
        v0 = max(int(math.floor(uv[:, 1].min() - pad)), 0)
        v1 = min(int(math.ceil(uv[:, 1].max() + pad)), h)
        if u0 >= u1 or v0 >= v1:
            return None
        return u0, u1, v0, v1

    def _player(self, img: np.ndarray, depth: np.ndarray, mask: np.ndarray, p: dict[str, Any], obj: int) -> None:
        root = np.array([p["root"][0], p["root"][1], 0.0])
        joints = np.asarray(p["joints"], dtype=np.float64) + root
        facing = float(p["facing"])
        fwd = np.array([math.cos(facing), math.sin(facing), 0.0])
        wrist, head = joints[J["r_wrist"]], joints[J["racket_head"]]
        axis = (head - wrist) / max(float(np.linalg.norm(head - wrist)), 1e-6)
        extra = np.stack([
            joints[J["l_ankle"]] + fwd * 0.2 - np.array([0, 0, 0.03]),
            joints[J["r_ankle"]] + fwd * 0.2 - np.array([0, 0, 0.03]),
            wrist + axis * 0.36, head - axis * 0.08, head + axis * 0.08,
        ])  # fmt: skip
        points = np.concatenate([joints, extra])
        uv, z = self.camera.project(points)
        if np.any(z <= 0.1):
            return
        f = self.camera.fx
        style = p["style"]
        palette = np.array([style["shirt"], style["shorts"], style["skin"], (0.92, 0.92, 0.9), (0.12, 0.12, 0.14),
                            (0.25, 0.25, 0.3)], dtype=np.float32)  # fmt: skip
        za, zb = z[_CA], z[_CB]
        ra, rb = _CR * f / za, _CR * f / zb
        box = self._bbox(uv, float(max(ra.max(), rb.max())) + 1.0)
        if box is None:
            return
        u0, u1, v0, v1 = box
        pu, pv = np.meshgrid(np.arange(u0, u1) + 0.5, np.arange(v0, v1) + 0.5)
        px = np.stack([pu.ravel(), pv.ravel()], axis=1)  # (P, 2)
        a, b = uv[_CA], uv[_CB]  # (C, 2)
        ab = b - a
        len2 = np.maximum((ab * ab).sum(1), 1e-9)
        t = np.clip(((px[None, :, :] - a[:, None, :]) * ab[:, None, :]).sum(-1) / len2[:, None], 0.0, 1.0)  # (C, P)
        qx = a[:, None, 0] + t * ab[:, None, 0]
        qy = a[:, None, 1] + t * ab[:, None, 1]
        dx, dy = px[None, :, 0] - qx, px[None, :, 1] - qy
        rad = np.maximum(ra[:, None] + t * (rb - ra)[:, None], 0.6)
        d2 = (dx * dx + dy * dy) / (rad * rad)
        inside = d2 < 1.0
        nz = np.sqrt(np.maximum(1.0 - d2, 0.0))
        zsurf = za[:, None] + t * (zb - za)[:, None] - _CR[:, None] * nz
        zsurf = np.where(inside, zsurf, np.inf)
        best = np.argmin(zsurf, axis=0)  # (P,)
        cols = np.arange(px.shape[0])
        zbest = zsurf[best, cols]
        hit = np.isfinite(zbest)
        if not hit.any():
            return
        bx, by, bz = dx[best, cols] / rad[best, cols], dy[best, cols] / rad[best, cols], nz[best, cols]
        shade = 0.45 + 0.65 * np.maximum(bx * _LIGHT[0] + by * _LIGHT[1] - bz * _LIGHT[2], 0.0)
        colour = palette[_CPART[best]] * shade[:, None]
        self._composite(img, depth, mask, box, hit, zbest, colour, obj)

    def _composite(self, img, depth, mask, box, hit, z, colour, obj) -> None:
        u0, u1, v0, v1 = box
        shape = (v1 - v0, u1 - u0)
        hit = hit.reshape(shape)
        z = z.reshape(shape).astype(np.float32)
        colour = colour.reshape(*shape, 3).astype(np.float32)
        sub_depth = depth[v0:v1, u0:u1]
        front = hit & (z < sub_depth)
        if not front.any():
            return
        behind_net = front & (z > self.net_depth[v0:v1, u0:u1])
        a = np.where(behind_net, self.net_alpha[v0:v1, u0:u1], 0.0)[..., None]
        blended = colour * (1.0 - a) + self.net_rgb[v0:v1, u0:u1] * a
        img[v0:v1, u0:u1][front] = blended[front]
        sub_depth[front] = z[front]
        mask[v0:v1, u0:u1][front] = np.where(behind_net[front], MASK_IDS["net"], obj)

    def _ball(self, img: np.ndarray, depth: np.ndarray, mask: np.ndarray, ball: np.ndarray) -> None:
        uv, z = self.camera.project(ball[None])
        if z[0] <= 0.1:
            return
        r = max(BALL_RADIUS * self.camera.fx / z[0], 0.75)
        box = self._bbox(np.array([uv[0] - r, uv[0] + r]), 0.5)
        if box is None:
            return
        u0, u1, v0, v1 = box
        pu, pv = np.meshgrid(np.arange(u0, u1) + 0.5, np.arange(v0, v1) + 0.5)
        d2 = ((pu - uv[0, 0]) ** 2 + (pv - uv[0, 1]) ** 2).ravel() / (r * r)
        hit = d2 < 1.0
        nz = np.sqrt(np.maximum(1.0 - d2, 0.0))
        zs = z[0] - BALL_RADIUS * nz
        colour = np.array([0.86, 0.95, 0.25], dtype=np.float32) * (0.75 + 0.25 * nz)[:, None]
        self._composite(img, depth, mask, box, hit, zs, colour, MASK_IDS["ball"])
