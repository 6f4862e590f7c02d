"""cnnlab's disk cache: decoded photo folders, transfer features and downloads.

    cache_dir()/
      folders/    decoded photo folders, one <key>.cache/ folder per photo folder and settings (only the
                  newest is kept): images.npy (uint8 (N, C, H, W), memory-mapped when read), labels.npy,
                  meta.json (classes, unreadable files, a record of what it holds), facts.npy (what
                  ``cnnlab check`` needs of every file, taken from the same decoding: no second one);
                  .npz files are an older cnnlab's and are only listed and cleared
      features/   backbone features of transfer runs (.safetensors, written by training/transfer.py)
      fashion-mnist/  the downloaded Fashion-MNIST files (kind "downloads")

Every file is written atomically with normal permissions (0644 under the usual umask), so a
killed run never leaves half a cache file and other users of the machine can share it. A folder
cache is written into a hidden ``.<key>.cache.<n>.tmp/`` folder and renamed when complete.

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
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from cnnlab.data.imageset import MappedImages
from cnnlab.errors import ConfigError

CACHE_VERSION = "4"  # 4: a folder of .npy files (memory-mapped) instead of one .npz; 3: keyed names, info record
# kind -> (subfolder of cache_dir(), file and folder name patterns it may hold); clear_cache deletes nothing else
KINDS = {
    "folders": ("folders", ("*.cache", "*.npz", ".*.tmp")),
    "features": ("features", ("*.safetensors", ".*.tmp")),
    "downloads": ("fashion-mnist", ("*.gz", "*.part")),
}
REBUILDABLE = ("folders", "features")  # what clear_cache() removes when no kind is named
FRESH_SECONDS = 600  # clear_cache leaves temporary files younger than this (a run may be writing them)
# facts.npy: one row per file of the folder, in list_files order (plain fields: loads without pickle)
FACTS_DTYPE = np.dtype([("readable", "?"), ("pixels", "S32"), ("has_look", "?"), ("look", "<u8"), ("width", "<i4"),
                        ("height", "<i4"), ("gray", "?"), ("rotated", "?"), ("scale", "u1")])


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

def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def folder_prefix(root: Path, settings: str) -> str:
    """The part of a cache file name that says which folder and settings it holds (not the contents)."""
    return hashlib.blake2b(f"{CACHE_VERSION}|{root}|{settings}".encode(), digest_size=8).hexdigest()


def folder_cache_path(root: Path, settings: str, content_key: str) -> Path:
    """``folders/<folder+settings>-<contents>.cache``: a changed photo gives a new name, same prefix."""
    return cache_dir() / "folders" / f"{folder_prefix(root, settings)}-{content_key}.cache"


class FolderCacheWriter:
    """Writes a decoded folder into the cache one image at a time, never holding all images in memory.

    The images go into ``images.npy`` (uint8 ``(N, C, H, W)``, a standard NumPy file) inside a hidden
    temporary folder, written with ``os.pwrite`` so the written pages belong to the system's file cache
    and not to this process; :meth:`finish` adds the labels and meta.json and renames the folder into
    place. Used as a context manager, an error (or Ctrl-C) removes the temporary folder, and a killed
    process leaves only a hidden ``.tmp`` folder that is never read (``cnnlab cache clear`` removes it).

    Args:
        path: from :func:`folder_cache_path`.
        shape: ``(N, C, H, W)`` with N the number of files (readable or not).
    """

    def __init__(self, path: Path, shape: tuple[int, int, int, int]):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.shape = path, tuple(int(v) for v in shape)
        self.tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        os.chmod(self.tmp, 0o777 & ~_umask())
        images = np.lib.format.open_memmap(self.tmp / "images.npy", mode="w+", dtype=np.uint8, shape=self.shape)
        self.offset = images.offset  # where row 0 starts: after the .npy header
        del images
        self.row = int(np.prod(self.shape[1:]))
        self.fd = os.open(self.tmp / "images.npy", os.O_RDWR)

    def write(self, i: int, image: np.ndarray) -> None:
        """Store image ``i`` (uint8 ``(C, H, W)``)."""
        os.pwrite(self.fd, np.ascontiguousarray(image, np.uint8).tobytes(), self.offset + i * self.row)

    def read(self, i: int, n: int) -> np.ndarray:
        """Images ``i .. i + n - 1`` written so far (uint8 ``(n, C, H, W)``)."""
        data = os.pread(self.fd, n * self.row, self.offset + i * self.row)
        return np.frombuffer(data, np.uint8).reshape(n, *self.shape[1:])

    def finish(self, n: int, labels: np.ndarray, classes: list[str], skipped: list[tuple[str, str]], info: dict,
               channels: int | None = None, facts: list[dict | None] | None = None) -> list[Path]:
        """Keep the first ``n`` images (and only ``channels`` of their channels), write the rest, rename into place.

        Args:
            n: images written (the files that could not be read leave no row).
            labels, classes, skipped: as :func:`load_folder_cache` returns them.
            info: a small JSON-able record shown by :func:`cache_summary`: ``folder``, ``images`` (count),
                ``image_size``, ``channels`` and ``fit``.
            channels: keep only the first ``channels`` channels (1: the images were all gray).
            facts: :func:`cnnlab.data.phash.photo_facts` of every file (None: unreadable), saved as facts.npy.

        Returns:
            The older caches of the same folder and settings that were removed.
        """
        name = self.tmp / "images.npy"
        _, c, h, w = self.shape
        if channels is not None and channels != c:  # all gray: a one-channel copy, a chunk at a time
            out = np.lib.format.open_memmap(self.tmp / "gray.npy", mode="w+", dtype=np.uint8, shape=(n, channels, h, w))
            offset = out.offset
            del out
            fd = os.open(self.tmp / "gray.npy", os.O_RDWR)
            step = max(1, 2**26 // self.row)
            for i in range(0, n, step):
                k = min(step, n - i)
                os.pwrite(fd, np.ascontiguousarray(self.read(i, k)[:, :channels]).tobytes(),
                          offset + i * channels * h * w)
            os.close(fd)
            os.close(self.fd)
            os.replace(self.tmp / "gray.npy", name)
            self.fd = os.open(name, os.O_RDWR)
        elif n != self.shape[0]:  # some files were unreadable: shrink the header's N and the file
            _rewrite_count(self.fd, self.offset, n, (c, h, w))
            os.ftruncate(self.fd, self.offset + n * self.row)
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = None
        np.save(self.tmp / "labels.npy", np.asarray(labels, np.int64))
        if facts is not None:
            np.save(self.tmp / "facts.npy", facts_array(facts))
        meta = {"classes": list(classes), "skipped": [list(s) for s in skipped], "info": info}
        (self.tmp / "meta.json").write_text(json.dumps(meta))
        for f in self.tmp.iterdir():
            os.chmod(f, 0o666 & ~_umask())
        try:
            os.rename(self.tmp, self.path)
        except OSError:
            if not self.path.is_dir():
                raise
            # another process (a run of several processes, a second run) wrote the same cache meanwhile: keep theirs
            shutil.rmtree(self.tmp, ignore_errors=True)
        return remove_older(self.path)

    def abort(self) -> None:
        """Remove the temporary folder (nothing was cached)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None:
            self.abort()
        return False


