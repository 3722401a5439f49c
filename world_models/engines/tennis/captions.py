"""Per-player, per-frame captions of a point, written from its events and commands.

A point is cut into segments at every ball strike; in each segment a player is either striking (how it moved to the
ball, the shot, where the ball went, what came of it), recovering (where it went after its own shot), receiving
(waiting for the serve) or serving; after the point it wins or loses. A striker's caption also covers its shot's
flight, up to the ball's next bounce or strike: the caption tells where the ball goes and what comes of it, so it
spans the frames where that happens (a model conditioned on it sees the words beside the flight they describe).
Every clause has several phrasings, picked by a generator of its own, so captions vary without changing the
simulation and a model must rely on their meaning.

Left and right are the broadcast camera's (screen) left and right, for both players (see `court`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from world_models.engines.tennis.court import FPS, HALF_LENGTH, SINGLES_HALF_WIDTH, opponent, side_sign

_SUBJECTS = ("the player", "the {side} player", "the {near} player", "{name_side}")
_SIDE_WORDS = {"bottom": ("bottom", "near", "the player at the bottom"), "top": ("top", "far", "the player at the top")}

_VERB = {
    "slow": ("walks", "moves", "steps", "shuffles"),
    "medium": ("runs", "moves", "goes", "hurries"),
    "fast": ("sprints", "dashes", "rushes", "races"),
}
_LATERAL = ("to the {d}", "towards the {d}", "over to the {d} side", "to the {d} of the court")
_FORWARD = ("towards the net", "forward", "up the court", "in towards the net")
_BACKWARD = ("back", "back towards the baseline", "backwards", "behind the baseline")
_STILL = ("stays in place", "barely moves", "holds position", "stands still")
_REACH = ("to reach the ball", "to get to the ball", "to meet the ball", "")

_SHOT = {
    "forehand": ("hits a forehand", "plays a forehand", "strikes the ball with a forehand", "returns with a forehand",
                 "swings a forehand"),
    "backhand": ("hits a backhand", "plays a backhand", "strikes the ball with a backhand", "returns with a backhand",
                 "swings a two-handed backhand"),
    "volley": ("hits a {side} volley", "volleys the ball", "plays a volley", "puts away a volley",
               "punches a volley"),
    "smash": ("smashes the ball", "hits an overhead smash", "plays a smash", "slams an overhead"),
    "lob": ("lobs the ball", "plays a lob", "sends up a lob", "hits a high lob", "throws up a {side} lob"),
    "drop_shot": ("plays a drop shot", "hits a drop shot", "drops the ball short", "plays a delicate drop shot"),
    "serve": ("serves", "hits the serve", "serves the ball", "delivers the serve"),
}  # fmt: skip
_SECOND_SERVE = ("hits a second serve", "serves again", "plays the second serve", "tries a second serve")
_TARGET_VERB = ("sending the ball", "sending it", "placing it", "directing the ball", "aiming")
_AREA = {
    "left_corner": ("to the left corner", "deep to the left corner", "into the left corner of the court",
                    "to the left side of the court"),
    "right_corner": ("to the right corner", "deep to the right corner", "into the right corner of the court",
                     "to the right side of the court"),
    "centre": ("to the centre", "down the middle", "to the centre of the court", "through the middle"),
    "deep": ("deep", "deep to the baseline", "deep into the court", "long towards the baseline"),
    "short": ("short", "just over the net", "short near the net", "close to the net"),
    "left_box": ("to the left service box", "short to the left", "into the left service box",
                 "to the left side of the service area"),
    "right_box": ("to the right service box", "short to the right", "into the right service box",
                  "to the right side of the service area"),
}  # fmt: skip
_DIRECTION = {"cross": ("crosscourt", "across the court"), "line": ("down the line", "along the line")}
_OUT = {"long": ("but the ball goes long", "but it lands beyond the baseline", "but it flies long"),
        "wide": ("but the ball goes wide", "but it lands wide", "but it misses the sideline"),
        "out": ("but the ball goes out", "but it lands out", "but it misses the court")}  # fmt: skip
_NET = ("but hits the net", "but the ball stays in the net", "but puts it into the net", "but finds the net")
_WINNER = ("for a winner", "and hits a winner", "and the opponent cannot reach it", "which the opponent cannot return")
_ACE = ("for an ace", "and serves an ace", "and the receiver cannot reach it", "for an unreturnable serve")
_FAULT = ("but it is a fault", "but misses the service box", "but the serve is out", "but faults")
_NET_FAULT = ("but the serve hits the net", "but serves into the net", "but the serve stays in the net")
_DOUBLE_FAULT = ("and commits a double fault", "and double faults", "and loses the point with a double fault")
_LET = ("but the serve clips the net for a let", "and the serve touches the net: let", "but it is a let")
_NO_REACH = ("does not reach the ball", "cannot reach the ball", "fails to get to the ball",
             "is too late to reach the ball", "does not catch the ball")  # fmt: skip
_GIVE_UP = ("does not try to reach the ball", "lets the ball pass", "gives up on the ball",
            "does not go for the ball")  # fmt: skip
OUTCOME_PHRASES = {
    "does_not_reach": tuple(f"the {{player}} player {p}" for p in _NO_REACH + _GIVE_UP),
    "into_net": tuple(f"the {{player}} player hits the ball {p}" for p in _NET),
    "out": tuple(f"the {{player}} player hits the ball {p}" for p in sum(_OUT.values(), ())),
}
"""How the captions phrase a player's shot that fails on purpose (`commands.OUTCOMES`), ``{player}`` to fill."""
_LEAVE_OUT = ("lets the ball go out", "leaves the ball, which goes out", "watches the ball fly out",
              "lets it go as it goes out")  # fmt: skip
