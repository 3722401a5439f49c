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
from world_models.core.text import TextEmbedding
from world_models.engines.tennis import layout
from world_models.lge.config import LGEConfig
from world_models.lge.model import AnimationModel
from world_models.lge.objects import FEATURE_DIM, OBJECTS

HISTORY = 768
"""Frames of the current point kept in the state for the referee (30 s at 25 fps)."""


SERVE_PREFIX_AFTER = 3
"""Frames of a real point kept after its serve bounces in: the model takes over with the return coming."""


def serve_prefixes(sequences: list[torch.Tensor], fps: float, count: int) -> list[torch.Tensor]:
    """Up to ``count`` starts for episodes: each held-out point from its first frame until ``SERVE_PREFIX_AFTER``
    frames after its serve bounced in the service box (a second serve after a fault included).

    The shipped models serve badly (a serve is the game's fastest ball, 50 m/s; generated serves leave the toss
    slowly and fall short), so episodes begin with a real serve and the model plays the rest of the point; the
    whole prefix is the point's history, so the referee reads a legal serve before the generated rally."""
    from world_models.engines.tennis.referee import judge

    out = []
    for states in sequences:
        j = judge(states.numpy(), fps)
        serves = [h.frame for h in j.hits if h.shot == "serve"]
        landed = next((b.frame for b in j.bounces if serves and b.frame > serves[0] and b.inside), None)
        if landed is None or landed + SERVE_PREFIX_AFTER + 8 >= len(states):
            continue
        if j.point_frame is not None and j.point_frame <= landed:  # the point was over before the serve landed in
            continue
        out.append(states[: landed + SERVE_PREFIX_AFTER + 1].clone())
        if len(out) == count:
            break
    return out


