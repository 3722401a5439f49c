"""PVG-Breakout-v0: Atari Breakout as learned, without action labels, by Playable Video Generation (PVG/CADDY)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from tensordict import TensorDict

from lge_gym.envs.models import resolve_model
from lge_gym.envs.world_model_env import ObsType, Task, WorldModelEnv, WorldModelVectorEnv
from world_models.core.interface import WorldModel

SHIPPED = "pvg_breakout_small"
MOVEMENT_KEYS = {"left": ("left", "a"), "right": ("right", "d"), "stay": ("down", "s")}
"""pygame key names for each paddle movement."""
PUBLISHED_MOVEMENTS = {"stay": 0, "left": 1, "right": 2}
"""Action meanings of the published Breakout checkpoint; used when a checkpoint stores no keymap."""


def keymap_from_movements(movements: dict[str, int]) -> dict[str, int]:
    """{"left": k, "right": k, "stay": k} -> pygame key name -> learned action."""
    return {key: int(movements[m]) for m, keys in MOVEMENT_KEYS.items() if m in movements for key in keys}


def _shipped_keymap() -> dict[str, int]:
    """The keymap stored with the shipped checkpoint (its JSON sidecar), else the published meanings."""
    from world_models.zoo import CHECKPOINT_DIR

    sidecar = CHECKPOINT_DIR / f"{SHIPPED}.json"
    try:
        movements = json.loads(sidecar.read_text())["info"]["keymap"]
    except (OSError, KeyError, ValueError):
        movements = PUBLISHED_MOVEMENTS
    return keymap_from_movements(movements)


KEYMAP: dict[str, int] = _shipped_keymap()
"""pygame key name -> learned action of the shipped checkpoint (left/a, right/d, down/s)."""


class PVGTask(Task):
    """Starts from held-out real frames shipped with the checkpoint or from ``options["frame"]``; predicted reward
    and termination; RGB observations at the model's resolution."""

    def __init__(self, model: WorldModel, header: dict[str, Any], extras: dict[str, torch.Tensor]) -> None:
        super().__init__(model, obs_type="image")
        if "start_frames" in extras:
            model.set_start_frames(extras["start_frames"])
        movements = header.get("info", {}).get("keymap") or PUBLISHED_MOVEMENTS
        self.movements = {m: int(k) for m, k in movements.items() if int(k) < model.action_spec.num_actions}
        self.keymap = keymap_from_movements(self.movements)

    def initial_state(self, batch: int, generator: torch.Generator, options: dict[str, Any] | None) -> TensorDict:
        options = options or {}
        frame = options.get("frame", options.get("frames"))
        if frame is None:
            return self.model.initial_state(batch, generator=generator)
        frames = torch.as_tensor(np.asarray(frame, dtype=np.uint8))
        if frames.dim() == 3:
            frames = frames.unsqueeze(0)
        if frames.dim() != 4 or frames.shape[-1] != 3:
            raise ValueError(f"options['frame'] must be an RGB uint8 image (H, W, 3), got shape {tuple(frames.shape)}")
        frames = frames.expand(batch, *frames.shape[1:]) if len(frames) == 1 else frames[:batch]
        return self.model.initial_state(batch, generator=generator, context=TensorDict({"frames": frames}, batch_size=[batch]))


def _task(checkpoint: Any, preset: str, device: str) -> PVGTask:
    model, header, extras = resolve_model("pvg", checkpoint, preset=preset, device=device)
    return PVGTask(model, header, extras)


class PVGBreakoutEnv(WorldModelEnv):
    """PVG-Breakout-v0: Atari Breakout generated frame by frame by a PVG model trained on real ALE videos.

    ## Description
    A PVG (Playable Video Generation, Menapace et al. 2021; the CADDY model) world model learned from unlabeled
    videos of Breakout recorded from the Arcade Learning Environment (frameskip 4). It discovered its own discrete
    actions without ever seeing the true ones; evaluation matched them to paddle movements (left, right, stay).
    Each step encodes the current frame, advances the ConvLSTM dynamics with the chosen learned action (zero
    action variability) and renders the next frame. See ``docs/pvg.md`` for how it was trained and how well.

    ## Action space
    `Discrete(K)` learned actions (K = 3 for the shipped model). Which one moves the paddle left, right or keeps it
    still is in `env.unwrapped.movements` and, as pygame keys, `env.unwrapped.keymap` (left/a, right/d, down/s).

    ## Observation space
    `Box(0, 255, (H, W, 3), uint8)` at the model's resolution (shipped: 104 x 80).

    ## Rewards
    The model's reward head (regressed on ALE rewards: 1, 4 or 7 per brick) on each predicted transition.

    ## Starting state
    A held-out real frame shipped with the checkpoint, drawn with the generator seeded by `reset(seed=...)`, or
    the RGB image given as ``reset(options={"frame": image})`` (any size; resized to the model's).

    ## Episode end
    Termination when the termination head predicts a game over with probability > 0.5; truncation after
    `max_episode_steps` (1000 when made with `gymnasium.make`).

    ## Arguments
    `render_mode` ("human" or "rgb_array"), `checkpoint` (default: the shipped ``pvg_breakout_small``; a path;
    or None for a random model of `preset`), `preset` (with ``checkpoint=None``), `device`.

    ## Version history
    v0: initial version (small preset trained on CPU).
    """

    def __init__(
        self,
        render_mode: str | None = None,
        checkpoint: Any = SHIPPED,
        preset: str = "small",
        device: str = "cpu",
        obs_type: ObsType = "image",
    ) -> None:
        if obs_type != "image":
            raise ValueError("PVG-Breakout-v0 has image observations only (PVG has no object-state vector)")
        task = _task(checkpoint, preset, device)
        super().__init__(task, render_mode=render_mode)
        self.keymap = task.keymap
        self.movements = task.movements


class PVGBreakoutVectorEnv(WorldModelVectorEnv):
    """Natively batched PVG-Breakout-v0 (see `PVGBreakoutEnv`): one forward pass steps every environment."""

    def __init__(
        self,
        num_envs: int = 1,
        checkpoint: Any = SHIPPED,
        preset: str = "small",
        device: str = "cpu",
        max_episode_steps: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        obs_type: ObsType = "image",
    ) -> None:
        if obs_type != "image":
            raise ValueError("PVG-Breakout-v0 has image observations only (PVG has no object-state vector)")
        task = _task(checkpoint, preset, device)
        super().__init__(
            task, num_envs, max_episode_steps=max_episode_steps, autoreset_mode=autoreset_mode, render_mode=render_mode
        )
        self.keymap = task.keymap
        self.movements = task.movements
