"""Lecture page 5, data augmentation: the engine's own augmentation on the student's picture, with words.

The page shows exactly what training does: the picture is made square at a training size the way
the engine fits photos (``fit="crop"``), and :class:`cnnlab.data.augment.Pipeline` (parsed from
the same ``--augment`` spec the command line takes) makes the variants. The only thing added here
is a few words per variant saying what was drawn for it ("mirrored", "turned 12° left").

>>> picture = np.zeros((40, 60, 3), np.uint8)
>>> variants, about, spec = augment_variants(working_picture(picture, 32), "flip,rotate=15", count=3, seed=0)
>>> variants.shape, spec, len(about)
((3, 32, 32, 3), 'flip,rotate=15', 3)
>>> about[0]
['mirrored', 'turned 14° right']
"""

from __future__ import annotations

import numpy as np
import torch

from cnnlab.data.augment import (
    ColorShift,
    Erase,
    Flip,
    PadCrop,
    RandomResizedCrop,
    Rotate,
    Translate,
    get_augment,
    parse_augment,
)
from cnnlab.data.augment.transforms import make_generator
from cnnlab.data.images import resize, to_chw, to_hwc
from cnnlab.errors import ConfigError

# the page's techniques, in the lecture's order: (registry name, label on the page, slider step)
TECHNIQUES = [("flip", "Mirror", None), ("rotate", "Rotate", 1), ("translate", "Shift", 0.01),
              ("crop", "Random crop", 1), ("color", "Colour shift", 0.01), ("erase", "Erase", 0.01)]
SIZES = (64, 128)  # training sizes: the studio's lecture CNN (64), and twice that to see more detail
MAX_COUNT = 12


def controls() -> list[dict]:
    """One row per technique of the page, with the registry's name, help sentence and allowed range.

    Returns:
        ``[{"name", "label", "form", "about", "default", "low", "high", "integer", "step"}]``; ``default``
        is None for a switch (mirror). The slider's ends are the registry's, so the page cannot build a
        spec that ``--augment`` would refuse.

    Example:

    >>> [(c["name"], c["low"], c["high"]) for c in controls()][:3]
    [('flip', None, None), ('rotate', 0, 180), ('translate', 0, 0.5)]
    """
    rows = []
    for name, label, step in TECHNIQUES:
        e = get_augment(name)
        rows.append({"name": name, "label": label, "form": e.form, "about": e.about, "default": e.default,
                     "low": e.low, "high": e.high, "integer": e.integer, "step": step})
    return rows


def working_picture(pixels: np.ndarray, size: int) -> np.ndarray:
    """The picture as training sees it before augmentation: a ``size`` x ``size`` square (centre crop).

    Args:
        pixels: uint8 ``(H, W)`` or ``(H, W, 3)``.
        size: the training image size in pixels.

    Returns:
        uint8 ``(size, size)`` or ``(size, size, 3)`` (gray stays gray: one channel, as in training).

    Example:

    >>> working_picture(np.zeros((30, 50), np.uint8), 16).shape
    (16, 16)
    """
    return resize(np.asarray(pixels, np.uint8), size, fit="crop")


def augment_variants(picture: np.ndarray, spec: str, count: int = 8, seed: int = 0):
    """``count`` augmented copies of one picture, and what was drawn for each, by the engine's Pipeline.

    The random parameters are drawn exactly as :meth:`Pipeline.make_params` draws them (one generator
    seeded with ``seed``; per step first who is transformed, then the step's own draws), so the result
    equals ``parse_augment(spec)(batch, seed=seed)`` for the batch of ``count`` copies: what
    ``cnnlab augment preview`` and training show.

    Args:
        picture: uint8 ``(H, W)`` or ``(H, W, 3)``.
        spec: an ``--augment`` spec, e.g. ``"flip,rotate=15"``; "none" gives unchanged copies.
        count: copies, 1..12.
        seed: the random draws' seed.

    Returns:
        ``(variants, about, spec)``: uint8 ``(count, H, W[, 3])``, per variant a list of short phrases (what
        each step did to it; empty when nothing changed), and the spec as the engine writes it back
        (``"none"`` for no augmentation).

    Raises:
        AugmentSpecError: a bad spec (the message names the mistake). ConfigError: a bad count.

    Example:

    >>> v, about, spec = augment_variants(np.full((8, 8), 50, np.uint8), "none", count=2)
    >>> v.shape, about, spec
    ((2, 8, 8), [[], []], 'none')
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ConfigError("count", count, f"a whole number of variants from 1 to {MAX_COUNT}")
    pipeline = parse_augment(spec)
    x = torch.tensor(to_chw(np.asarray(picture, np.uint8)))[None].repeat(count, 1, 1, 1)  # (N, C, H, W)
    if pipeline is None:
        return np.stack([to_hwc(v) for v in x.numpy()]), [[] for _ in range(count)], "none"
    g = make_generator(seed)
    params, notes = [], [[] for _ in range(count)]
    for step, p in zip(pipeline.steps, pipeline.p, strict=True):
        keep = torch.rand(count, generator=g) < p  # as cnnlab.data.augment.transforms.sample_params draws it
        drawn = step.make_params(tuple(x.shape), g)
        params.append(step.identity(drawn, keep))
        for i in range(count):
            if keep[i]:
                note = describe(step, drawn, i, x.shape[2:])
                if note:
                    notes[i].append(note)
    out = pipeline.apply(x, params).numpy()
    return np.stack([to_hwc(v) for v in out]), notes, pipeline.spec


def describe(step, drawn: dict, i: int, size: tuple[int, int]) -> str:
    """What ``step``'s draw did to sample ``i``, in a few words ("" when it changed nothing).

    Args:
        step: the transform.
        drawn: its parameters from ``make_params`` (before "do nothing" was set for skipped samples).
        i: the sample.
        size: ``(H, W)`` of the picture.

    Returns:
        A short phrase, e.g. "turned 12° left" or "shifted 3 px right, 1 px up".

    Example:

    >>> describe(Rotate(15), {"angle": torch.tensor([-7.4])}, 0, (64, 64))
    'turned 7° right'
    """
    if isinstance(step, Flip):
        parts = [w for key, w in (("horizontal", "mirrored"), ("vertical", "upside down")) if drawn[key][i]]
        return ", ".join(parts)
    if isinstance(step, Rotate):
        a = float(drawn["angle"][i])
        return "" if round(a) == 0 else f"turned {abs(a):.0f}° {'left' if a > 0 else 'right'}"
    if isinstance(step, (Translate, PadCrop)):
        dx, dy = int(drawn["dx"][i]), int(drawn["dy"][i])
        moves = [f"{abs(d)} px {word[d > 0]}" for d, word in ((dx, ("left", "right")), (dy, ("up", "down"))) if d]
        if not moves:
            return ""
        return ("cropped " if isinstance(step, PadCrop) else "shifted ") + ", ".join(moves)
    if isinstance(step, ColorShift):
        b, c = float(drawn["brightness"][i]), float(drawn["contrast"][i])
        return f"brightness ×{b:.2f}, contrast ×{c:.2f}"
    if isinstance(step, Erase):
        x0, y0, x1, y1 = (int(v) for v in drawn["boxes"][i])
        return f"erased {100 * (x1 - x0) * (y1 - y0) / (size[0] * size[1]):.0f}%"
    if isinstance(step, RandomResizedCrop):
        x0, y0, x1, y1 = (float(v) for v in drawn["boxes"][i])
        return f"zoomed into {100 * (x1 - x0) * (y1 - y0) / (size[0] * size[1]):.0f}% of it"
    return ""
