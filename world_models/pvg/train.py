"""Training process of PVG: ``python -m world_models train pvg --data DIR --preset small --run RUN_DIR``.

Resumes from ``RUN_DIR/state.pt`` when it exists (optimizer, step, generator, MI matrix, config). Every
``--save-minutes`` it writes, atomically, the resume state, ``latest.safetensors`` (release format) and, when the
validation score (`VALIDATION_RULE`) improves after pretraining, ``best.safetensors``. Every ``--sample-every`` steps it
writes PNG strips and GIF videos of samples under ``RUN_DIR/samples/``. Losses go to ``RUN_DIR/log.jsonl``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import time
import typing
from pathlib import Path

import numpy as np
import torch

from world_models.core.checkpoint import load_training_state, save_training_state
from world_models.core.command import command_line
from world_models.core.config import config_from_dict, config_to_dict, field_docs
from world_models.core.device import (
    generator_states,
    resolve_device,
    restore_generators,
    seeded_init,
    training_generators,
)
from world_models.data.pvg_format import SequenceSampler, read_info, read_split
from world_models.pvg.config import PVGConfig
from world_models.pvg.losses import MutualInformation, training_losses
from world_models.pvg.model import PVGModel, Unroll, to_uint8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="PVG-format dataset folder (train/, val/, test/)")
    parser.add_argument("--run", required=True, help="run folder: resume state, checkpoints, samples, log")
    parser.add_argument("--preset", default="small", help="named size from world_models.zoo PRESETS['pvg']")
    parser.add_argument("--steps", type=int, default=None, help="train until this total step (default: config max_steps)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training generator")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="auto", help="torch device (auto: the GPU when there is one)")
    parser.add_argument("--save-minutes", type=float, default=5.0, help="minutes between resume-state saves")
    parser.add_argument("--sample-every", type=int, default=500, help="steps between sample strips and videos")
    parser.add_argument("--max-videos", type=int, default=None, help="read at most this many training videos")
    parser.add_argument(
        "--init",
        default=None,
        help="release checkpoint (path or shipped name) to continue from when the run folder has no resume state: "
        "weights, start frames and step come from it, the optimizer and the MI estimate start afresh",
    )
    docs = field_docs(PVGConfig)
    group = parser.add_argument_group("config overrides (default: the preset's value)")
    hints = typing.get_type_hints(PVGConfig)
    for field in dataclasses.fields(PVGConfig):
        hint = hints[field.name]
        flag = "--" + field.name.replace("_", "-")
        if hint is bool:
            group.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=None, help=docs.get(field.name))
        elif typing.get_origin(hint) is tuple:
            group.add_argument(flag, type=int, nargs="+", default=None, help=docs.get(field.name))
        else:
            group.add_argument(flag, type=hint, default=None, help=docs.get(field.name))


def config_from_args(args: argparse.Namespace) -> PVGConfig:
    from world_models.zoo import preset

    base = config_to_dict(preset("pvg", args.preset))
    for field in dataclasses.fields(PVGConfig):
        value = getattr(args, field.name, None)
        if value is not None:
            base[field.name] = list(value) if isinstance(value, list) else value
    return config_from_dict(PVGConfig, base)


def write_samples(model: PVGModel, sampler: SequenceSampler, out: Path, step: int, generator: torch.Generator) -> None:
    """PNG strip (real row, teacher-forced reconstruction row, one row per held action) and one GIF per action."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    length = 8
    with torch.no_grad():
        batch = sampler.get([(0, len(sampler.videos[0].frames) // 3)], length)
        obs = model.prepare_frames(batch["observations"][0]).unsqueeze(0)  # (1, T, 3S, H, W)
        actions = model.infer_actions(obs)
        one_hot = torch.nn.functional.one_hot(actions.logits.argmax(-1), model.config.num_actions).float()
        memory, rows = None, [to_uint8(obs[0, :, :3])]
        generated = [obs[0, 0, :3]]
        current = obs[:, 0]
        for t in range(length - 1):
            frame, _, memory = model.step_frames(current, memory, one_hot[:, t])
            generated.append(frame[0])
            current = torch.cat([frame, current[:, :-3]], 1) if current.shape[1] > 3 else frame
        rows.append(to_uint8(torch.stack(generated)))
        gifs = []
        for k in range(model.config.num_actions):
            state = model.initial_state(1, generator=generator, context=None)
            state["observation"] = obs[:, 0]
            frames = [to_uint8(obs[0, 0, :3])]
            act = torch.full((1, 1), k, dtype=torch.long)
            for _ in range(length - 1):
                state, _ = model.step(state, act, generator=generator)
                frames.append(state["frame"][0])
            rows.append(torch.stack(frames))
            gifs.append([Image.fromarray(f.cpu().numpy()) for f in frames])
    strip = torch.cat([torch.cat(list(r), dim=1) for r in rows], dim=0).cpu().numpy()
    Image.fromarray(strip).save(out / f"strip_{step:07d}.png")
    for k, frames in enumerate(gifs):
        frames[0].save(out / f"action{k}_{step:07d}.gif", save_all=True, append_images=frames[1:], duration=150, loop=0)
    model.train(was_training)


VALIDATION_RULE = "min(agreement, playability)"
"""What `best.safetensors` maximises: the weaker of the issue's two behaviour bars on the validation split, the
agreement of learned and true actions and the lowest fraction of starts where the keymap's movements (Breakout:
left, stay, right) happen when held (both bars are 0.9). Agreement alone chose weights whose "right" made the
paddle fade."""


def validate(model: PVGModel, videos, info: dict, start_frames: torch.Tensor, backgrounds: np.ndarray | None) -> dict:
    """Agreement on every held-out transition, playability from ``start_frames`` (Tennis: the player found against
    each start's ``backgrounds``), and their `VALIDATION_RULE` score."""
    from world_models.pvg.evaluate import action_agreement, playability
    from world_models.pvg.tennis import tennis_playability

    with torch.no_grad():
        agreement = action_agreement(model, videos, info)["agreement"]
        if backgrounds is None:
            playable = playability(model, start_frames)
        else:
            playable = tennis_playability(model, start_frames, backgrounds)
    fractions = playable["assigned_fraction"]
    score = min(agreement, *fractions.values())
    return {"val_agreement": agreement, "val_playability": fractions, "val_score": score}


def revive_dead_actions(model: PVGModel, unroll: Unroll, usage: torch.Tensor) -> tuple[torch.Tensor, dict | None]:
    """Update the EMA share of each action among this batch's inferred (most probable) actions; when one falls below
    ``revive_dead_actions``, re-fit the action classifier to the centroids (`ActionNetwork.refit_classifier`) and
    restart the shares at uniform, so the revived action has time to gather its share before it is judged again."""
    # Shares of the argmax, not of the probabilities: a classifier can give an action 20% probability where another
    # always wins, and then that action is never inferred.
    inferred = unroll.actions.logits.detach().argmax(-1).flatten().cpu()
    usage = 0.99 * usage + 0.01 * torch.bincount(inferred, minlength=len(usage)).float() / len(inferred)
    if usage.min() >= model.config.revive_dead_actions:
        return usage, None
    centroids = model.centroid_estimator.estimated_centroids
    variance = model.action_network.refit_classifier(centroids, unroll.actions.direction_mean.detach().flatten(0, 1))
    event = {"shares": [round(float(u), 4) for u in usage], "centroids": centroids.cpu().tolist(), "variance": variance}
    return torch.full_like(usage, 1.0 / len(usage)), event


@torch.no_grad()
def match_action_state(model: PVGModel, observations: torch.Tensor) -> dict:
    """Re-express a fresh action-state mean head in the trained one's units: the linear map that best carries the
    new head's action directions onto the old head's over ``observations`` (B, T, 3S, H, W) is folded into the new
    head. The old classifier, centroids and variance head then read the new action state as they read the old one,
    and the dynamics keeps the action inputs it was trained on; training then corrects where the old state was
    wrong (at the walls, for the pooled head). For runs started with a `PVGConfig.REDISCOVERY_FIELDS` change."""
    training = model.training
    model.eval()
    states, attention = model.encode(observations)
    new = model.action_network(states, attention, generator=None).direction_mean.flatten(0, 1)  # (N, D)
    old = model.rediscovery_source(states, attention, generator=None).direction_mean.flatten(0, 1)
    model.train(training)
    fit = torch.linalg.lstsq(new.double(), old.double()).solution.float()  # (D, D): old ~ new @ fit
    head = model.action_network.mean_fc
    head.weight.copy_(fit.T @ head.weight)
    head.bias.copy_(head.bias @ fit)
    residual = old - new @ fit
    return {"fit": fit.tolist(), "explained": float(1 - residual.var() / old.var().clamp_min(1e-12))}


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from world_models.zoo import save_model

    torch.set_num_threads(args.threads)
    run_dir = Path(args.run)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.pt"
    resume = load_training_state(state_path) if state_path.is_file() else None
    if resume is not None:
        config = config_from_dict(PVGConfig, json.loads(resume["config"]))
        print(f"resuming {run_dir} at step {resume['step']}")
    else:
        config = config_from_args(args)
    total_steps = args.steps if args.steps is not None else config.max_steps
    device = resolve_device(args.device)

    with seeded_init(args.seed):
        model = PVGModel(config).to(device)
    mi = MutualInformation(config.num_actions, config.mi_smoothing, config.mi_entropy_weight).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    # Model draws (Gumbel noise, direction samples) on the device, batches on the CPU.
    generator, data_generator = training_generators(args.seed, device)
    step, best = 0, -1.0  # best validation score under VALIDATION_RULE
    reseed = False  # the action state's mean head starts afresh over trained weights: match it to the old one
    usage = torch.full((config.num_actions,), 1.0 / config.num_actions)  # EMA share of each inferred action
    warm_from: dict = {}  # the release checkpoint's info when --init started this run folder
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        mi.estimated_matrix.copy_(resume["mi_matrix"])
        restore_generators(resume, generator, data_generator)
        step = int(resume["step"])
        # A best kept under another rule (agreement alone, before session 8) is not comparable: start it again.
        best = float(resume.get("best", -1.0)) if resume.get("best_rule") == VALIDATION_RULE else -1.0
        usage = resume.get("action_usage", usage)
        warm_from = dict(resume.get("warm_from", {}))
    elif args.init:
        from world_models.zoo import checkpoint_path, warm_start

        step, warm_from = warm_start(model, checkpoint_path(args.init))
        print(f"initialised from {args.init} (step {step}); fresh optimizer")
        reseed = model.rediscovering
    command = command_line(args, "python -m world_models train pvg")
    meta_path = run_dir / "run.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {"commands": []}
    meta["commands"].append({"command": command, "start_step": step, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    meta.update(config=config_to_dict(config), data=str(args.data), data_info=read_info(args.data))
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")

    size = (config.height, config.width)
    print(f"reading {args.data} at {size[1]}x{size[0]} ...", flush=True)
    train_videos = read_split(args.data, "train", size_hw=size, crop=config.crop, max_videos=args.max_videos)
    val_videos = read_split(args.data, "val", size_hw=size, crop=config.crop)
    info = read_info(args.data)
    sampler = SequenceSampler(train_videos, skip=config.frame_skip, stack=config.frames_per_observation)
    val_sampler = SequenceSampler(val_videos, skip=config.frame_skip, stack=config.frames_per_observation)
    start_frames = torch.from_numpy(np.stack([v.frames[len(v.frames) // (i + 2)] for v in val_videos for i in range(4)]))
    start_backgrounds = None
    if info.get("game") == "Tennis":  # its player detector subtracts each video's empty court
        from world_models.pvg.tennis import read_backgrounds

        empty = read_backgrounds(args.data, "val", size, config.crop)
        start_backgrounds = np.stack([empty[j] for j, _ in enumerate(val_videos) for _ in range(4)])
    model.set_start_frames(start_frames)

    def save(tag: str | None = None, validation: dict | None = None) -> None:
        training_info = {"steps_trained": step, "command": command, "data": str(args.data), "run": str(run_dir)}
        if warm_from:  # the chain of commands that reproduces these weights
            keys = ("command", "steps_trained", "continued_from")
            training_info["continued_from"] = {k: warm_from[k] for k in keys if k in warm_from}
        if validation:
            training_info["validation"] = {"rule": VALIDATION_RULE, **validation}
        save_training_state(
            state_path,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                **generator_states(generator, data_generator),
                "mi_matrix": mi.estimated_matrix.detach().cpu(),
                "config": json.dumps(config_to_dict(config)),
                "best": best,
                "best_rule": VALIDATION_RULE,
                "action_usage": usage,
                "warm_from": warm_from,
            },
        )
        save_model(run_dir / "latest", model, info=training_info, extras={"start_frames": start_frames})
        if tag:
            save_model(run_dir / tag, model, info=training_info, extras={"start_frames": start_frames})

    stop: list[int] = []

    def interrupt(signum, frame):  # `kill` (SIGTERM) and Ctrl-C finish the step, save and exit
        stop.append(signum)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    model.train()
    log = open(run_dir / "log.jsonl", "a")
    last_save = time.monotonic()
    if reseed:
        seed_batch = sampler.sample(64, config.sequence_length(step), data_generator)["observations"]
        seed_obs = model.prepare_frames(seed_batch.flatten(0, 1)).view(64, seed_batch.shape[1], -1, *size)
        log.write(json.dumps({"step": step, "matched_action_state": match_action_state(model, seed_obs)}) + "\n")
    bar = tqdm(total=total_steps, initial=step, desc="train pvg", unit="step", dynamic_ncols=True)
    try:
        while step < total_steps and not stop:
            pretraining = step < config.pretrain_steps
            length = config.sequence_length(step)
            teacher = min(config.teacher_forced_observations, length - 1)
            batch = sampler.sample(config.batch_size, length, data_generator)
            obs = model.prepare_frames(batch["observations"].flatten(0, 1)).view(config.batch_size, length, -1, *size)
            unroll = model.unroll(obs, temperature=config.temperature(step), teacher_forced=teacher, generator=generator, pretraining=pretraining)
            terms = training_losses(
                model, unroll, obs, batch["rewards"].to(device), batch["dones"].to(device), mi, pretraining=pretraining
            )
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            optimizer.step()
            step += 1
            if config.revive_dead_actions > 0 and not pretraining:
                usage, revived = revive_dead_actions(model, unroll, usage)
                if revived is not None:
                    log.write(json.dumps({"step": step, "revived_actions": revived}) + "\n")
            bar.update(1)
            values = {k: round(v.item(), 5) for k, v in terms.items()}
            if step % 10 == 0:
                bar.set_postfix(loss=values["total"], l1=values["reconstruction"], T=length, pre=int(pretraining))
                log.write(json.dumps({"step": step, "T": length, "pretraining": pretraining, **values}) + "\n")
                log.flush()
            if step % args.sample_every == 0:
                write_samples(model, val_sampler, run_dir / "samples", step, generator)
            if time.monotonic() - last_save > 60 * args.save_minutes or step == total_steps:
                tag, scores = None, None
                if step > config.pretrain_steps:
                    model.eval()
                    scores = validate(model, val_videos, info, start_frames, start_backgrounds)
                    model.train()
                    log.write(json.dumps({"step": step, **scores}) + "\n")
                    if scores["val_score"] > best:
                        best, tag = scores["val_score"], "best"
                save(tag, scores)
                last_save = time.monotonic()
    finally:
        for sig, handler in previous.items():  # the caller's handlers again (in-process use, tests)
            signal.signal(sig, handler)
        bar.close()
        log.close()
        if step < total_steps:  # stopped by a signal or an exception: keep the work done
            save()
            print(f"interrupted; resume state saved at step {step}")
    return 0
