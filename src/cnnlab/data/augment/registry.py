"""Augmentation steps by name. The spec parser, its help text, "did you mean" errors, ``list_augments()`` and
the spec a Pipeline writes back all read this one registry; adding a step is one decorated function.

>>> from cnnlab.data.augment import Rotate, register_augment
>>> @register_augment("tilt", form="tilt=DEGREES", about="rotate by up to +-DEGREES (demo)",
...                   default=5, low=0, high=45, value_of=lambda t: t.degrees)
... def tilt(degrees):
...     return Rotate(degrees, mode="edge")
>>> [row["form"] for row in list_augments() if row["name"] == "tilt"]
['tilt=DEGREES']
>>> unregister_augment("tilt")  # tidy up after the example
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from cnnlab.errors import AugmentSpecError, ConfigError

EXAMPLE = "flip,rotate=15,translate=0.1,crop=4,color=0.2"


@dataclass(frozen=True)
class AugmentEntry:
    """One registered step: how to build it from its spec value, and how to show it.

    Args:
        name: the word in the spec, lower case (``rotate``).
        build: ``build(value)`` (or ``build()`` for a step without a value) -> a Transform.
        form: how the item is written (``rotate=DEGREES``).
        about: one plain sentence for the help text.
        default: the value when the item has none (None: the step takes no value).
        low, high: the allowed range of the value, ends included.
        integer: the value must be a whole number.
        value_of: ``value_of(transform)`` -> the value that built it, to write a Pipeline back as a spec.
    """

    name: str
    build: Callable
    form: str
    about: str
    default: float | None = None
    low: float | None = None
    high: float | None = None
    integer: bool = False
    value_of: Callable | None = None

    @property
    def takes_value(self) -> bool:
        """Whether the item is written ``NAME=VALUE``."""
        return self.default is not None


_REGISTRY: dict[str, AugmentEntry] = {}


def register_augment(name: str, *, about: str, form: str | None = None, default: float | None = None,
                     low: float | None = None, high: float | None = None, integer: bool = False,
                     value_of: Callable | None = None) -> Callable:
    """Decorator: register a builder of an augmentation step under ``name`` for spec strings.

    Registering a name again replaces the step and warns.

    Args:
        name: the word in the spec (lower-case letters, digits and ``_``).
        about: one plain sentence for the help text.
        form: how the item is written (default: ``name`` or ``NAME=VALUE``).
        default: the value when the item has none; None for a step that takes no value.
        low, high: the allowed range of the value (required with ``default``).
        integer: the value must be a whole number.
        value_of: ``value_of(transform)`` -> the value it was built with, so ``Pipeline.spec`` can write it back.

    Returns:
        The decorator; it returns the builder unchanged.

    Raises:
        ConfigError: a badly formed name, or a default outside ``low..high``.

    Example:

    >>> from cnnlab.data.augment import Flip
    >>> @register_augment("mirror", about="the same as flip (demo)")
    ... def mirror():
    ...     return Flip()
    >>> get_augment("mirror").build()
    Flip(horizontal=True, vertical=False)
    >>> unregister_augment("mirror")
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name or ""):
        raise ConfigError("name", name, "lower-case letters, digits and _, starting with a letter (e.g. 'blur')")
    if default is not None and (low is None or high is None or not low <= default <= high):
        raise ConfigError("default", default, f"a value between low and high (got low={low}, high={high})")

    def decorate(build: Callable) -> Callable:
        if name in _REGISTRY:
            warnings.warn(f"augmentation step {name!r} was already registered; the new one replaces it",
                          stacklevel=2)
        shown = form or (name if default is None else f"{name}=VALUE")
        _REGISTRY[name] = AugmentEntry(name, build, shown, about, default, low, high, integer, value_of)
        return build

    return decorate


def unregister_augment(name: str) -> None:
    """Remove the step ``name`` from the registry (for tests and examples).

    Raises:
        AugmentSpecError: no such step.

    Example:

    >>> from cnnlab.data.augment import Flip
    >>> _ = register_augment("demo", about="a demo")(Flip)
    >>> unregister_augment("demo")
    >>> "demo" in augment_names()
    False
    """
    get_augment(name)
    del _REGISTRY[name]


def augment_names() -> list[str]:
    """The registered step names, in registration order.

    Example:

    >>> augment_names()[:3]
    ['flip', 'vflip', 'rotate']
    """
    return list(_REGISTRY)


def list_augments() -> list[dict]:
    """One row per registered step (name, form, about, default, low, high), for the CLI and the studio.

    Example:

    >>> row = [r for r in list_augments() if r["name"] == "rotate"][0]
    >>> row["form"], row["default"], row["high"]
    ('rotate=DEGREES', 15, 180)
    """
    return [{"name": e.name, "form": e.form, "about": e.about, "default": e.default, "low": e.low, "high": e.high}
            for e in _REGISTRY.values()]


def augment_help() -> str:
    """The help text listing every valid item, with an example.

    Example:

    >>> print(augment_help().splitlines()[1])
      flip                   mirror left-right, half of the samples
    """
    lines = [f"  {e.form:22s} {e.about}" for e in _REGISTRY.values()]
    return ("valid items (comma-separated, each optionally followed by @PROBABILITY):\n" + "\n".join(lines)
            + f'\nexample: --augment "{EXAMPLE}"')


def get_augment(name: str) -> AugmentEntry:
    """The registered step ``name``.

    Raises:
        AugmentSpecError: no such step; the message suggests the closest name and lists the valid items.

    Example:

    >>> get_augment("rotate").form
    'rotate=DEGREES'
    """
    entry = _REGISTRY.get(name)
    if entry is None:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise AugmentSpecError(f"unknown augmentation {name!r}{hint}\n{augment_help()}")
    return entry


def _number(v: float) -> str:
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def _same(a, b) -> bool:
    return type(a) is type(b) and vars(a) == vars(b)


def spec_item(step, p: float = 1.0) -> str | None:
    """The spec item that builds ``step`` (with ``@p`` when p < 1), or None if no registered step builds it.

    Example:

    >>> from cnnlab.data.augment import Rotate
    >>> spec_item(Rotate(10), 0.5), spec_item(Rotate(10, fill=255))
    ('rotate=10@0.5', None)
    """
    prob = "" if p == 1 else f"@{_number(p)}"
    for e in _REGISTRY.values():
        if not e.takes_value:
            candidates = [None]
        elif e.value_of is not None:
            try:
                candidates = [e.value_of(step)]
            except (AttributeError, TypeError, IndexError, KeyError):
                continue
        else:
            candidates = [e.default]  # without value_of only the default form is recognised
        for v in candidates:
            if v is not None and not (isinstance(v, (int, float)) and e.low <= v <= e.high):
                continue
            if _same(e.build() if v is None else e.build(v), step):
                return (e.name if v is None else f"{e.name}={_number(v)}") + prob
    return None


def pipeline_spec(steps, probs) -> str | None:
    """The spec string of steps with their probabilities; "none" for no steps; None if a step has no spec item.

    Example:

    >>> from cnnlab.data.augment import Flip, Rotate
    >>> pipeline_spec([Flip(), Rotate(15)], [1.0, 0.5])
    'flip,rotate=15@0.5'
    """
    items = [spec_item(s, p) for s, p in zip(steps, probs, strict=True)]
    if any(i is None for i in items):
        return None
    return ",".join(items) or "none"
