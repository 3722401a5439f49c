"""``python -m world_models train lge-planner``: add a trained launch planner (`planner.LaunchPlanner`) to an LGE
checkpoint.

The planner learns, from the engine points the animation model trained on (the run folder's cached data, or
generated as ``train lge`` does), where the ball is a few frames after each racket contact given the striker's
caption. The animation model's weights are copied unchanged; the output is a new LGE checkpoint whose sampling
uses the planner, with the planner's validation error in its info and in ``RUN/planner.json``.

    python -m world_models train lge-planner --checkpoint lge_tennis_small --run runs/planner --engine-sequences 2000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch
from tqdm import tqdm

from world_models.core.checkpoint import load_state_dict_strict
from world_models.core.command import command_line
from world_models.core.text import TextEncoder
from world_models.engines.tennis.captions import without_movement
from world_models.lge.data import embed_captions
from world_models.lge.evaluate import mirrored
from world_models.lge.planner import POSITION_UNIT, contact_examples
from world_models.lge.train import _data, seeded_init
from world_models.lge.world import LGEWorldModel
from world_models.zoo import checkpoint_path, load_model, save_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="lge_tennis_small", help="LGE checkpoint to add the planner to")
    parser.add_argument("--run", required=True, help="run folder: data cache, planner.json, the new checkpoint")
    parser.add_argument("--out", default=None, help="path of the new checkpoint, no extension (default: RUN/lge)")
    parser.add_argument("--frames", type=int, nargs="+", default=[3, 8], help="planned frames after the contact")
    parser.add_argument("--width", type=int, default=256, help="hidden width of the planner's MLP")
    parser.add_argument("--reader", type=int, default=0,
                        help="width of the planner's reading of the caption token by token (`planner.TokenReader`), "
                        "in place of the pooled embedding (0: read the pooled embedding)")  # fmt: skip
    parser.add_argument("--token-dropout", type=float, default=0.0,
                        help="with --reader: fraction of a training caption's tokens hidden from the reader (the "
                        "first, [CLS], is always kept), so that it reads every cue, not one")  # fmt: skip
    parser.add_argument("--members", type=int, default=1,
                        help="planners trained side by side from different initial weights, their arcs averaged "
                        "(`LGEConfig.planner_members`): a new phrasing's reading depends less on one draw")  # fmt: skip
    parser.add_argument("--data", default=None, help="tennis dataset folder (default: generate engine points)")
    parser.add_argument("--engine-sequences", type=int, default=2000, help="engine points when --data is not given")
    parser.add_argument("--seed", type=int, default=0, help="seed of the engine points and of training")
    parser.add_argument("--steps", type=int, default=4000, help="optimisation steps")
    parser.add_argument("--batch-size", type=int, default=256, help="contacts per step")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak Adam learning rate (cosine decay)")
    parser.add_argument("--raw-text", action="store_true",
                        help="centred, uniformly scaled embeddings instead of whitened ones")  # fmt: skip
    parser.add_argument("--text-noise", type=float, default=0.0,
                        help="std of Gaussian noise added to the caption embedding (whitened, or centred and scaled) "
                        "in training, relative to its per-direction spread: robustness to phrasings the engine never "
                        "uses")  # fmt: skip
    parser.add_argument("--mirror", action="store_true",
                        help="also train on every contact mirrored across the court's length (x negated, 'left' and "
                        "'right' swapped in its caption): the game is symmetric, and the words must then say which "
                        "side")  # fmt: skip
    parser.add_argument("--short-captions", type=float, default=0.0,
                        help="fraction of training contacts whose caption is cut to its shot and aim (how the player "
                        "ran to the ball left out: `captions.without_movement`), as people and command actions "
                        "write them")  # fmt: skip
    parser.add_argument("--distractors", type=float, default=0.0,
                        help="fraction of training contacts whose caption has 2-5 random English words inserted (none "
                        "that the engine's captions or `paraphrases` use), so that the reader learns that words it "
                        "does not know say nothing about the shot")  # fmt: skip
    parser.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--text-encoder", default=None, help="local Hugging Face encoder folder (default: MiniLM)")


def _error_m(planner, examples: dict, text_of) -> list[float]:
    """Median distance (m) between planned and true ball positions at each planned frame (``text_of``: the text
    vectors of table rows)."""
    with torch.no_grad():
        predicted = torch.cat([planner(text_of(rows), inputs) for rows, inputs in
                               zip(examples["caption"].split(4096), examples["inputs"].split(4096), strict=True)])  # fmt: skip
    distance = (predicted - examples["targets"])[..., :3].norm(dim=-1) * POSITION_UNIT  # (N, K)
    return [float(d[ok].median()) if ok.any() else None for d, ok in zip(distance.T, examples["valid"].T, strict=True)]


def _append_texts(table: torch.Tensor, texts: list[str], new: list[str], encoder) -> tuple[torch.Tensor, list[int]]:
    """The table with the embeddings of the strings of ``new`` it lacks appended (``texts`` lists its rows' strings
    and grows with it), and each string's row."""
    rows = {t: i for i, t in enumerate(texts)}
    missing = sorted({t for t in new if t not in rows})
    if missing:
        table = torch.cat([table, embed_captions(missing, encoder).to(table.dtype)])
        rows.update({t: len(texts) + i for i, t in enumerate(missing)})
        texts.extend(missing)
    return table, [rows[t] for t in new]


