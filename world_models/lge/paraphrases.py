"""Captions phrased in ways the engine's caption templates never use, kept apart from training.

They test whether the animation model follows the meaning of a caption rather than its exact wording. None of
these verbs, area phrases or subjects occurs in `world_models.engines.tennis.captions`.
"""

from __future__ import annotations

SUBJECTS = {"bottom": "the athlete closest to the camera", "top": "the athlete on the far side"}
SHOTS = {
    "forehand": "drives the ball on the forehand side",
    "backhand": "answers on the backhand wing",
    "volley": "takes it out of the air",
    "smash": "puts it away overhead",
    "lob": "floats it high over the opponent",
    "drop_shot": "feathers it barely across",
}
AREAS = {
    "left_corner": "into the far left edge of the baseline",
    "right_corner": "into the far right edge of the baseline",
    "centre": "straight up the middle of the court",
    "deep": "all the way back near the baseline",
    "short": "so that it dies just past the net",
    "left_box": "inside the left half of the service area",
    "right_box": "inside the right half of the service area",
}


def paraphrase(player: str, shot: str, area: str) -> str:
    """An unseen phrasing of "``player`` hits ``shot`` to ``area``"."""
    return f"{SUBJECTS[player]} {SHOTS[shot]}, {AREAS[area]}"
