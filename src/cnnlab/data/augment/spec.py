"""Augmentation spec strings, for the CLI and configs.

    "flip,rotate=15,translate=0.1,crop=4,color=0.2"

Each comma-separated item is ``NAME[=VALUE][@P]`` (P = probability, default 1; flip always
draws left/right per sample).
"""

from __future__ import annotations

from cnnlab.data.augment.transforms import (
    ColorShift,
    Erase,
    Flip,
    PadCrop,
    Pipeline,
    RandomResizedCrop,
    Rotate,
    Translate,
)
from cnnlab.errors import AugmentSpecError

FORMS = {
    "flip": ("flip", "mirror left-right, half of the samples"),
    "vflip": ("vflip", "mirror top-bottom too, half of the samples"),
    "rotate": ("rotate=DEGREES", "rotate by up to +-DEGREES, e.g. rotate=15"),
    "translate": ("translate=FRACTION", "shift by up to FRACTION of the size, e.g. translate=0.1"),
    "crop": ("crop=PIXELS", "pad by PIXELS and crop back (random crop), e.g. crop=4"),
    "rrc": ("rrc=MIN_SCALE", "random resized crop keeping MIN_SCALE..1 of the area, e.g. rrc=0.35"),
    "erase": ("erase=MAX_AREA", "random erasing: cover a box of up to MAX_AREA of the image with noise, "
                                "e.g. erase=0.25@0.5 (half of the samples)"),
    "color": ("color=STRENGTH", "brightness/contrast/saturation +-STRENGTH, hue and channel shift, e.g. color=0.2"),
}


def _help() -> str:
    lines = [f"  {form:22s} {about}" for form, about in FORMS.values()]
    return ("valid items (comma-separated, each optionally followed by @PROBABILITY):\n" + "\n".join(lines)
            + '\nexample: --augment "flip,rotate=15,translate=0.1,crop=4,color=0.2"')


def _number(name: str, value: str | None, default: float, lo: float, hi: float) -> float:
    if value is None:
        return default
    try:
        v = float(value)
    except ValueError:
        raise AugmentSpecError(f"{name}={value!r}: not a number\n{_help()}") from None
    if not lo <= v <= hi:
        raise AugmentSpecError(f"{name}={value}: must be between {lo:g} and {hi:g}\n{_help()}")
    return v


def parse_augment(spec: str | None) -> Pipeline | None:
    """Spec string -> Pipeline (None or "" or "none" -> None)."""
    if spec is None or spec.strip().lower() in ("", "none", "off"):
        return None
    steps, probs = [], []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        item, _, p = item.partition("@")
        name, eq, value = item.partition("=")
        name = name.strip().lower()
        value = value.strip() if eq else None
        if name not in FORMS:
            raise AugmentSpecError(f"unknown augmentation {name!r}\n{_help()}")
        if name == "flip":
            step = Flip()
        elif name == "vflip":
            step = Flip(horizontal=True, vertical=True)
        elif name == "rotate":
            step = Rotate(_number(name, value, 15, 0, 180))
        elif name == "translate":
            step = Translate(_number(name, value, 0.1, 0, 0.5))
        elif name == "crop":
            step = PadCrop(int(_number(name, value, 4, 0, 64)))
        elif name == "rrc":
            step = RandomResizedCrop((_number(name, value, 0.35, 0.01, 1.0), 1.0))
        elif name == "erase":
            top = _number(name, value, 0.25, 0.02, 1.0)
            step = Erase((min(0.02, top), top))
        else:
            s = _number(name, value, 0.2, 0, 1)
            step = ColorShift(brightness=s, contrast=s, saturation=s, hue=s / 4, shift=s / 4)
        steps.append(step)
        probs.append(_number(f"{name}@", p, 1.0, 0, 1) if p else 1.0)
    if not steps:
        raise AugmentSpecError(f"empty augmentation spec {spec!r}\n{_help()}")
    return Pipeline(steps, probs, spec=spec)