_RECOVER_CENTRE = ("moves back to the centre", "recovers to the middle of the baseline", "returns to the centre",
                   "gets back into position")  # fmt: skip
_RECOVER_NET = ("moves towards the net", "approaches the net", "follows the shot to the net", "comes to the net")
_WATCH = ("watches the ball", "waits for the return", "stays ready", "follows the ball with the eyes")
_WAIT_SERVE = ("waits for the serve", "gets ready to receive the serve", "prepares to return the serve",
               "waits to receive")  # fmt: skip
_PREPARE_SERVE = ("prepares to serve", "gets ready to serve", "bounces the ball before serving",
                  "stands at the baseline ready to serve")  # fmt: skip
_SIDE_OF_COURT = ("on the {d} side", "from the {d} side", "on the {d}")
_WIN = (
    "wins the point",
    "takes the point",
    "celebrates winning the point",
    "raises the racket after winning the point",
)
_LOSE = ("loses the point", "drops the point", "walks away after losing the point", "looks down after losing the point")


class _Writer:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def pick(self, options: Sequence[str], **fmt: str) -> str:
        return options[int(self.rng.integers(len(options)))].format(**fmt)

    def subject(self, player: str) -> str:
        side, near, phrase = _SIDE_WORDS[player]
        return self.pick(_SUBJECTS, side=side, near=near, name_side=phrase)

    def movement(self, player: str, roots: np.ndarray, purpose: bool) -> str:
        """How the player moved over a segment (screen left/right, towards the net or back)."""
        if len(roots) < 2:
            return self.pick(_STILL)
        d = roots[-1] - roots[0]
        dist = float(np.hypot(*d))
        duration = max(len(roots) - 1, 1) / FPS
        speeds = np.hypot(*np.diff(roots, axis=0).T) * FPS
        peak = float(speeds.max())
        if dist < 0.6:
            return self.pick(_STILL)
        pace = "fast" if peak > 5.5 else ("medium" if peak > 2.5 or dist / duration > 2.0 else "slow")
        verb = self.pick(_VERB[pace])
        lateral = d[0]
        towards_net = -side_sign(player) * d[1]
        parts = []
        if abs(lateral) > 0.5:
            parts.append(self.pick(_LATERAL, d="right" if lateral > 0 else "left"))
        if abs(towards_net) > 0.8 and abs(towards_net) > 0.5 * abs(lateral):
            parts.append(self.pick(_FORWARD if towards_net > 0 else _BACKWARD))
        if not parts:
            parts.append(self.pick(_LATERAL, d="right" if lateral > 0 else "left"))
        text = f"{verb} {' and '.join(parts)}"
        if purpose:
            reach = self.pick(_REACH)
            text = f"{text} {reach}" if reach else text
        return text

    def shot(self, shot: str, side: str) -> str:
        return self.pick(_SHOT[shot], side=side)

    def target(self, shot_record: Any) -> str:
        area = shot_record.area
        text = f"{self.pick(_TARGET_VERB)} {self.pick(_AREA[area])}" if area in _AREA else ""
        if shot_record.landing is not None and shot_record.shot != "serve":
            x0 = shot_record.position[0]
            x1 = shot_record.landing[0]
            if abs(x1) > 1.4 and abs(x0) > 1.4 and self.rng.random() < 0.5:
                text += " " + self.pick(_DIRECTION["cross" if x0 * x1 < 0 else "line"])
        return text


