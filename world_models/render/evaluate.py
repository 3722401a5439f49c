"""Evaluation of a renderer checkpoint: ``python -m world_models eval render --data DIR --out OUT``.

Writes ``OUT/metrics.json`` and PNG grids (``test.png``, ``novel_cameras.png``, ``style.png``, ``pose.png``):

- held-out test frames: PSNR against the engine's frames over whole frames and inside the player masks, SSIM;
- the noise ceiling: the engine paints the stands and the court wear with per-sequence random noise in screen
  space that no state holds; two draws of that noise give the best PSNR any state-conditioned renderer can reach;
- novel cameras: cameras drawn from the engine's ranges widened by 50% (and outside the training ranges),
  rendered by the engine and by the model;
- style control: swapping the court style changes the court pixels while the players' PSNR moves by < 2 dB;
- pose control: the projected wrists of each player fall on that player's rendered pixels.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from world_models.engines.tennis import layout
from world_models.engines.tennis.camera import CameraSampler
from world_models.engines.tennis.render import Renderer, SceneStyle
from world_models.render import rays as R
from world_models.render.data import RenderFrames, engine_scene_style
from world_models.render.model import TennisRenderer, scene_style, to_uint8
from world_models.render.zoo import SHIPPED, load_renderer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="tennis engine dataset folder (uses its test split)")
    parser.add_argument("--out", required=True, help="output folder for metrics.json and the PNG grids")
    parser.add_argument("--checkpoint", default=str(SHIPPED), help="renderer checkpoint (default: the shipped small)")
    parser.add_argument("--frames", type=int, default=64, help="test frames to evaluate (evenly spaced)")
    parser.add_argument("--novel", type=int, default=16, help="novel-camera frames to render")
    parser.add_argument("--seed", type=int, default=0, help="seed of the novel-camera draws")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", help="torch device")


def psnr(mse: float) -> float:
    return -10.0 * math.log10(max(mse, 1e-12))


def widened(sampler: CameraSampler, factor: float = 1.5) -> CameraSampler:
    """The camera ranges widened about their centres by ``factor`` (1.5 = 50% beyond the training variation)."""

    def grow(r: tuple[float, float]) -> tuple[float, float]:
        c, h = (r[0] + r[1]) / 2, (r[1] - r[0]) / 2 * factor
        return (c - h, c + h)

    return replace(sampler, distance=grow(sampler.distance), height=grow(sampler.height),
                   lateral=grow(sampler.lateral), aim_y=grow(sampler.aim_y), zoom=grow(sampler.zoom))  # fmt: skip


def camera_vector(camera) -> torch.Tensor:
    """Layout camera vector (16,) of an engine `Camera`."""
    e = np.asarray(camera.extrinsics, dtype=np.float32)
    intr = [camera.fx / camera.width, camera.fy / camera.height, camera.cx / camera.width, camera.cy / camera.height]
    return torch.tensor(np.concatenate([intr, e[:3, :3].reshape(-1), e[:3, 3]]), dtype=torch.float32)


def engine_style(ann: dict) -> SceneStyle:
    style = engine_scene_style(ann)[1]
    if style is None:
        raise RuntimeError(f"cannot regenerate the scene style of test sequence {ann['index']}")
    return style


@torch.no_grad()
def test_metrics(model: TennisRenderer, data: RenderFrames, index: torch.Tensor) -> tuple[dict, torch.Tensor]:
    h, w = data.frames.shape[1:3]
    images, cover = model.render_float(data.states[index], None, data.styles[index], height=h, width=w)
    pred = to_uint8(images.cpu())
    p, t = pred.float() / 255, data.frames[index].float() / 255
    err = ((p - t) ** 2).mean(-1)  # (F, H, W)
    masks = data.masks[index]
    players = (masks == 1) | (masks == 2)
    from world_models.layers.ssim import ssim

    s = float(ssim(p.permute(0, 3, 1, 2), t.permute(0, 3, 1, 2)))
    per_frame = [psnr(float(e.mean())) for e in err]
    return {
        "frames": int(index.numel()),
        "psnr": psnr(float(err.mean())),
        "psnr_frame_mean": float(np.mean(per_frame)),
        "psnr_players": psnr(float(err[players].mean())) if players.any() else None,
        "psnr_court_and_background": psnr(float(err[masks == 0].mean())),
        "ssim": s,
    }, pred


def noise_ceiling(data: RenderFrames, index: torch.Tensor) -> dict:
    """PSNR between two engine renders that differ only in the per-sequence noise seed (+3 dB: the best any
    predictor of the noise's mean can reach)."""
    values = []
    for i in index.tolist():
        ann = data.annotations[int(data.sequence[i])]
        style = engine_style(ann)
        state = layout.unflatten(data.states[i].numpy())
        cam = _engine_camera(data.states[i], ann["width"], ann["height"])
        a = Renderer(cam, style).render(state)[0].astype(np.float32) / 255
        b = Renderer(cam, replace(style, seed=style.seed + 1)).render(state)[0].astype(np.float32) / 255
        values.append(float(((a - b) ** 2).mean()))
    two_draws = psnr(float(np.mean(values)))
    return {"psnr_two_noise_draws": two_draws, "psnr_ceiling": two_draws + 10 * math.log10(2)}


def _engine_camera(state_vector: torch.Tensor, width: int, height: int):
    from world_models.engines.tennis.camera import Camera

    v = state_vector.numpy().astype(np.float64)
    intr = v[layout.SLICES["camera.intrinsics"]]
    e = np.eye(4)
    e[:3, :3] = v[layout.SLICES["camera.rotation"]].reshape(3, 3)
    e[:3, 3] = v[layout.SLICES["camera.translation"]]
    return Camera(width, height, intr[0] * width, intr[1] * height, intr[2] * width, intr[3] * height, e)


def _outside(sampler: CameraSampler, camera) -> bool:
    """Whether the camera's position lies outside the training ranges in distance, height or lateral offset."""
    from world_models.engines.tennis.court import HALF_LENGTH

    pos = camera.position
    distance = -pos[1] - HALF_LENGTH
    return not (sampler.distance[0] <= distance <= sampler.distance[1] and sampler.height[0] <= pos[2] <= sampler.height[1]
                and sampler.lateral[0] <= pos[0] <= sampler.lateral[1])  # fmt: skip


@torch.no_grad()
def novel_cameras(model: TennisRenderer, data: RenderFrames, count: int, seed: int) -> tuple[dict, list]:
    rng = np.random.default_rng(seed)
    base = CameraSampler()
    wide = widened(base)
    h, w = data.frames.shape[1:3]
    errs, pairs = [], []
    pick = np.linspace(0, len(data) - 1, count).astype(int)
    for i in pick:
        ann = data.annotations[int(data.sequence[i])]
        while True:
            camera = wide.sample(rng, w, h)
            if _outside(base, camera):
                break
        truth = Renderer(camera, engine_style(ann)).render(layout.unflatten(data.states[i].numpy()))[0]
        pred = model.render(data.states[i : i + 1], camera_vector(camera).unsqueeze(0), data.styles[i : i + 1],
                            height=h, width=w)[0].cpu().numpy()  # fmt: skip
        errs.append(float(((pred.astype(np.float32) - truth.astype(np.float32)) ** 2).mean() / 255**2))
        pairs.append((truth, pred))
    return {"frames": count, "psnr": psnr(float(np.mean(errs))),
            "ranges": {k: getattr(wide, k) for k in ("distance", "height", "lateral", "aim_y", "zoom")}}, pairs  # fmt: skip


@torch.no_grad()
def style_control(model: TennisRenderer, data: RenderFrames, index: torch.Tensor) -> tuple[dict, torch.Tensor]:
    """Swap every frame's court style for another surface's and measure what changes."""
    h, w = data.frames.shape[1:3]
    styles = data.styles[index]
    surface = styles[:, :3].argmax(-1)
    other = (surface + 1) % 3
    palette = torch.tensor([[0.22, 0.38, 0.62], [0.72, 0.40, 0.24], [0.33, 0.55, 0.25]])
    swapped = scene_style(other, palette[other], None, styles[:, 9:12])
    a = model.render(data.states[index], None, styles, height=h, width=w).float() / 255
    b = model.render(data.states[index], None, swapped, height=h, width=w).float() / 255
    t = data.frames[index].float() / 255
    masks = data.masks[index]
    players = (masks == 1) | (masks == 2)
    court = masks == 0
    pa = psnr(float(((a - t) ** 2).mean(-1)[players].mean()))
    pb = psnr(float(((b - t) ** 2).mean(-1)[players].mean()))
    change = (a - b).abs().mean(-1)
    return {
        "court_pixels_mean_abs_change": float(change[court].mean()),
        "court_pixels_changed_fraction": float((change[court] > 0.05).float().mean()),
        "player_psnr_original_style": pa,
        "player_psnr_swapped_style": pb,
        "player_psnr_difference_db": abs(pa - pb),
    }, torch.cat([(a * 255).byte(), (b * 255).byte()], 2)


@torch.no_grad()
def pose_control(model: TennisRenderer, data: RenderFrames, index: torch.Tensor) -> dict:
    """Fraction of frames whose visible wrists (the engine's mask shows that player at the wrist's pixel) are on
    that player's rendered pixels (coverage >= 0.5 at that pixel); and the same with each player's pose taken from
    another frame (a control: a renderer that ignored the pose would score as well there)."""
    h, w = data.frames.shape[1:3]
    states = data.states[index]
    shuffled = states.clone()
    for name in ("bottom", "top"):
        sl = layout.SLICES[f"{name}.joints"]
        shuffled[:, sl] = states.roll(states.shape[0] // 2, 0)[:, sl]
    result = {}
    for label, rendered in (("", states), ("_shuffled_pose_control", shuffled)):
        _, cover = model.render_float(rendered, None, data.styles[index], height=h, width=w)
        ok_frames, checked_frames, ok_wrists, checked_wrists = 0, 0, 0, 0
        for f in range(states.shape[0]):
            frame_ok, frame_checked = True, False
            for (u, v), k in wrist_pixels(states[f], h, w):
                if data.masks[index[f], v, u] != k + 1:
                    continue  # the engine does not show this wrist (occluded or thinner than a pixel)
                frame_checked = True
                checked_wrists += 1
                hit = bool(cover[f, v, u, 1 + k] >= 0.5)
                ok_wrists += hit
                frame_ok &= hit
            if frame_checked:
                checked_frames += 1
                ok_frames += frame_ok
        result.update({f"frames_checked{label}": checked_frames,
                       f"frames_all_wrists_on_player{label}": ok_frames / max(checked_frames, 1),
                       f"wrists_checked{label}": checked_wrists,
                       f"wrists_on_player{label}": ok_wrists / max(checked_wrists, 1)})  # fmt: skip
    return result


def wrist_pixels(state: torch.Tensor, h: int, w: int) -> list[tuple[tuple[int, int], int]]:
    """Pixels (u, v) of the projected wrists in the image, with the player index (0 bottom, 1 top)."""
    cam = state[layout.SLICES["camera.intrinsics"].start : layout.SLICES["camera.translation"].stop].unsqueeze(0)
    out = []
    for k, name in enumerate(("bottom", "top")):
        root = torch.cat([state[layout.SLICES[f"{name}.root"]], torch.zeros(1)])
        joints = state[layout.SLICES[f"{name}.joints"]].view(-1, 3)
        for wrist in ("l_wrist", "r_wrist"):
            uv, z = R.project(cam, (root + joints[layout.JOINT_INDEX[wrist]]).view(1, 1, 3), h, w)
            u, v = int(uv[0, 0, 0].floor()), int(uv[0, 0, 1].floor())
            if z[0, 0] > 0 and 0 <= u < w and 0 <= v < h:
                out.append(((u, v), k))
    return out


def mark_wrists(frames: np.ndarray, states: torch.Tensor) -> list[np.ndarray]:
    """Rendered frames with each player's projected wrists painted red (bottom) and blue (top)."""
    h, w = frames.shape[1:3]
    for f in range(frames.shape[0]):
        for (u, v), k in wrist_pixels(states[f], h, w):
            frames[f, v, u] = (255, 0, 0) if k == 0 else (0, 0, 255)
    return list(frames)


def save_grid(rows: list[list[np.ndarray]], path: Path) -> None:
    from PIL import Image

    grid = np.concatenate([np.concatenate(r, 1) for r in rows], 0)
    Image.fromarray(grid.astype(np.uint8)).save(path)


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, header = load_renderer(args.checkpoint, device=args.device)
    data = RenderFrames(args.data, "test", stride=1 if args.frames > 200 else 8)
    index = torch.linspace(0, len(data) - 1, min(args.frames, len(data))).long()
    start = time.perf_counter()
    test, pred = test_metrics(model, data, index)
    test["seconds_per_frame"] = (time.perf_counter() - start) / index.numel()
    ceiling = noise_ceiling(data, index[:: max(1, index.numel() // 8)])
    novel, pairs = novel_cameras(model, data, args.novel, args.seed)
    style, style_images = style_control(model, data, index[:16])
    pose = pose_control(model, data, index)
    metrics = {"checkpoint": str(args.checkpoint), "info": header.get("info", {}), "test": test,
               "noise_ceiling": ceiling, "novel_cameras": novel, "style_control": style, "pose_control": pose,
               "bars": {"test_psnr>=28": test["psnr"] >= 28, "player_psnr>=22": (test["psnr_players"] or 0) >= 22,
                        "novel_camera_psnr>=24": novel["psnr"] >= 24,
                        "style_players_within_2db": style["player_psnr_difference_db"] <= 2,
                        "pose_wrists_on_player>=90%": pose["frames_all_wrists_on_player"] >= 0.9}}  # fmt: skip
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    show = index[:: max(1, index.numel() // 4)][:4]
    rows = []
    for i in show.tolist():
        j = int((index == i).nonzero()[0, 0])
        truth, mine = data.frames[i].numpy(), pred[j].numpy()
        diff = np.clip(np.abs(truth.astype(np.int32) - mine.astype(np.int32)) * 4, 0, 255)
        rows.append([truth, mine, diff])
    save_grid(rows, out / "test.png")
    save_grid([[t, p] for t, p in pairs[:4]], out / "novel_cameras.png")
    save_grid([[img.numpy()] for img in style_images[:3]], out / "style.png")
    save_grid([[frame] for frame in mark_wrists(pred[:2].numpy().copy(), data.states[index[:2]])], out / "pose.png")
    print(json.dumps({k: metrics[k] for k in ("test", "noise_ceiling", "novel_cameras", "style_control",
                                              "pose_control", "bars")}, indent=2))  # fmt: skip
    return 0
