"""The parameter average that trainers export."""

import pytest
import torch

from world_models.core.ema import ParameterAverage


def test_average_follows_parameters_and_round_trips():
    module = torch.nn.Linear(3, 2)
    average = ParameterAverage(module, decay=0.9)
    start = module.weight.detach().clone()
    with torch.no_grad():
        module.weight.add_(1.0)
    for _ in range(200):
        average.update(module)
    copy = average.averaged_copy(module)
    assert torch.allclose(copy.weight, start + 1.0, atol=1e-4)  # converged to the (now constant) weights
    assert copy is not module and torch.equal(module.weight, start + 1.0)
    restored = ParameterAverage(torch.nn.Linear(3, 2), decay=0.5)
    restored.load_state_dict(average.state_dict())
    assert restored.decay == 0.9 and restored.updates == 200
    assert torch.equal(restored.average["weight"], average.average["weight"])


def test_average_lags_behind_a_moving_parameter():
    module = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        module.weight.zero_()
    average = ParameterAverage(module, decay=0.99)
    for _ in range(50):  # past the warm-up, the average trails the parameter
        with torch.no_grad():
            module.weight.add_(1.0)
        average.update(module)
    assert 0 < average.average["weight"].item() < module.weight.item()
    with pytest.raises(ValueError, match="decay"):
        ParameterAverage(module, decay=1.0)
