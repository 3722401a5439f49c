"""Checkpoints: safetensors weights whose header carries the config, plus a JSON file beside them.

Release checkpoint = ``NAME.safetensors`` (weights; its metadata header holds the format version, the model family,
the config and training info) and ``NAME.json`` (the same information for people, with the weights' sha256).
Loading reads the safetensors header only, so it never unpickles anything. Every write goes to a temporary file in
the same folder and is moved into place with `os.replace`, so an interrupted write leaves the previous file intact.

Training state (optimizer, step, RNG) is kept apart from release weights in ``*.pt`` files of plain tensors and
numbers, read back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

FORMAT_VERSION = 1
EXTRA_PREFIX = "extra/"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt, of another format version, or of another model."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes 0600 files, and some writers (safetensors) recreate the file: set ordinary permissions last.
        os.chmod(tmp_path, 0o666 & ~umask)
        with open(tmp_path, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_path(path: str | os.PathLike) -> Path:
    """``path`` with the ``.safetensors`` suffix (accepts the stem, the weights file or the JSON file)."""
    path = Path(path)
    if path.suffix in (".json", ".safetensors"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors")


def save_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    *,
    family: str,
    config: dict[str, Any],
    info: dict[str, Any] | None = None,
    extras: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a release checkpoint (weights + JSON) atomically; returns the weights path.

    ``info`` is free JSON (what it was trained on, the command that reproduces it, a play keymap...);
    ``extras`` are tensors shipped with the model (e.g. held-out start frames).
    """
    target = weights_path(path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    for key, value in (extras or {}).items():
        tensors[EXTRA_PREFIX + key] = value.detach().to("cpu").contiguous()
    header = {"format_version": FORMAT_VERSION, "family": family, "config": config, "info": info or {}}
    metadata = {"lge_gym": json.dumps(header, sort_keys=True)}
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    sidecar = dict(header, weights=target.name, sha256=_sha256(target))
    with atomic_path(target.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    return target


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The header (format version, family, config, info) and all tensors of a checkpoint, with clear errors."""
    target = weights_path(path)
    if not target.is_file():
        raise CheckpointError(f"checkpoint not found: {target}")
    try:
        with safe_open(str(target), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{target} is corrupt or not a safetensors file: {error}") from error
    if "lge_gym" not in metadata:
        raise CheckpointError(f"{target} is a safetensors file but not an lge-gym checkpoint (no lge_gym header)")
    try:
        header = json.loads(metadata["lge_gym"])
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{target}: the lge_gym header is not valid JSON: {error}") from error
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{target} has checkpoint format version {version}; this lge-gym reads {FORMAT_VERSION}")
    return header, tensors


def split_extras(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Separate model weights from the extra tensors shipped beside them."""
    weights = {k: v for k, v in tensors.items() if not k.startswith(EXTRA_PREFIX)}
    extras = {k[len(EXTRA_PREFIX) :]: v for k, v in tensors.items() if k.startswith(EXTRA_PREFIX)}
    return weights, extras


def load_state_dict_strict(model: torch.nn.Module, weights: dict[str, torch.Tensor], source: str) -> None:
    """`load_state_dict` that names every missing, unexpected or mis-shaped entry in one clear error."""
    own = model.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    mismatched = [
        f"{key}: checkpoint {tuple(weights[key].shape)} vs model {tuple(own[key].shape)}"
        for key in sorted(set(own) & set(weights))
        if own[key].shape != weights[key].shape
    ]
    if missing or unexpected or mismatched:
        lines = [f"{source} does not match {type(model).__name__}:"]
        for title, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
            if items:
                shown = ", ".join(items[:8]) + (f" ... ({len(items)} in all)" if len(items) > 8 else "")
                lines.append(f"  {title}: {shown}")
        raise CheckpointError("\n".join(lines))
    model.load_state_dict(weights, strict=True)


def save_training_state(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write resume state (tensors, numbers, strings, nested dicts/lists of them) atomically."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_training_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read resume state without unpickling arbitrary objects."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # torch raises many types for corrupt or unsafe files
        raise CheckpointError(f"cannot read training state {path}: {error}") from error


Converter = Callable[[Any], dict[str, torch.Tensor]]
CONVERTERS: dict[str, Converter] = {}


def register_converter(name: str, converter: Converter) -> Converter:
    """Register a function mapping a foreign checkpoint object (as `torch.load` returns it) to a state dict."""
    CONVERTERS[name] = converter
    return converter


def load_foreign(path: str | os.PathLike, converter: str) -> dict[str, torch.Tensor]:
    """Read a foreign ``.pth`` file with ``torch.load(weights_only=True)`` and map it with a registered converter."""
    if converter not in CONVERTERS:
        raise CheckpointError(f"unknown converter {converter!r}; known: {sorted(CONVERTERS)}")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise CheckpointError(f"checkpoint not found: {path}") from error
    except Exception as error:
        raise CheckpointError(f"cannot read {path} safely (weights_only=True): {error}") from error
    return CONVERTERS[converter](raw)