class _TokenTable:
    """The token states of every row's string, stored ragged in half precision (about 25 tokens a caption), and
    gathered padded for a batch of rows."""

    def __init__(self, texts: list[str], encoder, batch: int = 512) -> None:
        flat, lengths = [], []
        for start in tqdm(range(0, len(texts), batch), desc="token states", unit="batch"):
            out = encoder(texts[start : start + batch])
            flat.append(out.tokens[out.mask].half())  # the mask is each string's first tokens
            lengths.append(out.mask.sum(1))
        self.flat = torch.cat(flat)
        self.lengths = torch.cat(lengths)
        self.offsets = torch.cumsum(self.lengths, 0) - self.lengths

    def __call__(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token states ``(N, L, E)`` (float) and mask ``(N, L)`` of table rows ``(N,)``, L their longest."""
        lengths = self.lengths[rows]
        positions = torch.arange(int(lengths.max()))
        mask = positions < lengths[:, None]
        index = torch.where(mask, self.offsets[rows][:, None] + positions, 0)
        return self.flat[index].float(), mask


def _with_short(examples: dict, table: torch.Tensor, texts: list[str], encoder) -> tuple[dict, torch.Tensor]:
    """``examples`` with ``short``: the row of each contact's caption cut to its shot and aim
    (`captions.without_movement`; the caption itself where it names no shot)."""
    used = sorted({(int(c), int(p)) for c, p in zip(examples["caption"], examples["striker"], strict=True)})
    cut = [without_movement(texts[c], ("bottom", "top")[p]) or texts[c] for c, p in used]
    table, rows = _append_texts(table, texts, cut, encoder)
    row_of = dict(zip(used, rows, strict=True))
    short = [row_of[(int(c), int(p))] for c, p in zip(examples["caption"], examples["striker"], strict=True)]
    return {**examples, "short": torch.tensor(short)}, table


def _distractor_words(tokenizer, texts: list[str]) -> list[str]:
    """Whole lower-case words of the tokenizer's vocabulary (3 letters or more) that no training caption and no
    held-out phrasing (`paraphrases`) uses: insertions that carry no cue and do not teach the held-out words."""
    from world_models.lge import paraphrases

    held_out = " ".join([*paraphrases.SUBJECTS.values(), *paraphrases.SHOTS.values(), *paraphrases.AREAS.values()])
    used = {w.strip(",.") for t in [*texts, held_out] for w in t.lower().split()}
    vocabulary = [w for w in tokenizer.get_vocab() if w.isascii() and w.isalpha() and w.islower() and len(w) >= 3]
    return sorted(set(vocabulary) - used)


def _with_distractors(
    examples: dict, table: torch.Tensor, texts: list[str], encoder, seed: int
) -> tuple[dict, torch.Tensor]:
    """``examples`` with ``noisy``: the row of each contact's caption with 2-5 random `_distractor_words` inserted
    between its words (one variant per caption, drawn with a generator seeded by ``seed``)."""
    words = _distractor_words(encoder.tokenizer, texts)
    generator = torch.Generator().manual_seed(seed)
    used = sorted({int(c) for c in examples["caption"]})
    noisy = []
    for c in used:
        caption = texts[c].split()
        for _ in range(int(torch.randint(2, 6, (1,), generator=generator))):
            at = int(torch.randint(len(caption) + 1, (1,), generator=generator))
            caption.insert(at, words[int(torch.randint(len(words), (1,), generator=generator))])
        noisy.append(" ".join(caption))
    table, rows = _append_texts(table, texts, noisy, encoder)
    row_of = dict(zip(used, rows, strict=True))
    return {**examples, "noisy": torch.tensor([row_of[int(c)] for c in examples["caption"]])}, table


def _with_mirrored(examples: dict, table: torch.Tensor, texts: list[str], encoder) -> tuple[dict, torch.Tensor]:
    """``examples`` plus each one mirrored across the court's length ("left" and "right" swapped in its texts),
    and the table with the mirrored texts' embeddings appended."""
    flip_inputs = torch.ones(examples["inputs"].shape[1])
    flip_inputs[[0, 3, 6]] = -1.0  # x of the ball's position, of its incoming velocity, of the striker's root
    flip_targets = torch.ones(6)
    flip_targets[[0, 3]] = -1.0  # x of the offset and of the velocity
    out = {
        "inputs": torch.cat([examples["inputs"], examples["inputs"] * flip_inputs]),
        "targets": torch.cat([examples["targets"], examples["targets"] * flip_targets]),
        "valid": torch.cat([examples["valid"], examples["valid"]]),
        "striker": torch.cat([examples["striker"], examples["striker"]]),
    }
    for key in ("caption", "short", "noisy"):
        if key in examples:
            table, rows = _append_texts(table, texts, [mirrored(texts[int(i)]) for i in examples[key]], encoder)
            out[key] = torch.cat([examples[key], torch.tensor(rows)])
    return out, table


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    run_dir = Path(args.run)
    run_dir.mkdir(parents=True, exist_ok=True)
    source, header, extras = load_model(checkpoint_path(args.checkpoint), family="lge")
    config = dataclasses.replace(
        source.config, planner_frames=tuple(args.frames), planner_width=args.width, planner_reader=args.reader,
        planner_members=args.members,
    )  # fmt: skip
    with seeded_init(args.seed):  # the planner's initial weights
        model = LGEWorldModel(config)
    state = {k: v for k, v in source.state_dict().items() if not k.startswith("animation.planner.")}
    fresh = {k: v for k, v in model.state_dict().items() if k.startswith("animation.planner.")}
    load_state_dict_strict(model, {**state, **fresh}, str(args.checkpoint))
    model.load_extras(extras)
    planner = model.animation.planner

    train, held_out, table = _data(args, config.frame_stride, run_dir)
    examples = contact_examples(train.states, train.caption_ids, config.planner_frames, config.num_surfaces)
    validation = contact_examples(held_out.states, held_out.caption_ids, config.planner_frames, config.num_surfaces)
    captions = torch.unique(examples["caption"])
    planner.set_text_statistics(table[captions], whiten=not args.raw_text)
    texts = train.captions + held_out.captions  # the table's rows
    needs_encoder = args.mirror or args.short_captions or args.reader or args.distractors
    encoder = TextEncoder(args.text_encoder) if needs_encoder else None
    if args.short_captions:
        examples, table = _with_short(examples, table, texts, encoder)
    if args.distractors:
        examples, table = _with_distractors(examples, table, texts, encoder, args.seed)
    if args.mirror:
        examples, table = _with_mirrored(examples, table, texts, encoder)
    generator = torch.Generator().manual_seed(args.seed)
    tokens = _TokenTable(texts, encoder) if args.reader else None
    del encoder  # its cache holds every row's token states in full precision: GBs once the table has its copy

    def text_of(rows: torch.Tensor, dropout: float = 0.0) -> torch.Tensor:
        """Text vectors (`LaunchPlanner.features`) of table rows, with ``dropout`` of their tokens hidden."""
        if tokens is None:
            return table[rows]
        states, mask = tokens(rows)
        if dropout:
            hidden = torch.rand(mask.shape, generator=generator) < dropout
            hidden[:, 0] = False
            mask = mask & ~hidden
        return planner.features(table[rows], states, mask)

    parameters = [p for name, p in planner.named_parameters() if name.startswith(("net.", "reader.", "extra_"))]
    optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=args.weight_decay)
    n = len(examples["caption"])
    bar = tqdm(range(args.steps), desc="train lge-planner", unit="step")
    start = time.monotonic()
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = args.lr * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * step / args.steps)).item())
        pick = torch.randint(n, (args.batch_size,), generator=generator)
        caption = examples["caption"][pick]
        if args.short_captions:
            cut = torch.rand(args.batch_size, generator=generator) < args.short_captions
            caption = torch.where(cut, examples["short"][pick], caption)
        if args.distractors:
            noisy = torch.rand(args.batch_size, generator=generator) < args.distractors
            caption = torch.where(noisy, examples["noisy"][pick], caption)
        text = text_of(caption, args.token_dropout)
        predicted = planner(text, examples["inputs"][pick], noise=args.text_noise, generator=generator, members=True)
        valid = examples["valid"][pick, :, None]  # frames after the flight's end carry no target
        # Each member fits the targets on its own (the mean of the members' losses), as separate runs would.
        error = (predicted - examples["targets"][pick]).square() * valid
        loss = error.sum() / (valid.sum() * predicted.shape[-1] * len(predicted))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.2e}")
    result = {
        "contacts": {"train": n, "validation": len(validation["caption"])},
        "frames": list(config.planner_frames),
        "median_error_m": {"train": _error_m(planner, examples, text_of),
                           "validation": _error_m(planner, validation, text_of)},  # fmt: skip
        "seconds": time.monotonic() - start,
        "command": command_line(args, "python -m world_models train lge-planner"),
    }
    (run_dir / "planner.json").write_text(json.dumps(result, indent=2))
    info = dict(header.get("info", {}))
    info["planner"] = {k: result[k] for k in ("command", "contacts", "median_error_m")}
    out = Path(args.out) if args.out else run_dir / "lge"
    save_model(out, model, info=info, extras=model.extras())
    print(json.dumps(result["median_error_m"]))
    print(f"saved {out}.safetensors")
    return 0