def _rewrite_count(fd: int, offset: int, n: int, rest: tuple[int, int, int]) -> None:
    """Write a .npy header saying ``n`` images, padded to the old header's length so the data stays put."""
    header = repr({"descr": "|u1", "fortran_order": False, "shape": (n, *rest)})
    magic = os.pread(fd, 8, 0)
    size = 4 if magic[6] >= 2 else 2  # version 1.0 stores the header length in 2 bytes, later ones in 4
    room = offset - 8 - size
    text = header.ljust(room - 1) + "\n"
    if len(text) != room:
        raise ValueError("no room in the .npy header")
    os.pwrite(fd, magic + room.to_bytes(size, "little") + text.encode("latin1"), 0)


def remove_older(path: Path) -> list[Path]:
    """Remove the other caches of ``path``'s folder and settings (same prefix); returns them."""
    prefix = path.name.split("-")[0]
    removed = []
    for old in path.parent.glob(f"{prefix}-*"):
        if old != path and old.suffix in (".cache", ".npz"):
            _remove(old)
            removed.append(old)
    return removed


def load_folder_cache(path: Path):
    """``(images, labels, classes, skipped)`` from a folder written by :class:`FolderCacheWriter`.

    ``images`` is a :class:`MappedImages` over ``images.npy``: nothing is read until it is indexed.

    Raises:
        OSError, ValueError, KeyError: a damaged or incomplete cache.
    """
    meta = json.loads((path / "meta.json").read_text())
    labels = np.load(path / "labels.npy", allow_pickle=False)
    images = MappedImages(path / "images.npy")
    if len(images) != len(labels):
        raise ValueError(f"{path}: {len(images)} images but {len(labels)} labels")
    return images, labels, list(meta["classes"]), [tuple(s) for s in meta["skipped"]]


