"""Probe how often an LGE animation model returns a serve, the step `LGE-Tennis-v0` episodes depend on.

Each held-out engine point is cut, as the environment's starts are (`world.serve_prefixes`), a few frames after its
serve bounced in; the model generates the next window from the last ``context`` frames with the engine's own
captions for those frames or the environment's (`CAPTION_SOURCES`). The referee then reads the prefix and the
generated frames: a return is a strike by the receiver after the serve. Beside the rate: the receiver's closest racket-to-ball distance in the generated frames,
and how many frames the racket's closest approach comes after the ball passes the receiver's racket (positive: late).
The engine's own rate on the same points is the ceiling. With ``--env-points`` it also plays points of
`LGE-Tennis-v0` itself and counts returns there. docs/lge.md ("Episodes start from a real serve") quotes it.

    python examples/lge_serve_returns.py --checkpoint lge_tennis_small --points 24 --samples 2 --env-points 24 \\
        --out returns.json
    python examples/lge_serve_returns.py --tiny      # an untrained tiny model, a few seconds (used by the tests)
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import torch

from lge_gym.envs.lge_tennis import strike_frame
from world_models.engines.tennis.commands import AUTO
from world_models.engines.tennis.court import opponent
from world_models.engines.tennis.layout import SLICES
from world_models.engines.tennis.referee import _player, judge  # the referee's own racket position
from world_models.engines.tennis.sequence import generate
from world_models.lge.objects import FEATURE_DIM, OBJECTS
from world_models.lge.world import serve_prefixes

PLAYERS = ("bottom", "top")


def _engine(case: dict, t: int, player: str) -> str:
    return case["captions"][min(t, len(case["captions"]) - 1)][PLAYERS.index(player)]


def _env(case: dict, t: int, player: str, scheduled: bool = True) -> str:
    from lge_gym.envs.lge_tennis import command_caption, recovery_caption

    if player == case["receiver"]:
        return command_caption(player, AUTO)
    if scheduled and t >= case["strike"] + 1:  # the environment's schedule: the next shot's text after the strike
        return command_caption(player, AUTO)
    return recovery_caption(player)


CAPTION_SOURCES = {
    "engine": _engine,
    "env": _env,
    "env_unscheduled": lambda case, t, p: _env(case, t, p, scheduled=False),
}
"""Each player's caption at the point's frame ``t``: the engine's own (which also tell the future: the server's
caption becomes its next shot's the frame after the receiver strikes), or the environment's: the receiver's
command caption with the shot left open, the server's recovery caption and, from the frame after the expected
strike (`lge_tennis.strike_frame`), its next shot's (``env``; ``env_unscheduled``: as before session 9, without)."""


def serve_cases(model, first_index: int, points: int) -> list[dict]:
    """Points whose serve lands in: the prefix, the whole engine point, its captions and who receives."""
    c = model.config
    cases = []
    for index in range(first_index, first_index + points):
        point = generate(0, index, render=False)
        states = torch.as_tensor(point.vectors()[:: c.frame_stride], dtype=torch.float32)
        prefixes = serve_prefixes([states], model.fps, count=1)
        if not prefixes or len(prefixes[0]) < c.context:
            continue
        prefix = prefixes[0]
        serve = next(h for h in judge(prefix.numpy(), model.fps).hits if h.shot == "serve")
        receiver = opponent(serve.player)
        captions = [[point.captions[p][t] for p in PLAYERS] for t in range(0, len(point.states), c.frame_stride)]
        engine = judge(states.numpy(), model.fps)
        strike = strike_frame(prefix[-1:], torch.tensor([len(prefix) - 1]), model.fps)[0, PLAYERS.index(receiver)]
        cases.append({"index": index, "strike": int(strike), "prefix": prefix, "states": states, "captions": captions, "receiver": receiver,
                      "serve_frame": serve.frame,
                      "engine_returned": any(h.player == receiver and h.frame > serve.frame for h in engine.hits)})  # fmt: skip
    return cases


def lateness(states: np.ndarray, first: int, player: str) -> tuple[float, int | None]:
    """The receiver's closest racket-to-ball distance from frame ``first`` on, and the frames between the ball
    passing the racket's depth and that closest approach (None if the ball never passes it)."""
    racket, ball = _player(states[first:], player, "racket_head"), states[first:, SLICES["ball.position"]]
    distance = np.linalg.norm(racket - ball, axis=1)
    closest = int(distance.argmin())
    ahead = np.sign(ball[:, 1] - racket[:, 1])  # the side of the racket the ball is on, along the court
    passed = np.nonzero(ahead != ahead[0])[0]
    return float(distance[closest]), (closest - int(passed[0])) if len(passed) else None


