"""The LGE animation model as a module: the network, its noise schedule and the feature statistics, with the
director's-mode `generate` that every use (environments, evaluation, strategy rollouts) goes through."""

from __future__ import annotations

import torch
from torch import nn

from world_models.engines.tennis import layout
from world_models.lge.config import LGEConfig
from world_models.lge.diffusion import Conditioning, cosine_alpha_bar, sample, training_loss
from world_models.lge.kinematics import reconcile
from world_models.lge.network import AnimationNetwork
from world_models.lge.objects import (
    BALL_POSITION,
    BALL_VELOCITY,
    FEATURE_DIM,
    OBJECTS,
    ROOT,
    to_objects,
    to_states,
    valid_mask,
)
from world_models.lge.planner import LaunchPlanner, reach


class AnimationModel(nn.Module):
    """Masked diffusion over windows of object states, conditioned on any subset of states and on text."""

    def __init__(self, config: LGEConfig) -> None:
        super().__init__()
        self.config = config
        self.network = AnimationNetwork(config)
        self.register_buffer("alpha_bar", cosine_alpha_bar(config.diffusion_steps))
        # Standardisation of object features, set from training data before training starts.
        self.register_buffer("feature_mean", torch.zeros(len(OBJECTS), FEATURE_DIM))
        self.register_buffer("feature_std", torch.ones(len(OBJECTS), FEATURE_DIM))
        self.register_buffer("valid", valid_mask().float())
        # The ball and the players' ground positions decide what the referee sees (bounces, hits, who wins):
        # weight their errors above the many joint entries.
        weight = valid_mask().float()
        weight[2, BALL_POSITION] *= 4.0
        weight[2, BALL_VELOCITY] *= 2.0
        weight[:2, ROOT] *= 2.0
        self.register_buffer("loss_weight", weight)
        # Trained after the network, by its own command (`planner`); None without `planner_frames`.
        self.planner = LaunchPlanner(config) if config.planner_frames else None

    @torch.no_grad()
    def set_statistics(self, objects: torch.Tensor) -> None:
        """Per-object, per-feature mean and standard deviation from object features ``(..., 3, F)``."""
        flat = objects.reshape(-1, len(OBJECTS), FEATURE_DIM)
        self.feature_mean.copy_(flat.mean(0) * self.valid)
        self.feature_std.copy_(torch.where(self.valid.bool(), flat.std(0).clamp(min=1e-3), torch.ones_like(self.valid)))

    def standardise(self, objects: torch.Tensor) -> torch.Tensor:
        return (objects - self.feature_mean) / self.feature_std * self.valid

    def unstandardise(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.feature_std + self.feature_mean) * self.valid

    def loss(
        self,
        objects: torch.Tensor,
        known: torch.Tensor,
        text: torch.Tensor,
        text_on: torch.Tensor,
        surface: torch.Tensor,
        generator: torch.Generator | None = None,
        contact: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Training loss of a batch of windows of object features ``(B, T, 3, F)`` (unstandardised); ``contact``
        ``(B, T)`` marks frames near a racket contact, weighted ``1 + contact_weight``."""
        x0 = self.standardise(objects)
        cond = Conditioning(x0, known, text, text_on, surface)
        c = self.config
        frame_weight = None
        if contact is not None and c.contact_weight:
            frame_weight = 1.0 + c.contact_weight * contact.to(x0.dtype)
        return training_loss(self.network, self.alpha_bar, x0, cond, self.loss_weight, generator,
                             velocity_weight=c.velocity_weight, acceleration_weight=c.acceleration_weight,
                             frame_weight=frame_weight, snr_floor=c.snr_floor, prediction=c.prediction)  # fmt: skip

    @torch.no_grad()
    def generate(
        self,
        template: torch.Tensor,
        *,
        known_states: torch.Tensor | None = None,
        known: torch.Tensor | None = None,
        text: torch.Tensor | None = None,
        text_on: torch.Tensor | None = None,
        generator: torch.Generator,
        steps: int | None = None,
        guidance: float | None = None,
    ) -> torch.Tensor:
        """Director's mode: a window of flat states ``(B, T, STATE_SIZE)``.

        Args:
            template: ``(B, STATE_SIZE)`` state giving styles, surface and camera (and nothing else).
            known_states: ``(B, T, STATE_SIZE)`` flat states holding the desired values where ``known`` is set.
            known: ``(B, T, 3, F)`` float object-feature mask of the given entries (see `objects` for the offsets),
                e.g. every entry of the first frames, the last frame, or one player's root at one frame.
            text: ``(B, T, 2, E)`` text embeddings of each player's action at each frame.
            text_on: ``(B, T, 2)`` bool, where a player has text.
            generator: the source of every random draw.
        """
        c = self.config
        b, device = template.shape[0], template.device
        shape = (b, c.window, len(OBJECTS), FEATURE_DIM)
        if known is None:
            known = torch.zeros(shape, device=device)
            known_states = template.unsqueeze(1).expand(b, c.window, -1)
        if known.shape != shape:
            raise ValueError(f"known must have shape {shape}, got {tuple(known.shape)}")
        values = self.standardise(to_objects(known_states))
        if text is None:
            text = torch.zeros(b, c.window, 2, c.text_features, device=device)
            text_on = torch.zeros(b, c.window, 2, dtype=torch.bool, device=device)
        surface = template[:, _surface_index()].round().long().clamp(0, c.num_surfaces - 1)
        cond = Conditioning(values, known.float() * self.valid, text, text_on, surface)
        steps, guidance = steps or c.sample_steps, c.guidance if guidance is None else guidance
        states = self._draw(cond, template, steps, guidance, generator)
        if self.planner is None:
            return states
        # Redraw the windows with a planned shot: the frames up to its contact kept, except the ball's velocity at
        # the contact (the first draw's launch), which the plan replaces; the ball's planned states given at the
        # contact and at the planned frames. Where the first draw turned the ball with no racket near it, the
        # contact moves to where the striker can reach the ball, or the ball flies on past it (`planner.reach`).
        free = cond.known[:, :, 2, BALL_POSITION].amax(-1) == 0  # (B, T)
        strikes = self.planner.strikes(states, free, text_on)
        if not strikes:
            return states
        rows = torch.tensor([strike[0] for strike in strikes], device=device)
        planned, again = states[rows].clone(), cond.known[rows].clone()
        fps = 25.0 / c.frame_stride
        missed = []
        for i, (row, frame, striker, inside) in enumerate(strikes):
            contact = reach(planned[i], again[i], frame, striker, c.reach_speed, fps)
            if contact is None:
                missed.append(i)
            elif contact != frame:
                frame, inside = contact, self.planner.steps_inside(free[row], contact)
            strikes[i] = (i, frame, striker, inside)
        plans = self.planner.plan(planned, free[rows], text[rows], text_on[rows], strikes, tuple(missed))
        for i, frame, steps_after, ball in plans:
            targets = [frame + k for k in (0, *steps_after)]
            planned[i, targets, layout.SLICES["ball.position"]] = ball[:, :3].to(planned.dtype)
            planned[i, targets, layout.SLICES["ball.velocity"]] = ball[:, 3:].to(planned.dtype)
            again[i, targets, 2, BALL_POSITION] = 1.0
            again[i, targets, 2, BALL_VELOCITY] = 1.0
        redo = Conditioning(self.standardise(to_objects(planned)), again * self.valid, text[rows], text_on[rows],
                            surface[rows])  # fmt: skip
        states = states.clone()
        states[rows] = self._draw(redo, template[rows], steps, guidance, generator)
        return states

    def _draw(self, cond: Conditioning, template: torch.Tensor, steps: int, guidance: float,
              generator: torch.Generator) -> torch.Tensor:  # fmt: skip
        """One sampling run: flat states ``(B, T, STATE_SIZE)``, positions reconciled when configured."""
        c = self.config
        x = sample(self.network, self.alpha_bar, cond, steps=steps, guidance=guidance, generator=generator, eta=c.eta,
                   prediction=c.prediction)  # fmt: skip
        states = to_states(self.unstandardise(x), template.unsqueeze(1))
        if c.reconcile_weight is not None:
            states = reconcile(states, cond.known, 25.0 / c.frame_stride, c.reconcile_weight)
        return states


def _surface_index() -> int:
    return layout.SLICES["scene.surface"].start
