"""Where an LGE checkpoint's launch planner sends the ball, without the animation model: for held-out engine shots
(points from ``--first-index``), the planner's arc from the true contact, extended with its own acceleration until
it comes down, is judged against the captioned area, for the engine's caption and for a phrasing the engine never
uses (`paraphrases`). The same for arcs fitted to the engine's own first 12, 16 and 20 frames of each flight (how
far one constant-acceleration arc of that length can say where the ball lands). docs/lge.md, "Session 13", quotes
it; the generated shots of ``eval lge`` land in the area about as often as these planned ones.

    python examples/lge_planner_landing.py --checkpoint lge_tennis_small --points 60 --out landing.json
    python examples/lge_planner_landing.py --tiny    # an untrained tiny model with a planner, seconds (the tests)
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import torch
from tqdm import tqdm

from world_models import build_model, preset
from world_models.core.text import shared_text_encoder
from world_models.engines.tennis import layout
from world_models.engines.tennis.court import TARGET_AREAS, opponent
from world_models.engines.tennis.referee import judge
from world_models.engines.tennis.sequence import generate
from world_models.lge.paraphrases import paraphrase
from world_models.lge.planner import arc_landing, contacts
from world_models.zoo import checkpoint_path, load_model

FITTED_FRAMES = (12, 16, 20)
_BALL = layout.SLICES["ball.position"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="lge_tennis_small", help="LGE checkpoint with a planner")
    parser.add_argument("--points", type=int, default=60, help="held-out engine points")
    parser.add_argument("--first-index", type=int, default=500000, help="index of the first point (validation)")
    parser.add_argument("--out", default=None, help="JSON file for the rates")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--tiny", action="store_true", help="an untrained tiny model with a planner, three points")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.tiny:
        torch.manual_seed(0)
        model = build_model("lge", dataclasses.replace(preset("lge", "tiny"), planner_frames=(2, 4), planner_width=32))
        args.points = 3
    else:
        model, _, _ = load_model(checkpoint_path(args.checkpoint), family="lge")
    planner = model.animation.planner
    if planner is None:
        raise SystemExit(f"{args.checkpoint} has no launch planner (add one with `train lge-planner`)")
    encoder, stride = shared_text_encoder(), model.config.frame_stride
    dt = stride / 25.0
    hits = {"planned": [], "planned_unseen_phrasing": [], **{f"engine_arc_{k}_frames": [] for k in FITTED_FRAMES}}
    for index in tqdm(range(args.first_index, args.first_index + args.points), desc="held-out points", unit="point"):
        point = generate(0, index, render=False)
        states = torch.as_tensor(point.vectors()[::stride], dtype=torch.float32)
        found = torch.nonzero(contacts(states[None])[0]).flatten().tolist()
        bounces = judge(states.numpy(), 25.0 / stride).bounces
        for shot in point.engine.shots:
            if shot.shot == "serve" or shot.command.outcome != "play" or shot.area not in TARGET_AREAS:
                continue
            near = [h for h in found if abs(h - shot.frame // stride) <= 1]
            if not near or near[0] + 12 >= len(states):
                continue
            h = near[0]
            area, side = TARGET_AREAS[shot.area], opponent(shot.player)

            def judged(spot: tuple[float, float] | None, area=area, side=side) -> bool:
                return spot is not None and area.contains(side, *spot)

            bounce = next((b.frame for b in bounces if b.frame > h), len(states))
            for k in FITTED_FRAMES:
                end = min(h + k, bounce - 1, len(states) - 1)
                t = np.arange(end - h + 1) * dt
                design = np.stack([np.ones_like(t), t, 0.5 * t * t], 1)
                fit, *_ = np.linalg.lstsq(design, states[h : end + 1, _BALL].double().numpy(), rcond=None)
                hits[f"engine_arc_{k}_frames"].append(judged(arc_landing(fit[0], fit[1], fit[2])))
            caption = point.captions[shot.player][h * stride]
            for key, text in (("planned", caption), ("planned_unseen_phrasing", paraphrase(shot.player, shot.shot, shot.area))):
                hits[key].append(judged(planner.landing(model.embed_text(encoder([text]))[0], states, h)))
    result = {"checkpoint": str(args.checkpoint), "first_index": args.first_index, "points": args.points,
              "shots": len(hits["planned"]), "in_area": {k: float(np.mean(v)) if v else None for k, v in hits.items()}}  # fmt: skip
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
