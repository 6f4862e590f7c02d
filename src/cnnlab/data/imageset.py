"""ImageSet: the one currency of cnnlab — a whole data set in memory as uint8.

    images  uint8 tensor (N, C, H, W)
    labels  int64 tensor (N,)
    classes list of N_classes names

Batches are index slices (``images[idx]``); no per-image Python in the training loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from cnnlab.errors import ConfigError


@dataclass
class ImageSet:
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor  # int64 (N,)
    classes: list[str]
    source: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) of unreadable files

    def __post_init__(self):
        if not isinstance(self.images, torch.Tensor):
            self.images = torch.from_numpy(np.ascontiguousarray(self.images))
        if not isinstance(self.labels, torch.Tensor):
            self.labels = torch.from_numpy(np.asarray(self.labels))
        self.labels = self.labels.to(torch.int64)
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W); got {self.images.dtype} {tuple(self.images.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise ValueError(f"labels must lie in 0..{len(self.classes) - 1}")

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        n, c, h, w = self.shape
        return f"ImageSet({self.source or 'images'}: {n} images, {c}x{h}x{w}, {len(self.classes)} classes)"

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return tuple(self.images.shape)

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.images.shape[2:])

    def subset(self, idx) -> ImageSet:
        idx = torch.as_tensor(idx, dtype=torch.int64)
        return ImageSet(self.images[idx], self.labels[idx], list(self.classes), self.source)

    def class_counts(self) -> list[int]:
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


def channel_stats(images: torch.Tensor, chunk: int = 8192) -> tuple[list[float], list[float]]:
    """Per-channel mean/std of uint8 images (N, C, H, W), in float64, chunked to bound memory."""
    n, c = images.shape[:2]
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
