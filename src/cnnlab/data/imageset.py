"""ImageSet: the one currency of cnnlab — a whole data set as uint8, in memory or memory-mapped.

    images  uint8 tensor (N, C, H, W), or MappedImages: the same shape in a .npy file on disk
    labels  int64 tensor (N,)
    classes list of N_classes names

Batches are index slices (``images[idx]``); no per-image Python in the training loop. A photo folder
decoded into the cache is not copied into memory: its ImageSet holds :class:`MappedImages`, a view
(file + index array) whose ``images[idx]`` reads just those images, so splits and subsets are views
of one file and only batches are ever in memory.

>>> import torch
>>> from cnnlab.data.imageset import ImageSet
>>> data = ImageSet(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.tensor([0, 1, 0, 1]), ["cat", "dog"])
>>> data
ImageSet(images: 4 images, 1x8x8, 2 classes)
>>> data.class_counts()
[2, 2]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from cnnlab.data.mapped import MappedImages
from cnnlab.errors import ConfigError, DataError

TEST_FRACTION = 0.2  # held-out share for sources that ship no test split (digits, folders)
SPLIT_SEED = 1234  # fixed: the test split of a source never changes between runs
@dataclass
class ImageSet:
    """A data set held in memory: uint8 images, int64 labels and the class names.

    Args:
        images: uint8 ``(N, C, H, W)`` (a tensor or a NumPy array).
        labels: int64 ``(N,)``, each in ``0 .. len(classes) - 1``.
        classes: the class names; label ``i`` means ``classes[i]``.
        source: where the images came from (``"folder:photos/test"``), for messages.
        skipped: ``(path, reason)`` of the unreadable files among the files this split was read
            from. A held-out test split was read from the same folder as its train split, so both
            list the same files: combine splits with :func:`merge_skipped`, which counts each file once.
        notes: warnings about the data the caller should show the user (e.g. a class too small to
            test). Like ``skipped`` they describe the source, so splits of one source may share them:
            combine with :func:`merge_notes`. The library never prints them.

    Raises:
        DataError: if the arrays have the wrong type or shape, or a label names no class.
    """

    images: torch.Tensor | MappedImages  # uint8 (N, C, H, W)
    labels: torch.Tensor  # int64 (N,)
    classes: list[str]
    source: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) of unreadable files
    notes: list[str] = field(default_factory=list)  # warnings for the user, e.g. a class too small to test

    def __post_init__(self):
        if not isinstance(self.images, (torch.Tensor, MappedImages)):
            self.images = torch.from_numpy(np.ascontiguousarray(self.images))
        if not isinstance(self.labels, torch.Tensor):
            self.labels = torch.from_numpy(np.asarray(self.labels))
        self.labels = self.labels.to(torch.int64)
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise DataError(f"images must be uint8 (N, C, H, W); got {self.images.dtype} "
                            f"{tuple(self.images.shape)}. Convert them with .to(torch.uint8) and add missing axes")
        if len(self.images) != len(self.labels):
            raise DataError(f"{len(self.images)} images but {len(self.labels)} labels; give one label per image")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise DataError(f"labels must lie in 0..{len(self.classes) - 1} (one per class name); "
                            f"got {int(self.labels.min())}..{int(self.labels.max())}")

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        n, c, h, w = self.shape
        return f"ImageSet({self.source or 'images'}: {n} images, {c}x{h}x{w}, {len(self.classes)} classes)"

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(N, C, H, W)``."""
        return tuple(self.images.shape)

    @property
    def channels(self) -> int:
        """1 for gray, 3 for color."""
        return self.images.shape[1]

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)``."""
        return tuple(self.images.shape[2:])

    def subset(self, idx) -> ImageSet:
        """The images at ``idx``, with the same classes, source, skipped files and notes.

        Memory-mapped images give a view of the same file (nothing is read); in-memory ones a copy.
        """
        idx = torch.as_tensor(idx, dtype=torch.int64)
        images = self.images.take(idx) if isinstance(self.images, MappedImages) else self.images[idx]
        return ImageSet(images, self.labels[idx], list(self.classes), self.source,
                        list(self.skipped), list(self.notes))

    def class_counts(self) -> list[int]:
        """Number of images of each class, in the order of ``classes``."""
        return torch.bincount(self.labels, minlength=len(self.classes)).tolist()

    def split(self, fraction: float = 0.1, seed: int = 0) -> tuple[ImageSet, ImageSet]:
        """Stratified split: ``fraction`` of each class goes to the second set.

        Every class keeps at least one image in the first set, so a one-image class still trains.
        """
        first, second = stratified_indices(self.labels, fraction, seed)
        return self.subset(first), self.subset(second)

    def per_class(self, k: int, seed: int = 0) -> ImageSet:
        """A subset with at most ``k`` images of each class (for few-label experiments)."""
        if k < 1:
            raise ConfigError("per_class", k, "at least 1 image per class")
        g = np.random.default_rng(seed)
        labels = self.labels.numpy()
        keep = [g.permutation(np.flatnonzero(labels == c))[:k] for c in range(len(self.classes))]
        return self.subset(np.sort(np.concatenate(keep)))

    def mean_std(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and standard deviation in pixel units (0..255)."""
        return channel_stats(self.images)


