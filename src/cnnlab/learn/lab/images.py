"""The pictures the lecture pages work on: built-in samples, and any picture fitted to the pages' size.

A page computes on at most ``MAX_SIDE`` (256) pixels a side, so every interaction stays fast; a
bigger picture is shrunk (keeping its shape) once, when it is picked.

>>> sorted(SAMPLES)
['astronaut', 'camera', 'cat', 'coffee', 'digit', 'rocket', 'shirt', 'sneaker']
>>> sample_image("cat").shape, sample_image("camera").shape, sample_image("digit").shape
((170, 256, 3), (256, 256), (32, 32))
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from cnnlab.data.fashion_mnist import fashion_mnist_present
from cnnlab.data.sources import load_dataset
from cnnlab.errors import ConfigError

MAX_SIDE = 256
# name -> (what it is, in words; where it comes from)
SAMPLES = {
    "cat": ("a cat (Chelsea)", "skimage:chelsea"),
    "coffee": ("a cup of coffee", "skimage:coffee"),
    "rocket": ("a rocket", "skimage:rocket"),
    "astronaut": ("an astronaut", "skimage:astronaut"),
    "camera": ("a photographer (black and white)", "skimage:camera"),
    "shirt": ("a shirt from Fashion-MNIST (28x28, gray)", "fashion:6"),
    "sneaker": ("a sneaker from Fashion-MNIST (28x28, gray)", "fashion:7"),
    "digit": ("a handwritten 3 (8x8 pixels, shown 32x32)", "digits:3"),
}


def fit(pixels: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """Shrink a uint8 picture so its longer side is at most ``max_side`` (kept as is when it is smaller).

    Args:
        pixels: uint8 ``(H, W)`` or ``(H, W, 3)``.
        max_side: the longest side allowed.

    Returns:
        uint8 ``(H', W')`` or ``(H', W', 3)``, with the same shape ratio (antialiased, as Pillow shrinks).

    >>> fit(np.zeros((512, 300, 3), np.uint8)).shape
    (256, 150, 3)
    """
    a = np.asarray(pixels)
    if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ConfigError("image", f"{a.dtype} {a.shape}", "uint8 pixels of shape (H, W) or (H, W, 3)")
    h, w = a.shape[:2]
    if max(h, w) <= max_side:
        return a
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(a).resize(size, Image.LANCZOS))


@lru_cache(maxsize=len(SAMPLES))
def sample_image(name: str) -> np.ndarray:
    """A built-in picture, fitted to ``MAX_SIDE`` (read-only array; copy it to change it).

    Raises:
        ConfigError: an unknown name (the message lists the names).
    """
    if name not in SAMPLES:
        raise ConfigError("sample", name, "one of " + ", ".join(SAMPLES))
    kind, what = SAMPLES[name][1].split(":")
    if kind == "skimage":
        from skimage import data as skdata  # deferred: scikit-image is slow to import

        a = getattr(skdata, what)()
        a = a[..., :3] if a.ndim == 3 else a
    elif kind == "digits":
        from sklearn.datasets import load_digits  # deferred: scikit-learn is slow to import

        d = load_digits()
        img = d.images[int(np.flatnonzero(d.target == int(what))[0])]  # values 0..16
        a = np.kron(np.rint(img * 255 / 16).astype(np.uint8), np.ones((4, 4), np.uint8))
    else:
        a = _fashion(int(what))
    out = fit(np.ascontiguousarray(a, dtype=np.uint8))
    out.setflags(write=False)
    return out


def _fashion(label: int) -> np.ndarray:
    """The first Fashion-MNIST test image of a class; a drawn stand-in when the data set is not installed."""
    if fashion_mnist_present():
        data = load_dataset("fashion-mnist", "test")
        i = int(np.flatnonzero(data.labels.numpy() == label)[0])
        return data.images[i, 0].numpy()
    a = np.zeros((28, 28), np.uint8)  # a plain shape, so the page still works offline without the data set
    a[6:22, 6 if label == 6 else 2:22 if label == 6 else 26] = 200
    return a
