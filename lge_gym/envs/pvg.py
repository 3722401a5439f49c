"""PVG environments: games learned, without action labels, by Playable Video Generation (PVG/CADDY).

PVG-Breakout-v0 (real ALE Breakout video) and PVG-Tennis-v0 (tennis engine broadcast video, near half of the court)
share the task and environment classes below; a game only brings its shipped checkpoint, its movements and their
keys.
"""

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

GAMES: dict[str, dict[str, Any]] = {
    "breakout": {
        "shipped": "pvg_breakout_small",
        "preset": "small",
        "keys": {"left": ("left", "a"), "right": ("right", "d"), "stay": ("down", "s")},
        # Action meanings of the published Breakout checkpoint; used when a checkpoint stores no keymap.
        "published": {"stay": 0, "left": 1, "right": 2},
    },
    "tennis": {
        "shipped": "pvg_tennis_small",
        "preset": "small_tennis",
        "keys": {"left": ("left", "a"), "right": ("right", "d"), "forward": ("up", "w"), "backward": ("down", "s"),
                 "stay": ("space",)},  # fmt: skip
        # Published Tennis meanings (pvg.md section 12; 0 and 4 are hitting motions).
        "published": {"forward": 1, "backward": 2, "right": 3, "stay": 5, "left": 6},
    },
}
"""game -> shipped checkpoint, preset of random models, pygame keys per movement, fallback movements."""
SHIPPED = GAMES["breakout"]["shipped"]
MOVEMENT_KEYS = GAMES["breakout"]["keys"]
"""pygame key names for each paddle movement (Breakout)."""
PUBLISHED_MOVEMENTS = GAMES["breakout"]["published"]
"""Action meanings of the published Breakout checkpoint; used when a checkpoint stores no keymap."""


def _game(game: str) -> dict[str, Any]:
    if game not in GAMES:
        raise ValueError(f"unknown PVG game {game!r}; known: {sorted(GAMES)}")
    return GAMES[game]


def keymap_from_movements(movements: dict[str, int], game: str = "breakout") -> dict[str, int]:
    """{"left": k, "right": k, ...} -> pygame key name -> learned action, with the keys of ``game``."""
    keys = _game(game)["keys"]
    return {key: int(movements[m]) for m, names in keys.items() if m in movements for key in names}


def shipped_keymap(game: str = "breakout") -> dict[str, int]:
    """The keymap stored with the shipped checkpoint of ``game`` (its JSON sidecar), else the published meanings."""
    from world_models.zoo import CHECKPOINT_DIR

    sidecar = CHECKPOINT_DIR / f"{_game(game)['shipped']}.json"
    try:
        movements = json.loads(sidecar.read_text())["info"]["keymap"]
    except (OSError, KeyError, ValueError):
        movements = _game(game)["published"]
    return keymap_from_movements(movements, game)


KEYMAP: dict[str, int] = shipped_keymap("breakout")
"""pygame key name -> learned action of the shipped Breakout checkpoint (left/a, right/d, down/s)."""


class PVGTask(Task):
    """Starts from held-out real frames shipped with the checkpoint or from ``options["frame"]``; predicted reward
    and termination; RGB observations at the model's resolution."""

    def __init__(self, model: WorldModel, header: dict[str, Any], extras: dict[str, torch.Tensor],
                 game: str = "breakout") -> None:  # fmt: skip
        super().__init__(model, obs_type="image")
        if "start_frames" in extras:
            model.set_start_frames(extras["start_frames"])
        movements = header.get("info", {}).get("keymap") or _game(game)["published"]
        self.movements = {m: int(k) for m, k in movements.items() if int(k) < model.action_spec.num_actions}
        self.keymap = keymap_from_movements(self.movements, game)

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


def _task(checkpoint: Any, preset: str, device: str, game: str = "breakout") -> PVGTask:
    model, header, extras = resolve_model("pvg", checkpoint, preset=preset, device=device)
    return PVGTask(model, header, extras, game)


class PVGEnv(WorldModelEnv):
    """A game generated frame by frame by a PVG model; subclasses name the game (see `PVGBreakoutEnv`)."""

    game = "breakout"
    env_id = "PVG-Breakout-v0"

    def __init__(
        self,
        render_mode: str | None = None,
        checkpoint: Any = "shipped",
        preset: str | None = None,
        device: str = "auto",
        obs_type: ObsType = "image",
    ) -> None:
        if obs_type != "image":
            raise ValueError(f"{self.env_id} has image observations only (PVG has no object-state vector)")
        game = _game(self.game)
        checkpoint = game["shipped"] if checkpoint == "shipped" else checkpoint
        task = _task(checkpoint, preset or game["preset"], device, self.game)
        super().__init__(task, render_mode=render_mode)
        self.keymap = task.keymap
        self.movements = task.movements


