"""`RendererConfig`: sizes of the compositional neural renderer and how it is trained, plus its named presets.

Field docstrings double as command-line help of ``python -m world_models train render``. The static geometry
(the ground plane, the walls, the net plane) is a planar prior given here, as Playable Environments configures its
NeRF boxes; what each surface looks like is learned.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass


@dataclass
class RendererConfig:
    """Everything that defines a renderer and its training run (design note ``docs/renderer.md``)."""

    # --- output -----------------------------------------------------------------------------------------------
    height: int = 144
    """Default output height in pixels (any size can be asked of `render`; intrinsics are resolution-free)."""
    width: int = 256
    """Default output width in pixels."""

    # --- static scene: planar prior ---------------------------------------------------------------------------
    ground_x: tuple[float, ...] = (-12.0, 12.0)
    """Extent (metres) of the ground texture along x; outside it the edge texels repeat."""
    ground_y: tuple[float, ...] = (-48.0, 20.0)
    """Extent (metres) of the ground texture along y."""
    ground_texels_per_metre: float = 40.0
    """Resolution of the ground's 1-D factor lines (40 = 2.5 cm, half a court line)."""
    wall_x: float = 10.985
    """The side walls are the planes x = -wall_x and x = +wall_x (metres)."""
    wall_y: float = 18.885
    """The back wall is the plane y = wall_y (metres)."""
    wall_height: float = 40.0
    """Height (metres) covered by the wall texture; above it the top texels repeat."""
    wall_texels_per_metre: float = 20.0
    """Resolution of the walls' 1-D factor lines (along the unrolled wall perimeter and up)."""
    texture_channels: int = 16
    """C: channels of the factorised textures (feature c at (a, b) is line_a[c](a) * line_b[c](b))."""
    net_half_width: float = 6.6
    """The net plane y = 0 is textured over x in [-net_half_width, net_half_width]."""
    net_height: float = 1.2
    """... and z in [0, net_height] (metres)."""
    net_texels_per_metre: float = 40.0
    """Resolution of the net's 2-D RGBA texture."""
    static_hidden: int = 32
    """Width of the colour MLP of the ground and the walls."""

    # --- players ------------------------------------------------------------------------------------------------
    player_hidden: int = 64
    """Width of the player field MLP."""
    player_layers: int = 2
    """Hidden layers of the player field MLP."""
    box_margin: float = 0.3
    """Metres added around a player's joints to make its box (bones are at most 0.15 m thick)."""
    bone_cull_radius: float = 0.3
    """A player sample farther than this (metres) from the bone it was placed on is empty and skips the MLP."""
    shadow_texels: int = 24
    """Side of the learned shadow texture each player casts on the ground (covers +-shadow_extent metres)."""
    shadow_extent: float = 1.5
    """Half side (metres) of the shadow texture, centred on the player's root."""

    # --- ball ---------------------------------------------------------------------------------------------------
    ball_hidden: int = 16
    """Width of the ball field MLP."""
    ball_pixels: float = 3.0
    """Rays passing closer than this many pixels to the ball centre sample the ball field."""

    # --- training -----------------------------------------------------------------------------------------------
    batch_frames: int = 8
    """Frames per training step (one patch each)."""
    patch: int = 48
    """Side of each training patch in pixels (SSIM needs patches, not scattered rays)."""
    player_patch_fraction: float = 0.5
    """Fraction of patches centred on a player (players cover ~0.2% of a frame)."""
    lr: float = 2e-3
    """Adam learning rate of the MLPs."""
    texture_lr: float = 1e-2
    """Adam learning rate of the textures (grids learn faster with a larger rate)."""
    lr_decay_steps: int = 20_000
    """The learning rates halve every this many steps."""
    player_loss_weight: float = 4.0
    """Pixels inside the engine's player masks weigh this much more in the L2 loss (players are ~0.2% of a frame)."""
    ssim_weight: float = 0.2
    """Weight of (1 - SSIM) next to the L2 loss."""
    max_steps: int = 50_000
    """Training stops at this step."""
    frame_stride: int = 4
    """Keep one training frame in this many (consecutive frames are nearly identical)."""

    def __post_init__(self) -> None:
        if self.height < 8 or self.width < 8:
            raise ValueError("height and width must be at least 8 pixels")
        if self.texture_channels < 1 or self.player_layers < 1:
            raise ValueError("texture_channels and player_layers must be positive")
        if not (0.0 <= self.player_patch_fraction <= 1.0):
            raise ValueError("player_patch_fraction must lie in [0, 1]")


PRESETS: dict[str, RendererConfig] = {
    # tests: coarse textures, narrow MLPs, tiny images; same code path as the others.
    "tiny": RendererConfig(
        height=18,
        width=32,
        ground_texels_per_metre=4.0,
        wall_texels_per_metre=2.0,
        texture_channels=4,
        net_texels_per_metre=8.0,
        static_hidden=8,
        player_hidden=8,
        player_layers=1,
        shadow_texels=4,
        ball_hidden=4,
        batch_frames=2,
        patch=8,
        max_steps=4,
    ),
    # the shipped CPU-trained model at the engine's default 256 x 144.
    "small": RendererConfig(),
    # the LGE paper's output size (1024 x 576) with finer textures and a wider player field.
    "paper": RendererConfig(
        height=576,
        width=1024,
        ground_texels_per_metre=100.0,
        wall_texels_per_metre=40.0,
        texture_channels=32,
        net_texels_per_metre=100.0,
        static_hidden=64,
        player_hidden=128,
        player_layers=3,
        shadow_texels=48,
        patch=128,
        max_steps=300_000,
    ),
}
"""The one table of named renderer sizes (``tiny`` tests, ``small`` ships, ``paper`` the published resolution)."""


def preset(name: str) -> RendererConfig:
    """A fresh copy of a named preset."""
    if name not in PRESETS:
        raise KeyError(f"renderer has no preset {name!r}; known: {sorted(PRESETS)}")
    return copy.deepcopy(PRESETS[name])
