"""Fashion-MNIST: Zalando's 70,000 28x28 gray clothing images in 10 classes.

Read from the cache (``cnnlab datasets --fetch fashion-mnist`` downloads the official files) or
from the Debian package ``dataset-fashion-mnist``; every file's content is checked against its
SHA-256 before use.

>>> from cnnlab.data.fashion_mnist import load_fashion_mnist
>>> test = load_fashion_mnist("test")   # doctest: +SKIP
>>> test.shape                          # doctest: +SKIP
(10000, 1, 28, 28)
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import struct
import urllib.request
from pathlib import Path

import numpy as np

from cnnlab.data.cache import cache_dir
from cnnlab.data.imageset import ImageSet
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


def read_idx(data: bytes) -> np.ndarray:
    """Parse an IDX file (the MNIST format): magic, dims as big-endian int32, then raw data.

    Raises:
        DataError: not an IDX file, or truncated.

    >>> import struct
    >>> read_idx(struct.pack(">BBBBI", 0, 0, 0x08, 1, 3) + bytes([7, 8, 9])).tolist()
    [7, 8, 9]
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise DataError("not an IDX file (bad magic number); delete it and fetch it again")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise DataError("IDX file is truncated: its header is cut off; delete it and fetch it again")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=_IDX_TYPES[data[2]], offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise DataError(f"IDX file is truncated: {arr.size} values for shape {dims}; delete it and fetch it again")
    return arr.reshape(dims)


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def find_fashion_mnist() -> Path:
    """The first directory holding all four Fashion-MNIST files: the cache, then the Debian package.

    Raises:
        DataError: the files are nowhere; the message says three ways to get them.
    """
    for d in (cache_dir() / "fashion-mnist", DEBIAN_DIR):
        if all((d / f).is_file() for f in FASHION_FILES):
            return d
    raise DataError(
        "Fashion-MNIST is not on this machine. Get it one of these ways:\n"
        "  sudo apt-get install dataset-fashion-mnist      (Debian/Ubuntu, offline mirror friendly)\n"
        "  cnnlab datasets --fetch fashion-mnist          (downloads the official files, ~30 MB)\n"
        f"  or copy the four *-ubyte.gz files into {cache_dir() / 'fashion-mnist'}"
    )


def fashion_mnist_where() -> str:
    """Where ``cnnlab datasets`` says Fashion-MNIST is (or how to get it)."""
    try:
        return str(find_fashion_mnist())
    except DataError:
        return "not found (apt-get install dataset-fashion-mnist, or cnnlab datasets --fetch fashion-mnist)"


def fashion_mnist_present() -> bool:
    """True when all four files are on this machine (their checksums are checked on loading)."""
    try:
        find_fashion_mnist()
        return True
    except DataError:
        return False


def _read_verified(path: Path) -> np.ndarray:
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable .gz file ({e}); delete the file and fetch it again") from None
    want = FASHION_FILES[path.name.removesuffix(".part")]
    got = hashlib.sha256(raw).hexdigest()
    if got != want:
        raise DataError(f"{path}: content checksum mismatch (sha256 {got[:12]}..., expected {want[:12]}...); "
                        "delete the file and fetch it again")
    return read_idx(raw)


def load_fashion_mnist(split: str = "train") -> ImageSet:
    """The ``train`` (60,000) or ``test`` (10,000) split, checksums verified.

    Raises:
        ConfigError: another split. DataError: missing or damaged files.
    """
    if split not in ("train", "test"):
        raise ConfigError("split", split, "'train' or 'test'")
    d = find_fashion_mnist()
    prefix = "train" if split == "train" else "t10k"
    images = _read_verified(d / f"{prefix}-images-idx3-ubyte.gz")
    labels = _read_verified(d / f"{prefix}-labels-idx1-ubyte.gz")
    return ImageSet(images[:, None].copy(), labels.astype(np.int64), list(FASHION_CLASSES),
                    source=f"fashion-mnist/{split}")


def fetch_fashion_mnist(progress: bool = True) -> Path:
    """Download the official Fashion-MNIST files into the cache, verifying each checksum.

    Returns:
        The folder holding the four files.

    Raises:
        DataError: a download failed (offline?) or a file's checksum is wrong.
    """
    target = cache_dir() / "fashion-mnist"
    target.mkdir(parents=True, exist_ok=True)
    for name in FASHION_FILES:
        dest = target / name
        if dest.is_file():
            continue
        tmp = dest.with_name(name + ".part")
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
            _read_verified(tmp)
        except DataError:
            tmp.unlink(missing_ok=True)
            raise
        tmp.rename(dest)
    return target
