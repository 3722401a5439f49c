"""Director's mode: generate a whole sequence from any mix of desired states and per-player text over time spans.

Long sequences are generated window by window: each window after the first is conditioned on the last
``context`` frames of the one before, plus every constraint that falls inside it.

    >>> seq = direct(model, encoder, start, frames=60, generator=g,
    ...              text=[TextSpan("top", 0, 60, "the top player does not catch the ball")],
    ...              constraints=[Constraint(59, "bottom", "root", (2.0, -11.0))])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from world_models.engines.tennis import layout
from world_models.lge.objects import BALL_POSITION, BALL_VELOCITY, FEATURE_DIM, JOINTS, OBJECTS, ROOT, VELOCITY
from world_models.lge.world import LGEWorldModel

_FIELDS = {
    "root": (ROOT, "{p}.root"),
    "velocity": (VELOCITY, "{p}.velocity"),
    "joints": (JOINTS, "{p}.joints"),
    "position": (BALL_POSITION, "ball.position"),
    "ball_velocity": (BALL_VELOCITY, "ball.velocity"),
}


@dataclass(frozen=True)
class Constraint:
    """A desired value: ``object`` (``bottom``, ``top`` or ``ball``) has ``field`` equal to ``value`` at ``frame``
    (model frames). Player fields: ``root`` (x, y m), ``velocity``, ``joints``; ball fields: ``position``
    (x, y, z m), ``ball_velocity``; ``state`` fixes every entry of the object (``value`` is a flat layout state)."""

    frame: int
    object: str
    field: str
    value: tuple[float, ...]


@dataclass(frozen=True)
class TextSpan:
    """``player`` does ``text`` over model frames ``[start, stop)``."""

    player: str
    start: int
    stop: int
    text: str


def _apply(constraint: Constraint, known_state: torch.Tensor, known: torch.Tensor) -> None:
    """Write one constraint into a frame's flat state ``(S,)`` and object mask ``(3, F)``."""
    if constraint.object not in OBJECTS:
        raise ValueError(f"unknown object {constraint.object!r}; choose from {OBJECTS}")
    o = OBJECTS.index(constraint.object)
    value = torch.as_tensor(constraint.value, dtype=known_state.dtype, device=known_state.device)
    if constraint.field == "state":
        if value.shape != (layout.STATE_SIZE,):
            raise ValueError(f"a 'state' constraint takes a flat state of {layout.STATE_SIZE} values")
        prefix = "ball." if constraint.object == "ball" else f"{constraint.object}."
        for name, piece in layout.SLICES.items():
            if name.startswith(prefix):
                known_state[piece] = value[piece]
        known[o] = 1
        return
    if constraint.field not in _FIELDS:
        raise ValueError(f"unknown field {constraint.field!r}; choose from {sorted(_FIELDS)} or 'state'")
    entries, name = _FIELDS[constraint.field]
    is_ball_field = constraint.field in ("position", "ball_velocity")
    if is_ball_field != (constraint.object == "ball"):
        raise ValueError(f"field {constraint.field!r} does not belong to object {constraint.object!r}")
    piece = layout.SLICES[name.format(p=constraint.object)]
    if value.numel() != piece.stop - piece.start:
        raise ValueError(f"{constraint.field} takes {piece.stop - piece.start} values, got {value.numel()}")
    known_state[piece] = value.reshape(-1)
    known[o, entries] = 1


@torch.no_grad()
def direct(
    model: LGEWorldModel,
    encoder,
    start: torch.Tensor,
    *,
    frames: int,
    generator: torch.Generator,
    text: list[TextSpan] = (),
    constraints: list[Constraint] = (),
) -> torch.Tensor:
    """A sequence of flat states ``(frames, STATE_SIZE)`` starting at ``start`` (frame 0, kept as given)."""
    c = model.config
    device = model.device
    start = torch.as_tensor(start, dtype=torch.float32, device=device).reshape(layout.STATE_SIZE)
    for constraint in constraints:
        if not 0 <= constraint.frame < frames:
            raise ValueError(f"constraint at frame {constraint.frame} is outside [0, {frames})")
    texts = [[None, None] for _ in range(frames)]
    for span in text:
        if span.player not in ("bottom", "top"):
            raise ValueError(f"text spans are for 'bottom' or 'top', got {span.player!r}")
        for t in range(max(0, span.start), min(frames, span.stop)):
            texts[t][("bottom", "top").index(span.player)] = span.text
    unique = sorted({t for pair in texts for t in pair if t})
    table = dict(zip(unique, model.embed_text(encoder(unique)), strict=True)) if unique else {}

    sequence = start.unsqueeze(0).repeat(frames, 1)
    done = 1  # frames of `sequence` already fixed
    while done < frames:
        first = max(0, done - c.context)  # absolute frame of the window's first position
        count = min(c.window, frames - first)
        known_states = start.unsqueeze(0).repeat(c.window, 1)
        known = torch.zeros(c.window, len(OBJECTS), FEATURE_DIM, device=device)
        known_states[: done - first] = sequence[first:done]
        known[: done - first] = 1
        for constraint in constraints:
            if first <= constraint.frame < first + count and constraint.frame >= done:
                _apply(constraint, known_states[constraint.frame - first], known[constraint.frame - first])
        window_text = torch.zeros(c.window, 2, c.text_features, device=device)
        window_on = torch.zeros(c.window, 2, dtype=torch.bool, device=device)
        for i in range(count):
            for p in range(2):
                if texts[first + i][p]:
                    window_text[i, p] = table[texts[first + i][p]]
                    window_on[i, p] = True
        # Frames past the end of the sequence (last window) stay free: known only up to `count`.
        generated = model.animation.generate(
            start.unsqueeze(0), known_states=known_states.unsqueeze(0), known=known.unsqueeze(0),
            text=window_text.unsqueeze(0), text_on=window_on.unsqueeze(0), generator=generator,
        )[0]  # fmt: skip
        sequence[done : first + count] = generated[done - first : count]
        done = first + count
    return sequence
