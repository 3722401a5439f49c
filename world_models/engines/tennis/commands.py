"""Shot commands: what a player does with the next ball, settable from outside the engine.

A `Command` names a shot type, a target area (screen left/right, see `court`) or an exact target point, and an
intentional outcome. The scripted policy fills in whatever a command leaves open (``None``). Commands are the
ground truth of text-directed strategy: ``engine.set_command("top", Command(outcome="does_not_reach"))`` makes the
top player miss the next ball, as in the LGE paper's "the top player doesn't catch the ball".
"""

from __future__ import annotations

from dataclasses import dataclass

from world_models.engines.tennis.court import TARGET_AREAS

SHOTS = ("forehand", "backhand", "volley", "smash", "lob", "drop_shot")
"""Shot types. ``serve`` is not commanded: a serving player's command sets the serve's target and outcome."""
TARGETS = tuple(TARGET_AREAS)
"""Target areas on the opponent's half (``left_box``/``right_box`` also aim serves)."""
OUTCOMES = ("play", "does_not_reach", "into_net", "out")
"""Intentional outcomes: play normally, do not reach the ball, hit it into the net, hit it out."""


@dataclass(frozen=True)
class Command:
    """What a player does with the next ball it plays. ``None`` fields are chosen by the scripted policy.

    Args:
        shot: one of `SHOTS`. Volleys and smashes need a ball the player can take before it bounces (a smash
            also a high one); otherwise the player plays a ground stroke.
        target: one of `TARGETS`, on the opponent's half.
        target_point: exact aim ``(x, depth)``: screen x in metres and metres from the net into the opponent's
            half; overrides ``target``.
        outcome: one of `OUTCOMES`.
    """

    shot: str | None = None
    target: str | None = None
    target_point: tuple[float, float] | None = None
    outcome: str = "play"

    def __post_init__(self) -> None:
        if self.shot is not None and self.shot not in SHOTS:
            raise ValueError(f"unknown shot {self.shot!r}; choose from {SHOTS}")
        if self.target is not None and self.target not in TARGETS:
            raise ValueError(f"unknown target {self.target!r}; choose from {TARGETS}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}; choose from {OUTCOMES}")

    def text(self) -> str:
        """Short English form, e.g. ``"forehand to the left corner"``."""
        if self.outcome != "play":
            return self.outcome.replace("_", " ")
        shot = (self.shot or "any shot").replace("_", " ")
        if self.target_point is not None:
            return f"{shot} to x={self.target_point[0]:.1f} m, {self.target_point[1]:.1f} m from the net"
        if self.target is None:
            return shot
        return f"{shot} to the {self.target.replace('_', ' ')}"


AUTO = Command()

COMMAND_VOCABULARY: tuple[Command, ...] = (
    (AUTO,)
    + tuple(Command(target=t) for t in TARGETS)
    + tuple(Command(shot=s, target=t) for s in SHOTS for t in TARGETS)
    + tuple(Command(outcome=o) for o in OUTCOMES if o != "play")
)
"""The discrete command vocabulary of ``TennisSim-v0`` (``action_type="command"``): index 0 lets the scripted
policy choose, then each target with the shot left to the policy, then every shot x target pair, then the three
intentional outcomes."""


def command_index(command: Command) -> int:
    """Index of a command in `COMMAND_VOCABULARY`."""
    return COMMAND_VOCABULARY.index(command)
