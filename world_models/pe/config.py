"""`PEConfig`: sizes, loss weights and schedule of the PE action module. Presets live in `world_models.zoo`.

Field docstrings double as command-line help of ``python -m world_models train pe``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

LOCATION_SOURCES = ("annotations", "boxes")
ENGINE_FPS = 25.0


@dataclass
class PEConfig:
    """The action module of one dynamic object class per tennis player (design note ``pe.md`` sections 9-10)."""

    LOSS_FIELDS: ClassVar[tuple[str, ...]] = (
        "weight_location", "weight_facing", "weight_pose", "weight_style", "weight_direction_kl",
        "weight_mutual_information", "mi_smoothing", "mi_entropy_weight", "weight_acmv", "acmv_speed_scale",
        "weight_gan_generator", "weight_gan_discriminator", "weight_prior", "centroid_momentum", "lr",
    )  # fmt: skip
    """Settings of the objective and the optimizer only: a run may continue trained weights (`--init`) under other
    values."""

    # --- data -------------------------------------------------------------------------------------------------
    locations: str = "annotations"
    """Where player locations come from: ``annotations`` (the engine's root) or ``boxes`` (as the paper: the bottom
    centre of the player's 2-D box, cast through the camera onto the ground plane z = 0)."""
    frame_stride: int = 5
    """Engine frames (25 fps) per model step: 5 gives the paper's 5 fps for Tennis. Between steps the players are
    interpolated and the ball is simulated frame by frame, so the referee reads 25 fps states."""

    # --- sizes ------------------------------------------------------------------------------------------------
    num_actions: int = 7
    """A: discrete learned actions per player."""
    action_space_dim: int = 5
    """D: dimension of the action space (directions, centroids, variations)."""
    action_hidden: int = 128
    """Width of the action network's three (Linear, BatchNorm, ReLU) blocks."""
    dynamics_hidden: int = 256
    """Hidden size of each of the two stacked LSTM cells and of the output MLP."""
    discriminator_channels: int = 256
    """Channels of the three spectral-norm Conv1d layers of the sequence discriminator."""
    discriminator_kernel: int = 5
    """Temporal kernel of the discriminator convolutions."""
    prior_hidden: int = 64
    """Width of the learned action prior (the opponent's policy: actions given both players and the ball)."""

    # --- losses -----------------------------------------------------------------------------------------------
    weight_location: float = 1.0
    """MSE of predicted next locations (normalised units)."""
    weight_facing: float = 1.0
    """MSE of predicted facing (sin, cos)."""
    weight_pose: float = 1.0
    """MSE of predicted joint offsets (the deformation code)."""
    weight_style: float = 1.0
    """MSE of predicted styles."""
    weight_direction_kl: float = 1e-4
    """KL of the action directions to N(0, I)."""
    weight_mutual_information: float = 0.15
    """-MI between actions inferred from real and from reconstructed sequences."""
    mi_smoothing: float = 0.2
    """EMA factor of the joint action matrix of the MI loss."""
    mi_entropy_weight: float = 1.0
    """Weight of the marginal entropies inside the MI estimate."""
    weight_acmv: float = 0.1
    """ACMV: within-action variance of location deltas over their total variance."""
    acmv_speed_scale: float = 0.0
    """0: ACMV on the raw normalised location deltas (the paper). Above 0 (m/s): on the deltas in metres,
    saturated as d / (|d| + scale / fps), so that ACMV groups movements by direction rather than by speed (on raw
    deltas its clusters put the still / moving boundary near half the running speed)."""
    weight_gan_generator: float = 0.1
    """Vanilla BCE GAN loss of the rolled-out sequences (generator side)."""
    weight_gan_discriminator: float = 1.0
    """Discriminator BCE loss."""
    weight_prior: float = 0.1
    """Cross-entropy of the action prior against the (detached) inferred actions."""
    gumbel_temperature: float = 1.0
    """Temperature of the soft Gumbel-softmax over action logits."""
    centroid_momentum: float = 0.1
    """EMA factor of the action centroids."""

    # --- schedule ---------------------------------------------------------------------------------------------
    batch_size: int = 64
    """Sequences per step."""
    lr: float = 5e-4
    """Adam learning rate of the model and of the discriminator (betas 0.5, 0.999)."""
    sequence_length_start: int = 5
    """Training sequence length at step 0."""
    sequence_length_end: int = 9
    """Training sequence length after ``sequence_length_steps``."""
    sequence_length_steps: int = 25_000
    """Steps over which the sequence length grows linearly."""
    context: int = 4
    """Steps that read ground-truth states before the rollout feeds back its predictions (the paper: 4). At the
    engine's 25 fps a player's next location follows from the last few by inertia alone, so with several true
    frames the dynamics need the actions only for accelerations; with 1 the actions must carry the movement."""
    max_steps: int = 300_000
    """Default number of training steps."""

    # --- play -------------------------------------------------------------------------------------------------
    contact_reach: float = 1.2
    """How close (m) the racket head must come to the ball for the contact rule to return it."""
    contact_height: float = 2.6
    """Highest ball (m) the contact rule returns."""

    @property
    def fps(self) -> float:
        """Model steps per second."""
        return ENGINE_FPS / self.frame_stride

    def __post_init__(self) -> None:
        if self.locations not in LOCATION_SOURCES:
            raise ValueError(f"locations must be one of {LOCATION_SOURCES}, got {self.locations!r}")
        if not 1 <= self.context < self.sequence_length_start <= self.sequence_length_end:
            raise ValueError("need 1 <= context < sequence_length_start <= sequence_length_end")
        if self.frame_stride < 1:
            raise ValueError(f"frame_stride must be at least 1, got {self.frame_stride}")
        if self.num_actions < 2 or self.action_space_dim < 1:
            raise ValueError("need at least 2 actions and a 1-D action space")