class PVGVectorEnv(WorldModelVectorEnv):
    """Natively batched `PVGEnv`: one forward pass steps every environment."""

    game = "breakout"
    env_id = "PVG-Breakout-v0"

    def __init__(
        self,
        num_envs: int = 1,
        checkpoint: Any = "shipped",
        preset: str | None = None,
        device: str = "auto",
        max_episode_steps: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        obs_type: ObsType = "image",
    ) -> None:
        if obs_type != "image":
            raise ValueError(f"{self.env_id} has image observations only (PVG has no object-state vector)")
        game = _game(self.game)
        checkpoint = game["shipped"] if checkpoint == "shipped" else checkpoint
        task = _task(checkpoint, preset or game["preset"], device, self.game)
        super().__init__(
            task, num_envs, max_episode_steps=max_episode_steps, autoreset_mode=autoreset_mode, render_mode=render_mode
        )
        self.keymap = task.keymap
        self.movements = task.movements


class PVGBreakoutEnv(PVGEnv):
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
    `render_mode` ("human" or "rgb_array"), `checkpoint` (default ``"shipped"``: ``pvg_breakout_small``; a path; or None
    for a random model of `preset`), `preset` (with ``checkpoint=None``; default ``small``), `device` ("auto": the GPU
    when there is one).

    ## Version history
    v0: initial version (small preset trained on CPU).
    """
    game = "breakout"
    env_id = "PVG-Breakout-v0"


class PVGBreakoutVectorEnv(PVGVectorEnv):
    """Natively batched PVG-Breakout-v0 (see `PVGBreakoutEnv`): one forward pass steps every environment."""

    game = "breakout"
    env_id = "PVG-Breakout-v0"


class PVGTennisEnv(PVGEnv):
    """PVG-Tennis-v0: the near half of a tennis court, generated frame by frame by a PVG model.

    ## Description
    A PVG (Playable Video Generation, Menapace et al. 2021; the CADDY model) world model learned, as in the paper's
    Tennis setup, from unlabeled broadcast video cropped at the net to the near half of the court: here points of the
    suite's tennis engine filmed by its fixed broadcast camera (`python -m world_models data tennis-pvg`), one frame
    every 5th engine frame (5 fps), 4 frames per observation. It discovered 7 discrete actions without labels;
    evaluation graded them against the engine's true displacement of the near player and matched them to movements
    (left, right, forward, backward, stay). See ``docs/pvg.md`` for how it was trained and how well.

    ## Action space
    `Discrete(7)` learned actions. Which one moves the player left, right, forward (towards the net), backward or
    keeps him still is in `env.unwrapped.movements` and, as pygame keys, `env.unwrapped.keymap` (left/a, right/d,
    up/w, down/s, space).

    ## Observation space
    `Box(0, 255, (H, W, 3), uint8)` at the model's resolution (shipped: 48 x 128, the paper's 96 x 256 halved).

    ## Rewards
    The model's reward head, regressed on the point's outcome for the near player (+1 won, -1 lost, on the last
    frame of a point); a small CPU model rarely predicts it.

    ## Starting state
    A held-out real frame shipped with the checkpoint (repeated to fill the 4-frame stack), drawn with the generator
    seeded by `reset(seed=...)`, or the RGB image given as ``reset(options={"frame": image})`` (any size; resized
    to the model's; repeated to fill the stack).

    ## Episode end
    Termination when the termination head predicts the end of the point; truncation after `max_episode_steps` (250
    when made with `gymnasium.make`, 50 s at 5 fps).

    ## Arguments
    `render_mode` ("human" or "rgb_array"), `checkpoint` (default ``"shipped"``: ``pvg_tennis_small``; a path; or None
    for a random model of `preset`), `preset` (with ``checkpoint=None``; default ``small_tennis``), `device` ("auto":
    the GPU when there is one).

    ## Version history
    v0: initial version (small_tennis preset trained on CPU).
    """

    game = "tennis"
    env_id = "PVG-Tennis-v0"


class PVGTennisVectorEnv(PVGVectorEnv):
    """Natively batched PVG-Tennis-v0 (see `PVGTennisEnv`): one forward pass steps every environment."""

    game = "tennis"
    env_id = "PVG-Tennis-v0"
