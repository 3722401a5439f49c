"""``python -m world_models``: data, train, eval, sample.

Each leaf command lives in the module that owns it and exposes ``add_arguments(parser)`` and ``run(args)``; this
table says which module answers which command, so the tool starts without importing every model family.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, dict[str, tuple[str, str]]] = {
    "data": {
        "atari": ("world_models.data.atari", "record real Atari (ALE) games in the PVG on-disk format"),
        "tennis": ("world_models.data.tennis", "generate the tennis engine dataset"),
        "tennis-pvg": (
            "world_models.data.tennis_pvg",
            "tennis engine points, broadcast camera cropped to the near half, in the PVG format (PVG-Tennis)",
        ),
    },
    "train": {
        "pvg": ("world_models.pvg.train", "train PVG (Playable Video Generation) on a PVG-format dataset"),
        "render": ("world_models.render.train", "train the compositional neural renderer on a tennis engine dataset"),
        "lge": ("world_models.lge.train", "train the LGE animation model (masked diffusion over tennis states)"),
        "lge-planner": (
            "world_models.lge.train_planner",
            "add a trained launch planner (where the words send the ball after a contact) to an LGE checkpoint",
        ),
        "pe": ("world_models.pe.train", "train the PE action module (learned per-player actions over tennis states)"),
    },
    "eval": {
        "pvg": ("world_models.pvg.evaluate", "evaluate a PVG checkpoint: action agreement, rollouts, paddle, reward"),
        "lge": ("world_models.lge.evaluate", "judge the LGE animation model with the referee: text adherence, physics, director"),
        "pe": ("world_models.pe.evaluate", "evaluate a PE checkpoint: action agreement, consistency, ADD/MDR, camera"),
        "pe-select": ("world_models.pe.select", "choose a PE run's kept export on validation points (agreement, held speeds)"),
        "render": ("world_models.render.evaluate", "evaluate a renderer checkpoint: PSNR, novel cameras, style, pose, grids"),
    },
    "sample": {},
}
"""group -> name -> (module, one-line help). Modules join by adding a row here."""

GROUP_HELP = {
    "data": "record or generate datasets",
    "train": "train a world model (resumes from its run folder)",
    "eval": "evaluate a checkpoint; writes JSON and plots",
    "sample": "roll a checkpoint forward and write videos",
}


def build_parser() -> tuple[argparse.ArgumentParser, dict[tuple[str, str], argparse.ArgumentParser]]:
    """The top parser and each leaf's parser (the leaf's module adds its arguments when it is run)."""
    parser = argparse.ArgumentParser(prog="python -m world_models", description=__doc__.splitlines()[0])
    groups = parser.add_subparsers(dest="group", required=True)
    leaf_parsers = {}
    for group, commands in COMMANDS.items():
        group_parser = groups.add_parser(group, help=GROUP_HELP[group], description=GROUP_HELP[group])
        leaves = group_parser.add_subparsers(dest="name", required=True, metavar="{" + ",".join(commands) + "}")
        for name, (_module_name, help_text) in commands.items():
            leaf_parsers[group, name] = leaves.add_parser(name, help=help_text, description=help_text)
    return parser, leaf_parsers


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, leaf_parsers = build_parser()
    # Import only the module of the leaf being run, and let it add its arguments before the full parse.
    group, name = (argv + [None, None])[:2]
    if (group, name) in leaf_parsers:
        module = importlib.import_module(COMMANDS[group][name][0])
        module.add_arguments(leaf_parsers[group, name])
        args = parser.parse_args(argv)
        return int(module.run(args) or 0)
    parser.parse_args(argv)
    return 0
