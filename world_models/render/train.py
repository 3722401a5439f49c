"""Training process of the renderer: ``python -m world_models train render --data DIR --run RUN --preset small``.

Each step renders one ``patch x patch`` window of ``batch_frames`` random training frames (a fraction of them
centred on a player) and minimises L2 + ``ssim_weight`` x (1 - SSIM) against the engine's pixels. Resumes from
``RUN/state.pt`` (weights, optimizer, step, generator, config). Every ``--save-minutes`` it writes the resume state
and ``RUN/latest.safetensors`` (release format); every ``--sample-every`` steps a PNG of validation frames (engine
above, renderer below) under ``RUN/samples/`` and the validation PSNR in ``RUN/log.jsonl``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
import typing
from pathlib import Path

import torch

from world_models.core.checkpoint import load_training_state, save_training_state
from world_models.core.command import command_line
from world_models.core.config import config_from_dict, config_to_dict, field_docs
from world_models.core.device import resolve_device, seeded_init
from world_models.engines.tennis import layout
from world_models.layers.ssim import ssim
from world_models.render import rays as R
from world_models.render.config import RendererConfig, preset
from world_models.render.data import RenderFrames
from world_models.render.model import TennisRenderer, state_cameras, to_uint8
from world_models.render.zoo import save_renderer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", required=True, help="tennis engine dataset folder (python -m world_models data tennis)"
    )
    parser.add_argument("--run", required=True, help="run folder: resume state, checkpoints, samples, log")
    parser.add_argument("--preset", default="small", help="named size from world_models.render.config PRESETS")
    parser.add_argument(
        "--steps", type=int, default=None, help="train until this total step (default: config max_steps)"
    )
    parser.add_argument("--minutes", type=float, default=None, help="stop after this many minutes of this session")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training generator")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="auto", help="torch device (auto: the GPU when there is one)")
    parser.add_argument("--save-minutes", type=float, default=3.0, help="minutes between resume-state saves")
    parser.add_argument("--sample-every", type=int, default=500, help="steps between sample images and validation")
    parser.add_argument("--max-sequences", type=int, default=None, help="read at most this many training sequences")
    docs = field_docs(RendererConfig)
    group = parser.add_argument_group("config overrides (default: the preset's value)")
    hints = typing.get_type_hints(RendererConfig)
    for field in dataclasses.fields(RendererConfig):
        hint = hints[field.name]
        flag = "--" + field.name.replace("_", "-")
        if typing.get_origin(hint) is tuple:
            group.add_argument(
                flag, type=float, nargs="+", default=None, help=docs.get(field.name, "").replace("%", "%%")
            )
        else:
            group.add_argument(flag, type=hint, default=None, help=docs.get(field.name, "").replace("%", "%%"))


def config_from_args(args: argparse.Namespace) -> RendererConfig:
    base = config_to_dict(preset(args.preset))
    for field in dataclasses.fields(RendererConfig):
        value = getattr(args, field.name, None)
        if value is not None:
            base[field.name] = list(value) if isinstance(value, list) else value
    return config_from_dict(RendererConfig, base)


def training_batch(data: RenderFrames, config: RendererConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Frame indices, patch corners (B, 2), target patches (B, P, P, 3) float and player masks (B, P, P)."""
    b, p = config.batch_frames, config.patch
    _, h, w, _ = data.frames.shape
    index = torch.randint(len(data), (b,), generator=generator)
    states = data.states[index]
    corners = torch.stack([torch.randint(0, w - p + 1, (b,), generator=generator),
                           torch.randint(0, h - p + 1, (b,), generator=generator)], -1)  # fmt: skip
    # Patches centred on a player (its pelvis, jittered by up to a quarter patch).
    on_player = torch.rand(b, generator=generator) < config.player_patch_fraction
    which = torch.randint(0, 2, (b,), generator=generator)
    pelvis = layout.JOINT_INDEX["pelvis"]
    centres = []
    for name in ("bottom", "top"):
        root = states[:, layout.SLICES[f"{name}.root"]]
        joint = states[:, layout.SLICES[f"{name}.joints"]].view(b, -1, 3)[:, pelvis]
        centres.append(torch.cat([root, torch.zeros(b, 1)], -1) + joint)
    centre = torch.where(which.unsqueeze(-1) == 0, centres[0], centres[1])
    uv, _ = R.project(state_cameras(states), centre.unsqueeze(1), h, w)
    jitter = (torch.rand(b, 2, generator=generator) - 0.5) * (p / 2)
    player_corner = (uv[:, 0] + jitter - p / 2).round().long()
    player_corner[:, 0] = player_corner[:, 0].clamp(0, w - p)
    player_corner[:, 1] = player_corner[:, 1].clamp(0, h - p)
    corners = torch.where(on_player.unsqueeze(-1), player_corner, corners)
    rows = corners[:, 1, None] + torch.arange(p)
    cols = corners[:, 0, None] + torch.arange(p)
    target = data.frames[index[:, None, None], rows[:, :, None], cols[:, None, :]].float() / 255.0
    masks = data.masks[index[:, None, None], rows[:, :, None], cols[:, None, :]]
    players = (masks == 1) | (masks == 2)
    return {"index": index, "corners": corners, "target": target, "players": players}


