"""Probe where an LGE animation model uses the words of a shot caption: at each noise level, how much does swapping
"left" and "right" in the striker's caption move the denoiser's estimate of the ball's lateral launch velocity?

For held-out corner shots (engine points from ``--first-index``) the true window (context frames given) is noised to
each level with one fixed draw, and the network's implied clean sequence is read 3-6 frames after the contact, in
the model's standardised units. The engine's left- and right-corner launches differ by about 2 units; a model that
follows the words at a level moves its estimate by that much when the words swap. The same is measured on whole
sampled windows (the checkpoint's sampler, same noise for both captions), and how large the words' part of the
ball's token input is. docs/lge.md, "Session 8" and "Session 11", quote it.

    python examples/lge_text_probe.py --checkpoint lge_tennis_small --points 40 --out probe.json
    python examples/lge_text_probe.py --tiny      # an untrained tiny model, a few seconds (used by the tests)
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from world_models.engines.tennis.sequence import generate
from world_models.lge.diffusion import Conditioning, read_output, sample
from world_models.lge.evaluate import APPROACH, MIRRORED_AREAS, mirrored
from world_models.lge.objects import surface_of, to_objects

LEVELS = (999, 990, 967, 935, 900, 750, 450)
LAUNCH_FRAMES = range(3, 7)
"""Frames after the contact whose lateral ball velocity is read."""


def corner_shots(model, first_index: int, points: int) -> list[dict]:
    """Windows that start ``context + APPROACH`` frames before a corner shot's contact, with every frame's captions."""
    c = model.config
    shots = []
    for index in range(first_index, first_index + points):
        point = generate(0, index, render=False)
        states = torch.as_tensor(point.vectors()[:: c.frame_stride], dtype=torch.float32)
        captions = [[point.captions[p][t] for p in ("bottom", "top")] for t in range(0, len(point.states), c.frame_stride)]
        for shot in point.engine.shots:
            if shot.shot == "serve" or shot.command.outcome != "play" or shot.area not in MIRRORED_AREAS:
                continue
            hit = shot.frame // c.frame_stride
            w0 = hit - c.context - APPROACH
            if w0 < 0 or w0 + c.window > len(states):
                continue
            striker = ("bottom", "top").index(shot.player)
            shots.append({"states": states[w0 : w0 + c.window], "captions": captions[w0 : w0 + c.window],
                          "striker": striker, "hit_caption": captions[hit][striker], "hit": hit - w0,
                          "toward": 1.0 if shot.area == "right_corner" else -1.0})  # fmt: skip
    return shots


def text_tensor(model, encoder, shots: list[dict], swap: bool) -> torch.Tensor:
    texts = []
    for s in shots:
        for pair in s["captions"]:
            for i, text in enumerate(pair):
                texts.append(mirrored(text) if swap and i == s["striker"] and text == s["hit_caption"] else text)
    unique = sorted(set(texts))
    table = dict(zip(unique, model.embed_text(encoder(unique)), strict=True))
    return torch.stack([table[t] for t in texts]).view(len(shots), model.config.window, 2, -1)


def probe(model, encoder, shots: list[dict], seeds: int = 3) -> dict:
    anim, c = model.animation, model.config
    x0 = anim.standardise(to_objects(torch.stack([s["states"] for s in shots])))
    known = torch.zeros_like(x0)
    known[:, : c.context] = 1
    known = known * anim.valid
    surface = surface_of(torch.stack([s["states"][0] for s in shots]))
    on = torch.ones(len(shots), c.window, 2, dtype=torch.bool)
    texts = {"caption": text_tensor(model, encoder, shots, False), "swapped": text_tensor(model, encoder, shots, True)}
    toward = torch.tensor([s["toward"] for s in shots])
    frames = torch.tensor([[min(s["hit"] + k, c.window - 1) for k in LAUNCH_FRAMES] for s in shots])

    def launch(x: torch.Tensor) -> torch.Tensor:  # lateral ball velocity, standardised
        return x[:, :, 2, 3].gather(1, frames).mean(1)

    truth = launch(x0)
    result = {"shots": len(shots), "engine_left_right_difference": float(2 * (truth * toward).mean()), "levels": []}
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for level in LEVELS:
            level = min(level, len(anim.alpha_bar) - 1)
            a = anim.alpha_bar[level]
            noise = torch.randn(x0.shape, generator=generator)
            x_in = known * x0 + (1 - known) * (a.sqrt() * x0 + (1 - a).sqrt() * noise)
            t = torch.full((len(shots),), level)
            est = {}
            for name, text in texts.items():
                output = anim.network(x_in, known, text, on, surface, t)
                est[name] = launch(read_output(output, x_in, a, c.prediction)[1])
            shift = (est["caption"] - est["swapped"]) * toward
            result["levels"].append({"level": level, "signal_fraction": float(a), "shift_toward_caption": float(shift.mean()),
                                     "correlation_with_truth": float(np.corrcoef(est["caption"], truth)[0, 1])})  # fmt: skip
        # How loud the words are where they enter: the ball token's input at the launch frames is its values'
        # projection (noise, at high levels) plus the text's projection; swapping the words changes only the latter.
        net, idx = anim.network, frames[:, :, None].expand(-1, -1, c.d_model)
        level = len(anim.alpha_bar) - 1  # pure noise, where a sample's launch starts
        a = anim.alpha_bar[level]
        x_in = known * x0 + (1 - known) * (a.sqrt() * x0 + (1 - a).sqrt() * torch.randn(x0.shape, generator=generator))
        values = net.value_in(torch.cat([x_in, known], dim=-1))[:, :, 2].gather(1, idx)
        tokens = {name: net.text_parts(text, on)[0][:, :, 2].gather(1, idx) for name, text in texts.items()}
        result["ball_token"] = {"level": int(level), "values_norm": float(values.norm(dim=-1).mean()),
                                "text_norm": float(tokens["caption"].norm(dim=-1).mean()),
                                "swap_change": float((tokens["caption"] - tokens["swapped"]).norm(dim=-1).mean())}  # fmt: skip
        sampled = {}
        for name, text in texts.items():
            runs = [launch(sample(anim.network, anim.alpha_bar, Conditioning(x0, known, text, on, surface),
                                  steps=c.sample_steps, guidance=c.guidance, eta=c.eta, prediction=c.prediction,
                                  generator=torch.Generator().manual_seed(seed))) for seed in range(seeds)]  # fmt: skip
            sampled[name] = torch.stack(runs)
    shift = (sampled["caption"] - sampled["swapped"]) * toward
    result["sampled"] = {
        "shift_toward_caption": float(shift.mean()),
        "fraction_toward_caption": float((shift > 0).float().mean()),
        "correlation_with_truth": float(np.corrcoef(sampled["caption"].mean(0), truth)[0, 1]),
        "spread_between_seeds": float(sampled["caption"].std(0).mean()),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="lge_tennis_small", help="LGE checkpoint (path or shipped name)")
    parser.add_argument("--points", type=int, default=40, help="held-out engine points to take corner shots from")
    parser.add_argument("--first-index", type=int, default=500_000, help="first point index (validation points)")
    parser.add_argument("--out", default=None, help="write the result as JSON here")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--tiny", action="store_true", help="an untrained tiny model on a few points (checks the script)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from lge_gym.envs.models import resolve_model
    from world_models.core.text import shared_text_encoder

    model = resolve_model("lge", None if args.tiny else args.checkpoint, device="cpu")[0]  # None: untrained tiny
    points = 3 if args.tiny else args.points
    shots = corner_shots(model, args.first_index, points)
    if not shots:
        raise SystemExit("no corner shots in these points: take more (--points)")
    result = probe(model, shared_text_encoder(), shots, seeds=1 if args.tiny else 3)
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
