"""Official CADDY checkpoints (``latest.pth.tar`` of the PVG repository) to this implementation.

The official ``model`` state dict has 246 entries (design note ``pvg.md`` section 14). Differences mapped here:

- the four ConvLSTM gate convs ``cell.{input,forget,output,cell}_gate`` become one fused ``cell.gates`` conv
  (concatenated on the output dimension in the order input, forget, output, cell);
- ``recurrent_layers_blocks.i.0`` / ``.1`` (ConvLSTM, BatchNorm) become ``.lstm`` / ``.norm``;
- ``action_network.0.`` (a one-member ensemble) becomes ``action_network.``;
- ``state_to_hidden_state_layer.0.`` (a one-layer Sequential) becomes ``state_to_hidden_state_layer.``;
- the reward and termination heads, which the official model lacks, are added with zero weights: reward 0 and a
  termination logit of -10 (never terminates) until they are trained.

Use: ``model = load_official("latest.pth.tar")`` (reads with ``torch.load(weights_only=True)``), or
``world_models.core.checkpoint.load_foreign(path, "pvg_official")`` for the state dict alone.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import torch

from world_models.core.checkpoint import CheckpointError, load_state_dict_strict, register_converter
from world_models.pvg.config import PVGConfig
from world_models.pvg.model import PVGModel

GATES = ("input_gate", "forget_gate", "output_gate", "cell_gate")
OFFICIAL_ENTRIES = 246
HEAD_HIDDEN = 64


def official_state_dict(raw: Any) -> dict[str, torch.Tensor]:
    """The ``model`` state dict of a loaded official checkpoint (or the state dict itself), ``module.`` stripped."""
    if isinstance(raw, dict) and "model" in raw and isinstance(raw["model"], dict):
        raw = raw["model"]
    if not isinstance(raw, dict):
        raise CheckpointError(f"expected an official PVG checkpoint dict, got {type(raw).__name__}")
    return {k.removeprefix("module."): v for k, v in raw.items()}


def convert_official(raw: Any, head_hidden: int = HEAD_HIDDEN) -> dict[str, torch.Tensor]:
    """Map an official CADDY checkpoint (as `torch.load` returns it) onto `PVGModel`'s state dict."""
    official = official_state_dict(raw)
    if "state_to_hidden_state_layer.0.weight" not in official:
        raise CheckpointError("not an official PVG/CADDY checkpoint: no state_to_hidden_state_layer.0.weight")
    out: dict[str, torch.Tensor] = {}
    gate_parts: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    gate_key = re.compile(r"^(dynamics_network\.recurrent_layers_blocks\.\d+)\.0\.cell\.(\w+_gate)\.(weight|bias)$")
    for key, value in official.items():
        match = gate_key.match(key)
        if match:
            prefix, gate, kind = match.groups()
            gate_parts.setdefault((prefix, kind), {})[gate] = value
            continue
        new = key
        new = re.sub(r"^(dynamics_network\.recurrent_layers_blocks\.\d+)\.0\.", r"\1.lstm.", new)
        new = re.sub(r"^(dynamics_network\.recurrent_layers_blocks\.\d+)\.1\.", r"\1.norm.", new)
        new = re.sub(r"^action_network\.0\.", "action_network.", new)
        new = re.sub(r"^state_to_hidden_state_layer\.0\.", "state_to_hidden_state_layer.", new)
        out[new] = value
    for (prefix, kind), parts in gate_parts.items():
        missing = [g for g in GATES if g not in parts]
        if missing:
            raise CheckpointError(f"{prefix}: missing ConvLSTM gate(s) {missing}")
        out[f"{prefix}.lstm.cell.gates.{kind}"] = torch.cat([parts[g] for g in GATES], dim=0)
    hidden = out["state_to_hidden_state_layer.weight"].shape[0]
    dtype = out["state_to_hidden_state_layer.weight"].dtype
    for head in ("reward_head", "termination_head"):
        out[f"{head}.net.0.weight"] = torch.zeros(head_hidden, hidden, dtype=dtype)
        out[f"{head}.net.0.bias"] = torch.zeros(head_hidden, dtype=dtype)
        out[f"{head}.net.2.weight"] = torch.zeros(1, head_hidden, dtype=dtype)
        out[f"{head}.net.2.bias"] = torch.full((1,), -10.0 if head == "termination_head" else 0.0, dtype=dtype)
    return out


register_converter("pvg_official", convert_official)


def config_from_official(raw: Any, **overrides: Any) -> PVGConfig:
    """A `PVGConfig` whose sizes match an official checkpoint (read from its shapes); other fields from the
    published preset of the same size (Breakout, BAIR or Tennis) when one matches, else the defaults."""
    from world_models.zoo import PRESETS

    sd = official_state_dict(raw)
    lstm0 = sd["dynamics_network.recurrent_layers_blocks.0.0.initial_hidden_state"]
    final_fc = sd["action_network.0.final_fc.weight"]
    sizes = {
        "height": lstm0.shape[1] * 8,
        "width": lstm0.shape[2] * 8,
        "frames_per_observation": sd["representation_network.conv1.weight"].shape[1] // 3,
        "num_actions": final_fc.shape[0],
        "action_space_dim": final_fc.shape[1],
        "dynamics_hidden": lstm0.shape[0],
        "state_channels": sd["state_to_hidden_state_layer.0.weight"].shape[1],
        "renderer_channels": tuple(sd[f"rendering_network.final_blocks.{i}.conv.weight"].shape[1] for i in range(3)),
        "encoder_channels": tuple(
            sd[f"representation_network.residuals.{i}.conv1.weight"].shape[0] for i in (0, 2, 4)
        ),
        "action_hidden": sd["action_network.0.mean_fc.weight"].shape[1],
        "head_hidden": HEAD_HIDDEN,
    }
    base = PVGConfig()
    for name in ("paper", "paper_bair", "paper_tennis"):
        candidate = PRESETS["pvg"][name]
        if all(getattr(candidate, k) == v for k, v in sizes.items() if k != "head_hidden"):
            base = candidate
            break
    return dataclasses.replace(base, **sizes, **overrides)


def load_official(path: str | os.PathLike, *, device: str | torch.device = "cpu", **overrides: Any) -> PVGModel:
    """An official CADDY checkpoint as a `PVGModel` in eval mode (read with ``weights_only=True``)."""
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise CheckpointError(f"checkpoint not found: {path}") from error
    entries = len(official_state_dict(raw))
    if entries != OFFICIAL_ENTRIES:
        raise CheckpointError(f"{path}: expected {OFFICIAL_ENTRIES} model entries, found {entries}")
    model = PVGModel(config_from_official(raw, **overrides))
    load_state_dict_strict(model, convert_official(raw), str(path))
    return model.to(device).eval()