def facts_array(facts: list[dict | None]) -> np.ndarray:
    """Per-file facts (:func:`cnnlab.data.phash.photo_facts`, None for an unreadable file) as a FACTS_DTYPE array.

    >>> a = facts_array([None, {"pixels": "ab" * 16, "look": 5, "size": (4, 3), "gray": True, "rotated": False,
    ...                         "scale": 2}])
    >>> read_facts(a)[1]["size"], read_facts(a)[0]
    ((4, 3), None)
    """
    out = np.zeros(len(facts), FACTS_DTYPE)
    for i, f in enumerate(facts):
        if f is not None:
            out[i] = (True, f["pixels"].encode(), f["look"] is not None, f["look"] or 0, f["size"][0], f["size"][1],
                      f["gray"], f["rotated"], f["scale"])
    return out


def read_facts(rows: np.ndarray) -> list[dict | None]:
    """The inverse of :func:`facts_array`."""
    return [{"pixels": r["pixels"].decode(), "look": int(r["look"]) if r["has_look"] else None,
             "size": (int(r["width"]), int(r["height"])), "gray": bool(r["gray"]), "rotated": bool(r["rotated"]),
             "scale": int(r["scale"])} if r["readable"] else None for r in rows]


def load_folder_facts(path: Path, n_files: int) -> list[dict | None] | None:
    """The facts a folder cache holds about each of its ``n_files`` files, or None (no facts: an older cache,
    or a damaged one)."""
    try:
        rows = np.load(path / "facts.npy", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if rows.dtype != FACTS_DTYPE or rows.shape != (n_files,):
        return None
    return read_facts(rows)


def _folder_info(path: Path) -> str:
    try:
        if path.is_dir():
            i = json.loads((path / "meta.json").read_text())["info"]
        else:
            with np.load(path, allow_pickle=False) as z:
                i = json.loads(str(z["info"]))
        size = f"{i['image_size']} px" if i["image_size"] else "their own size"
        return f"{i['folder']}: {i['images']:,} images at {size} (channels {i['channels']}, fit {i['fit']})"
    except (KeyError, OSError, ValueError, TypeError):
        return "a photo folder decoded by an older cnnlab (which folder is not recorded)"


# ---------------------------------------------------------------- summary and clearing

def _parts(p: Path) -> list[Path]:
    """The files of a cache entry: itself, or the files of a folder entry."""
    return [f for f in p.iterdir() if f.is_file() and not f.is_symlink()] if p.is_dir() else [p]


def _size(p: Path) -> int:
    return sum(f.stat().st_size for f in _parts(p))


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def _in_use(p: Path) -> bool:
    """A temporary file written in the last minutes may belong to a running writer: leave it."""
    newest = max([p.stat().st_mtime] + [f.stat().st_mtime for f in _parts(p)])
    return p.name.endswith((".tmp", ".part")) and time.time() - newest < FRESH_SECONDS


def _files(kind: str) -> list[Path]:
    sub, patterns = KINDS[kind]
    d = cache_dir() / sub
    if not d.is_dir():
        return []
    entries = {p for pattern in patterns for p in d.glob(pattern) if not p.is_symlink()}
    return sorted(p for p in entries if p.is_file() or (p.is_dir() and kind == "folders"))


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
    """Every file in the cache (a folder cache's folder counts as one entry), for ``cnnlab cache``.

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
            rows.append({"kind": k, "path": str(p), "bytes": _size(p), "what": _what(k, p)})
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
            size = _size(p)
            _remove(p)
            freed += size
    return freed
