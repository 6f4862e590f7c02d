"""Built-in sample images, so a teacher can demo the studio with no data of their own (all offline).

    fashion-mnist   Zalando's 28x28 gray clothing photos (the test split: 1,000 per class), 10 classes
    digits          scikit-learn's 8x8 handwritten digits, enlarged to 32x32 (nearest neighbour: the
                    pixels stay sharp squares), 10 classes
    photos          four scikit-image photos (a cat, a cup of coffee, a rocket, an astronaut); each
                    class is made of different crops of its one photo (40 to 85% of its short side,
                    at random places, half of them mirrored), 96x96 pixels. One photo per class is
                    all scikit-image ships, so a model learns "which photo is this part from" — an
                    easy task that trains in seconds, good for a first demo, not for judging a model.

Adding a sample class again adds *new* images: the choice continues after the images already in
the class, so no copy is added twice.

>>> [s["id"] for s in list_samples()]
['fashion-mnist', 'digits', 'photos']
>>> images = sample_images("photos", "cat", start=0, count=2)
>>> len(images), images[0].shape
(2, (96, 96, 3))
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from cnnlab.data.fashion_mnist import FASHION_CLASSES, fashion_mnist_present
from cnnlab.data.sources import load_dataset
from cnnlab.errors import ConfigError

PHOTOS = {"cat": "chelsea", "coffee": "coffee", "rocket": "rocket", "astronaut": "astronaut"}  # class -> skimage
DIGIT_CLASSES = [str(i) for i in range(10)]
SAMPLES = {
    "fashion-mnist": {"name": "Clothes (Fashion-MNIST)", "classes": list(FASHION_CLASSES),
                      "default": ["Trouser", "Sneaker", "Bag"]},
    "digits": {"name": "Handwritten digits", "classes": DIGIT_CLASSES, "default": ["0", "1", "7"]},
    "photos": {"name": "Photos (scikit-image)", "classes": list(PHOTOS), "default": ["cat", "coffee", "rocket"]},
}
PHOTO_SIZE = 96
DIGIT_SIZE = 32
MAX_PER_CLASS = 200


def list_samples() -> list[dict]:
    """``[{"id", "name", "classes", "default", "available"}]`` for ``/api/info``."""
    return [{"id": k, "name": v["name"], "classes": v["classes"], "default": v["default"],
             "available": fashion_mnist_present() if k == "fashion-mnist" else True} for k, v in SAMPLES.items()]


def check_request(source, classes, per_class) -> tuple[str, list[str], int]:
    """Check what the page asked for: a known source, its class names, a count per class.

    Returns:
        ``(source, classes, per_class)``; classes default to the source's ``default``.

    Raises:
        ConfigError: an unknown source or class, or a count outside 1..200.

    >>> check_request("digits", None, 5)
    ('digits', ['0', '1', '7'], 5)
    """
    if source not in SAMPLES:
        raise ConfigError("source", source, "one of " + ", ".join(SAMPLES))
    known = SAMPLES[source]["classes"]
    if classes is None:
        classes = SAMPLES[source]["default"]
    if not isinstance(classes, list) or not classes or any(c not in known for c in classes):
        raise ConfigError("classes", classes, f"a list of class names of {source}: " + ", ".join(known))
    if isinstance(per_class, bool) or not isinstance(per_class, int) or not 1 <= per_class <= MAX_PER_CLASS:
        raise ConfigError("per_class", per_class, f"a whole number of images from 1 to {MAX_PER_CLASS}")
    return source, list(dict.fromkeys(classes)), per_class


def sample_images(source: str, cls: str, start: int, count: int) -> list[np.ndarray]:
    """``count`` images of class ``cls``, from the ``start``-th on (uint8 ``(H, W)`` or ``(H, W, 3)``).

    Raises:
        DataError: Fashion-MNIST is not on this machine (the message says how to get it).
    """
    if source == "photos":
        photo = _photo(cls)
        return [_crop(photo, seed=hash_seed(cls, start + n)) for n in range(count)]
    images, labels, classes = _dataset(source)
    picks = np.flatnonzero(labels == classes.index(cls))
    picks = picks[np.random.default_rng(0).permutation(len(picks))]  # a fixed mix, not the file order
    chosen = [images[i] for i in picks[start % len(picks):][:count]]
    if source == "digits":
        k = DIGIT_SIZE // chosen[0].shape[0] if chosen else 1
        chosen = [np.kron(im, np.ones((k, k), np.uint8)) for im in chosen]  # nearest neighbour: sharp squares
    return chosen


def hash_seed(cls: str, n: int) -> int:
    """A seed from a class name and an image number (the same on every machine, unlike ``hash()``)."""
    return sum(ord(ch) * 31 ** i for i, ch in enumerate(cls)) % 100_003 * 1_000 + n


@lru_cache(maxsize=2)
def _dataset(source: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    data = load_dataset("fashion-mnist", "test") if source == "fashion-mnist" else load_dataset("digits", "train")
    return data.images[:, 0].numpy(), data.labels.numpy(), list(data.classes)  # (N, H, W) gray


@lru_cache(maxsize=len(PHOTOS))
def _photo(cls: str) -> np.ndarray:
    from skimage import data as skdata  # deferred: scikit-image is slow to import

    return np.ascontiguousarray(getattr(skdata, PHOTOS[cls])()[..., :3])


def _crop(photo: np.ndarray, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed)
    h, w = photo.shape[:2]
    side = int(min(h, w) * g.uniform(0.4, 0.85))
    y, x = int(g.integers(0, h - side + 1)), int(g.integers(0, w - side + 1))
    img = Image.fromarray(photo[y:y + side, x:x + side]).resize((PHOTO_SIZE, PHOTO_SIZE), Image.BILINEAR)
    out = np.asarray(img)
    return np.ascontiguousarray(out[:, ::-1]) if g.random() < 0.5 else out
