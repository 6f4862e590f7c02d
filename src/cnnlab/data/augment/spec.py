"""Augmentation spec strings, for the CLI and configs, and the built-in steps they name.

    "flip,rotate=15,translate=0.1,crop=4,color=0.2"

Each comma-separated item is ``NAME[=VALUE][@P]``: P is the probability that a sample goes
through the step (default 1; ``flip`` itself mirrors half of the samples it sees). The names
come from the registry (``registry.py``); a Pipeline writes itself back with ``pipeline.spec``.

>>> parse_augment("flip, rotate=10@0.5").spec
'flip,rotate=10@0.5'
"""

from __future__ import annotations

import math

from cnnlab.data.augment.pipeline import Pipeline
from cnnlab.data.augment.pixels import ColorShift, Erase
from cnnlab.data.augment.registry import AugmentEntry, augment_help, get_augment, register_augment
from cnnlab.data.augment.transforms import Flip, PadCrop, RandomResizedCrop, Rotate, Translate
from cnnlab.errors import AugmentSpecError

# ---------------------------------------------------------------- the built-in steps


@register_augment("flip", about="mirror left-right, half of the samples")
def _flip():
    return Flip()


@register_augment("vflip", about="mirror top-bottom too, half of the samples")
def _vflip():
    return Flip(horizontal=True, vertical=True)


@register_augment("rotate", form="rotate=DEGREES", about="rotate by up to +-DEGREES, e.g. rotate=15",
                  default=15, low=0, high=180, value_of=lambda t: t.degrees)
def _rotate(degrees):
    return Rotate(degrees)


@register_augment("translate", form="translate=FRACTION", about="shift by up to FRACTION of the size, "
                  "e.g. translate=0.1", default=0.1, low=0, high=0.5, value_of=lambda t: t.fraction)
def _translate(fraction):
    return Translate(fraction)


@register_augment("crop", form="crop=PIXELS", about="pad by PIXELS and crop back (random crop), e.g. crop=4",
                  default=4, low=0, high=64, integer=True, value_of=lambda t: t.padding)
def _crop(pixels):
    return PadCrop(int(pixels))


@register_augment("rrc", form="rrc=MIN_SCALE", about="random resized crop keeping MIN_SCALE..1 of the area, "
                  "e.g. rrc=0.35", default=0.35, low=0.01, high=1.0, value_of=lambda t: t.scale[0])
def _rrc(min_scale):
    return RandomResizedCrop((min_scale, 1.0))


@register_augment("erase", form="erase=MAX_AREA", about="random erasing: cover a box of up to MAX_AREA of the "
                  "image with noise, e.g. erase=0.25@0.5 (half of the samples)", default=0.25, low=0.02, high=1.0,
                  value_of=lambda t: t.scale[1])
def _erase(max_area):
    return Erase((min(0.02, max_area), max_area))


@register_augment("color", form="color=STRENGTH", about="brightness/contrast/saturation +-STRENGTH, hue and "
                  "channel shift, e.g. color=0.2", default=0.2, low=0, high=1, value_of=lambda t: t.brightness)
def _color(strength):
    return ColorShift(brightness=strength, contrast=strength, saturation=strength, hue=strength / 4,
                      shift=strength / 4)


# ---------------------------------------------------------------- parsing


def _value(entry: AugmentEntry, text: str | None) -> float | None:
    """The item's value: checked against the entry's range, its default when absent."""
    name = entry.name
    if not entry.takes_value:
        if text is not None:
            raise AugmentSpecError(f"{name}={text}: {name} takes no value; write just {name!r} "
                                   f"(or {name}@0.5 to use it on half of the samples)")
        return None
    if text is None:
        return entry.default
    what = entry.form.partition("=")[2] or "the value"
    example = f"e.g. {name}={entry.default:g}"
    try:
        v = float(text)
    except ValueError:
        raise AugmentSpecError(f"{name}={text!r}: not a number; {what} must be a number, {example}\n"
                               f"{augment_help()}") from None
    if not entry.low <= v <= entry.high:  # also refuses nan and inf
        raise AugmentSpecError(f"{name}={text}: {what} must be between {entry.low:g} and {entry.high:g}, {example}")
    if entry.integer and v != math.floor(v):
        raise AugmentSpecError(f"{name}={text}: {what} must be a whole number, {example}")
    return int(v) if entry.integer else v


def _probability(item: str, text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        p = math.nan
    if not 0 <= p <= 1:
        raise AugmentSpecError(f"{item}@{text}: the probability after @ must be a number between 0 and 1, "
                               f"e.g. {item}@0.5 for half of the samples")
    return p


def parse_augment(spec: str | None) -> Pipeline | None:
    """Turn a spec string into a Pipeline; None, "", "none" and "off" mean no augmentation.

    Args:
        spec: comma-separated items ``NAME[=VALUE][@P]``, e.g. "flip,rotate=15,crop=4@0.5".

    Returns:
        The Pipeline, or None for no augmentation.

    Raises:
        AugmentSpecError: an unknown name (with the closest valid one), a value that is not a number, out of
            range or not whole, a value for a step that takes none, or a probability outside 0..1.

    Example:

    >>> aug = parse_augment("flip,rotate=10@0.5")
    >>> [step.name for step in aug.steps], aug.p
    (['flip', 'rotate'], [1.0, 0.5])
    >>> parse_augment("rotat=10")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cnnlab.errors.AugmentSpecError: unknown augmentation 'rotat'; did you mean 'rotate'?
    valid items ...
    """
    if spec is not None and not isinstance(spec, str):
        raise AugmentSpecError(f"augment: expected a spec string such as {'flip,rotate=15'!r}, "
                               f"got {type(spec).__name__}")
    if spec is None or spec.strip().lower() in ("", "none", "off"):
        return None
    steps, probs = [], []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        item, at, p = item.partition("@")
        name, eq, value = item.partition("=")
        name = name.strip().lower()
        if not name:
            raise AugmentSpecError(f"{raw.strip()!r}: an item needs a step name before '=' or '@'\n{augment_help()}")
        entry = get_augment(name)
        v = _value(entry, value.strip() if eq else None)
        steps.append(entry.build() if v is None else entry.build(v))
        probs.append(_probability(item.strip(), p.strip()) if at else 1.0)
    if not steps:
        raise AugmentSpecError(f"empty augmentation spec {spec!r}\n{augment_help()}")
    return Pipeline(steps, probs)
