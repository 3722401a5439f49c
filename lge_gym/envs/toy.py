"""Toy-v0 and ToyDuel-v0: randomly initialised tiny world models for tests and examples.

They run every part of the environment layer (images, state vectors, two players, batching, resets) in
milliseconds. They are not trained and model no game; do not read anything into their dynamics or rewards.
"""

from __future__ import annotations

from typing import Any

from gymnasium.vector import AutoresetMode

from lge_gym.envs.models import resolve_model
from lge_gym.envs.world_model_env import (
    ObsType,
    Task,
    WorldModelEnv,
    WorldModelParallelEnv,
    WorldModelVectorEnv,
)


def _toy_task(obs_type: ObsType, preset: str, checkpoint: Any, device: str, controlled: tuple[int, ...]) -> Task:
    model, _, _ = resolve_model("toy", checkpoint, preset=preset, device=device)
    return Task(model, obs_type=obs_type, controlled=controlled)


class ToyEnv(WorldModelEnv):
    """A randomly initialised tiny world model (for tests and examples only).

    ## Description
    A GRU over a 16-d latent with a convolutional decoder to 32x32 frames; weights are drawn from a fixed seed,
    so every process builds the same model. It exercises the environment layer, nothing more.

    ## Action space
    `Discrete(4)`: four untrained action embeddings.

    ## Observation space
    `obs_type="image"`: `Box(0, 255, (32, 32, 3), uint8)`; `"state"`: the latent, `Box(-inf, inf, (16,), float32)`;
    `"both"`: a `Dict` of the two.

    ## Rewards
    The untrained reward head's prediction.

    ## Starting state
    A latent drawn from a standard normal with the generator seeded by `reset(seed=...)`.

    ## Episode end
    Termination is drawn from the untrained termination head (a few percent per step); truncation after 200 steps.

    ## Arguments
    `obs_type`, `render_mode`, `checkpoint` (None: random weights; or a toy checkpoint path), `preset`, `device`
    ("auto": the GPU when there is one).

    ## Version history
    v0: initial version.
    """

    def __init__(
        self,
        obs_type: ObsType = "image",
        render_mode: str | None = None,
        checkpoint: Any = None,
        preset: str = "tiny",
        device: str = "auto",
    ) -> None:
        super().__init__(_toy_task(obs_type, preset, checkpoint, device, (0,)), render_mode=render_mode)


class ToyVectorEnv(WorldModelVectorEnv):
    """Natively batched Toy-v0 (see `ToyEnv`)."""

    def __init__(
        self,
        num_envs: int = 1,
        obs_type: ObsType = "image",
        checkpoint: Any = None,
        preset: str = "tiny",
        device: str = "auto",
        max_episode_steps: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
    ) -> None:
        task = _toy_task(obs_type, preset, checkpoint, device, (0,))
        super().__init__(
            task, num_envs, max_episode_steps=max_episode_steps, autoreset_mode=autoreset_mode, render_mode=render_mode
        )


class ToyDuelEnv(ToyEnv):
    """ToyDuel-v0: the randomly initialised two-player toy model (for tests of the two-player plumbing only).

    ## Description
    The toy model of `ToyEnv` with two players. The agent is ``player_0``; ``player_1`` acts uniformly at random
    (in `ToyDuelParallelEnv` both are agents).

    ## Action space
    `Discrete(3)` per player.

    ## Observation space
    As `ToyEnv`: image `(32, 32, 3)` uint8, the 16-d latent, or both.

    ## Rewards
    The untrained reward head's prediction for ``player_0``; ``player_1`` gets its negative (zero-sum).

    ## Starting state
    A latent drawn from a standard normal with the generator seeded by `reset(seed=...)`.

    ## Episode end
    Drawn from the untrained termination head; truncation after 200 steps.

    ## Arguments
    `obs_type`, `render_mode`, `checkpoint`, `preset` (default ``"tiny2p"``), `device` ("auto": the GPU when there is
    one).

    ## Version history
    v0: initial version.
    """

    def __init__(
        self,
        obs_type: ObsType = "image",
        render_mode: str | None = None,
        checkpoint: Any = None,
        preset: str = "tiny2p",
        device: str = "auto",
    ) -> None:
        super().__init__(obs_type, render_mode, checkpoint, preset, device)


class ToyDuelVectorEnv(ToyVectorEnv):
    """Natively batched ToyDuel-v0."""

    def __init__(self, num_envs: int = 1, obs_type: ObsType = "image", preset: str = "tiny2p", **kwargs: Any) -> None:
        super().__init__(num_envs, obs_type, preset=preset, **kwargs)


class ToyDuelParallelEnv(WorldModelParallelEnv):
    """ToyDuel-v0 as a PettingZoo ParallelEnv: ``player_0`` and ``player_1`` are both agents."""

    metadata = dict(WorldModelParallelEnv.metadata, name="toy_duel_v0")

    def __init__(
        self,
        obs_type: ObsType = "image",
        render_mode: str | None = None,
        checkpoint: Any = None,
        preset: str = "tiny2p",
        device: str = "auto",
        max_episode_steps: int | None = 200,
    ) -> None:
        task = _toy_task(obs_type, preset, checkpoint, device, (0, 1))
        super().__init__(task, max_episode_steps=max_episode_steps, render_mode=render_mode)
