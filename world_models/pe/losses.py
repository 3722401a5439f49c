"""Training step of the PE action module (``pe.md`` section 10): reconstruction of location, facing, pose and
style, KL of the action directions, mutual information between real and reconstructed actions, ACMV, the GAN loss
of the sequence discriminator, and the action prior's cross-entropy. The MI estimator and the Gaussian KL are
PVG's (`world_models.pvg.losses`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from world_models.pe.config import PEConfig
from world_models.pe.network import Actions, PlayerAnimation, SequenceDiscriminator
from world_models.pe.objects import FACING, LOCATION, LOCATION_SCALE, POSE, STYLE
from world_models.pvg.losses import MutualInformation, gaussian_kl_standard


@dataclass
class Unroll:
    """One player's rollout of a training window."""

    actions: Actions  # inferred from the real sequence
    sampled: torch.Tensor  # (B, T-1, A) soft Gumbel samples fed to the dynamics
    predicted: torch.Tensor  # (B, T-1, F) frames 1..T-1
    reconstructed: Actions  # re-inferred from [frame 0, predicted frames]


def unroll(animation: PlayerAnimation, objects: torch.Tensor, context: int,
           generator: torch.Generator | None) -> Unroll:  # fmt: skip
    """objects (B, T, F): the first ``context`` inputs are ground truth, later ones the model's own predictions."""
    actions = animation.action_network(objects, generator=generator)
    sampled = animation.sample_actions(actions, generator)
    variation = animation.variation(actions.direction, sampled)
    memory = animation.dynamics_network.initial_memory(objects.shape[0])
    predicted = []
    current = objects[:, 0]
    for t in range(objects.shape[1] - 1):
        current = objects[:, t] if t < context else current
        current, memory = animation.dynamics_network(current, sampled[:, t], variation[:, t], memory)
        predicted.append(current)
    predicted_seq = torch.stack(predicted, 1)
    reconstructed = animation.action_network(torch.cat([objects[:, :1], predicted_seq], 1), generator=generator)
    return Unroll(actions, sampled, predicted_seq, reconstructed)


def acmv(deltas: torch.Tensor, probabilities: torch.Tensor) -> torch.Tensor:
    """Action-conditioned movement variance: within-action variance of ``deltas`` (N, 2) weighted by action
    ``probabilities`` (N, A), over their total variance."""
    weights = probabilities.sum(0).clamp_min(1e-6)  # (A,)
    means = probabilities.t() @ deltas / weights[:, None]  # (A, 2)
    within = (probabilities * ((deltas[:, None, :] - means[None]) ** 2).sum(-1)).sum() / deltas.shape[0]
    total = ((deltas - deltas.mean(0)) ** 2).sum(-1).mean()
    return within / total.clamp_min(1e-8)


def acmv_deltas(config: PEConfig, locations: torch.Tensor) -> torch.Tensor:
    """The per-step displacements ACMV groups, from normalised ``locations`` (B, T, 2) -> (B * (T-1), 2): raw, or
    in metres and saturated by ``config.acmv_speed_scale`` (a direction with a speed that levels off)."""
    deltas = (locations[:, 1:] - locations[:, :-1]).flatten(0, 1)
    if config.acmv_speed_scale <= 0:
        return deltas
    metres = deltas * deltas.new_tensor(LOCATION_SCALE)
    return metres / (metres.norm(dim=-1, keepdim=True) + config.acmv_speed_scale / config.fps)


def player_losses(config: PEConfig, animation: PlayerAnimation, discriminator: SequenceDiscriminator,
                  mutual_information: MutualInformation, objects: torch.Tensor, prior_inputs: torch.Tensor,
                  length_context: int, generator: torch.Generator) -> tuple[dict[str, torch.Tensor], tuple, tuple]:  # fmt: skip
    """Generator-side loss terms of one player, what the discriminator step needs (real, fake, conditioning) and
    the centroid update (direction means, action probabilities).

    objects (B, T, F); prior_inputs (B, T, PRIOR_INPUT)."""
    c = config
    run = unroll(animation, objects, length_context, generator)
    target = objects[:, 1:]
    pred = run.predicted
    terms = {
        "location": c.weight_location * F.mse_loss(pred[..., LOCATION], target[..., LOCATION]),
        "facing": c.weight_facing * F.mse_loss(pred[..., FACING], target[..., FACING]),
        "pose": c.weight_pose * F.mse_loss(pred[..., POSE], target[..., POSE]),
        "style": c.weight_style * F.mse_loss(pred[..., STYLE], target[..., STYLE]),
        "direction_kl": c.weight_direction_kl
        * gaussian_kl_standard(run.actions.direction_mean, run.actions.direction_variance),
    }
    p = run.actions.probabilities()
    if c.weight_mutual_information > 0:
        q = run.reconstructed.probabilities()
        terms["mutual_information"] = c.weight_mutual_information * mutual_information(p.flatten(0, 1), q.flatten(0, 1))
    terms["acmv"] = c.weight_acmv * acmv(acmv_deltas(c, objects[..., LOCATION]), p.flatten(0, 1))
    cond_actions, cond_directions = run.sampled.detach(), run.actions.direction.detach()
    fake_logits = discriminator(pred, cond_actions, cond_directions)
    terms["gan_generator"] = c.weight_gan_generator * F.binary_cross_entropy_with_logits(
        fake_logits, torch.ones_like(fake_logits)
    )
    prior_logits = animation.prior(prior_inputs[:, :-1].flatten(0, 1))
    terms["prior"] = c.weight_prior * F.cross_entropy(prior_logits, p.detach().argmax(-1).flatten())
    # The centroid EMA is applied after the backward pass (the centroids are in this step's graph).
    centroid_update = (run.actions.direction_mean.detach().flatten(0, 1), p.detach().flatten(0, 1))
    return terms, (target, pred.detach(), cond_actions, cond_directions), centroid_update


def discriminator_loss(config: PEConfig, discriminator: SequenceDiscriminator, real: torch.Tensor,
                       fake: torch.Tensor, actions: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """Vanilla BCE: real sequences -> 1, rolled-out ones -> 0, both with the same detached actions."""
    real_logits = discriminator(real, actions, directions)
    fake_logits = discriminator(fake, actions, directions)
    loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    loss = loss + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return config.weight_gan_discriminator * loss
