"""Train, validation and test splits of a data source, in one call.

>>> from cnnlab.data.splits import load_splits
>>> train, val, test = load_splits("digits", val_fraction=0.1)
>>> len(train) + len(val), len(test)
(1438, 359)
"""

from __future__ import annotations

from typing import Callable

from cnnlab.data.imageset import ImageSet
from cnnlab.data.sources import load_dataset, source_splits


def load_splits(spec: str, val_fraction: float = 0.1, per_class: int | None = None, seed: int = 0,
                image_size: int | None = None, fit: str = "crop",
                on_event: Callable[[dict], None] | None = None) -> tuple[ImageSet, ImageSet | None, ImageSet]:
    """The training, validation and test ImageSets of ``spec``.

    Args:
        spec: a data spec (``fashion-mnist``, ``digits``, ``folder:PATH``, ``synthetic``).
        val_fraction: share of each class of the training split held out for validation (0: none). A folder with
            its own ``val/`` folder uses that instead.
        per_class: keep at most this many training images per class (before the validation split).
        seed: seed of the per-class subset and of the validation split.
        image_size: size photo folders are decoded at (ignored by fixed-size sources).
        fit: how photos of another shape are made square: ``crop`` (the centre), ``pad`` (black bars) or
            ``stretch`` (folders only).
        on_event: receives stage events while photos are decoded.

    Returns:
        ``(train, val, test)``; ``val`` is None when there is no validation split (or too few images for one).
        For a cached photo folder the three are views of one memory-mapped file (nothing is copied into memory).
    """
    opts = {"image_size": image_size} if spec.startswith("folder:") and image_size else {}
    if spec.startswith("folder:") and fit != "crop":
        opts["fit"] = fit
    train = load_dataset(spec, "train", **opts)
    test = load_dataset(spec, "test", **opts)
    val = load_dataset(spec, "val", **opts) if "val" in source_splits(spec) else None  # the folder's own val/
    if per_class:
        train = train.per_class(per_class, seed=seed)
    if val is None and val_fraction and len(train) >= 4 * len(train.classes):
        train, val = train.split(val_fraction, seed=seed)
    return train, val, test
