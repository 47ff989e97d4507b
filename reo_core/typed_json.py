"""Dataclasses from and to JSON objects, with every field's type checked against its annotation.

``from_json(Cls, value)`` builds ``Cls`` from a decoded JSON object: unknown keys, missing required
fields and values of the wrong type are a ``FieldError`` that names the field, what it must be and
what it got. ``to_json(obj)`` gives the object back as JSON values. The annotations are the schema,
so a message type is defined once, by its dataclass.

Understood annotations: ``str``, ``int``, ``float`` (any finite number), ``bool``, ``Any``,
``X | None``, unions of those, ``tuple[X, ...]`` and ``tuple[X, Y]`` (JSON lists),
``dict[str, X]`` (JSON objects) and nested dataclasses. Standard library only: the QGIS plugin
imports this too.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import numbers
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")
_SHOWN_CHARS = 60  # of a wrong value, in messages


class FieldError(ValueError):
    """A JSON value that does not fit the dataclass; the message names the field."""


def from_json(cls: type[T], value: Any, name: str = "") -> T:
    """``cls`` built from the JSON object ``value`` (field types checked, unknown keys refused)."""
    return _decode(cls, value, name)


def to_json(value: Any) -> Any:
    """JSON values of a dataclass (recursively): objects as dicts, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value


def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(hint: Any, value: Any, name: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _decode_object(hint, value, name)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        return _decode_union(hint, args, value, name)
    if origin is tuple:
        return _decode_list(hint, args, value, name)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise _mismatch(hint, value, name)
        item = args[1] if args else Any
        return {key: _decode(item, v, _join(name, key)) for key, v in value.items()}
    if _fits_scalar(hint, value):
        return float(value) if hint is float else value
    raise _mismatch(hint, value, name)


def _fits_scalar(hint: Any, value: Any) -> bool:
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return (
            isinstance(value, numbers.Real)
            and not isinstance(value, bool)
            and math.isfinite(float(value))
        )
    return hint is str and isinstance(value, str)


def _decode_union(hint: Any, args: tuple, value: Any, name: str) -> Any:
    for option in args:
        try:
            return _decode(option, value, name)
        except FieldError as error:
            if dataclasses.is_dataclass(option) and isinstance(value, dict):
                raise error  # the object was meant as this dataclass: say what is wrong inside
    raise _mismatch(hint, value, name)


def _decode_list(hint: Any, args: tuple, value: Any, name: str) -> tuple:
    if not isinstance(value, list):
        raise _mismatch(hint, value, name)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_decode(args[0], item, f"{name}[{i}]") for i, item in enumerate(value))
    if len(value) != len(args):
        raise _mismatch(hint, value, name)
    return tuple(
        _decode(arg, item, f"{name}[{i}]")
        for i, (arg, item) in enumerate(zip(args, value, strict=True))
    )


def _decode_object(cls: type, value: Any, name: str) -> Any:
    if not isinstance(value, dict):
        raise _mismatch(cls, value, name)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [key for key in value if key not in known]
    if unknown:
        where = f' in "{name}"' if name else ""
        raise FieldError(f'Unknown field "{unknown[0]}"{where}; the fields are {", ".join(known)}.')
    hints, arguments = _hints(cls), {}
    for key, field in known.items():
        if key in value:
            arguments[key] = _decode(hints[key], value[key], _join(name, key))
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise FieldError(f'"{_join(name, key)}" is required ({describe(hints[key])}).')
    return cls(**arguments)


def describe(hint: Any) -> str:
    """What a value of ``hint`` is, in words: 'a list of strings', 'an integer or null'."""
    if dataclasses.is_dataclass(hint):
        return "an object with " + ", ".join(field_names(hint))
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        last_null = sorted(args, key=lambda option: option is type(None))
        return " or ".join(describe(option) for option in last_null)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_PLURALS.get(args[0], 'values')}"
        same = len(set(args)) == 1
        return f"a list of {len(args)} {_PLURALS.get(args[0], 'values') if same else 'values'}"
    if origin is dict or hint is dict:
        return "an object"
    return _NAMES.get(hint, "any value")


_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
          type(None): "null"}  # fmt: skip
_PLURALS = {str: "strings", int: "integers", float: "numbers", bool: "booleans"}


def _mismatch(hint: Any, value: Any, name: str) -> FieldError:
    try:
        shown = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError, RecursionError):  # not JSON, or nested too deeply to print
        shown = f"a {type(value).__name__}"
    if len(shown) > _SHOWN_CHARS:
        shown = shown[: _SHOWN_CHARS - 3] + "..."
    subject = f'"{name}"' if name else "The value"
    return FieldError(f"{subject} must be {describe(hint)}, got {shown}.")


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
