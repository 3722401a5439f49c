"""Config dataclasses: JSON round trip with clear errors for unknown or mistyped fields."""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, TypeVar

C = TypeVar("C")


class ConfigError(ValueError):
    """A config dictionary that does not describe the config class it is read into."""


def field_docs(cls: type) -> dict[str, str]:
    """Docstrings written under each field of the dataclass ``cls`` (command-line help of the training commands)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(cls))
    docs, body = {}, tree.body[0].body
    for node, following in zip(body, body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
                docs[node.target.id] = str(following.value.value)
    return docs


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (possibly nested) config dataclass."""
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"expected a config dataclass, got {type(config).__name__}")
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Build ``cls`` from ``data``; nested dataclasses and tuples are rebuilt from their JSON forms."""
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{cls.__name__} has no field(s) {unknown}; known fields: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints.get(name), value, f"{cls.__name__}.{name}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{cls.__name__}: {error}") from error


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return config_from_dict(hint, value)
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where) for v in value)
        return tuple(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def config_with_overrides(config: C, assignments: list[str]) -> C:
    """``config`` with ``FIELD=VALUE`` assignments applied (VALUE read as JSON, else as a string), for trainers'
    ``--set``. An unknown field or a value of another type than the field's current one is an error, not a silent
    default."""
    current = config_to_dict(config)
    changes: dict[str, Any] = {}
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"expected FIELD=VALUE, got {assignment!r}")
        if name not in current:
            raise ConfigError(f"{type(config).__name__} has no field {name!r}; known fields: {sorted(current)}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        old = current[name]
        numeric = isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool)
        if old is not None and not numeric and type(value) is not type(old):
            raise ConfigError(f"{type(config).__name__}.{name} must be of type {type(old).__name__}, got {text!r}")
        changes[name] = value
    return config_from_dict(type(config), {**current, **changes})
