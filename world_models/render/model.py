"""`TennisRenderer`: the compositional neural renderer of tennis scenes, and its batched API.

One field per object class, each bounded by its geometry (see ``docs/renderer.md``):

- static scene (planar prior): the ground z = 0 and the walls (x = +-wall_x, y = wall_y) are intersected
  analytically, one sample per ray, and coloured by box-filtered factorised textures and a style-conditioned
  palette head; the net is an RGBA texture on the plane y = 0;
- players (one field shared by both, bounded by a box around the pose): rays that hit a player's box place one
  sample at their closest approach to each bone, and the field maps the sample's offsets to all bones (in the
  player's heading frame) and the player's style colours to opacity and colour; players cast a learned shadow;
- the ball: a tiny sphere field of the ray's distance to the ball centre.

All samples of a ray are sorted by depth and alpha-composited over the static background (`compositing`). Work is
batched over all frames, rays and objects in tensor operations: the rays that miss every box (almost all of them)
never touch the player or ball fields. Colour is rendered directly at full resolution (no feature upsampler).

Inputs are the state vectors of `world_models.engines.tennis.layout` (raw units, not normalised), camera vectors in
the layout's camera block format (`rays.CAMERA_SIZE`) and scene style vectors (`STYLE_SIZE`, see `scene_style`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from world_models.engines.tennis import layout
from world_models.engines.tennis.court import SURFACES
from world_models.render import rays as R
from world_models.render.compositing import composite, over
from world_models.render.config import RendererConfig
from world_models.render.fields import BallField, NetField, PlanarBackdrop, PlayerField, ShadowField, player_features

STYLE_SIZE = 12
"""Scene style vector: surface one-hot (hard, clay, grass), court colour, surround colour, wall colour (rgb)."""
OBJECTS = ("background", "bottom", "top", "ball", "net")
"""Order of the per-object coverage channels (the engine's mask ids)."""
BALL_RADIUS = 0.0335

_J = layout.JOINT_INDEX
_L_FOOT, _R_FOOT = len(layout.JOINTS), len(layout.JOINTS) + 1  # derived points: ankle + 0.2 m forward
BONES = (
    ("head", "neck"), ("neck", "pelvis"), ("l_shoulder", "r_shoulder"), ("l_shoulder", "l_elbow"),
    ("l_elbow", "l_wrist"), ("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"), ("l_hip", "r_hip"),
    ("l_hip", "l_knee"), ("l_knee", "l_ankle"), ("r_hip", "r_knee"), ("r_knee", "r_ankle"),
    ("l_ankle", "l_foot"), ("r_ankle", "r_foot"), ("r_wrist", "racket_head"), ("head", "head"),
)  # fmt: skip
"""Segments the player field measures offsets to (the head is also a point)."""
_POINT = dict(_J, l_foot=_L_FOOT, r_foot=_R_FOOT)
BONE_A = torch.tensor([_POINT[a] for a, _ in BONES])
BONE_B = torch.tensor([_POINT[b] for _, b in BONES])
_SURFACE_COURT = torch.tensor([SURFACES[n].court for n in sorted(SURFACES, key=lambda n: SURFACES[n].index)])
_SURFACE_SURROUND = torch.tensor([SURFACES[n].surround for n in sorted(SURFACES, key=lambda n: SURFACES[n].index)])
DEFAULT_WALL = (0.2, 0.2, 0.2)
"""Wall colour used when a style is not given (the middle of the engine's range)."""


def scene_style(surface: torch.Tensor, court: torch.Tensor, surround: torch.Tensor | None = None,
                wall: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """Style vectors (B, 12) from surface indices (B,) and colours (B, 3).

    A missing surround follows the engine's rule (the surface's surround shifted by 0.8 x the court colour's
    offset from the surface's court colour); a missing wall is `DEFAULT_WALL`.
    """
    surface = surface.long().clamp(0, 2)
    court = court.float()
    if surround is None:
        base = _SURFACE_SURROUND.to(court.device)[surface]
        surround = (base + 0.8 * (court - _SURFACE_COURT.to(court.device)[surface])).clamp(0, 1)
    if wall is None:
        wall = court.new_tensor(DEFAULT_WALL).expand_as(court)
    one_hot = torch.nn.functional.one_hot(surface, 3).to(court)
    return torch.cat([one_hot, court, surround.to(court), wall.to(court)], -1)


def default_styles(states: torch.Tensor) -> torch.Tensor:
    """Style vectors (B, 12) from what the state holds (surface and court colour)."""
    surface = states[:, layout.SLICES["scene.surface"]].round().squeeze(-1)
    return scene_style(surface, states[:, layout.SLICES["scene.court_colour"]])


def state_cameras(states: torch.Tensor) -> torch.Tensor:
    """Camera vectors (B, 16) held in the states."""
    return states[:, layout.SLICES["camera.intrinsics"].start : layout.SLICES["camera.translation"].stop]


@dataclass
class Scene:
    """Per-frame tensors the fields read (built by `TennisRenderer.scene`)."""

    cameras: torch.Tensor  # (B, 16)
    style: torch.Tensor  # (B, 12)
    roots: torch.Tensor  # (B, 2, 3) players' ground points
    facing: torch.Tensor  # (B, 2)
    points: torch.Tensor  # (B, 2, 18, 3) world positions of joints and feet
    player_palette: torch.Tensor  # (B, 2, 3, 3) shirt, shorts, skin
    box_low: torch.Tensor  # (B, 2, 3)
    box_high: torch.Tensor  # (B, 2, 3)
    ball: torch.Tensor  # (B, 3)


class TennisRenderer(nn.Module):
    """Compositional neural renderer: ``render(states, cameras, styles) -> uint8 (B, H, W, 3)``."""

    family = "render"

    def __init__(self, config: RendererConfig) -> None:
        super().__init__()
        self.config = c = config
        # The three walls unrolled along their perimeter: left wall (s < 0), back wall (0 <= s <= 2 wall_x), right wall.
        perimeter = (c.ground_y[0] - 30.0 - c.wall_y, 2 * c.wall_x + c.wall_y - c.ground_y[0] + 30.0)
        planes = [(c.ground_x, c.ground_y, c.ground_texels_per_metre),
                  (perimeter, (0.0, c.wall_height), c.wall_texels_per_metre)]  # fmt: skip
        self.backdrop = PlanarBackdrop(planes, c.texture_channels, STYLE_SIZE, 3, c.static_hidden)
        self.net = NetField(c.net_half_width, c.net_height, c.net_texels_per_metre)
        self.player = PlayerField(len(BONES), c.player_hidden, c.player_layers)
        self.shadow = ShadowField(c.shadow_texels, c.shadow_extent)
        self.ball = BallField(c.ball_hidden)
        self.register_buffer("bone_a", BONE_A.clone(), persistent=False)
        self.register_buffer("bone_b", BONE_B.clone(), persistent=False)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def texture_parameters(self) -> list[nn.Parameter]:
        """Grid parameters (trained with their own learning rate)."""
        return [self.backdrop.lines_a.table, self.backdrop.lines_b.table, self.net.rgba, self.shadow.logits]

    # ------------------------------------------------------------------ inputs
    def scene(self, states: torch.Tensor, cameras: torch.Tensor | None = None,
              styles: torch.Tensor | None = None) -> Scene:  # fmt: skip
        """Per-frame scene tensors from states (B, STATE_SIZE), cameras (B, 16) and styles (B, 12)."""
        s = states.float()
        b = s.shape[0]
        roots, facing, points, palette = [], [], [], []
        for p in ("bottom", "top"):
            root = torch.cat([s[:, layout.SLICES[f"{p}.root"]], s.new_zeros(b, 1)], -1)  # (B, 3)
            angle = s[:, layout.SLICES[f"{p}.facing"]].squeeze(-1)
            joints = s[:, layout.SLICES[f"{p}.joints"]].view(b, -1, 3) + root.unsqueeze(1)  # (B, 16, 3)
            forward = torch.stack([torch.cos(angle), torch.sin(angle), torch.zeros_like(angle)], -1)
            drop = s.new_tensor([0.0, 0.0, 0.03])
            feet = joints[:, [_J["l_ankle"], _J["r_ankle"]]] + 0.2 * forward.unsqueeze(1) - drop  # (B, 2, 3)
            roots.append(root)
            facing.append(angle)
            points.append(torch.cat([joints, feet], 1))
            palette.append(s[:, layout.SLICES[f"{p}.style"]].view(b, 3, 3))
        pts = torch.stack(points, 1)  # (B, 2, 18, 3)
        m = self.config.box_margin
        low = pts.amin(2) - m
        low = torch.cat([low[..., :2], low[..., 2:].clamp_min(-0.05)], -1)
        return Scene(
            cameras=(state_cameras(s) if cameras is None else cameras).float(),
            style=(default_styles(s) if styles is None else styles).float(),
            roots=torch.stack(roots, 1), facing=torch.stack(facing, 1), points=pts,
            player_palette=torch.stack(palette, 1), box_low=low, box_high=pts.amax(2) + m,
            ball=s[:, layout.SLICES["ball.position"]],
        )  # fmt: skip

    # ------------------------------------------------------------------ rendering
    def _static(self, scene: Scene, rays: R.Rays) -> tuple[torch.Tensor, torch.Tensor]:
        """Background colour (N, 3) and depth (N,): each ray's first opaque plane (ground or a wall), one sample,
        darkened by the players' shadows on the ground."""
        colour, depth, point, ground = self._backdrop_cached(scene, rays)
        offsets = point[:, None, :] - scene.roots[rays.frame, :, :2]  # (N, 2, 2)
        dark = (self.shadow(offsets) * ground.unsqueeze(-1)).sum(-1, keepdim=True).clamp(0, 1)
        return colour * (1.0 - dark), depth

    def _backdrop_cached(self, scene: Scene, rays: R.Rays) -> tuple[torch.Tensor, ...]:
        """`_backdrop`, reused while the cameras, styles, rays and weights stay the same: outside training the
        backdrop of a fixed camera is the same every frame (and is most of a frame's cost)."""
        if torch.is_grad_enabled():
            return self._backdrop(scene, rays)
        key = (
            scene.cameras.cpu().numpy().tobytes(), scene.style.cpu().numpy().tobytes(), rays.origin.shape[0],
            rays.direction[:: max(1, rays.direction.shape[0] // 64)].cpu().numpy().tobytes(),
            tuple(p._version for p in self.backdrop.parameters()),
        )  # fmt: skip
        cache = self.__dict__.setdefault("_backdrop_cache", {})
        if key not in cache:
            if len(cache) >= 4:
                cache.pop(next(iter(cache)))
            cache[key] = self._backdrop(scene, rays)
        return cache[key]

    def _backdrop(self, scene: Scene, rays: R.Rays) -> tuple[torch.Tensor, ...]:
        """Unshadowed background colour (N, 3), depth (N,), the (x, y) of the point hit (N, 2) and whether it is
        on the ground (N,)."""
        c = self.config
        o, d = rays.origin, rays.direction
        fr = rays.frame
        inf = torch.full_like(d[:, 0], float("inf"))

        def depth_to(axis: int, value: torch.Tensor | float) -> torch.Tensor:
            dk = d[:, axis]
            t = (value - o[:, axis]) / torch.where(dk.abs() < 1e-9, torch.full_like(dk, 1e-9), dk)
            return torch.where(t > 1e-4, t, inf)

        t_ground = depth_to(2, 0.0)
        t_side = depth_to(0, torch.where(d[:, 0] < 0, -c.wall_x, c.wall_x))
        t_back = depth_to(1, c.wall_y)
        # axis of the plane hit: 2 ground, 1 back wall, 0 side wall
        axis = torch.where(t_ground <= torch.minimum(t_side, t_back), 2, torch.where(t_back <= t_side, 1, 0))
        depth = torch.minimum(t_ground, torch.minimum(t_side, t_back))
        t = torch.where(torch.isfinite(depth), depth, torch.zeros_like(depth)).unsqueeze(-1)
        p = o + t * d  # (N, 3)
        # Pixel footprint on the plane: |dp/du| + |dp/dv| with dp = t (dd - d dd_k / d_k).
        k = axis.unsqueeze(-1)
        dk = d.gather(1, k)
        dk = torch.where(dk.abs() < 1e-9, torch.full_like(dk, 1e-9), dk)
        foot = (t * (rays.du - d * rays.du.gather(1, k) / dk)).abs() + (
            t * (rays.dv - d * rays.dv.gather(1, k) / dk)
        ).abs()
        ground, back = axis == 2, axis == 1
        # Plane coordinates: ground (x, y); walls (perimeter s, z) with s < 0 on the left wall, then the back wall.
        s = torch.where(back, p[:, 0] + c.wall_x,
                        torch.where(p[:, 0] < 0, p[:, 1] - c.wall_y, 2 * c.wall_x + c.wall_y - p[:, 1]))  # fmt: skip
        a = torch.where(ground, p[:, 0], s)
        b = torch.where(ground, p[:, 1], p[:, 2])
        width_a = torch.where(ground | back, foot[:, 0], foot[:, 1])
        width_b = torch.where(ground, foot[:, 1], foot[:, 2])
        plane = (~ground).long()
        style = scene.style
        colour = self.backdrop(plane, fr, a, b, width_a, width_b, style, style[:, 3:].reshape(-1, 3, 3))
        return colour, depth, p[:, :2], ground

    def render_rays(self, scene: Scene, rays: R.Rays, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Colour (N, 3) (float, not clamped) and per-object coverage (N, 5) in the order of `OBJECTS`, of rays of
        ``height x width`` images."""
        background, depth = self._static(scene, rays)
        fr = rays.frame
        o, d = rays.origin, rays.direction

        # The net: one sample where the ray crosses y = 0, for rays crossing its rectangle in front of the background.
        c = self.config
        t_net = (-o[:, 1]) / torch.where(d[:, 1].abs() < 1e-9, torch.full_like(d[:, 1], 1e-9), d[:, 1])
        p_net = o + t_net.clamp_min(0).unsqueeze(-1) * d
        on_net = (t_net > 0) & (t_net < depth) & (p_net[:, 0].abs() <= c.net_half_width) & (p_net[:, 2] >= 0)
        on_net = on_net & (p_net[:, 2] <= c.net_height)
        ni = on_net.nonzero().squeeze(-1)
        alpha_net_i, rgb_net_i = self.net(p_net[ni, 0], p_net[ni, 2])
        alpha_net = torch.zeros_like(t_net).index_copy(0, ni, alpha_net_i)
        rgb_net = torch.zeros_like(o).index_copy(0, ni, rgb_net_i)
        colour = over(alpha_net, rgb_net, background)
        coverage = torch.stack([1.0 - alpha_net, *(torch.zeros_like(alpha_net),) * 3, alpha_net], -1)

        # Candidate rays of dynamic objects: inside the screen rectangle of a player's box or near the ball.
        r = c.ball_pixels + 1.0
        uv_ball, _ = R.project(scene.cameras, scene.ball.unsqueeze(1), height, width)  # (B, 1, 2)
        ball_rect = torch.cat([uv_ball - r, uv_ball + r], -1)  # (B, 1, 4)
        player_rects = R.screen_boxes(scene.cameras, scene.box_low, scene.box_high, height, width)  # (B, 2, 4)
        rects = torch.cat([player_rects, ball_rect], 1)
        rect = rects[fr]  # (N, 3, 4)
        u, v = rays.pixel[:, 0:1], rays.pixel[:, 1:2]
        inside = (u >= rect[..., 0]) & (u <= rect[..., 2]) & (v >= rect[..., 1]) & (v <= rect[..., 3])  # (N, 3)
        ci = inside.any(1).nonzero().squeeze(-1)
        if ci.numel() == 0:
            return colour, coverage
        oc, dc, frc = o[ci], d[ci], fr[ci]
        hit_c, t_near_c, t_far_c = R.box_hit(oc.unsqueeze(1), dc.unsqueeze(1), scene.box_low[frc], scene.box_high[frc])
        hit_c = hit_c & (t_near_c < depth[ci].unsqueeze(1))
        centre = scene.ball[frc]
        t_ball_c = (((centre - oc) * dc).sum(-1) / (dc * dc).sum(-1)).clamp_min(1e-3)
        miss_c = (oc + t_ball_c.unsqueeze(-1) * dc - centre).norm(dim=-1)
        miss_px_c = miss_c * rays.focal[ci] / t_ball_c
        near_c = (miss_px_c < c.ball_pixels) & (t_ball_c < depth[ci])
        keep = (hit_c.any(1) | near_c).nonzero().squeeze(-1)
        if keep.numel() == 0:
            return colour, coverage
        di = ci[keep]
        hit, t_near, t_far = hit_c[keep], t_near_c[keep], t_far_c[keep]  # (D, 2)
        t_ball, miss, miss_px, near_ball = t_ball_c[keep], miss_c[keep], miss_px_c[keep], near_c[keep]

        # Player samples: one per bone at the ray's closest approach, only for (ray, player) pairs that hit.
        j = len(BONES)
        pairs = hit.nonzero()  # (Q, 2): dynamic ray, player
        ray_q, player_q = pairs[:, 0], pairs[:, 1]
        ray_n = di[ray_q]
        frame_q = fr[ray_n]
        pts = scene.points[frame_q, player_q]  # (Q, 18, 3)
        a, b = pts[:, self.bone_a], pts[:, self.bone_b]  # (Q, J, 3)
        oq, dq = o[ray_n].unsqueeze(1), d[ray_n].unsqueeze(1)  # (Q, 1, 3)
        t = R.closest_on_ray(oq, dq, a, b)  # (Q, J)
        t = torch.minimum(torch.maximum(t, t_near[ray_q, player_q].unsqueeze(1)), t_far[ray_q, player_q].unsqueeze(1))
        samples = oq + t.unsqueeze(-1) * dq  # (Q, K=J, 3)
        offsets, along = R.segment_offsets(samples, a, b)  # (Q, K, J, 3), (Q, K, J)
        # A sample far from the bone it was placed on is empty space: only the others run the MLP.
        own = offsets.diagonal(dim1=1, dim2=2).norm(dim=1)  # (Q, K) distance to the sample's own bone
        live = ((own < self.config.bone_cull_radius) & (t < depth[ray_n].unsqueeze(1))).view(-1).nonzero().squeeze(-1)
        q_of = live // j
        features = player_features(
            offsets.view(-1, 1, j, 3)[live],
            along.view(-1, 1, j)[live],
            scene.facing[frame_q, player_q][q_of],
            d[ray_n][q_of],
        )  # (S, 1, F)
        palette = scene.player_palette[frame_q, player_q][q_of]  # (S, 3, 3)
        alpha_live, rgb_live = self.player(features.squeeze(1), palette)
        alpha_p = t.new_zeros(t.numel()).index_copy(0, live, alpha_live).view(-1, j)
        rgb_p = t.new_zeros(t.numel(), 3).index_copy(0, live, rgb_live)
        rows = ray_q * 2 + player_q  # (Q,) row of the (D * 2, K) sample buffers
        n_d = di.numel()
        t_buf = t.new_full((n_d * 2, j), float("inf")).index_copy(0, rows, t).view(n_d, 2 * j)
        a_buf = t.new_zeros(n_d * 2, j).index_copy(0, rows, alpha_p).view(n_d, 2 * j)
        c_buf = t.new_zeros(n_d * 2, j, 3).index_copy(0, rows, rgb_p.view(-1, j, 3)).view(n_d, 2 * j, 3)

        # The ball: one sample at the closest approach.
        alpha_b, rgb_b = self.ball(miss / BALL_RADIUS, miss_px)
        alpha_b = alpha_b * near_ball

        t_all = torch.cat([t_buf, t_ball.unsqueeze(1), t_net[di].unsqueeze(1)], 1)  # (D, 2K + 2)
        a_all = torch.cat([a_buf, alpha_b.unsqueeze(1), alpha_net[di].unsqueeze(1)], 1)
        c_all = torch.cat([c_buf, rgb_b.unsqueeze(1), rgb_net[di].unsqueeze(1)], 1)
        t_all = torch.where(a_all > 0, t_all, torch.full_like(t_all, float("inf")))
        colour_d, weights, rest = composite(t_all, a_all, c_all, background[di])
        cover_d = torch.stack([rest, weights[:, :j].sum(1), weights[:, j : 2 * j].sum(1), weights[:, 2 * j],
                               weights[:, 2 * j + 1]], -1)  # fmt: skip
        return colour.index_copy(0, di, colour_d), coverage.index_copy(0, di, cover_d)

    def forward(self, scene: Scene, rays: R.Rays, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.render_rays(scene, rays, height, width)

    def render_float(self, states: torch.Tensor, cameras: torch.Tensor | None = None,
                     styles: torch.Tensor | None = None, *, height: int | None = None, width: int | None = None,
                     max_rays: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """Float images (B, H, W, 3) and coverage (B, H, W, 5); frames are rendered in chunks of ``max_rays`` rays
        (default: 2**16 on CPU, where cache-sized chunks are fastest, 2**21 on accelerators)."""
        h, w = height or self.config.height, width or self.config.width
        if max_rays is None:
            max_rays = 1 << 16 if self.device.type == "cpu" else 1 << 21
        states = states.to(self.device)
        cameras = None if cameras is None else cameras.to(self.device)
        styles = None if styles is None else styles.to(self.device)
        per = max(1, max_rays // (h * w))
        images, covers = [], []
        for start in range(0, states.shape[0], per):  # chunks of frames bound the memory of big batches
            sl = slice(start, start + per)
            scene = self.scene(
                states[sl], None if cameras is None else cameras[sl], None if styles is None else styles[sl]
            )
            colour, cover = self.render_rays(scene, R.image_rays(scene.cameras, h, w), h, w)
            images.append(colour.view(-1, h, w, 3))
            covers.append(cover.view(-1, h, w, len(OBJECTS)))
        return torch.cat(images), torch.cat(covers)

    @torch.no_grad()
    def render(self, states: torch.Tensor, cameras: torch.Tensor | None = None, styles: torch.Tensor | None = None,
               *, height: int | None = None, width: int | None = None) -> torch.Tensor:  # fmt: skip
        """uint8 frames (B, H, W, 3) of layout state vectors (B, STATE_SIZE) seen from ``cameras`` (B, 16)
        (default: the camera in each state) with scene ``styles`` (B, 12) (default: `default_styles`)."""
        images, _ = self.render_float(states, cameras, styles, height=height, width=width)
        return to_uint8(images)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    return (images.clamp(0, 1) * 255 + 0.5).to(torch.uint8)
