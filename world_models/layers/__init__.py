"""Building blocks shared by the model families: convolutional blocks, ConvLSTM, Gumbel-softmax, SSIM."""

from world_models.layers.blocks import FinalBlock, ResidualBlock, SameBlock, UpBlock
from world_models.layers.convlstm import ConvLSTM, ConvLSTMCell
from world_models.layers.gumbel import gumbel_softmax
from world_models.layers.ssim import ssim

__all__ = [
    "ConvLSTM",
    "ConvLSTMCell",
    "FinalBlock",
    "ResidualBlock",
    "SameBlock",
    "UpBlock",
    "gumbel_softmax",
    "ssim",
]
