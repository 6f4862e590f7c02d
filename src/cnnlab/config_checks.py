"""The checks behind every option of :class:`cnnlab.config.RunConfig`.

A check takes a value and returns None when it is allowed, else what is expected, in plain words.

>>> from cnnlab.config_checks import int_at_least, device
>>> int_at_least(2)(-5), int_at_least(2)(8)
('a whole number of at least 2', None)
>>> device("gpu")
'auto, cpu, cuda, cuda:N or mps'
"""

from __future__ import annotations

import math
from typing import Callable

from cnnlab.data.augment import parse_augment


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def int_at_least(lo: int, why: str = "") -> Callable:
    """A check: a whole number of at least ``lo`` (or None)."""
    def check(v):
        return None if v is None or (_whole(v) and v >= lo) else f"a whole number of at least {lo}{why}"
    return check


def int_between(lo: int, hi: int, why: str = "") -> Callable:
    """A check: a whole number from ``lo`` to ``hi`` (or None)."""
    def check(v):
        return None if v is None or (_whole(v) and lo <= v <= hi) else f"a whole number from {lo} to {hi}{why}"
    return check


def number_between(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> Callable:
    """A check: a finite number in the range (open or closed at each end)."""
    def check(v):
        ok = v is not None and _number(v) and (lo < v if lo_open else lo <= v) and (v < hi if hi_open else v <= hi)
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        return None if ok else f"a number in {left}{lo:g}, {hi:g}{right}"
    return check


def positive(v):
    """A check: a number above 0."""
    return None if v is not None and _number(v) and v > 0 else "a number above 0"


def one_of(*choices) -> Callable:
    """A check: one of ``choices``."""
    def check(v):
        return None if v in choices else "one of " + ", ".join(str(c) for c in choices)
    return check


def is_bool(v):
    return None if isinstance(v, bool) else "true or false"


def optional_bool(v):
    return None if v is None or isinstance(v, bool) else "true, false, or nothing (auto)"


def text(v):
    return None if isinstance(v, str) and v.strip() else "a non-empty text"


def device(v):
    if not isinstance(v, str):
        return "auto, cpu, cuda, cuda:N or mps"
    base, _, index = v.partition(":")
    ok = base in ("auto", "cpu", "cuda", "mps") and (not index or (base == "cuda" and index.isdigit()))
    return None if ok else "auto, cpu, cuda, cuda:N or mps"


def augment_spec(v):
    if v is None or v == "auto":
        return None
    if not isinstance(v, str):
        return 'an augmentation spec such as "flip,rotate=15", "none" or "auto"'
    parse_augment(v)  # raises AugmentSpecError with the list of valid steps
    return None


def model_args(v):
    return None if isinstance(v, dict) else "a dict of architecture arguments, e.g. {'dropout': 0.5}"