def step_loss(model: TennisRenderer, data: RenderFrames, batch: dict[str, torch.Tensor],
              config: RendererConfig) -> tuple[torch.Tensor, dict[str, float]]:  # fmt: skip
    """L2 (player pixels weighted by ``player_loss_weight``) + ssim_weight x (1 - SSIM) of the rendered patches
    against the engine's; the stats report the plain L2 and its PSNR."""
    device = model.device
    index = batch["index"]
    h, w = data.frames.shape[1:3]
    states, styles = data.states[index].to(device), data.styles[index].to(device)
    scene = model.scene(states, None, styles)
    rays = R.window_rays(scene.cameras, batch["corners"].to(device), config.patch, h, w)
    colour, _ = model(scene, rays, h, w)
    pred = colour.view(-1, config.patch, config.patch, 3)
    target = batch["target"].to(device)
    mse = torch.mean((pred - target) ** 2)
    weight = 1.0 + (config.player_loss_weight - 1.0) * batch["players"].to(device).float().unsqueeze(-1)
    weighted = torch.mean(weight * (pred - target) ** 2) / weight.mean()
    s = ssim(pred.permute(0, 3, 1, 2), target.permute(0, 3, 1, 2))
    loss = weighted + config.ssim_weight * (1.0 - s)
    mse_value = float(mse.detach())
    stats = {
        "loss": float(loss.detach()),
        "mse": mse_value,
        "psnr": -10 * math.log10(max(mse_value, 1e-10)),
        "ssim": float(s.detach()),
    }
    return loss, stats


@torch.no_grad()
def validate(model: TennisRenderer, data: RenderFrames, count: int = 16) -> dict[str, float]:
    """PSNR over whole frames and inside player masks, on ``count`` evenly spaced validation frames."""
    was = model.training
    model.eval()
    index = torch.linspace(0, len(data) - 1, min(count, len(data))).long()
    h, w = data.frames.shape[1:3]
    images, _ = model.render_float(data.states[index], None, data.styles[index], height=h, width=w)
    pred = to_uint8(images.cpu()).float() / 255
    target = data.frames[index].float() / 255
    err = ((pred - target) ** 2).mean(-1)
    players = (data.masks[index] == 1) | (data.masks[index] == 2)
    model.train(was)
    return {"val_psnr": -10 * math.log10(float(err.mean())),
            "val_psnr_players": -10 * math.log10(float(err[players].mean())) if players.any() else float("nan")}  # fmt: skip