def _join(subject: str, clauses: list[str], rng: np.random.Generator) -> str:
    clauses = [c for c in clauses if c]
    if not clauses:
        return subject
    body = clauses[0]
    for c in clauses[1:]:
        if c.startswith(("but ", "and ", "for ", "which ")):
            body += " " + c
        elif c.startswith(("sending", "placing", "directing", "aiming")):
            body += ", " + c
        else:
            body += (" and ", ", then ", " and then ")[int(rng.integers(3))] + c
    return f"{subject} {body}".strip()


def caption_point(engine: Any, roots: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, list[str]]:
    """Captions of every frame for each player.

    Args:
        engine: a finished `TennisEngine` (its shots, events, winner).
        roots: each player's root positions per frame, ``(T, 2)``.
        rng: the generator phrasings are drawn from.
    """
    w = _Writer(rng)
    n = len(roots["bottom"])
    shots = engine.shots
    events = engine.events
    point_frame = next((f for f, evs in enumerate(events) for e in evs if e["type"] == "point"), n - 1)
    misses = {(f, e["player"]): e["reason"] for f, evs in enumerate(events) for e in evs if e["type"] == "miss"}
    faults = {f: e for f, evs in enumerate(events) for e in evs if e["type"] == "fault"}
    hit_frames = [s.frame for s in shots]
    boundaries = [-1] + hit_frames + [point_frame]
    out = {p: [""] * n for p in ("bottom", "top")}
    shot_texts: list[tuple[str, str]] = []  # (striker, caption) of every shot, in order
    for i in range(len(boundaries) - 1):
        a, b = boundaries[i], boundaries[i + 1]
        if b <= a:
            continue
        striker_record = shots[i] if i < len(shots) else None
        prev_record = shots[i - 1] if i >= 1 else None
        for p in ("bottom", "top"):
            seg = roots[p][max(a, 0) : b + 1]
            subject = w.subject(p)
            clauses: list[str] = []
            if striker_record is not None and striker_record.player == p:
                clauses += _striker(w, p, seg, striker_record, prev_record, engine, faults, point_frame)
            elif striker_record is None:
                # Last segment: the ball is on its way to ending the point.
                clauses += _final(w, p, seg, prev_record, engine, misses)
            elif striker_record.shot == "serve":
                side = "right" if seg[-1][0] > 0 else "left"
                move = w.movement(p, seg, purpose=False) if a >= 0 else ""
                clauses += [
                    move if move not in _STILL else "",
                    w.pick(_WAIT_SERVE) + " " + w.pick(_SIDE_OF_COURT, d=side),
                ]
            else:
                clauses += [_recover(w, p, seg)]
            text = _join(subject, clauses, rng)
            for f in range(max(a + 1, 0), b + 1):
                out[p][f] = text
            if striker_record is not None and striker_record.player == p:
                shot_texts.append((p, text))
    # Each striker's caption continues over its shot's flight (it says where the ball goes).
    for (p, text), hit, end in zip(shot_texts, hit_frames, _flight_ends(events, hit_frames, point_frame), strict=True):
        for f in range(hit + 1, end + 1):
            out[p][f] = text
    # After the point: the winner and the loser.
    for p in ("bottom", "top"):
        won = engine.winner == p
        text = _join(w.subject(p), [w.pick(_WIN if won else _LOSE)], rng)
        for f in range(point_frame + 1, n):
            out[p][f] = text
        if engine.winner is None:  # truncated point: keep the last caption
            for f in range(point_frame + 1, n):
                out[p][f] = out[p][point_frame]
    return out


