"""Reading a data set for :mod:`cnnlab.data.check`: each image once, and the split a training run puts it in.

A photo folder's files are decoded once each (safely, EXIF rotation applied, a few threads at a
time, with a progress bar) into an :class:`Item`: hashes of its pixels and of its look, its size,
whether it is gray and whether an EXIF tag turns it. Each item gets the split a training run with
the same seed, ``val_fraction`` and ``per_class`` gives it: the folder's own ``train/``, ``val/``,
``test/``, otherwise the held-out test split (:func:`cnnlab.data.imageset.hold_out`) and the
validation split (:func:`cnnlab.data.splits.load_splits`), drawn the same way from the same files.
``tests/test_check_data.py`` checks that the two agree.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cnnlab.data.images import ALLOWED_FORMATS, load_image
from cnnlab.data.imageset import SPLIT_SEED, TEST_FRACTION, stratified_indices
from cnnlab.data.layout import check_classes, folder_layout, list_files
from cnnlab.data.phash import HASH_SIDE, phash, pixel_hash
from cnnlab.data.splits import load_splits
from cnnlab.errors import ImageError
from cnnlab.progress import bar

ORIENTATION = 0x0112  # the EXIF tag that says how a photo is turned


@dataclass
class Item:
    """One image of the data set as the checks see it."""

    name: str  # how messages name it: "train/cat/a.jpg", or "test image 12" for a built-in set
    label: int
    split: str  # "train", "val", "test", or "unused" (left out by per_class)
    pixels: str | None = None  # hash of the decoded pixels; None: unreadable
    look: int | None = None  # perceptual hash; None: not compared for near copies
    size: tuple[int, int] = (0, 0)  # (width, height) after EXIF rotation
    gray: bool = False
    rotated: bool = False
    error: str = ""


def scan_file(path: Path) -> dict:
    """What the checks need to know of one file (it is decoded once, safely, with EXIF rotation applied).

    Returns:
        ``{"error": reason}`` for a file that cannot be read, else ``pixels``, ``look``, ``size``, ``gray``,
        ``rotated``.
    """
    try:
        img = load_image(path)
    except ImageError as e:
        return {"error": str(e).split(": ", 1)[-1]}
    h, w = img.shape[:2]
    try:
        with Image.open(path, formats=ALLOWED_FORMATS) as raw:  # the header again (cheap): the rotation tag
            orientation = raw.getexif().get(ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError):
        orientation = 1
    return {"pixels": pixel_hash(img), "look": phash(img) if min(h, w) >= HASH_SIDE else None, "size": (w, h),
            "gray": is_gray(img), "rotated": orientation not in (1, None)}


def is_gray(img: np.ndarray, tolerance: int = 6) -> bool:
    """True for a gray image, stored as gray or as three (nearly) equal colour channels.

    >>> is_gray(np.zeros((4, 4), np.uint8)), is_gray(np.dstack([np.zeros((4, 4), np.uint8)] * 2 + [np.ones((4, 4),
    ...     np.uint8) * 90]))
    (True, False)
    """
    if img.ndim == 2:
        return True
    c = img[::4, ::4].astype(np.int16)  # every 4th pixel is plenty to tell
    return bool(np.abs(c[..., 0] - c[..., 1]).max() <= tolerance and np.abs(c[..., 1] - c[..., 2]).max() <= tolerance)


def folder_items(path, seed: int = 0, val_fraction: float = 0.1, per_class: int | None = None,
                 progress: bool = True) -> tuple[list[Item], list[str], str]:
    """Read every file of a photo folder and put each in the split a training run would use.

    Returns:
        ``(items, classes, layout in words)``.

    Raises:
        DataError: a folder that training would refuse too (no classes, split folders that differ...).
    """
    layout = folder_layout(path)
    classes = check_classes(layout)
    files = [(p, label, split) for split, d in layout.folders.items() for p, label in list_files(d)[1]]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool, \
            bar(total=len(files), desc=f"checking {layout.root.name}", unit="img", enabled=progress) as b:
        items = []
        for (p, label, split), info in zip(files, pool.map(lambda f: scan_file(f[0]), files), strict=True):
            items.append(Item(p.relative_to(layout.root).as_posix(), label, split, **info))
            b.update()
    train = [it for it in items if it.split == "train" and not it.error]  # as read_folder keeps them, in order
    if layout.held_out:  # as hold_out() draws the test split
        keep, test = stratified_indices([it.label for it in train], TEST_FRACTION, SPLIT_SEED)
        for i in test:
            train[i].split = "test"
        train = [train[i] for i in keep]
    if per_class:  # as ImageSet.per_class
        g, labels = np.random.default_rng(seed), np.array([it.label for it in train], dtype=np.int64)
        kept = set(np.concatenate([g.permutation(np.flatnonzero(labels == c))[:per_class]
                                   for c in range(len(classes))]).tolist())
        for i, it in enumerate(train):
            if i not in kept:
                it.split = "unused"
        train = [it for i, it in enumerate(train) if i in kept]
    if "val" not in layout.folders and val_fraction and len(train) >= 4 * len(classes):  # as load_splits
        _, val = stratified_indices([it.label for it in train], val_fraction, seed)
        for i in val:
            train[i].split = "val"
    return items, classes, layout.describe()


def array_items(spec: str, seed: int = 0, val_fraction: float = 0.1, per_class: int | None = None) -> tuple:
    """The images of a built-in set (``digits``, ``fashion-mnist``...) as a training run splits them.

    Returns:
        ``(items, classes, how it is split in words)``. Only exact-copy hashes are filled in.
    """
    train, val, test = load_splits(spec, val_fraction=val_fraction, per_class=per_class, seed=seed)
    items = []
    for split, data in (("train", train), ("val", val), ("test", test)):
        if data is None:
            continue
        arrays, labels = data.images.numpy(), data.labels.tolist()  # (N, C, H, W)
        for i in range(len(data)):
            items.append(Item(f"{split} image {i}", labels[i], split, pixel_hash(arrays[i]),
                              size=(arrays.shape[3], arrays.shape[2])))
    return items, list(train.classes), "its train, validation and test splits as a training run makes them"
