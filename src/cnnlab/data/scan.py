"""Reading a data set for :mod:`cnnlab.data.check`: each image once, and the split a training run puts it in.

A photo folder's files are decoded once each (safely, EXIF rotation applied, a few threads at a
time, with a progress bar) into an :class:`Item`: hashes of its pixels and of its look, its size,
whether it is gray and whether an EXIF tag turns it. When a training run has just decoded the folder
into its cache, these facts come from the cache (:func:`cnnlab.data.folder.cached_facts`: the same
decoding that filled it) and no photo is decoded again, except the few that need it: a JPEG that the
cache decoded at reduced scale (draft mode) and that looks like another image is decoded at full size,
so that "exact copy" still means equal pixels at full size. Each item gets the split a training run with
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

from cnnlab.data.folder import cached_facts
from cnnlab.data.images import load_image_info
from cnnlab.data.imageset import SPLIT_SEED, TEST_FRACTION, stratified_indices
from cnnlab.data.layout import check_classes, folder_layout, list_files
from cnnlab.data.phash import is_gray, near_pairs, photo_facts, pixel_hash
from cnnlab.data.splits import load_splits
from cnnlab.errors import ImageError
from cnnlab.progress import bar

__all__ = ["Item", "array_items", "folder_items", "is_gray", "scan_file"]


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
    scale: int = 1  # 2, 4, 8: the hashes are of a JPEG decoded at reduced scale (a training run's cache)


def scan_file(path: Path) -> dict:
    """What the checks need to know of one file (it is decoded once, at full size, safely, EXIF rotation applied).

    Returns:
        ``{"error": reason}`` for a file that cannot be read, else :func:`cnnlab.data.phash.photo_facts`.
    """
    try:
        return photo_facts(*load_image_info(path))
    except ImageError as e:
        return {"error": str(e).split(": ", 1)[-1]}


def _facts(files: list, layout, cache: dict | None) -> list[dict | None]:
    """The cached facts of each file (a split folder's decoded cache, see :func:`cached_facts`), None where there
    are none."""
    out = [None] * len(files)
    if cache is None:
        return out
    for d in layout.folders.values():
        found = cached_facts(d, **cache)
        if found is None:
            continue
        where = {p: f for p, f in zip(*found, strict=True)}
        for i, (p, _, _) in enumerate(files):
            if p in where:
                out[i] = where[p]
    return out


def _scan_all(files: list, known: list, desc: str, progress: bool) -> list[dict]:
    """Facts for every file: the known ones as they are, the others decoded on a few threads (with a bar)."""
    todo = [i for i, f in enumerate(known) if f is None]
    out = list(known)
    if not todo:
        return out
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool, \
            bar(total=len(todo), desc=desc, unit="img", enabled=progress) as b:
        for i, info in zip(todo, pool.map(lambda i: scan_file(files[i][0]), todo), strict=True):
            out[i] = info
            b.update()
    return out


def _full_size_where_needed(items: list[Item], root: Path) -> None:
    """Decode at full size the items whose cached facts were taken at reduced scale and that may be copies.

    A JPEG decoded in draft mode is hashed at 1/2-1/8 scale: two such hashes may be equal for photos that differ
    at full size, and a PNG copy of the same pixels would not match. Any such item that looks like another image
    (a pair of pHashes within the near-copy distance), or that was too small at reduced scale for a pHash, is
    decoded again at full size; exact copies always look alike, so none is missed.
    """
    readable = [it for it in items if not it.error]
    if not any(it.scale > 1 for it in readable):
        return
    looked = [it for it in readable if it.look is not None]
    need = {id(it): it for it in readable if it.scale > 1 and it.look is None}
    for i, j in near_pairs([it.look for it in looked]):
        for it in (looked[i], looked[j]):
            if it.scale > 1:
                need[id(it)] = it
    for it in need.values():
        info = scan_file(root / it.name)
        if "error" in info:
            it.error = info["error"]
        else:
            it.pixels, it.scale = info["pixels"], 1
            it.look = it.look if it.look is not None else info["look"]


def folder_items(path, seed: int = 0, val_fraction: float = 0.1, per_class: int | None = None,
                 progress: bool = True, cache: dict | None = None) -> tuple[list[Item], list[str], str]:
    """Read every file of a photo folder and put each in the split a training run would use.

    Args:
        path: the photo folder.
        seed, val_fraction, per_class: as a training run takes them.
        progress: a progress bar while photos are decoded (on a terminal).
        cache: the settings (``image_size``, ``channels``, ``fit``) of a decoded cache of the folder to take the
            facts from, as :func:`cnnlab.data.folder.load_folder` takes them (None: decode every photo).

    Returns:
        ``(items, classes, layout in words)``.

    Raises:
        DataError: a folder that training would refuse too (no classes, split folders that differ...).
    """
    layout = folder_layout(path)
    classes = check_classes(layout)
    files = [(p, label, split) for split, d in layout.folders.items() for p, label in list_files(d)[1]]
    facts = _scan_all(files, _facts(files, layout, cache), f"checking {layout.root.name}", progress)
    items = [Item(p.relative_to(layout.root).as_posix(), label, split, **info)
             for (p, label, split), info in zip(files, facts, strict=True)]
    _full_size_where_needed(items, layout.root)
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
