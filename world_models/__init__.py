"""PyTorch world models (PVG, PE, LGE), their training, checkpoints, model zoo and datasets.

Models here are batched, device-resident `torch.nn.Module`s that implement
`world_models.core.WorldModel`. They never touch pygame, files or the network, and take all randomness
from a `torch.Generator` passed in by the caller.
"""

from world_models.core.checkpoint import CheckpointError, save_checkpoint
from world_models.core.interface import WorldModel
from world_models.zoo import build_model, load_model, preset, save_model

__all__ = ["CheckpointError", "WorldModel", "build_model", "load_model", "preset", "save_checkpoint", "save_model"]
