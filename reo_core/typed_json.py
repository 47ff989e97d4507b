"""Dataclasses from and to JSON objects, with every field's type checked against its annotation.

``from_json(Cls, value)`` builds ``Cls`` from a decoded JSON object: unknown keys, missing required
fields and values of the wrong type are a ``FieldError`` that names the field, what it must be and
what it got. ``to_json(obj)`` gives the object back as JSON values. The annotations are the schema,
so a message type is defined once, by its dataclass.

Understood annotations: ``str``, ``int``, ``float`` (any finite number), ``bool``, ``Any``,
``X | None``, unions of those, ``tuple[X, ...]`` and ``tuple[X, Y]`` (JSON lists),
``dict[str, X]`` (JSON objects) and nested dataclasses. A field whose default is ``REQUIRED`` must
be given (dataclasses that inherit fields cannot put a field without default after defaulted ones).

Standard library only, and Python 3.9 (QGIS 3.22 to 3.28 on Windows and macOS): the QGIS plugin
imports this too. So annotations are read here, with ``X | Y`` evaluated as ``Union[X, Y]``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import numbers
import sys
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")
_SHOWN_CHARS = 60  # of a wrong value, in messages
_UNION_TYPES = (typing.Union, getattr(types, "UnionType", typing.Union))  # X | Y from 3.10 on


class FieldError(ValueError):
    """A JSON value that does not fit the dataclass; the message names the field."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # the default of a field that must be given


def check_required(instance: Any) -> None:
    """Raise TypeError naming a field of ``instance`` left at REQUIRED (a dataclass's own check)."""
    for f in dataclasses.fields(instance):
        if getattr(instance, f.name) is REQUIRED:
            raise TypeError(f"{type(instance).__name__} needs {f.name!r}")


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
    """The field types of ``cls`` (and its bases), string annotations evaluated."""
    hints = {}
    for klass in reversed(cls.__mro__):
        namespace = vars(sys.modules[klass.__module__])
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            hints[name] = _evaluate(annotation, namespace)
    return hints


def _evaluate(annotation: Any, namespace: dict) -> Any:
    """An annotation; ``A | B`` at its top level becomes Union[A, B] (also on Python 3.9)."""
    if not isinstance(annotation, str):
        return annotation
    parts, depth, start = [], 0, 0
    for index, char in enumerate(annotation):
        depth += (char == "[") - (char == "]")
        if char == "|" and depth == 0:
            parts.append(annotation[start:index])
            start = index + 1
    parts.append(annotation[start:])
    types_ = [eval(part.strip(), namespace) for part in parts]  # our own annotations only
    return types_[0] if len(types_) == 1 else typing.Union[tuple(types_)]  # noqa: UP007


def _decode(hint: Any, value: Any, name: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _decode_object(hint, value, name)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in _UNION_TYPES:
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
    return tuple(_decode(arg, value[i], f"{name}[{i}]") for i, arg in enumerate(args))


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
        elif (field.default is dataclasses.MISSING or field.default is REQUIRED) and (
            field.default_factory is dataclasses.MISSING
        ):
            raise FieldError(f'"{_join(name, key)}" is required ({describe(hints[key])}).')
    return cls(**arguments)


def describe(hint: Any) -> str:
    """What a value of ``hint`` is, in words: 'a list of strings', 'an integer or null'."""
    if dataclasses.is_dataclass(hint):
        return "an object with " + ", ".join(field_names(hint))
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in _UNION_TYPES:
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


_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}
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
