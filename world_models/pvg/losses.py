"""PVG training losses (design note ``pvg.md`` section 10, with L1 + SSIM in place of VGG, section 17)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from world_models.layers.ssim import ssim
from world_models.pvg.config import PVGConfig
from world_models.pvg.model import PVGModel, Unroll


def resize_like(target: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of (N, 3, H, W) ``target`` to the spatial size of ``like``."""
    if target.shape[-2:] == like.shape[-2:]:
        return target
    return F.interpolate(target, size=like.shape[-2:], mode="bilinear", align_corners=False)


def image_losses(
    pyramid: list[torch.Tensor], target: torch.Tensor, previous: torch.Tensor | None = None, motion_weight: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over scales of L1 and of (1 - SSIM); ``pyramid`` items (B, T, 3, h_i, w_i), target (B, T, 3, H, W).

    With ``motion_weight`` > 0 the L1 of each pixel is weighted by ``1 + motion_weight * |target - previous|``
    (channel max, in [0, 2]), the motion-weighted variant of the reconstruction loss: small moving objects (the
    paddle, the ball) then count as much as the static background.
    """
    l1, dssim = [], []
    flat_target = target.flatten(0, 1)
    weight = None
    if motion_weight > 0 and previous is not None:
        weight = 1 + motion_weight * (target - previous).abs().amax(dim=2, keepdim=True).flatten(0, 1)  # (N, 1, H, W)
    for generated in pyramid:
        flat = generated.flatten(0, 1)
        reference = resize_like(flat_target, flat)
        error = (flat - reference).abs()
        if weight is not None:
            w = F.adaptive_max_pool2d(weight, flat.shape[-2:]) if weight.shape[-2:] != flat.shape[-2:] else weight
            error = error * w / w.mean(dim=(2, 3), keepdim=True)
        l1.append(error.mean())
        dssim.append(1 - ssim((flat + 1) / 2, (reference + 1) / 2, data_range=1.0))
    return torch.stack(l1).mean(), torch.stack(dssim).mean()


def gaussian_kl_standard(mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, variance) || N(0, I)) summed over the last dim, mean over the rest."""
    variance = variance.clamp_min(1e-6)
    return (0.5 * (variance + mean**2 - 1 - variance.log())).sum(-1).mean()


def gaussian_kl(mean_p, var_p, mean_q, var_q) -> torch.Tensor:
    """KL(N(mean_p, var_p) || N(mean_q, var_q)), summed over the last dim, mean over the rest."""
    var_p = var_p.clamp_min(1e-6)
    kl = 0.5 * (var_q.log() - var_p.log() + (var_p + (mean_p - mean_q) ** 2) / var_q - 1)
    return kl.sum(-1).mean()


class MutualInformation(nn.Module):
    """-MI between the action distributions inferred from real (p) and generated (q) frames.

    Joint P = mean_i p_i q_i^T, symmetrised and normalised; with ``smoothing`` > 0 the loss is computed on an EMA
    of P (initialised uniform 1/A^2), whose detached value is kept as a buffer.
    """

    def __init__(self, num_actions: int, smoothing: float, entropy_weight: float = 1.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.smoothing = smoothing
        self.entropy_weight = entropy_weight
        self.eps = eps
        self.register_buffer("estimated_matrix", torch.full((num_actions, num_actions), 1.0 / num_actions**2))

    def forward(self, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """p, q: (N, A) probabilities."""
        joint = p.t() @ q / p.shape[0]
        joint = (joint + joint.t()) / 2
        joint = joint / joint.sum()
        if self.smoothing > 0:
            joint = (1 - self.smoothing) * self.estimated_matrix + self.smoothing * joint
            if self.training:
                self.estimated_matrix.copy_(joint.detach())
        joint = joint.clamp_min(self.eps)
        p_i = joint.sum(1, keepdim=True)
        p_j = joint.sum(0, keepdim=True)
        mi = (joint * (joint.log() - self.entropy_weight * p_i.log() - self.entropy_weight * p_j.log())).sum()
        return -mi


def training_losses(
    model: PVGModel,
    unroll: Unroll,
    observations: torch.Tensor,
    rewards: torch.Tensor,
    dones: torch.Tensor,
    mutual_information: MutualInformation,
    *,
    pretraining: bool,
) -> dict[str, torch.Tensor]:
    """Weighted loss terms and their sum (``total``); observations (B, T, 3S, H, W), rewards/dones (B, T)."""
    c: PVGConfig = model.config
    target = observations[:, 1:, :3]  # frames 1..T-1, newest frame of each stack
    terms: dict[str, torch.Tensor] = {}
    act = unroll.actions
    terms["direction_kl"] = c.weight_direction_kl * gaussian_kl_standard(act.direction_mean, act.direction_variance)
    if pretraining:
        pyramid = model.pretrain_frames(unroll.states)
        frames = observations[:, :, :3]
        previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
        l1, dssim = image_losses(pyramid, frames, previous, c.motion_weight)
        target_hidden = model.state_to_hidden_state_layer(unroll.states[:, 1:].flatten(0, 1)).detach()
        terms["pretrain_hidden"] = c.weight_pretrain_hidden * F.mse_loss(unroll.hidden.flatten(0, 1), target_hidden)
    else:
        l1, dssim = image_losses(unroll.frames, target, observations[:, :-1, :3], c.motion_weight)
        terms["state_reconstruction"] = c.weight_state_reconstruction * F.mse_loss(
            unroll.reconstructed_states, unroll.states[:, 1:].detach()
        )
        rec = unroll.reconstructed_actions
        if c.weight_mutual_information > 0:
            p = torch.softmax(act.logits, -1).flatten(0, 1)
            q = torch.softmax(rec.logits, -1).flatten(0, 1)
            terms["mutual_information"] = c.weight_mutual_information * mutual_information(p, q)
        if c.weight_action_state_kl > 0:
            terms["action_state_kl"] = c.weight_action_state_kl * gaussian_kl(
                rec.frame_mean, rec.frame_variance, act.frame_mean.detach(), act.frame_variance.detach().clamp_min(0.05)
            )
    terms["reconstruction"] = c.weight_reconstruction * l1
    terms["ssim"] = c.weight_ssim * dssim
    # Heads read detached dynamics features: they learn from the video model without steering it.
    features = unroll.hidden.detach().flatten(0, 1)
    reward_pred = model.reward_head(features)
    terms["reward"] = c.weight_reward * F.mse_loss(reward_pred, rewards[:, 1:].flatten().float())
    term_logit = model.termination_head(features)
    pos_weight = torch.tensor(c.termination_pos_weight, device=term_logit.device)
    terms["termination"] = c.weight_termination * F.binary_cross_entropy_with_logits(
        term_logit, dones[:, 1:].flatten().float(), pos_weight=pos_weight
    )
    terms["total"] = sum(terms.values())
    return terms
