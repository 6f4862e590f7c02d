"""cnnlab's disk cache: decoded photo folders, transfer features and downloads.

    cache_dir()/
      folders/    decoded photo folders, one .npz per folder and settings (only the newest is kept)
      features/   backbone features of transfer runs (.safetensors, written by training/transfer.py)
      fashion-mnist/  the downloaded Fashion-MNIST files (kind "downloads")

Every file is written atomically with normal permissions (0644 under the usual umask), so a
killed run never leaves half a cache file and other users of the machine can share it.

>>> import os, tempfile
>>> os.environ["CNNLAB_HOME"] = tempfile.mkdtemp()  # a private cache for this example
>>> from cnnlab.data.cache import cache_summary, clear_cache
>>> rows = cache_summary()          # [{"kind": "folders", "path": ..., "bytes": ..., "what": ...}, ...]
>>> freed = clear_cache("features")  # bytes freed
>>> isinstance(freed, int)
True
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from cnnlab.errors import ConfigError
from cnnlab.files import atomic_write

CACHE_VERSION = "3"  # 3: file names start with the folder's own key; an info record names the folder
# kind -> (subfolder of cache_dir(), file name patterns it may hold); clear_cache deletes nothing else
KINDS = {
    "folders": ("folders", ("*.npz", ".*.tmp")),
    "features": ("features", ("*.safetensors", ".*.tmp")),
    "downloads": ("fashion-mnist", ("*.gz", "*.part")),
}
REBUILDABLE = ("folders", "features")  # what clear_cache() removes when no kind is named
FRESH_SECONDS = 600  # clear_cache leaves temporary files younger than this (a run may be writing them)


def cache_dir() -> Path:
    """Where cnnlab keeps downloads and caches: ``$CNNLAB_HOME``, or ``~/.cache/cnnlab``.

    Returns:
        The folder (it may not exist yet).

    >>> import os, tempfile
    >>> os.environ["CNNLAB_HOME"] = home = tempfile.mkdtemp()
    >>> cache_dir() == Path(home)
    True
    """
    return Path(os.environ.get("CNNLAB_HOME") or Path.home() / ".cache" / "cnnlab")


# ---------------------------------------------------------------- folder caches

def folder_prefix(root: Path, settings: str) -> str:
    """The part of a cache file name that says which folder and settings it holds (not the contents)."""
    return hashlib.blake2b(f"{CACHE_VERSION}|{root}|{settings}".encode(), digest_size=8).hexdigest()


def folder_cache_path(root: Path, settings: str, content_key: str) -> Path:
    """``folders/<folder+settings>-<contents>.npz``: a changed photo gives a new name, same prefix."""
    return cache_dir() / "folders" / f"{folder_prefix(root, settings)}-{content_key}.npz"


def save_folder_cache(path: Path, images: np.ndarray, labels: np.ndarray, classes: list[str],
                      skipped: list[tuple[str, str]], info: dict) -> list[Path]:
    """Write a decoded folder atomically (mode 0644) and remove older caches of the same folder.

    Args:
        path: from :func:`folder_cache_path`.
        images: uint8 ``(N, C, H, W)``.
        labels: int64 ``(N,)``.
        classes: class names.
        skipped: ``(path, reason)`` of unreadable files.
        info: a small JSON-able record shown by :func:`cache_summary`: ``folder``, ``images`` (count),
            ``image_size``, ``channels`` and ``fit``.

    Returns:
        The older cache files that were removed.
    """
    def write(f):
        np.savez(f, images=images, labels=labels, classes=np.asarray(classes, dtype=str),
                 skipped_paths=np.asarray([s[0] for s in skipped], dtype=str),
                 skipped_reasons=np.asarray([s[1] for s in skipped], dtype=str),
                 info=np.asarray(json.dumps(info)))

    atomic_write(path, write)
    prefix = path.name.split("-")[0]
    removed = []
    for old in path.parent.glob(f"{prefix}-*.npz"):
        if old != path:
            old.unlink(missing_ok=True)
            removed.append(old)
    return removed


def load_folder_cache(path: Path):
    """``(images, labels, classes, skipped)`` from a file written by :func:`save_folder_cache`."""
    with np.load(path, allow_pickle=False) as z:
        skipped = list(zip(z["skipped_paths"].tolist(), z["skipped_reasons"].tolist(), strict=True))
        return z["images"], z["labels"], z["classes"].tolist(), skipped


def _folder_info(path: Path) -> str:
    try:
        with np.load(path, allow_pickle=False) as z:
            i = json.loads(str(z["info"]))
        size = f"{i['image_size']} px" if i["image_size"] else "their own size"
        return f"{i['folder']}: {i['images']:,} images at {size} (channels {i['channels']}, fit {i['fit']})"
    except (KeyError, OSError, ValueError):
        return "a photo folder decoded by an older cnnlab (which folder is not recorded)"


# ---------------------------------------------------------------- summary and clearing

def _in_use(p: Path) -> bool:
    """A temporary file written in the last minutes may belong to a running writer: leave it."""
    return p.name.endswith((".tmp", ".part")) and time.time() - p.stat().st_mtime < FRESH_SECONDS


def _files(kind: str) -> list[Path]:
    sub, patterns = KINDS[kind]
    d = cache_dir() / sub
    if not d.is_dir():
        return []
    return sorted({p for pattern in patterns for p in d.glob(pattern) if p.is_file() and not p.is_symlink()})


def _what(kind: str, p: Path) -> str:
    if p.name.endswith(".tmp") or p.suffix == ".part":
        return "an unfinished file left by a stopped run"
    if kind == "folders":
        return _folder_info(p)
    if kind == "features":
        return "backbone features of a transfer run"
    return "Fashion-MNIST download"


def _check_kind(kind: str | None) -> tuple[str, ...]:
    if kind is None:
        return REBUILDABLE
    if kind == "all":
        return tuple(KINDS)
    if kind not in KINDS:
        raise ConfigError("kind", kind, f"one of {', '.join(KINDS)} or 'all'")
    return (kind,)


def cache_summary(kind: str | None = "all") -> list[dict]:
    """Every file in the cache, for ``cnnlab cache``.

    Args:
        kind: "folders", "features", "downloads", "all" (default), or None (folders and features).

    Returns:
        One dict per file: ``kind``, ``path`` (str), ``bytes`` (int) and ``what`` (plain words).

    Raises:
        ConfigError: for an unknown kind.

    >>> import os, tempfile
    >>> os.environ["CNNLAB_HOME"] = tempfile.mkdtemp()
    >>> cache_summary()  # an empty cache
    []
    """
    rows = []
    for k in _check_kind(kind):
        for p in _files(k):
            rows.append({"kind": k, "path": str(p), "bytes": p.stat().st_size, "what": _what(k, p)})
    return rows


def clear_cache(kind: str | None = None) -> int:
    """Delete cache files; returns the number of bytes freed.

    Args:
        kind: "folders", "features", "downloads" or "all"; None (default) clears what cnnlab can
            rebuild without the network (folders and features) and keeps the downloads.

    Temporary files younger than ten minutes are left alone: a running training may be writing them.

    Returns:
        Bytes freed.

    Raises:
        ConfigError: for an unknown kind.

    >>> import os, tempfile
    >>> os.environ["CNNLAB_HOME"] = tempfile.mkdtemp()
    >>> clear_cache()  # nothing to clear in a new cache
    0
    """
    freed = 0
    for k in _check_kind(kind):
        for p in _files(k):
            if _in_use(p):
                continue
            size = p.stat().st_size
            p.unlink(missing_ok=True)
            freed += size
    return freed
