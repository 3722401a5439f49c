"""The official-checkpoint converter, tested with state dicts built from the key/shape table of ``pvg.md`` §14."""

from __future__ import annotations

import pytest
import torch
from tensordict import TensorDict

from world_models.core.checkpoint import CONVERTERS, load_foreign, load_state_dict_strict
from world_models.pvg.convert import config_from_official, convert_official, load_official
from world_models.pvg.model import PVGModel

# dataset -> (Hd, A, D, S, (h, w), renderer widths)
DATASETS = {
    "bair": (128, 7, 2, 1, (32, 32), (128, 64, 32)),
    "breakout": (64, 3, 1, 1, (26, 20), (64, 32, 16)),
    "tennis": (128, 7, 5, 4, (12, 32), (128, 64, 32)),
}


def bn(prefix: str, channels: int) -> dict[str, tuple]:
    return {f"{prefix}.{k}": (channels,) for k in ("weight", "bias", "running_mean", "running_var")} | {
        f"{prefix}.num_batches_tracked": ()
    }


def residual(prefix: str, cin: int, cout: int, downsample: bool) -> dict[str, tuple]:
    keys = {f"{prefix}.conv1.weight": (cout, cin, 3, 3), f"{prefix}.conv2.weight": (cout, cout, 3, 3)}
    keys |= bn(f"{prefix}.bn1", cout) | bn(f"{prefix}.bn2", cout)
    if downsample:
        keys |= {f"{prefix}.downsample.0.weight": (cout, cin, 1, 1)} | bn(f"{prefix}.downsample.2", cout)
    return keys


def official_shapes(dataset: str) -> dict[str, tuple]:
    """Every key and shape of the official ``model`` state dict, written from the design note's table."""
    hd, a, d, s, (h, w), (r0, r1, r2) = DATASETS[dataset]
    keys = {"state_to_hidden_state_layer.0.weight": (hd, 64, 3, 3), "state_to_hidden_state_layer.0.bias": (hd,)}
    keys |= residual("action_network.0.residuals.0", 64, 128, True) | residual("action_network.0.residuals.1", 128, 128, False)
    for fc in ("mean_fc", "variance_fc"):
        keys |= {f"action_network.0.{fc}.weight": (d, 128), f"action_network.0.{fc}.bias": (d,)}
    keys |= {"action_network.0.final_fc.weight": (a, d), "action_network.0.final_fc.bias": (a,)}
    aux = a + d
    levels = [(64 + aux, hd, (h, w)), (2 * hd + aux, 2 * hd, (h // 2, w // 2)), (hd + aux, hd, (h, w))]
    for i, (cin, cout, res) in enumerate(levels):
        p = f"dynamics_network.recurrent_layers_blocks.{i}"
        for gate in ("input_gate", "forget_gate", "output_gate", "cell_gate"):
            keys |= {f"{p}.0.cell.{gate}.weight": (cout, cin + cout, 3, 3), f"{p}.0.cell.{gate}.bias": (cout,)}
        keys |= {f"{p}.0.initial_hidden_state": (cout, *res), f"{p}.0.initial_hidden_cell_state": (cout, *res)}
        keys |= bn(f"{p}.1", cout)
    keys |= {"dynamics_network.non_recurrent_blocks.0.conv1.weight": (2 * hd, hd + aux, 3, 3)}
    keys |= bn("dynamics_network.non_recurrent_blocks.0.bn1", 2 * hd)
    keys |= {"dynamics_network.non_recurrent_blocks.1.conv.weight": (hd, 2 * hd + aux, 3, 3)}
    keys |= bn("dynamics_network.non_recurrent_blocks.1.norm", hd)
    keys |= {"dynamics_network.non_recurrent_blocks.2.conv1.weight": (hd, hd + aux, 3, 3)}
    keys |= bn("dynamics_network.non_recurrent_blocks.2.bn1", hd)
    keys |= {"representation_network.conv1.weight": (16, 3 * s, 3, 3)} | bn("representation_network.bn1", 16)
    for i, (cin, cout) in enumerate([(16, 16), (16, 32), (32, 32), (32, 64), (64, 64), (64, 65)]):
        keys |= residual(f"representation_network.residuals.{i}", cin, cout, cin != cout)
    keys |= {"rendering_network.upsample_blocks.0.0.conv.weight": (r0, hd, 3, 3)} | bn("rendering_network.upsample_blocks.0.0.norm", r0)
    keys |= residual("rendering_network.upsample_blocks.0.1", r0, r0, False)
    keys |= {"rendering_network.upsample_blocks.1.0.conv.weight": (r1, r0, 3, 3)} | bn("rendering_network.upsample_blocks.1.0.norm", r1)
    keys |= residual("rendering_network.upsample_blocks.1.1", r1, r1, False)
    keys |= {"rendering_network.upsample_blocks.2.conv.weight": (r2, r1, 3, 3)} | bn("rendering_network.upsample_blocks.2.norm", r2)
    for i, (cin, k) in enumerate([(r0, 3), (r1, 3), (r2, 7)]):
        keys |= {f"rendering_network.final_blocks.{i}.conv.weight": (3, cin, k, k), f"rendering_network.final_blocks.{i}.conv.bias": (3,)}
    keys |= {"centroid_estimator.estimated_centroids": (a, d)}
    return keys


def synthetic_checkpoint(dataset: str) -> dict:
    g = torch.Generator().manual_seed(0)
    model = {}
    for key, shape in official_shapes(dataset).items():
        if key.endswith("num_batches_tracked"):
            model[key] = torch.tensor(1000, dtype=torch.int64)
        elif key.endswith("running_var"):
            model[key] = torch.rand(shape, generator=g) + 0.5
        else:
            model[key] = torch.randn(shape, generator=g) * 0.05
    return {"model": model, "step": 300_000, "mi_estimator": {"matrix_estimator.estimated_matrix": torch.eye(3)}}


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_convert_strict_load_and_forward(dataset, tmp_path):
    raw = synthetic_checkpoint(dataset)
    assert len(raw["model"]) == 246
    config = config_from_official(raw)
    model = PVGModel(config).eval()
    converted = convert_official(raw)
    load_state_dict_strict(model, converted, dataset)  # strict: every key present, every shape equal
    # Fused gates keep the official order input, forget, output, cell.
    gates = model.dynamics_network.recurrent_layers_blocks[1].lstm.cell.gates.weight
    cout = gates.shape[0] // 4
    for i, gate in enumerate(("input_gate", "forget_gate", "output_gate", "cell_gate")):
        official = raw["model"][f"dynamics_network.recurrent_layers_blocks.1.0.cell.{gate}.weight"]
        assert torch.equal(gates[i * cout : (i + 1) * cout], official)
    frames = torch.randint(0, 255, (2, config.height, config.width, 3), dtype=torch.uint8)
    state = model.initial_state(2, generator=torch.Generator(), context=TensorDict({"frames": frames}, batch_size=[2]))
    with torch.no_grad():
        state, aux = model.step(state, torch.tensor([[0], [config.num_actions - 1]]), generator=torch.Generator())
    assert model.render(state).shape == (2, config.height, config.width, 3)
    assert torch.isfinite(state["observation"]).all() and not aux["terminated"].any()
    # The same file through the registered converter and the one-call loader (weights_only=True).
    path = tmp_path / "latest.pth.tar"
    torch.save(raw, path)
    assert "pvg_official" in CONVERTERS and set(load_foreign(path, "pvg_official")) == set(converted)
    assert load_official(path).config.num_actions == config.num_actions
