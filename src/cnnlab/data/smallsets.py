"""Small data sets that need no download: scikit-learn's digits and generated shapes.

>>> from cnnlab.data.smallsets import make_synthetic
>>> data = make_synthetic(n=30, image_size=12, num_classes=3)
>>> data.shape, data.classes
((30, 1, 12, 12), ['horizontal bar', 'vertical bar', 'diagonal'])
"""

from __future__ import annotations

import numpy as np

from cnnlab.data.imageset import ImageSet
from cnnlab.errors import ConfigError


def load_digits() -> ImageSet:
    """scikit-learn's bundled 8x8 digits (values 0..16), scaled to 0..255: all 1,797 images."""
    from sklearn.datasets import load_digits as sk_digits  # deferred: scikit-learn is slow to import

    d = sk_digits()
    images = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    return ImageSet(images, d.target.astype(np.int64), [str(i) for i in range(10)], source="digits")


SYNTHETIC_CLASSES = ["horizontal bar", "vertical bar", "diagonal", "square", "dot"]


def make_synthetic(n: int = 500, image_size: int = 16, channels: int = 1, num_classes: int = 3,
                   seed: int = 0) -> ImageSet:
    """Noisy images of simple shapes at random positions: learnable in seconds, for tests and demos.

    Args:
        n: number of images (at least one per class).
        image_size: side in pixels (8..1024).
        channels: 1 (gray) or 3 (tinted color).
        num_classes: 2..5 shapes.
        seed: the images come from this seed.

    Returns:
        An ImageSet of ``n`` images, classes in turn.

    Raises:
        ConfigError: an option out of range.

    >>> make_synthetic(n=10, image_size=8, num_classes=2).shape
    (10, 1, 8, 8)
    """
    if not 2 <= num_classes <= len(SYNTHETIC_CLASSES):
        raise ConfigError("num_classes", num_classes, f"2..{len(SYNTHETIC_CLASSES)}")
    if isinstance(n, bool) or not isinstance(n, int) or n < num_classes:
        raise ConfigError("n", n, f"a whole number of images, at least one per class ({num_classes})")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not 8 <= image_size <= 1024:
        raise ConfigError("image_size", image_size, "a whole number of pixels from 8 to 1024")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ConfigError("channels", channels, "1 (gray) or 3 (color)")
    g = np.random.default_rng(seed)
    s = image_size
    labels = np.arange(n) % num_classes
    imgs = g.integers(0, 60, size=(n, s, s)).astype(np.float32)
    yy, xx = np.mgrid[0:s, 0:s]
    for i, c in enumerate(labels):
        cy, cx = g.integers(s // 4, s - s // 4, size=2)
        r = max(1, s // 5)
        if c == 0:
            mask = (abs(yy - cy) <= max(0, r // 3)) & (abs(xx - cx) <= r * 2)
        elif c == 1:
            mask = (abs(xx - cx) <= max(0, r // 3)) & (abs(yy - cy) <= r * 2)
        elif c == 2:
            mask = (abs((yy - cy) - (xx - cx)) <= 1) & (abs(yy - cy) <= r * 2)
        elif c == 3:
            mask = (np.maximum(abs(yy - cy), abs(xx - cx)) == r)
        else:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        imgs[i][mask] = g.uniform(180, 255)
    imgs = np.clip(imgs, 0, 255).astype(np.uint8)[:, None]
    if channels == 3:
        tint = g.uniform(0.6, 1.0, size=(n, 3, 1, 1))
        imgs = np.clip(imgs * tint, 0, 255).astype(np.uint8)
    return ImageSet(imgs, labels, SYNTHETIC_CLASSES[:num_classes], source="synthetic")
