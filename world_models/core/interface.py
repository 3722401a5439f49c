"""The one interface every world model implements.

A world model is a batched, device-resident module. Environments (`lge_gym`) hold a model plus a task; planners
(`agents`) roll it forward without an environment. The contract:

- ``initial_state(batch, generator=..., context=None)`` returns a `TensorDict` with ``batch_size=[batch]``.
- ``step(state, action, generator=...)`` returns ``(next_state, aux)``; ``aux`` is a `TensorDict` of per-row
  outputs with at least ``reward`` (float, ``(B,)``) and ``terminated`` (bool, ``(B,)``).
- ``render(state, camera=None)`` returns uint8 frames ``(B, H, W, 3)``.

Every random draw uses the generator passed in, so a seeded generator reproduces a rollout exactly.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from tensordict import TensorDict
from torch import nn


@dataclass(frozen=True)
class ActionSpec:
    """What one step of the model takes as action, per batch row.

    ``kind`` is ``"discrete"`` (an int64 tensor ``(B, num_players)`` of indices below ``num_actions``) or
    ``"continuous"`` (a float tensor ``(B, num_players, dim)``) or ``"text"`` (strings encoded by the model).
    """

    kind: str
    num_players: int = 1
    num_actions: int = 0
    dim: int = 0
    player_names: tuple[str, ...] = ("player_0",)
    action_names: tuple[str, ...] = ()


class WorldModel(nn.Module, abc.ABC):
    """Base class of every learned world model in the suite (see module docstring for the contract)."""

    family: ClassVar[str] = ""
    fps: ClassVar[float] = 15.0

    config: Any

    @property
    @abc.abstractmethod
    def action_spec(self) -> ActionSpec:
        """The action format `step` accepts."""

    @property
    @abc.abstractmethod
    def frame_shape(self) -> tuple[int, int]:
        """(H, W) of the frames `render` returns."""

    @property
    def state_dim(self) -> int | None:
        """Length of `state_vector`, or None where the model has no object-state vector (e.g. PVG)."""
        return None

    @property
    def device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        for tensor in self.buffers():
            return tensor.device
        return torch.device("cpu")

    @abc.abstractmethod
    def initial_state(
        self, batch: int, *, generator: torch.Generator, context: TensorDict | None = None
    ) -> TensorDict:
        """A starting state for each of ``batch`` rows, drawn with ``generator``."""

    @abc.abstractmethod
    def step(
        self, state: TensorDict, action: torch.Tensor, *, generator: torch.Generator
    ) -> tuple[TensorDict, TensorDict]:
        """Advance every row one step; returns ``(next_state, aux)`` with aux ``reward`` and ``terminated``."""

    @abc.abstractmethod
    def render(self, state: TensorDict, camera: torch.Tensor | None = None) -> torch.Tensor:
        """uint8 frames ``(B, H, W, 3)`` of ``state``, seen from ``camera`` where the model has one."""

    def state_vector(self, state: TensorDict) -> torch.Tensor:
        """float32 ``(B, state_dim)`` object-state features of ``state``."""
        raise NotImplementedError(f"{type(self).__name__} has no object-state vector observation")

    def extras(self) -> dict[str, torch.Tensor]:
        """Tensors shipped beside the weights (e.g. held-out start frames); saved as checkpoint extras."""
        return {}

    def load_extras(self, extras: dict[str, torch.Tensor]) -> None:
        """Receive the extras of a loaded checkpoint."""