def stratified_indices(labels: torch.Tensor, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices per class: about ``fraction`` of each class goes to the second part.

    Every class keeps at least one index in the first part, so a class of one or two images
    gets no index in the second part (see :func:`hold_out`, which says so in a note).

    >>> first, second = stratified_indices([0, 0, 0, 0, 0, 1, 1, 1, 1, 1], 0.2, seed=0)
    >>> len(first), len(second)
    (8, 2)
    """
    if not 0.0 <= fraction < 1.0:
        raise ConfigError("fraction", fraction, "a share between 0 (included) and 1 (excluded)")
    g = np.random.default_rng(seed)
    labels = np.asarray(labels)
    first, second = [], []
    for c in np.unique(labels):
        idx = g.permutation(np.flatnonzero(labels == c))
        n2 = min(int(round(len(idx) * fraction)), len(idx) - 1)
        second.append(idx[:n2])
        first.append(idx[n2:])
    cat = lambda parts: np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)  # noqa: E731
    return cat(first), cat(second)


def hold_out(data: ImageSet, split: str, fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> ImageSet:
    """The ``train`` or ``test`` part of a source that ships no test split (a fixed stratified share).

    Classes too small to give the test part any image get a note (on both parts), since their
    test accuracy cannot be measured.

    Args:
        data: the whole source.
        split: "train" or "test".
        fraction: share of each class held out for testing.
        seed: fixed, so the test split never changes between runs.

    Returns:
        The part, with ``notes`` extended.

    >>> import torch
    >>> data = ImageSet(torch.zeros(6, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 0, 0, 0, 0, 1]), ["a", "b"])
    >>> test = hold_out(data, "test")
    >>> test.class_counts()
    [1, 0]
    >>> print(test.notes[0])  # doctest: +ELLIPSIS
    class 'b' has only 1 image, so none is held out for testing: its test accuracy cannot be measured; ...
    """
    if split not in ("train", "test"):
        raise ConfigError("split", split, "'train' or 'test'")
    first, second = stratified_indices(data.labels, fraction, seed)
    part = data.subset(first if split == "train" else second)
    counts = data.class_counts()
    tested = torch.bincount(data.labels[torch.as_tensor(second, dtype=torch.int64)], minlength=len(data.classes))
    if fraction <= 0:
        return part
    need = max(2, int(0.5 / fraction) + 1)  # round(n * fraction) >= 1 from here on
    for c, name in enumerate(data.classes):
        if counts[c] and not int(tested[c]):
            part.notes.append(f"class {name!r} has only {counts[c]} image{'s' if counts[c] != 1 else ''}, "
                              f"so none is held out for testing: its test accuracy cannot be measured; "
                              f"give it at least {need} images")
    return part


def merge_skipped(*sets: ImageSet) -> list[tuple[str, str]]:
    """The unreadable files of several splits, each file once (splits of one folder share them).

    >>> import torch
    >>> a = ImageSet(torch.zeros(1, 1, 2, 2, dtype=torch.uint8), [0], ["x"], skipped=[("p/bad.jpg", "empty")])
    >>> merge_skipped(a, a.subset([0]))
    [('p/bad.jpg', 'empty')]
    """
    seen = {}
    for s in sets:
        for path, reason in s.skipped if s is not None else ():
            seen.setdefault(path, reason)
    return list(seen.items())


def merge_notes(*sets: ImageSet) -> list[str]:
    """The notes of several splits, each once, in order.

    >>> import torch
    >>> a = ImageSet(torch.zeros(1, 1, 2, 2, dtype=torch.uint8), [0], ["x"], notes=["class 'x' is small"])
    >>> merge_notes(a, a)
    ["class 'x' is small"]
    """
    return list(dict.fromkeys(n for s in sets if s is not None for n in s.notes))


def channel_stats(images, chunk: int | None = None) -> tuple[list[float], list[float]]:
    """Per-channel mean/std of uint8 images (N, C, H, W) (a tensor or MappedImages), in float64, chunked to
    bound memory: ``chunk`` images at a time (default: about 4 million values, 32 MB of float64)."""
    n, c = images.shape[:2]
    chunk = chunk or max(1, 2**22 // max(1, int(np.prod(images.shape[1:]))))
    s = torch.zeros(c, dtype=torch.float64)
    s2 = torch.zeros(c, dtype=torch.float64)
    for i in range(0, n, chunk):
        x = images[i:i + chunk].to(torch.float64)
        s += x.sum(dim=(0, 2, 3))
        s2 += (x * x).sum(dim=(0, 2, 3))
    count = n * images.shape[2] * images.shape[3]
    mean = s / count
    std = (s2 / count - mean * mean).clamp_min(1e-12).sqrt()
    return mean.tolist(), std.tolist()