class LGEWorldModel(WorldModel):
    """The animation model behind the `WorldModel` interface.

    Action: a `TensorDict` with ``text`` ``(B, 2, E)`` (each player's current text embedding, from the model's
    frozen text encoder) and ``text_on`` ``(B, 2)`` bool; optionally a scheduled change of text, ``then_text``
    ``(B, 2, E)``, ``then_on`` ``(B, 2)`` and ``switch_at`` ``(B, 2)`` int64 (the point's frame index, as
    ``length`` counts, from which a player's text is ``then_text``; -1: no change planned). The training captions change at events (a player's
    caption becomes its next shot's the frame after the opponent strikes), and the model reads such a change as
    the event's time, so a window planned across an expected event carries the change where it is expected (a
    moved ``switch_at`` re-plans the window, like a changed text).
    State: ``window`` ``(B, W, S)`` generated flat states, ``cursor`` ``(B,)`` index of the current frame in the
    window, the current ``text``/``text_on`` and schedule, and the point's ``history`` ``(B, HISTORY, S)`` with
    its ``length``.
    """

    family = "lge"

    def __init__(self, config: LGEConfig, *, height: int = 144, width: int = 256) -> None:
        super().__init__()
        self.config = config
        self.fps = 25.0 / config.frame_stride
        self.animation = AnimationModel(config)
        self._height, self._width = height, width
        self.start_frames = torch.zeros(0, layout.STATE_SIZE)  # held-out starts, concatenated
        self.start_lengths = torch.zeros(0, dtype=torch.int64)
        self._renderers: dict[bytes, object] = {}
        # The synthesis module is its own checkpoint: kept out of this module's state dict (a plain attribute).
        self.__dict__["synthesis"] = None

    # -- WorldModel -------------------------------------------------------------------------------------------
    @property
    def action_spec(self) -> ActionSpec:
        return ActionSpec("text", num_players=2, dim=self.config.text_features, player_names=("bottom", "top"))

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self._height, self._width

    @property
    def state_dim(self) -> int:
        return layout.STATE_SIZE

    def grow_from(self, source: LGEWorldModel) -> None:
        """Take ``source``'s weights where this model has more parts (`LGEConfig.GROWTH_FIELDS` switched on):
        the new parts keep their initial values, which leave the network's function unchanged."""
        from world_models.core.checkpoint import CheckpointError

        missing, unexpected = self.load_state_dict(source.state_dict(), strict=False)
        new_parts = ("animation.network.text_mean", "animation.network.text_whiten", "animation.network.ball_text_in.",
                     "animation.network.condition_text_in.", "animation.network.condition_object_embedding")
        wrong = [k for k in missing if not (k.startswith(new_parts) or ".token_modulation." in k)] + list(unexpected)
        if wrong:
            raise CheckpointError(f"cannot grow from a model that differs in {wrong}")

    @torch.no_grad()
    def embed_text(self, embedding: TextEmbedding) -> torch.Tensor:
        """The text vectors ``(N, LGEConfig.text_features)`` this model takes (actions' ``text``), on its device,
        from a text encoder's output for N strings: the pooled embedding, and the launch planner's reading of the
        tokens when it has a `planner.TokenReader`."""
        pooled = embedding.pooled.to(self.device)
        planner = self.animation.planner
        if planner is None:
            return pooled
        return planner.features(pooled, embedding.tokens.to(self.device), embedding.mask.to(self.device))

    def strip_added_parts(self) -> None:
        """Drop the launch planner (`LGEConfig.ADDED_FIELDS`), as a run continuing these weights starts without
        it."""
        self.animation.planner = None
        self.config.planner_frames = ()  # the animation model shares this config
        self.config.planner_reader = 0
        self.config.planner_members = 1

    def set_start_states(self, states: torch.Tensor) -> None:
        """Held-out single starting states ``(N, STATE_SIZE)`` that `initial_state` draws from."""
        self.set_start_prefixes(list(states.float().unsqueeze(1)))

    def set_start_prefixes(self, prefixes: list[torch.Tensor]) -> None:
        """Held-out starts that `initial_state` draws from (shipped with the checkpoint): each the first frames
        ``(L, STATE_SIZE)`` of a point, from its first state (`serve_prefixes`)."""
        for prefix in prefixes:
            if prefix.ndim != 2 or prefix.shape[1] != layout.STATE_SIZE or not 0 < len(prefix) < HISTORY:
                shape = tuple(prefix.shape)
                raise ValueError(f"a start is (frames < {HISTORY}, {layout.STATE_SIZE}) states, got {shape}")
        self.start_frames = torch.cat([p.float().cpu() for p in prefixes]) if prefixes else self.start_frames[:0]
        self.start_lengths = torch.tensor([len(p) for p in prefixes], dtype=torch.int64)

    @property
    def start_prefixes(self) -> list[torch.Tensor]:
        return list(self.start_frames.split(self.start_lengths.tolist()))

    def extras(self) -> dict[str, torch.Tensor]:
        return {"start_frames": self.start_frames, "start_lengths": self.start_lengths}

    def load_extras(self, extras: dict[str, torch.Tensor]) -> None:
        if "start_frames" in extras:
            self.start_frames, self.start_lengths = extras["start_frames"].float(), extras["start_lengths"].long()
        elif "start_states" in extras:  # checkpoints before starts were prefixes
            self.set_start_states(extras["start_states"])

    def initial_state(self, batch, *, generator, context=None):
        """Each row starts from a held-out start (or ``context["start"]``: ``(B, STATE_SIZE)`` states or ``(B, L,
        STATE_SIZE)`` first frames of a point): its frames are the point's history so far, its last ``context``
        frames condition the first window."""
        device = self.device
        if context is not None and "start" in context.keys():
            start = context["start"].float()
            prefixes = list(start.unsqueeze(1) if start.ndim == 2 else start)
        else:
            if len(self.start_lengths) == 0:
                raise RuntimeError("this LGE model has no start states; pass context={'start': states}")
            pick = torch.randint(len(self.start_lengths), (batch,), generator=generator, device=generator.device)
            every = self.start_prefixes
            prefixes = [every[i] for i in pick.tolist()]
        c = self.config
        window = torch.zeros(batch, c.window, layout.STATE_SIZE, device=device)
        history = torch.zeros(batch, HISTORY, layout.STATE_SIZE, device=device)
        cursor = torch.zeros(batch, dtype=torch.int64, device=device)
        length = torch.zeros(batch, dtype=torch.int64, device=device)
        for row, prefix in enumerate(prefixes):
            prefix = prefix.to(device)
            n = min(len(prefix), c.window)  # the window holds the last frames; the first step plans past them
            window[row, :n], window[row, n:] = prefix[-n:], prefix[-1]
            cursor[row], length[row] = n - 1, len(prefix)
            history[row, : len(prefix)] = prefix
        return TensorDict(
            {
                "window": window,
                "cursor": cursor,
                "planned": torch.zeros(batch, dtype=torch.bool, device=device),
                "text": torch.zeros(batch, 2, c.text_features, device=device),
                "text_on": torch.zeros(batch, 2, dtype=torch.bool, device=device),
                "then_text": torch.zeros(batch, 2, c.text_features, device=device),
                "then_on": torch.zeros(batch, 2, dtype=torch.bool, device=device),
                "switch_at": torch.full((batch, 2), -1, dtype=torch.int64, device=device),
                "history": history,
                "length": length,
            },
            batch_size=[batch],
            device=device,
        )

    def _schedule(self, action, batch: int) -> dict[str, torch.Tensor]:
        """The action's text and its scheduled change (none where the action plans none), on this device."""
        keys = action.keys()
        text, text_on = action["text"].to(self.device).float(), action["text_on"].to(self.device).bool()
        if "switch_at" not in keys:
            return {"text": text, "text_on": text_on, "then_text": torch.zeros_like(text),
                    "then_on": torch.zeros_like(text_on),
                    "switch_at": torch.full((batch, 2), -1, dtype=torch.int64, device=self.device)}  # fmt: skip
        return {"text": text, "text_on": text_on, "then_text": action["then_text"].to(self.device).float(),
                "then_on": action["then_on"].to(self.device).bool(),
                "switch_at": action["switch_at"].to(self.device).long()}  # fmt: skip

    @torch.no_grad()
    def step(self, state, action, *, generator):
        c = self.config
        b = state.batch_size[0]
        plan = self._schedule(action, b)
        scheduled = plan["switch_at"] >= 0
        changed = ((plan["text_on"] != state["text_on"]).any(1) | ((plan["text"] - state["text"]).abs().amax((1, 2)) > 0)
                   | (plan["switch_at"] != state["switch_at"]).any(1)
                   | (scheduled & ((plan["then_on"] != state["then_on"])
                                   | ((plan["then_text"] - state["then_text"]).abs().amax(2) > 0))).any(1))  # fmt: skip
        exhausted = state["cursor"] + 1 >= c.window
        regenerate = changed | exhausted | ~state["planned"]  # a fresh start has no window planned past it yet
        window, cursor = state["window"].clone(), state["cursor"] + 1
        if bool(regenerate.any()):
            rows = torch.nonzero(regenerate).flatten()
            new_window, new_cursor = self._continue(state["window"][rows], state["cursor"][rows],
                                                    state["length"][rows], {k: v[rows] for k, v in plan.items()},
                                                    generator)  # fmt: skip
            window[rows] = new_window
            cursor[rows] = new_cursor
        current = window[torch.arange(len(cursor), device=self.device), cursor]
        history, length = state["history"].clone(), state["length"].clamp(max=HISTORY - 1)
        history[torch.arange(len(length), device=self.device), length] = current
        next_state = TensorDict(
            {"window": window, "cursor": cursor, "planned": torch.ones_like(state["planned"]), **plan,
             "history": history, "length": length + 1},
            batch_size=state.batch_size,
            device=self.device,
        )  # fmt: skip
        zeros = torch.zeros(len(cursor), device=self.device)
        return next_state, TensorDict({"reward": zeros, "terminated": zeros.bool()}, batch_size=state.batch_size)

    def _continue(self, window, cursor, length, plan, generator):
        """New windows whose first frames are the last ``context`` frames up to each row's cursor (the point's
        frame ``length - 1``); each frame's text is the plan's, changed from its ``switch_at`` frame on. Returns the
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
        # The point's frame index of each window position: position known_frames is the next frame, `length`.
        frame = (length - known_frames).unsqueeze(1) + offsets.unsqueeze(0)  # (b, W)
        switched = (plan["switch_at"].unsqueeze(1) >= 0) & (frame.unsqueeze(2) >= plan["switch_at"].unsqueeze(1))
        text = torch.where(switched.unsqueeze(3), plan["then_text"].unsqueeze(1), plan["text"].unsqueeze(1))
        text_on = torch.where(switched, plan["then_on"].unsqueeze(1), plan["text_on"].unsqueeze(1))
        template = window[:, 0]
        generated = self.animation.generate(
            template, known_states=known_states, known=known, text=text, text_on=text_on, generator=generator
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
