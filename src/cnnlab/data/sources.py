"""Data sets, each loaded as one :class:`~cnnlab.data.imageset.ImageSet`.

Specs (the ``--data`` argument):

    fashion-mnist      Zalando's 70,000 28x28 gray clothing images (10 classes)
    digits             scikit-learn's 1,797 8x8 handwritten digits (always offline)
    folder:PATH        your photos, one subfolder per class (PATH/cat/*.jpg, PATH/dog/*.jpg)
    synthetic          generated shapes, for tests and demos

>>> from cnnlab.data.sources import load_dataset
>>> train = load_dataset("digits", split="train")
>>> train.shape
(1438, 1, 8, 8)
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import urllib.request
from pathlib import Path

import numpy as np

from cnnlab.data.imageset import ImageSet, stratified_indices
from cnnlab.errors import ConfigError, DataError

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
# SHA-256 of the *decompressed* IDX files. We check the content, not the .gz wrapper, because
# Debian recompresses the official archives (different .gz bytes, identical data).
FASHION_FILES = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
TEST_FRACTION = 0.2  # held-out share for sources that ship no test split (digits, folders)
SPLIT_SEED = 1234  # fixed: the test split of a source never changes between runs


def cache_dir() -> Path:
    """Where cnnlab keeps downloads and decoded folders: $CNNLAB_HOME or ~/.cache/cnnlab."""
    return Path(os.environ.get("CNNLAB_HOME") or Path.home() / ".cache" / "cnnlab")


def load_dataset(spec: str, split: str = "train", **options) -> ImageSet:
    """Load the ``train`` or ``test`` split of a data set given by its spec string.

    options go to the source: ``image_size``/``channels``/``fit`` for folders,
    ``n``/``image_size``/``channels``/``num_classes`` for synthetic.
    """
    if split not in ("train", "test"):
        raise ConfigError("split", split, "'train' or 'test'")
    name, _, arg = spec.partition(":")
    if name == "fashion-mnist":
        return load_fashion_mnist(split)
    if name == "digits":
        return _hold_out(load_digits(), split)
    if name == "folder":
        if not arg:
            raise DataError("folder data needs a path: --data folder:PATH (one subfolder per class)")
        from cnnlab.data.folder import load_folder
        return load_folder(arg, split=split, **options)
    if name == "synthetic":
        return _hold_out(make_synthetic(**options), split)
    raise DataError(f"unknown data set {spec!r}; known: fashion-mnist, digits, folder:PATH, synthetic")


def _hold_out(data: ImageSet, split: str) -> ImageSet:
    train_idx, test_idx = stratified_indices(data.labels, TEST_FRACTION, SPLIT_SEED)
    return data.subset(train_idx if split == "train" else test_idx)


# ---------------------------------------------------------------- Fashion-MNIST

def read_idx(data: bytes) -> np.ndarray:
    """Parse an IDX file (the MNIST format): magic, dims as big-endian int32, then raw data."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError("not an IDX file (bad magic number)")
    dtype = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[data[2]]
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise DataError(f"IDX file is truncated: {arr.size} values for shape {dims}")
    return arr.reshape(dims)


def find_fashion_mnist() -> Path:
    """The first directory holding all four Fashion-MNIST files: cache, then the Debian package."""
    for d in (cache_dir() / "fashion-mnist", DEBIAN_DIR):
        if all((d / f).is_file() for f in FASHION_FILES):
            return d
    raise DataError(
        "Fashion-MNIST is not on this machine. Get it one of these ways:\n"
        "  sudo apt-get install dataset-fashion-mnist      (Debian/Ubuntu, offline mirror friendly)\n"
        "  cnnlab datasets --fetch fashion-mnist          (downloads the official files, ~30 MB)\n"
        f"  or copy the four *-ubyte.gz files into {cache_dir() / 'fashion-mnist'}"
    )


def _read_verified(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    want = FASHION_FILES[path.name]
    got = hashlib.sha256(raw).hexdigest()
    if got != want:
        raise DataError(f"{path}: content checksum mismatch (sha256 {got[:12]}..., expected {want[:12]}...); "
                           "delete the file and fetch it again")
    return read_idx(raw)


def load_fashion_mnist(split: str = "train") -> ImageSet:
    d = find_fashion_mnist()
    prefix = "train" if split == "train" else "t10k"
    images = _read_verified(d / f"{prefix}-images-idx3-ubyte.gz")
    labels = _read_verified(d / f"{prefix}-labels-idx1-ubyte.gz")
    return ImageSet(images[:, None].copy(), labels.astype(np.int64), list(FASHION_CLASSES),
                    source=f"fashion-mnist/{split}")


def fetch_fashion_mnist(progress: bool = True) -> Path:
    """Download the official Fashion-MNIST files into the cache, verifying each checksum."""
    target = cache_dir() / "fashion-mnist"
    target.mkdir(parents=True, exist_ok=True)
    for name in FASHION_FILES:
        dest = target / name
        if dest.is_file():
            continue
        tmp = dest.with_suffix(".part")
        if progress:
            print(f"downloading {FASHION_URL + name}")
        try:
            with urllib.request.urlopen(FASHION_URL + name, timeout=60) as r, open(tmp, "wb") as f:
                shutil.copyfileobj(r, f)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise DataError(f"could not download {name}: {e}. "
                               "Offline? Install the Debian package dataset-fashion-mnist instead.") from None
        try:
            _read_verified(tmp.rename(dest))
        except DataError:
            dest.unlink(missing_ok=True)
            raise
    return target


# ---------------------------------------------------------------- digits and synthetic

def load_digits() -> ImageSet:
    """scikit-learn's bundled 8x8 digits (values 0..16), scaled to 0..255."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    images = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    return ImageSet(images, d.target.astype(np.int64), [str(i) for i in range(10)], source="digits")


SYNTHETIC_CLASSES = ["horizontal bar", "vertical bar", "diagonal", "square", "dot"]


def make_synthetic(n: int = 500, image_size: int = 16, channels: int = 1, num_classes: int = 3,
                   seed: int = 0) -> ImageSet:
    """Noisy images of simple shapes at random positions: learnable in seconds, for tests and demos."""
    if not 2 <= num_classes <= len(SYNTHETIC_CLASSES):
        raise ConfigError("num_classes", num_classes, f"2..{len(SYNTHETIC_CLASSES)}")
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


def describe_datasets() -> list[dict]:
    """What ``cnnlab datasets`` prints: each source, where it comes from, whether it is present."""
    try:
        where, present = str(find_fashion_mnist()), True
    except DataError:
        where, present = "not found (apt-get install dataset-fashion-mnist, or cnnlab datasets --fetch)", False
    return [
        {"spec": "fashion-mnist", "present": present, "source": where,
         "about": "70,000 28x28 gray clothing images, 10 classes (60,000 train / 10,000 test)"},
        {"spec": "digits", "present": True, "source": "scikit-learn (bundled)",
         "about": "1,797 8x8 gray handwritten digits, 10 classes"},
        {"spec": "folder:PATH", "present": True, "source": "your photos, one subfolder per class",
         "about": f"decoded once and cached in {cache_dir() / 'folders'}"},
        {"spec": "synthetic", "present": True, "source": "generated", "about": "noisy shapes for tests and demos"},
    ]
