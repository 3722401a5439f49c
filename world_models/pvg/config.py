"""`PVGConfig`: the sizes, loss weights and schedule of one PVG (CADDY) model. Presets live in `world_models.zoo`.

Field docstrings double as command-line help of ``python -m world_models train pvg``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass
class PVGConfig:
    """Everything that defines a PVG model and how it is trained (design note ``pvg.md``)."""

    LOSS_FIELDS: ClassVar[tuple[str, ...]] = (
        "weight_reconstruction", "motion_weight", "weight_ssim", "weight_state_reconstruction", "weight_direction_kl",
        "weight_mutual_information", "mi_smoothing", "mi_entropy_weight", "weight_action_state_kl", "weight_reward",
        "weight_termination", "termination_pos_weight", "weight_pretrain_hidden", "learning_rate", "weight_decay",
        "revive_dead_actions", "gumbel_temperature_start", "gumbel_temperature_end", "gumbel_anneal_steps",
        "sequence_length_start", "sequence_length_end", "sequence_length_steps", "teacher_forced_observations",
    )  # fmt: skip
    """Settings of the objective, its curricula and the optimizer only: a run may continue trained weights
    (`--init`) under other values (e.g. longer sequences, so held actions stay stable for more generated steps)."""
    GROWTH_FIELDS: ClassVar[tuple[str, ...]] = ("action_coordinates",)
    """Switches that add parts whose initial values leave the model's function unchanged: a run may switch them on
    when it continues weights trained without them (`PVGModel.grow_from`)."""
    REDISCOVERY_FIELDS: ClassVar[tuple[str, ...]] = ("action_keypoints",)
    """Changes of how the action state is read: a run may make them when it continues weights trained without them;
    the action state's mean head starts afresh, expressed in the old head's units before the first step
    (`train.match_action_state`), and everything else keeps its weights (`PVGModel.grow_from`)."""

    # --- data -------------------------------------------------------------------------------------------------
    height: int = 208
    """Model input and output frame height (pixels); a multiple of 8."""
    width: int = 160
    """Model input and output frame width (pixels); a multiple of 8."""
    crop: tuple[int, ...] = (0, 0, 160, 208)
    """Crop [left, upper, right, lower] of the raw frame before the bilinear resize (Atari: 160x210 -> 160x208)."""
    frames_per_observation: int = 1
    """S: frames stacked per observation (newest first on channels); 1 for Breakout, 4 for Tennis."""
    frame_skip: int = 0
    """Frames skipped between observations of a training sequence (0 = consecutive)."""
    fps: float = 15.0
    """Frame rate of the data (ALE at frameskip 4 is 15 fps); the environments' render rate."""

    # --- sizes ------------------------------------------------------------------------------------------------
    num_actions: int = 3
    """A: number of discrete learned actions."""
    action_space_dim: int = 1
    """D: dimension of the continuous action space (directions, centroids, variability)."""
    state_channels: int = 64
    """F: channels of the encoded state (the encoder outputs F + 1, the last channel is the attention)."""
    encoder_channels: tuple[int, ...] = (16, 32, 64)
    """Encoder widths at 1/2, 1/4 and 1/8 resolution (the paper: 16, 32, 64)."""
    action_hidden: int = 128
    """Width of the action network's residual blocks."""
    dynamics_hidden: int = 64
    """Hd: hidden width of the ConvLSTM dynamics (doubled at half resolution)."""
    renderer_channels: tuple[int, ...] = (64, 32, 16)
    """Renderer widths at 1/4, 1/2 and full resolution (paper main variant 128, 64, 32; Breakout 64, 32, 16)."""
    head_hidden: int = 64
    """Width of the reward and termination heads (global pool of the dynamics output, then an MLP)."""

    # --- losses -----------------------------------------------------------------------------------------------
    weight_reconstruction: float = 1.0
    """L1 between each rendered resolution and the resized ground-truth frame, mean over scales."""
    motion_weight: float = 0.0
    """Motion weighting of the L1 term: pixels weigh 1 + this x |frame change| (0 = off, as in every published
    config); the small preset turns it on so the small paddle and ball are learned within a CPU budget."""
    weight_ssim: float = 1.0
    """(1 - SSIM) per rendered resolution, mean over scales; replaces the VGG perceptual loss (no VGG weights)."""
    weight_state_reconstruction: float = 0.2
    """MSE between detached ground-truth states and re-encoded generated states."""
    weight_direction_kl: float = 1e-4
    """KL of the action-direction Gaussians against N(0, I)."""
    weight_mutual_information: float = 0.15
    """Weight of -MI between actions inferred from real and from generated frames."""
    mi_smoothing: float = 0.2
    """EMA factor of the smoothed MI joint matrix; 0 computes MI on the batch matrix alone (plain)."""
    mi_entropy_weight: float = 1.0
    """Weight of the marginal-entropy part of MI."""
    weight_action_state_kl: float = 0.0
    """KL of per-frame action-state Gaussians (reconstructed vs ground truth); 0 for Breakout."""
    weight_reward: float = 1.0
    """MSE of the reward head (trained on detached dynamics features)."""
    weight_termination: float = 1.0
    """BCE of the termination head (trained on detached dynamics features)."""
    termination_pos_weight: float = 20.0
    """Positive-class weight of the termination BCE (episode ends are rare)."""
    weight_pretrain_hidden: float = 1.0
    """MSE of dynamics outputs onto the detached hidden map of the next ground-truth state during pretraining."""

    action_coordinates: bool = False
    """The action network also reads two coordinate channels (x, y in [-1, 1]; CoordConv). Its pooled features are
    otherwise translation invariant and encode an object's position only through border effects, so the per-frame
    action state bends near the walls and a move next to a wall gets the opposite direction (measured on Breakout:
    the paddle's action state rose from -16.8 to +13.9 across the court but was -10.4 and +2.9 at the two walls)."""
    action_keypoints: int = 0
    """0: the action state's mean reads the globally pooled features (the paper). K > 0: it is a linear function of
    the (x, y) of K soft-argmax keypoints of the attended state, so it is a position by construction and a move
    has the same direction next to a wall as in the middle (pooled features bend there; `action_coordinates`)."""
    revive_dead_actions: float = 0.0
    """0: off (the paper). Above 0: when an action's share of the inferred actions (an EMA over training batches)
    falls below this, `final_fc` is re-fitted to the action centroids as a shared-variance Gaussian classifier, so
    each action again owns the directions nearest its centroid (a linear classifier can leave an action that no
    direction selects, which no gradient then reaches)."""

    # --- optimisation and schedule ----------------------------------------------------------------------------
    learning_rate: float = 4e-4
    """Adam learning rate (constant)."""
    weight_decay: float = 1e-6
    """Adam weight decay."""
    batch_size: int = 8
    """Sequences per training step."""
    max_steps: int = 300_000
    """Training steps of the full schedule."""
    pretrain_steps: int = 3000
    """Initial auto-encoder steps (frames rendered straight from ground-truth states)."""
    gumbel_temperature_start: float = 1.0
    """Gumbel-softmax temperature at step 0."""
    gumbel_temperature_end: float = 0.4
    """Gumbel-softmax temperature after the annealing."""
    gumbel_anneal_steps: int = 20_000
    """Steps of the linear temperature annealing."""
    hard_gumbel: bool = False
    """Straight-through one-hot Gumbel samples instead of soft ones."""
    sequence_length_start: int = 7
    """Observations per training sequence at step 0 (T)."""
    sequence_length_end: int = 9
    """Observations per training sequence after the curriculum."""
    sequence_length_steps: int = 15_000
    """Steps of the linear (floored) sequence-length curriculum."""
    teacher_forced_observations: int = 6
    """Ground-truth observations fed to the dynamics before it runs on re-encoded generated frames (cap T-1)."""
    centroid_momentum: float = 0.1
    """EMA factor alpha of the action centroids: c <- (1 - alpha) c + alpha batch_centroids."""

    def __post_init__(self) -> None:
        if self.height % 8 or self.width % 8:
            raise ValueError(f"height and width must be multiples of 8, got {self.height}x{self.width}")
        if len(self.encoder_channels) != 3 or len(self.renderer_channels) != 3:
            raise ValueError("encoder_channels and renderer_channels take three widths each")
        if len(self.crop) != 4:
            raise ValueError(f"crop is [left, upper, right, lower], got {self.crop}")
        if self.num_actions < 2:
            raise ValueError(f"num_actions must be at least 2, got {self.num_actions}")

    @property
    def state_resolution(self) -> tuple[int, int]:
        """(h, w) of the encoded state: 1/8 of the frame."""
        return self.height // 8, self.width // 8

    @property
    def half_resolution(self) -> tuple[int, int]:
        """(h/2, w/2), floored, of the middle ConvLSTM."""
        h, w = self.state_resolution
        return h // 2, w // 2

    def temperature(self, step: int) -> float:
        """Gumbel temperature at ``step``."""
        frac = min(step / max(self.gumbel_anneal_steps, 1), 1.0)
        return self.gumbel_temperature_start + frac * (self.gumbel_temperature_end - self.gumbel_temperature_start)

    def sequence_length(self, step: int) -> int:
        """Observations per sequence at ``step`` (linear, floored)."""
        frac = min(step / max(self.sequence_length_steps, 1), 1.0)
        return int(self.sequence_length_start + frac * (self.sequence_length_end - self.sequence_length_start))
