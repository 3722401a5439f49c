"""LGE-Tennis as a `WorldModel`: the animation model steps a batch of games frame by frame, generating a new window
of states only when a row runs out of frames or a player's text action changes, and renders states to images.

Rendering: the learned synthesis module (``world_models/render``, set with `set_renderer`) draws the generated
states, as in the paper; without one, the tennis engine's rasteriser draws them (exact pictures of those states).
"""

from __future__ import annotations

import numpy as np
import torch
from tensordict import TensorDict

from world_models.core.interface import ActionSpec, WorldModel
from world_models.engines.tennis import layout
from world_models.lge.config import LGEConfig
from world_models.lge.model import AnimationModel
from world_models.lge.objects import FEATURE_DIM, OBJECTS

HISTORY = 768
"""Frames of the current point kept in the state for the referee (30 s at 25 fps)."""


def start_states_of(data) -> torch.Tensor:
    """``(N, STATE_SIZE)`` first states of held-out sequences (the points' starting positions, styles, cameras)."""
    return torch.stack([s[0] for s in data.states])


class LGEWorldModel(WorldModel):
    """The animation model behind the `WorldModel` interface.

    Action: a `TensorDict` with ``text`` ``(B, 2, E)`` (each player's current text embedding, from the model's
    frozen text encoder) and ``text_on`` ``(B, 2)`` bool. State: ``window`` ``(B, W, S)`` generated flat states,
    ``cursor`` ``(B,)`` index of the current frame in the window, the current ``text``/``text_on``, and the point's
    ``history`` ``(B, HISTORY, S)`` with its ``length``.
    """

    family = "lge"

    def __init__(self, config: LGEConfig, *, height: int = 144, width: int = 256) -> None:
        super().__init__()
        self.config = config
        self.fps = 25.0 / config.frame_stride
        self.animation = AnimationModel(config)
        self._height, self._width = height, width
        self.start_states = torch.zeros(0, layout.STATE_SIZE)
        self._renderers: dict[bytes, object] = {}
        # The synthesis module is its own checkpoint: kept out of this module's state dict (a plain attribute).
        self.__dict__["synthesis"] = None

    # -- WorldModel -------------------------------------------------------------------------------------------
    @property
    def action_spec(self) -> ActionSpec:
        return ActionSpec("text", num_players=2, dim=self.config.text_dim, player_names=("bottom", "top"))

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self._height, self._width

    @property
    def state_dim(self) -> int:
        return layout.STATE_SIZE

    def set_start_states(self, states: torch.Tensor) -> None:
        """Held-out starting states that `initial_state` draws from (shipped with the checkpoint)."""
        self.start_states = states.float().cpu()

    def extras(self) -> dict[str, torch.Tensor]:
        return {"start_states": self.start_states}

    def load_extras(self, extras: dict[str, torch.Tensor]) -> None:
        if "start_states" in extras:
            self.set_start_states(extras["start_states"])

    def initial_state(self, batch, *, generator, context=None):
        device = self.device
        if context is not None and "start" in context.keys():
            start = context["start"].to(device).float()
        else:
            if len(self.start_states) == 0:
                raise RuntimeError("this LGE model has no start states; pass context={'start': states}")
            pick = torch.randint(len(self.start_states), (batch,), generator=generator, device=generator.device)
            start = self.start_states[pick.cpu()].to(device)
        c = self.config
        window = start.unsqueeze(1).repeat(1, c.window, 1)
        history = torch.zeros(batch, HISTORY, layout.STATE_SIZE, device=device)
        history[:, 0] = start
        return TensorDict(
            {
                "window": window,
                "cursor": torch.zeros(batch, dtype=torch.int64, device=device),
                "text": torch.zeros(batch, 2, c.text_dim, device=device),
                "text_on": torch.zeros(batch, 2, dtype=torch.bool, device=device),
                "history": history,
                "length": torch.ones(batch, dtype=torch.int64, device=device),
            },
            batch_size=[batch],
            device=device,
        )

    @torch.no_grad()
    def step(self, state, action, *, generator):
        c = self.config
        text, text_on = action["text"].to(self.device).float(), action["text_on"].to(self.device).bool()
        changed = (text_on != state["text_on"]).any(1) | ((text - state["text"]).abs().amax((1, 2)) > 0)
        exhausted = state["cursor"] + 1 >= c.window
        regenerate = changed | exhausted
        window, cursor = state["window"].clone(), state["cursor"] + 1
        if bool(regenerate.any()):
            rows = torch.nonzero(regenerate).flatten()
            new_window, new_cursor = self._continue(state["window"][rows], state["cursor"][rows],
                                                    text[rows], text_on[rows], generator)  # fmt: skip
            window[rows] = new_window
            cursor[rows] = new_cursor
        current = window[torch.arange(len(cursor), device=self.device), cursor]
        history, length = state["history"].clone(), state["length"].clamp(max=HISTORY - 1)
        history[torch.arange(len(length), device=self.device), length] = current
        next_state = TensorDict(
            {"window": window, "cursor": cursor, "text": text, "text_on": text_on, "history": history,
             "length": length + 1},
            batch_size=state.batch_size,
            device=self.device,
        )  # fmt: skip
        zeros = torch.zeros(len(cursor), device=self.device)
        return next_state, TensorDict({"reward": zeros, "terminated": zeros.bool()}, batch_size=state.batch_size)

    def _continue(self, window, cursor, text, text_on, generator):
        """New windows whose first frames are the last ``context`` frames up to each row's cursor; returns the
        windows and the index of the first new frame in each."""
        c = self.config
        b = window.shape[0]
        known_frames = (cursor + 1).clamp(max=c.context)  # frames available as context
        # Gather the frames cursor-k+1 .. cursor into positions 0..k-1 (the rest are placeholders, not known).
        offsets = torch.arange(c.window, device=self.device)
        source = (cursor - known_frames + 1).unsqueeze(1) + offsets.unsqueeze(0)
        source = source.clamp(0, c.window - 1)
        known_states = window[torch.arange(b, device=self.device).unsqueeze(1), source]
        known = (offsets.unsqueeze(0) < known_frames.unsqueeze(1)).float()
        known = known.view(b, c.window, 1, 1).expand(b, c.window, len(OBJECTS), FEATURE_DIM)
        template = window[:, 0]
        generated = self.animation.generate(
            template,
            known_states=known_states,
            known=known,
            text=text.unsqueeze(1).expand(b, c.window, 2, c.text_dim),
            text_on=text_on.unsqueeze(1).expand(b, c.window, 2),
            generator=generator,
        )
        return generated, known_frames

    def current(self, state: TensorDict) -> torch.Tensor:
        """``(B, STATE_SIZE)`` flat state of the current frame of each row."""
        return state["window"][torch.arange(state.batch_size[0], device=self.device), state["cursor"]]

    def state_vector(self, state):
        return torch.as_tensor(layout.normalise(self.current(state).cpu().numpy()), device=self.device)

    def set_renderer(self, renderer: torch.nn.Module | None) -> None:
        """Draw frames with a trained `world_models.render.TennisRenderer` (the synthesis module), or with the
        engine's rasteriser when None. Its resolution becomes the frame shape."""
        if renderer is not None:
            renderer = renderer.to(self.device).eval()
            self._height, self._width = renderer.config.height, renderer.config.width
        self.__dict__["synthesis"] = renderer

    def render(self, state, camera=None):
        if self.synthesis is not None:
            # One batched pass for every row; camera and styles come from each state (reset options set them).
            return self.synthesis.render(self.current(state)).to(self.device)
        states = self.current(state).cpu().numpy()
        frames = np.stack([self._render_one(s, camera) for s in states])
        return torch.as_tensor(frames, device=self.device)

    def _render_one(self, flat: np.ndarray, camera) -> np.ndarray:
        from world_models.engines.tennis.camera import Camera
        from world_models.engines.tennis.court import SURFACE_NAMES, SURFACES
        from world_models.engines.tennis.render import Renderer, SceneStyle

        nested = layout.unflatten(flat)
        key = np.concatenate([flat[layout.SLICES["scene.surface"]], flat[layout.SLICES["scene.court_colour"]],
                              flat[layout.SLICES["camera.intrinsics"]], flat[layout.SLICES["camera.rotation"]],
                              flat[layout.SLICES["camera.translation"]]]).round(4).tobytes()  # fmt: skip
        renderer = self._renderers.get(key)
        if renderer is None:
            fx, fy, cx, cy = nested["camera"]["intrinsics"]
            h, w = self._height, self._width
            cam = Camera(w, h, fx * w, fy * h, cx * w, cy * h, nested["camera"]["extrinsics"].astype(np.float64))
            surface = SURFACES[SURFACE_NAMES[nested["scene"]["surface"]]]
            court = tuple(float(v) for v in nested["scene"]["court_colour"])
            style = SceneStyle(surface, court, surface.surround, (0.2, 0.2, 0.25), 0)
            renderer = Renderer(cam, style)
            if len(self._renderers) > 64:
                self._renderers.clear()
            self._renderers[key] = renderer
        frame, _ = renderer.render(nested)
        return frame

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_renderers"] = {}
        return state