@torch.no_grad()
def write_samples(model: TennisRenderer, data: RenderFrames, out: Path, step: int, count: int = 4) -> Path:
    """PNG grid: engine frames (top row) and rendered frames (bottom row)."""
    from PIL import Image

    was = model.training
    model.eval()
    index = torch.linspace(0, len(data) - 1, min(count, len(data))).long()
    h, w = data.frames.shape[1:3]
    pred = model.render(data.states[index], None, data.styles[index], height=h, width=w).cpu()
    model.train(was)
    grid = torch.cat([torch.cat(list(data.frames[index]), 1), torch.cat(list(pred), 1)], 0).numpy()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"samples_{step:07d}.png"
    Image.fromarray(grid).save(path)
    return path


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    torch.set_num_threads(args.threads)
    run_dir = Path(args.run)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.pt"
    resume = load_training_state(state_path) if state_path.is_file() else None
    config = config_from_dict(RendererConfig, resume["config"]) if resume else config_from_args(args)
    device = resolve_device(args.device)
    with seeded_init(args.seed):
        model = TennisRenderer(config).to(device)
    textures = {id(p) for p in model.texture_parameters()}
    optimizer = torch.optim.Adam([
        {"params": [p for p in model.parameters() if id(p) not in textures], "lr": config.lr},
        {"params": model.texture_parameters(), "lr": config.texture_lr},
    ])  # fmt: skip
    generator = torch.Generator().manual_seed(args.seed)
    step = 0
    commands = [command_line(args, "python -m world_models train render")]
    if resume:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        generator.set_state(resume["generator"])
        step = int(resume["step"])
        commands = list(resume.get("commands", [])) + commands
        print(f"resumed {run_dir} at step {step}")
    max_steps = args.steps or config.max_steps
    print(f"loading frames from {args.data} (every {config.frame_stride}th frame)...", flush=True)
    train = RenderFrames(args.data, "train", config.frame_stride, args.max_sequences)
    val = RenderFrames(args.data, "val", 16, 8)
    print(f"{len(train)} training frames, {len(val)} validation frames", flush=True)

    def save() -> None:
        save_training_state(state_path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                         "generator": generator.get_state(), "step": step,
                                         "config": config_to_dict(config), "commands": commands})  # fmt: skip
        info = {"data": str(args.data), "steps": step, "commands": commands,
                "data_command": train_data_command(args.data)}  # fmt: skip
        save_renderer(run_dir / "latest", model, info=info)

    log = open(run_dir / "log.jsonl", "a")
    start = last_save = time.perf_counter()
    bar = tqdm(total=max_steps, initial=step, desc="render", unit="step")
    model.train()
    while step < max_steps:
        decay = 0.5 ** (step / config.lr_decay_steps)
        optimizer.param_groups[0]["lr"] = config.lr * decay
        optimizer.param_groups[1]["lr"] = config.texture_lr * decay
        batch = training_batch(train, config, generator)
        loss, stats = step_loss(model, train, batch, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        bar.update(1)
        bar.set_postfix(psnr=f"{stats['psnr']:.1f}", ssim=f"{stats['ssim']:.3f}")
        record = {"step": step, **stats, "time": time.time()}
        if step % args.sample_every == 0 or step == max_steps:
            record.update(validate(model, val))
            write_samples(model, val, run_dir / "samples", step)
            bar.write(f"step {step}: val PSNR {record['val_psnr']:.2f} dB, players {record['val_psnr_players']:.2f} dB")
        if step % 10 == 0 or "val_psnr" in record:
            log.write(json.dumps(record) + "\n")
            log.flush()
        now = time.perf_counter()
        if now - last_save > args.save_minutes * 60:
            save()
            last_save = now
        if args.minutes is not None and now - start > args.minutes * 60:
            break
    save()
    bar.close()
    log.close()
    print(f"stopped at step {step}; weights in {run_dir / 'latest.safetensors'}")
    return 0


def train_data_command(data: str | Path) -> str | None:
    """The command that generated the dataset (from its metadata), if known."""
    meta = Path(data) / "metadata.json"
    if meta.is_file():
        return json.loads(meta.read_text()).get("command", "").replace("--out OUT", f"--out {data}")
    return None