def _flight_ends(events: Sequence[Sequence[dict]], hit_frames: list[int], point_frame: int) -> list[int]:
    """Per shot, the frame its flight ends: the ball's next bounce or strike, or the end of the point."""
    stops = sorted(f for f, evs in enumerate(events) for e in evs if e["type"] in ("bounce", "hit"))
    return [min(next((f for f in stops if f > hit), point_frame), point_frame) for hit in hit_frames]


def _striker(
    w: _Writer, p: str, seg: np.ndarray, rec: Any, prev: Any, engine: Any, faults: dict, point_frame: int
) -> list[str]:
    clauses = []
    if rec.shot == "serve":
        second = prev is not None and prev.shot == "serve" and prev.result == "fault"
        side = "right" if seg[-1][0] > 0 else "left"
        if not second:
            clauses.append(w.pick(_PREPARE_SERVE) + " " + w.pick(_SIDE_OF_COURT, d=side))
            clauses.append(w.shot("serve", rec.side))
        else:
            clauses.append(w.pick(_SECOND_SERVE))
    else:
        clauses.append(w.movement(p, seg, purpose=True))
        clauses.append(w.shot(rec.shot, rec.side))
    target = w.target(rec)
    if target and rec.result in ("in", "let", ""):
        clauses.append(target)
    clauses.append(_result(w, rec, engine, p))
    return clauses


def _result(w: _Writer, rec: Any, engine: Any, p: str) -> str:
    if rec.result == "let":
        return w.pick(_LET)
    if rec.shot == "serve" and rec.result in ("fault", "net"):
        text = w.pick(_NET_FAULT if rec.result == "net" else _FAULT)
        if engine.end_reason == "double_fault" and rec is engine.shots[-1]:
            text += " " + w.pick(_DOUBLE_FAULT)
        return text
    if rec.result == "net":
        return w.pick(_NET)
    if rec.result == "out" and rec.landing is not None:
        lx, ly = rec.landing
        kind = "long" if abs(ly) > HALF_LENGTH else ("wide" if abs(lx) > SINGLES_HALF_WIDTH else "out")
        return w.pick(_OUT[kind])
    if rec is engine.shots[-1] and engine.winner == p and engine.end_reason == "double_bounce":
        return w.pick(_ACE if rec.shot == "serve" else _WINNER)
    return ""


def _recover(w: _Writer, p: str, seg: np.ndarray) -> str:
    towards_net = -side_sign(p) * (seg[-1][1] - seg[0][1]) if len(seg) > 1 else 0.0
    near_net = abs(seg[-1][1]) < 7.0
    if near_net and towards_net > 0.8:
        return w.pick(_RECOVER_NET)
    if len(seg) > 1 and math.hypot(*(seg[-1] - seg[0])) > 1.0:
        return w.pick(_RECOVER_CENTRE)
    return w.pick(_WATCH)


def _final(w: _Writer, p: str, seg: np.ndarray, last: Any, engine: Any, misses: dict) -> list[str]:
    if last is None:
        return [w.pick(_WATCH)]
    if last.player == p:
        return [_recover(w, p, seg)]
    # The receiver of the last shot.
    if last.result in ("out", "fault") or (last.result == "net" and last.shot != "serve"):
        return [w.pick(_LEAVE_OUT) if last.result != "net" else w.pick(_WATCH)]
    if last.result == "net":
        return [w.pick(_WATCH)]
    reason = next((r for (f, q), r in misses.items() if q == p and f > last.frame), "unreachable")
    move = w.movement(p, seg, purpose=False)
    if reason == "commanded":
        return [move if move not in _STILL else "", w.pick(_GIVE_UP)]
    return [move, "but " + w.pick(_NO_REACH)] if move not in _STILL else [w.pick(_NO_REACH)]


def without_movement(caption: str, player: str) -> str | None:
    """A striker's caption cut to its shot and what follows (``"the bottom player plays a forehand, sending it deep"``
    from one that also tells how the player ran to the ball), or None when it names no shot. Training text for
    models that must also read the short commands people and the environments' command actions write."""
    starts = [caption.find(phrase.format(side=side)) for phrases in (*_SHOT.values(), _SECOND_SERVE)
              for phrase in phrases for side in ("forehand", "backhand")]  # fmt: skip
    starts = [i for i in starts if i > 0]
    return f"the {player} player {caption[min(starts):]}" if starts else None


__all__ = ["caption_point", "opponent", "without_movement"]
