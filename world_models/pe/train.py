"""``python -m world_models train pe``: train the PE action module on tennis engine states, resumably.

A run folder holds the data cache (``data.pt``: train and held-out state sequences), the resume state
(``resume.pt``: model, discriminators, optimizers, MI estimators, step, generator) written atomically every
``--save-minutes``, and the release checkpoint (``pe.safetensors`` + ``pe.json``, with the held-out start contexts
and the style bank as extras) exported at the same time. SIGTERM or Ctrl-C finish the step, save and exit; running
the same command again resumes.
"""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from world_models.core.checkpoint import load_training_state, save_training_state
from world_models.core.command import command_line
from world_models.core.config import ConfigError, config_to_dict, config_with_overrides
from world_models.core.device import (
    generator_states,
    resolve_device,
    restore_generators,
    seeded_init,
    training_generators,
)
from world_models.pe.data import (
    WindowSampler,
    context_frames,
    objects_of,
    prior_inputs,
    serve_contexts,
    strided,
    style_bank,
)
from world_models.pe.losses import discriminator_loss, player_losses
from world_models.pe.network import SequenceDiscriminator
from world_models.pe.world import PEWorldModel
from world_models.pvg.losses import MutualInformation
from world_models.zoo import checkpoint_path, preset, save_model, warm_start


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run folder (created; resumed when it holds resume.pt)")
    parser.add_argument("--preset", default="small", help="PE preset: tiny, small or paper")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", help="tennis engine dataset folder (python -m world_models data tennis ...)")
    source.add_argument("--engine-sequences", type=int, default=800,
                        help="without --data: simulate this many points with the engine (no rendering)")  # fmt: skip
    parser.add_argument("--locations", choices=("annotations", "boxes"), default=None,
                        help="player locations from the engine's annotations or from 2-D boxes projected onto the "
                        "ground with the camera (default: the preset's)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="engine dataset seed and training seed")
    parser.add_argument("--steps", type=int, default=None, help="total optimisation steps (default: the preset's)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="change one PEConfig field of the preset (repeatable), e.g. --set weight_acmv=0.1")  # fmt: skip
    parser.add_argument("--minutes", type=float, default=None, help="stop (saving) after this many minutes")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--save-minutes", type=float, default=3.0, help="minutes between resume saves and exports")
    parser.add_argument("--keep-exports", action="store_true",
                        help="also keep every export as exports/pe_<step>.safetensors (to choose a step on validation)")  # fmt: skip
    parser.add_argument("--device", default="auto", help="torch device (auto: the GPU when there is one)")
    parser.add_argument("--init", default=None,
                        help="release checkpoint (path or shipped name) to continue from when the run folder has no "
                        "resume state: weights and step are taken from it, optimizers start afresh")  # fmt: skip


def _data(args: argparse.Namespace, run: Path) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Train and held-out flat state sequences (25 fps), cached in the run folder."""
    cache = run / "data.pt"
    if cache.is_file():
        payload = torch.load(cache, map_location="cpu", weights_only=True)
        return list(payload["train"].split(payload["train_lengths"].tolist())), list(
            payload["held_out"].split(payload["held_out_lengths"].tolist())
        )
    from world_models.lge.data import from_dataset, from_engine

    if args.data:
        train, held_out = from_dataset(args.data, "train", 1).states, from_dataset(args.data, "test", 1).states
    else:
        n = args.engine_sequences
        train = from_engine(n, args.seed, 1).states
        held_out = from_engine(max(8, n // 8), args.seed, 1, first_index=n).states
    save_training_state(cache, {"train": torch.cat(train), "train_lengths": torch.tensor([len(s) for s in train]),
                                "held_out": torch.cat(held_out),
                                "held_out_lengths": torch.tensor([len(s) for s in held_out])})  # fmt: skip
    return train, held_out


def sequence_length(config, step: int) -> int:
    """Training sequence length at ``step`` (grows linearly from start to end)."""
    c = config
    frac = min(1.0, step / max(1, c.sequence_length_steps))
    return int(round(c.sequence_length_start + frac * (c.sequence_length_end - c.sequence_length_start)))


class Trainer(nn.Module):
    """Everything that trains: the world model, one discriminator and one MI estimator per player."""

    def __init__(self, model: PEWorldModel) -> None:
        super().__init__()
        c = model.config
        self.model = model
        self.discriminators = nn.ModuleList([SequenceDiscriminator(c) for _ in range(2)])
        self.mutual_information = nn.ModuleList(
            [MutualInformation(c.num_actions, c.mi_smoothing, c.mi_entropy_weight) for _ in range(2)]
        )

    def step(self, states: torch.Tensor, generator: torch.Generator, optimizer, d_optimizer) -> dict[str, float]:
        """One optimisation step on flat state windows (B, T, STATE_SIZE); returns the loss terms."""
        c = self.model.config
        objects = objects_of(states, c)  # (B, T, 2, F)
        priors = prior_inputs(states, objects)
        terms: dict[str, torch.Tensor] = {}
        pending, centroid_updates = [], []
        for i, animation in enumerate(self.model.players):
            player_terms, for_d, centroid_update = player_losses(c, animation, self.discriminators[i], self.mutual_information[i],
                                                objects[:, :, i], priors[:, :, i], c.context, generator)  # fmt: skip
            for k, v in player_terms.items():
                terms[k] = terms.get(k, 0.0) + v
            pending.append(for_d)
            centroid_updates.append(centroid_update)
        total = sum(terms.values())
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        optimizer.step()
        for animation, update in zip(self.model.players, centroid_updates, strict=True):
            animation.centroid_estimator.update(*update)
        d_total = sum(discriminator_loss(c, self.discriminators[i], *pending[i]) for i in range(2))
        d_optimizer.zero_grad(set_to_none=True)
        d_total.backward()
        d_optimizer.step()
        out = {k: float(v.detach()) for k, v in terms.items()}
        out["total"], out["discriminator"] = float(total.detach()), float(d_total.detach())
        return out


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    run_dir = Path(args.run)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = preset("pe", args.preset)
    if args.locations:
        config.locations = args.locations
    try:
        config = config_with_overrides(config, args.set)
    except ConfigError as error:
        raise SystemExit(f"--set: {error}") from None
    steps = args.steps or config.max_steps
    train, held_out = _data(args, run_dir)
    sampler = WindowSampler(strided(train, config.frame_stride), config.sequence_length_end)
    device = resolve_device(args.device)
    with seeded_init(args.seed):
        model = PEWorldModel(config).to(device)
        trainer = Trainer(model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.5, 0.999))
    d_optimizer = torch.optim.Adam(trainer.discriminators.parameters(), lr=config.lr, betas=(0.5, 0.999))
    generator, data_generator = training_generators(args.seed, device)  # Gumbel and direction noise; batches
    resume = run_dir / "resume.pt"
    step, warm_from = 0, {}
    if resume.is_file():
        state = load_training_state(resume)
        asked = config_to_dict(config)
        saved = state.get("config", asked)
        if saved != asked:
            differ = {k: (saved.get(k), asked[k]) for k in asked if saved.get(k) != asked[k]}
            raise SystemExit(f"{resume} was trained with another config (field: (saved, asked) {differ}); resume "
                             "with the same --preset, --locations and --set, or use a new --run folder")  # fmt: skip
        trainer.load_state_dict(state["trainer"])
        optimizer.load_state_dict(state["optimizer"])
        d_optimizer.load_state_dict(state["d_optimizer"])
        restore_generators(state, generator, data_generator)
        step = int(state["step"])
        print(f"resumed {run_dir} at step {step}")
    elif args.init:
        step, warm_from = warm_start(model, checkpoint_path(args.init))
        print(f"initialised from {args.init} (step {step}); fresh optimizers and discriminators")
    model.set_start(serve_contexts(held_out, context_frames(config), limit=64), style_bank(held_out))

    command = command_line(args, "python -m world_models train pe")
    info = {
        "command": command,
        "data": args.data or f"engine: {args.engine_sequences} points, seed {args.seed} (no rendering)",
        "train_sequences": len(train),
        "held_out_sequences": len(held_out),
        "locations": config.locations,
    }
    if warm_from:
        info["continued_from"] = {k: warm_from[k] for k in ("command", "steps", "continued_from") if k in warm_from}

    def save() -> None:
        save_training_state(resume, {"trainer": trainer.state_dict(), "optimizer": optimizer.state_dict(),
                                     "d_optimizer": d_optimizer.state_dict(),
                                     **generator_states(generator, data_generator), "step": step,
                                     "config": config_to_dict(config)})  # fmt: skip
        paths = [run_dir / "pe"] + ([run_dir / "exports" / f"pe_{step:06d}"] if args.keep_exports else [])
        extras = model.extras()
        for path in paths:
            save_model(path, model, info=dict(info, steps=step), extras=extras)

    stop = []

    def interrupt(signum, frame):  # `kill` (SIGTERM) and Ctrl-C finish the step, save and exit
        stop.append(signum)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    started = last_save = time.monotonic()
    ema: dict[str, float] = {}
    model.train()
    bar = tqdm(total=steps, initial=step, desc="train pe", unit="step")
    try:
        while step < steps and not stop:
            if args.minutes is not None and time.monotonic() - started > 60 * args.minutes:
                break
            length = sequence_length(config, step)
            states = sampler.batch(config.batch_size, length, data_generator).to(device)
            terms = trainer.step(states, generator, optimizer, d_optimizer)
            step += 1
            ema = {k: v if k not in ema else 0.98 * ema[k] + 0.02 * v for k, v in terms.items()}
            bar.update(1)
            bar.set_postfix(loss=f"{ema['total']:.4f}", acmv=f"{ema['acmv']:.3f}", d=f"{ema['discriminator']:.3f}")
            if time.monotonic() - last_save > 60 * args.save_minutes:
                save()
                last_save = time.monotonic()
    finally:
        for sig, handler in previous.items():  # the caller's handlers again (in-process use, tests)
            signal.signal(sig, handler)
        bar.close()
        model.eval()
        save()  # also on an exception: the work done is kept
    print(f"saved {run_dir / 'pe.safetensors'} at step {step}; last losses " +
          ", ".join(f"{k} {v:.4g}" for k, v in ema.items()))  # fmt: skip
    return 0
