"""The command line that reproduces a run, recorded beside what the run wrote (datasets, checkpoints, benchmarks)."""

from __future__ import annotations

import argparse
import shlex


def command_line(args: argparse.Namespace, prefix: str) -> str:
    """The command that reproduces ``args`` (every option spelled out, defaults included)."""
    parts = [prefix]
    for key, value in vars(args).items():
        if key in ("group", "name") or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif isinstance(value, (list, tuple)):
            parts.append(flag + " " + " ".join(shlex.quote(str(v)) for v in value))
        else:
            parts.append(f"{flag} {shlex.quote(str(value))}")
    return " ".join(parts)
