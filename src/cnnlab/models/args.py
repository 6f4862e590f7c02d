"""Checking and converting a model's arguments (``widths=[32,64]``, ``dropout=0.5``) from their type hints.

The allowed kinds come from the builder's annotations (or, without one, from its default value):
``bool``, ``int``, ``float``, ``str``, a sequence of ints, and unions of these (``int | Sequence[int]``).
Values may arrive already parsed (from JSON or Python: ``0.5``, ``[32, 64]``, ``True``) or as text from
the command line (``"0.5"``, ``"[32,64]"``, ``"32,64"``, ``"true"``). Every value that does not fit gives
one :class:`~cnnlab.errors.ConfigError` naming the argument, the value and what is allowed.

>>> from collections.abc import Sequence
>>> kinds = kinds_of(Sequence[int], (32, 64))
>>> kinds
('ints',)
>>> coerce("model_args.widths", "32,64", kinds, (32, 64))
[32, 64]
>>> coerce("model_args.pool_first", "maybe", ("bool",), True)
Traceback (most recent call last):
  ...
cnnlab.errors.ConfigError: model_args.pool_first='maybe': expected true or false (or 1 or 0)
"""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Sequence

from cnnlab.errors import ConfigError

_SCALARS = {bool: "bool", int: "int", float: "float", str: "str", type(None): "none"}
_WORDS = {"bool": "true or false (or 1 or 0)", "int": "a whole number", "float": "a number", "str": "text",
          "none": "null", "ints": "a list of whole numbers, e.g. [32, 64]", "floats": "a list of numbers",
          "any": "a value"}
_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}


def kinds_of(annotation, default) -> tuple[str, ...]:
    """The kinds of value an argument accepts, from its type hint (or its default when it has none).

    Args:
        annotation: the resolved type hint (``int``, ``Sequence[int]``, ``int | None``...) or None.
        default: the argument's default value (used when there is no hint).

    Returns:
        A tuple of kind names out of "bool", "int", "float", "str", "none", "ints", "floats", "any".

    >>> kinds_of(bool, True), kinds_of(None, 0.3), kinds_of(int | None, None)
    (('bool',), ('float',), ('int', 'none'))
    """
    if annotation is None:
        if isinstance(default, (list, tuple)):
            floats = any(isinstance(x, float) for x in default)
            return ("floats",) if floats else ("ints",)
        return (_SCALARS[type(default)],) if type(default) in _SCALARS and default is not None else ("any",)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return tuple(k for a in typing.get_args(annotation) for k in kinds_of(a, None))
    if annotation in _SCALARS:
        return (_SCALARS[annotation],)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, Sequence) or (isinstance(origin, type) and issubclass(origin, Sequence)):
        inner = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return ("floats",) if inner and inner[0] is float else ("ints",)
    return ("any",)


def lower_bound(default) -> int | None:
    """The smallest value that makes sense, read from the default: counts and sizes (whole numbers of at
    least 1 by default) need at least 1; other non-negative defaults (a rate, a zero offset) need at least 0.

    >>> lower_bound((32, 64)), lower_bound(128), lower_bound(0.3), lower_bound(-1)
    (1, 1, 0, None)
    """
    values = default if isinstance(default, (list, tuple)) else [default]
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if numbers and all(isinstance(v, int) and v >= 1 for v in numbers):
        return 1
    if numbers and min(numbers) >= 0:
        return 0
    return None


def describe(key: str, kinds: tuple[str, ...], default) -> str:
    """What an argument accepts, in plain words (the "expected" part of its error).

    >>> describe("model_args.dropout", ("float",), 0.3)
    'a number from 0 up to (but not including) 1'
    >>> describe("model_args.widths", ("ints",), (32, 64))
    'a list of whole numbers of at least 1, e.g. [32, 64]'
    """
    if _is_rate(key) and "float" in kinds:
        return "a number from 0 up to (but not including) 1"
    lo = lower_bound(default)
    words = []
    for k in kinds:
        w = _WORDS[k]
        if lo is not None and k in ("int", "float"):
            w += f" of at least {lo}"
        elif lo is not None and k in ("ints", "floats"):
            w = w.replace("numbers", f"numbers of at least {lo}", 1)
        words.append(w)
    return " or ".join(words)


def coerce(key: str, value, kinds: tuple[str, ...], default):
    """Convert ``value`` to one of ``kinds`` and check its range, or raise one ConfigError.

    Args:
        key: the argument's name in messages (``model_args.widths``).
        value: the value given: already parsed (int, float, bool, list) or text from the command line.
        kinds: what the argument accepts (see :func:`kinds_of`).
        default: the argument's default (decides whether counts must be at least 1).

    Returns:
        The value as a plain JSON-able Python value (lists, never tuples).

    Raises:
        ConfigError: the value is malformed, of the wrong type or out of range.

    >>> coerce("model_args.dropout", "0.5", ("float",), 0.3)
    0.5
    >>> coerce("model_args.batch_norm", 0, ("bool",), True)
    False
    >>> coerce("model_args.convs_per_block", "2", ("int", "ints"), 1)
    2
    """
    problem = ConfigError(key, value, describe(key, kinds, default))
    if isinstance(value, str):
        value = _parse_text(value, kinds, problem)
    for kind in kinds:
        ok, converted = _convert(value, kind)
        if ok:
            _check_range(key, converted, kind, default, problem)
            return converted
    raise problem


def _parse_text(text: str, kinds: tuple[str, ...], problem: ConfigError):
    s = text.strip()
    if "bool" in kinds and s.lower() in _BOOL_TEXT:
        return _BOOL_TEXT[s.lower()]
    try:
        return json.loads(s)
    except json.JSONDecodeError:
        pass
    if kinds and {"ints", "floats"} & set(kinds) and "," in s:  # 32,64 or (32, 64)
        parts = [p.strip() for p in s.strip("()[]").split(",") if p.strip()]
        try:
            return [json.loads(p) for p in parts]
        except json.JSONDecodeError:
            raise problem from None
    if "str" in kinds or "any" in kinds:
        return text
    raise problem


def _convert(value, kind: str) -> tuple[bool, object]:
    """(True, converted) when ``value`` is of ``kind`` (or converts without loss), else (False, None)."""
    if kind == "any":
        return True, list(value) if isinstance(value, tuple) else value
    if kind == "none":
        return value is None, None
    if kind == "bool":
        if isinstance(value, bool):
            return True, value
        if isinstance(value, int) and value in (0, 1):
            return True, bool(value)
        return False, None
    if kind == "int":
        if isinstance(value, bool):
            return False, None
        if isinstance(value, int):
            return True, value
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        return False, None
    if kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return ok, float(value) if ok else None
    if kind == "str":
        return isinstance(value, str), value
    if kind in ("ints", "floats"):
        items = list(value) if isinstance(value, (list, tuple)) else [value]  # one number: a list of one
        if not items:
            return False, None
        converted = [_convert(x, kind[:-1]) for x in items]
        return all(ok for ok, _ in converted), [v for _, v in converted]
    return False, None


def _check_range(key: str, value, kind: str, default, problem: ConfigError) -> None:
    if kind == "float" and _is_rate(key) and not 0 <= value < 1:
        raise problem
    lo = lower_bound(default)
    if lo is not None and kind in ("int", "ints", "float", "floats"):
        values = value if kind in ("ints", "floats") else [value]
        if min(values) < lo:
            raise problem


def _is_rate(key: str) -> bool:
    """Arguments named like a dropout or drop rate are fractions in [0, 1)."""
    name = key.rsplit(".", 1)[-1]
    return "dropout" in name or name.startswith("drop_") or name.endswith("_rate")