@torch.no_grad()
def returns(model, encoder, cases: list[dict], samples: int, caption, seed: int = 0) -> dict:
    """Generate ``samples`` windows per case with ``caption(case, frame, player)`` (`CAPTION_SOURCES`) and
    referee them."""
    c = model.config
    known_states = torch.zeros(len(cases), c.window, cases[0]["prefix"].shape[1])
    texts: list[str] = []
    for i, case in enumerate(cases):
        first = len(case["prefix"]) - c.context
        known_states[i, : c.context] = case["prefix"][first:]
        for t in range(first, first + c.window):
            texts += [caption(case, t, p) for p in PLAYERS]
    unique = sorted(set(texts))
    table = dict(zip(unique, model.embed_text(encoder(unique)), strict=True))
    text = torch.stack([table[t] for t in texts]).view(len(cases), c.window, 2, -1)
    known = torch.zeros(len(cases), c.window, len(OBJECTS), FEATURE_DIM)
    known[:, : c.context] = 1
    on = torch.ones(len(cases), c.window, 2, dtype=torch.bool)
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for s in range(samples):
        window = model.animation.generate(known_states[:, 0], known_states=known_states, known=known, text=text,
                                          text_on=on, generator=generator)  # fmt: skip
        for case, generated in zip(cases, window, strict=True):
            first = len(case["prefix"]) - c.context
            full = torch.cat([case["prefix"][:first], generated]).numpy()
            hits = judge(full, model.fps).hits
            distance, late = lateness(full, len(case["prefix"]), case["receiver"])
            rows.append({"index": case["index"], "sample": s, "receiver": case["receiver"],
                         "returned": any(h.player == case["receiver"] and h.frame > case["serve_frame"] for h in hits),
                         "closest_racket_ball_m": round(distance, 3), "frames_late": late})  # fmt: skip
    lates = [r["frames_late"] for r in rows if r["frames_late"] is not None]
    by_receiver = {p: [r["returned"] for r in rows if r["receiver"] == p] for p in PLAYERS}
    return {
        "returned": sum(r["returned"] for r in rows),
        "attempts": len(rows),
        "by_receiver": {p: f"{sum(v)}/{len(v)}" for p, v in by_receiver.items()},
        "closest_racket_ball_m_median": float(np.median([r["closest_racket_ball_m"] for r in rows])),
        "frames_late_median": float(np.median(lates)) if lates else None,
        "rows": rows,
    }


def env_returns(checkpoint: str | None, points: int, preset: str = "small") -> dict:
    """Play ``points`` points of `LGE-Tennis-v0` (resets with seeds 0...; default commands for both players) and
    count, from the whole point the referee reads, whether the first strike after the serve is the receiver's."""
    import gymnasium as gym

    import lge_gym  # noqa: F401  (registers the environments)

    env = gym.make("LGE-Tennis-v0", obs_type="state", checkpoint=checkpoint, preset=preset)
    by_receiver = {p: [0, 0] for p in PLAYERS}
    strikes_after_serve = []
    for seed in range(points):
        env.reset(seed=seed)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(0)
            done = terminated or truncated
        hits = judge(env.unwrapped.point_states(), env.unwrapped.model.fps).hits
        serve = next((h for h in hits if h.shot == "serve"), None)
        if serve is None:
            continue
        later = [h for h in hits if h.frame > serve.frame]
        receiver = opponent(serve.player)
        by_receiver[receiver][0] += bool(later) and later[0].player == receiver
        by_receiver[receiver][1] += 1
        strikes_after_serve.append(len(later))
    return {"points": points, "returned": sum(v[0] for v in by_receiver.values()),
            "serves": sum(v[1] for v in by_receiver.values()),
            "by_receiver": {p: f"{v[0]}/{v[1]}" for p, v in by_receiver.items()},
            "strikes_after_serve": strikes_after_serve}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="lge_tennis_small", help="LGE checkpoint (path or shipped name)")
    parser.add_argument("--points", type=int, default=24, help="held-out engine points to take serves from")
    parser.add_argument("--first-index", type=int, default=700_000, help="first point index (validation points)")
    parser.add_argument("--samples", type=int, default=2, help="generated windows per serve and caption source")
    parser.add_argument("--sample-steps", type=int, default=None, help="sampler steps (default: the checkpoint's)")
    parser.add_argument("--eta", type=float, default=None, help="sampler's fresh noise (default: the checkpoint's)")
    parser.add_argument("--guidance", type=float, default=None, help="text guidance (default: the checkpoint's)")
    parser.add_argument("--captions", nargs="+", default=["engine", "env", "env_unscheduled"], choices=sorted(CAPTION_SOURCES),
                        help="caption sources to compare (see CAPTION_SOURCES)")
    parser.add_argument("--env-points", type=int, default=0,
                        help="also play this many points of LGE-Tennis-v0 (default commands) and count returns there")
    parser.add_argument("--out", default=None, help="write the result as JSON here")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--tiny", action="store_true", help="an untrained tiny model on a few points (checks the script)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from lge_gym.envs.models import resolve_model
    from world_models.core.text import shared_text_encoder

    model = resolve_model("lge", None if args.tiny else args.checkpoint, device="cpu")[0]  # None: untrained tiny
    points, samples = (4, 1) if args.tiny else (args.points, args.samples)
    overrides = {k: v for k, v in (("sample_steps", args.sample_steps), ("eta", args.eta), ("guidance", args.guidance))
                 if v is not None}  # fmt: skip
    if overrides:
        model.config = model.animation.config = dataclasses.replace(model.config, **overrides)
    cases = serve_cases(model, args.first_index, points)
    if not cases:
        raise SystemExit("no serve landed in these points: take more (--points)")
    encoder = shared_text_encoder()
    result = {"serves": len(cases), "engine_returned": sum(case["engine_returned"] for case in cases),
              "sampler": {"steps": model.config.sample_steps, "eta": model.config.eta, "guidance": model.config.guidance}}  # fmt: skip
    for captions in args.captions:
        result[captions] = returns(model, encoder, cases, samples, CAPTION_SOURCES[captions])
    if args.env_points or args.tiny:
        tiny = {"checkpoint": None, "preset": "tiny"} if args.tiny else {"checkpoint": args.checkpoint}
        result["environment"] = env_returns(points=2 if args.tiny else args.env_points, **tiny)
    print(json.dumps({k: ({kk: vv for kk, vv in v.items() if kk != "rows"} if isinstance(v, dict) else v)
                      for k, v in result.items()}, indent=2))  # fmt: skip
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
