"""Config of the LGE animation model (masked diffusion over object states, conditioned on text and states)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

PREDICTIONS = ("epsilon", "v")


@dataclass
class LGEConfig:
    """Sizes and process settings of the animation model. Presets live in `world_models.zoo.PRESETS["lge"]`."""

    SAMPLER_FIELDS: ClassVar[tuple[str, ...]] = ("sample_steps", "guidance", "eta", "reconcile_weight", "reach_speed")
    """Settings of sampling only: trained weights serve any value of them."""
    LOSS_FIELDS: ClassVar[tuple[str, ...]] = (
        "text_dropout",
        "velocity_weight",
        "acceleration_weight",
        "contact_weight",
        "snr_floor",
        "prediction",
    )
    """Settings of the training objective: a run may continue trained weights under other values (`prediction`
    also tells the sampler how to read the network; it follows the checkpoint's value)."""
    GROWTH_FIELDS: ClassVar[tuple[str, ...]] = ("text_whitening", "ball_text", "text_modulation")
    """Switches that add parts whose initial values leave the network's function unchanged: a run may switch them
    on when it continues weights trained without them (`AnimationNetwork.grow_from`)."""

    ADDED_FIELDS: ClassVar[tuple[str, ...]] = ("planner_frames", "planner_width", "planner_reader", "planner_members")
    """Parts trained after the animation model by their own command (the launch planner, ``train lge-planner``): a
    run that continues a checkpoint's weights (``train lge --init``) leaves them out; add them again after it."""

    window: int = 24
    """Frames generated together by one sampling run (one attention window)."""
    context: int = 6
    """Frames of the previous window given as known states when an episode continues autoregressively."""
    frame_stride: int = 2
    """Engine frames per model frame (2: the model runs at 12.5 fps on the engine's 25 fps data)."""
    d_model: int = 128
    """Transformer width."""
    layers: int = 4
    """Transformer blocks."""
    heads: int = 4
    """Attention heads."""
    mlp_ratio: int = 4
    """Hidden width of each block's MLP, as a multiple of d_model."""
    text_dim: int = 384
    """Width of the frozen text encoder's pooled embedding (all-MiniLM-L6-v2: 384; T5-base: 768)."""
    diffusion_steps: int = 1000
    """Noise levels of the training process (cosine schedule)."""
    sample_steps: int = 16
    """Steps of the DDIM sampler."""
    text_dropout: float = 0.1
    """Probability of dropping a player's text in training (learns the unconditional model for guidance)."""
    velocity_weight: float = 1.0
    """Weight of the loss on frame-to-frame differences of the predicted clean sequence."""
    acceleration_weight: float = 0.0
    """Weight of the loss on second differences (accelerations) of the predicted clean sequence: it penalises the
    frame-to-frame jitter that ballistic flights and bounces cannot have."""
    contact_weight: float = 0.0
    """Extra weight of the noise-prediction loss on frames within `data.CONTACT_FRAMES` of a racket contact
    (`data.near_contact`): the few frames of a window where a shot's timing and launch are decided."""
    snr_floor: float = 0.0
    """Truncated-SNR weighting (0: off, the plain noise-prediction loss). Predicting the noise weighs errors of the
    implied clean sequence by the signal-to-noise ratio, about 0.02 at the noise levels where a sample's launch
    directions are decided, so a model learns to read them off the noise rather than the text; with a floor the
    clean-sequence error of every level weighs at least ``snr_floor`` (the noise-prediction loss times
    max(1, snr_floor / SNR), capped at `diffusion.MAX_LEVEL_WEIGHT`)."""
    prediction: str = "epsilon"
    """What the network outputs: ``"epsilon"`` (the noise, as DDPM) or ``"v"`` (sqrt(a) * noise - sqrt(1 - a) *
    clean, Salimans & Ho's velocity). Near pure noise an epsilon network must output almost its input plus a
    correction of a few hundredths that carries the clean sequence, and its loss weighs that correction by the SNR
    (0.0025 at the levels where a shot's launch is decided); a v network outputs the clean sequence there directly
    and its loss weighs clean-sequence errors by SNR + 1, so what the text says about the launch counts."""
    guidance: float = 1.5
    """Classifier-free guidance scale on text at sampling (1: no guidance)."""
    eta: float = 0.0
    """Fresh noise per sampling step (0: deterministic DDIM; 1: ancestral, as DDPM). Either way every draw comes
    from the passed generator, so a seed gives one sequence."""
    text_whitening: bool = False
    """Project text from whitened embeddings (the training captions' mean and inverse square-root covariance,
    stored with the weights). MiniLM embeds captions that differ only in where the ball goes almost alike
    (cosine 0.997 for "left corner" vs "right corner"); whitened, such pairs are a quarter of a typical pair's
    distance apart instead of a twelfth, so the projection can learn them at the rate it learns the rest."""
    ball_text: bool = False
    """The ball's tokens read both players' text too (a direct route from the words to the ball's flight)."""
    text_modulation: bool = False
    """The text modulates every token in every block (per-token adaptive layer norm from the noise level, the
    surface, the token's object and both players' text at its frame). Summed into a token's input, the words are
    under 1% of it where a shot's launch is decided (the noisy values' projection is the rest), and no block
    recovers them; a modulation acts on the normalised activations, at the scale of everything else."""
    reconcile_weight: float | None = None
    """After sampling, refit positions to the generated velocities (`kinematics.reconcile`): how strongly the
    generated positions pull (0: integrate the velocities from the given frames; None: keep the raw positions)."""
    reach_speed: float = 5.0
    """m/s: at a planned racket contact (`planner_frames`) whose striker's racket head the first draw left farther
    than `planner.REACH_SLACK` from the ball, the average speed at which the striker may run from its last given
    position to meet the ball: the redraw moves the contact along the ball's flight, or places the striker at it, or
    lets the ball fly on past it (`planner.reach`; 0: never). The animation model sometimes turns the ball back with
    no racket near it; the referee then sees no stroke."""
    planner_frames: tuple[int, ...] = ()
    """Frames after a racket contact at which a launch planner (`planner.LaunchPlanner`, trained by ``train
    lge-planner`` after the animation model) places the ball; sampling then redraws a window with those inside it
    and before the ball comes down given (empty: no planner)."""
    planner_width: int = 256
    """Hidden width of the launch planner's MLP."""
    planner_reader: int = 0
    """Width of the launch planner's reading of the striker's words token by token (`planner.TokenReader`), which
    then replaces the pooled embedding as its text input (0: the planner reads the pooled embedding). The pooled
    embedding loses which side a new phrasing names; the token of "left" or "right" keeps it. The reading travels
    beside the pooled embedding in every text vector (`text_features`)."""
    planner_members: int = 1
    """Launch planners (each with its own reader) trained side by side from different initial weights, whose arcs
    are averaged: which cues of a new phrasing a reader settles on depends on its initial draw (docs/lge.md,
    sessions 14-15)."""
    num_surfaces: int = 3
    """Court surfaces the model is conditioned on (hard, clay, grass: they change the bounce)."""

    @property
    def text_features(self) -> int:
        """Width of the text vectors the model takes: the pooled embedding, then the planner's reading of the
        tokens (`planner_reader`) when it has one (`LGEWorldModel.embed_text` makes them)."""
        return self.text_dim + (self.planner_reader * self.planner_members if self.planner_frames else 0)

    def __post_init__(self) -> None:
        if self.planner_members < 1:
            raise ValueError(f"planner_members must be at least 1, got {self.planner_members}")
        if not 0 < self.context < self.window:
            raise ValueError(f"context must be in (0, window), got context={self.context}, window={self.window}")
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {self.prediction!r}")
        if self.snr_floor and self.prediction != "epsilon":
            raise ValueError("snr_floor reweights the epsilon loss; v prediction already weighs clean-sequence "
                             "errors by SNR + 1 >= 1: set snr_floor to 0")  # fmt: skip
        if any(not 0 < k < self.window - 1 for k in self.planner_frames) or list(self.planner_frames) != sorted(
            set(self.planner_frames)
        ):
            raise ValueError(f"planner_frames must increase within (0, window - 1), got {self.planner_frames}")
        if self.reach_speed < 0:
            raise ValueError(f"reach_speed must be at least 0, got {self.reach_speed}")
        if self.sample_steps > self.diffusion_steps:
            raise ValueError("sample_steps cannot exceed diffusion_steps")
