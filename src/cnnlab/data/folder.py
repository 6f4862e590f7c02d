"""A folder of your own photos as an ImageSet: one subfolder per class.

    photos/                      or    photos/
      cat/  a.jpg b.png ...              train/cat/ train/dog/
      dog/  c.jpg ...                    val/cat/   val/dog/     (val/ and test/ are optional)

The layout is recognised first (see :mod:`cnnlab.data.layout`), and the class names of every
split folder are compared before any photo is decoded. Each photo is decoded once, resized to
``image_size`` and cached on disk under a key made from the files' *contents* and the settings,
so the second run starts at once and any change to a photo is noticed (the older cache of that
folder is then removed). Unreadable files (truncated, empty, not images) are skipped and listed
with their reasons, never a crash mid-epoch. The same decoding notes what ``cnnlab check`` needs
to know of every file (:func:`cnnlab.data.phash.photo_facts`) and keeps it with the cache
(:func:`cached_facts`), so the data check before a training run decodes no photo again.

Photos are decoded on a few threads (Pillow lets go of Python's lock while it decodes and resizes)
and each decoded image is written straight into the cache file on disk, which is then
memory-mapped (:class:`cnnlab.data.imageset.MappedImages`): a folder larger than the memory trains
with only its batches in memory, and the limit is the free disk space. Without the cache
(``use_cache=False``, or too little disk) the images are kept in memory; that needs the memory,
checked before decoding so a too-large ``image_size`` is refused at once.

>>> import tempfile
>>> from pathlib import Path
>>> from PIL import Image
>>> root = Path(tempfile.mkdtemp())
>>> for cls in ("cat", "dog"):
...     (root / cls).mkdir()
...     for i in range(5):
...         Image.new("RGB", (40, 30), (50 * i, 0, 0)).save(root / cls / f"{i}.png")
>>> train = load_folder(root, "train", image_size=16, use_cache=False)
>>> train.shape, train.classes
((8, 3, 16, 16), ['cat', 'dog'])
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from cnnlab.data.cache import FolderCacheWriter, cache_dir, folder_cache_path, load_folder_cache, load_folder_facts
from cnnlab.data.images import convert_mode, load_image, resize, to_chw
from cnnlab.data.imageset import ImageSet, hold_out
from cnnlab.data.layout import check_classes, folder_layout, folder_splits, list_files
from cnnlab.data.phash import photo_facts
from cnnlab.errors import ConfigError, DataError, ImageError
from cnnlab.progress import bar

MIN_SIZE, MAX_SIZE = 8, 1024  # allowed image_size, in pixels
MEMORY_SHARE = 0.5  # decoded images may take at most this share of the available memory
DISK_MARGIN = 200 * 2**20  # leave this much disk free when writing a cache file
WORKERS = 4  # decoding threads at most (fewer on fewer cores)

__all__ = ["available_memory", "cached_facts", "check_memory", "decode_folder", "folder_splits", "load_folder",
           "read_folder"]


def check_options(image_size, channels, fit) -> None:
    """Refuse bad folder options before anything is read (callers are not trusted to check)."""
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int)
                                   or not MIN_SIZE <= image_size <= MAX_SIZE):
        raise ConfigError("image_size", image_size, f"a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}",
                          hint="64 suits models trained from scratch, 224 pretrained ones")
    if channels not in ("auto", 1, 3) or isinstance(channels, bool):
        raise ConfigError("channels", channels, "1 (gray), 3 (color) or 'auto'")
    if fit not in ("crop", "pad", "stretch"):
        raise ConfigError("fit", fit, "'crop', 'pad' or 'stretch'")


def available_memory() -> int:
    """Bytes of memory available to a new allocation: MemAvailable on Linux, else free pages.

    >>> available_memory() > 0
    True
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**63 - 1  # unknown: do not refuse


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def check_memory(root: Path, n: int, channels: int, image_size: int) -> None:
    """Refuse to decode into memory when ``n`` images of ``channels x image_size x image_size`` bytes would not fit.

    Only for images kept in memory (no cache, or no disk space for one): a cached folder is memory-mapped,
    and its limit is the disk (:func:`cache_fits`).

    Raises:
        DataError: saying how much is needed, how much is available and a smaller image_size to use.
    """
    need = n * channels * image_size * image_size
    budget = available_memory() * MEMORY_SHARE
    if need <= budget:
        return
    fits = int((budget / max(1, n * channels)) ** 0.5) // 8 * 8
    advice = (f"use image_size={fits} or smaller (about {_gb(n * channels * fits * fits)}), or fewer photos"
              if fits >= MIN_SIZE else "use fewer photos (not even the smallest image_size fits)")
    advice += (", or let cnnlab cache the decoded photos on a disk with room for them "
               "(cached photos stay on disk and are read a batch at a time)")
    raise DataError(f"{root}: decoding {n:,} photos at image_size={image_size} needs {_gb(need)} of memory "
                    f"({n:,} x {channels} x {image_size} x {image_size} bytes), more than half of the "
                    f"{_gb(budget / MEMORY_SHARE)} available; {advice}")


def free_disk(path: Path) -> int:
    """Free bytes on the disk holding ``path`` (or its nearest existing parent folder)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def cache_fits(n: int, channels: int, height: int, width: int) -> tuple[bool, str]:
    """Whether the cache folder's disk has room for ``n`` decoded images (plus a margin), and a note if not."""
    need = n * channels * height * width
    free = free_disk(cache_dir())
    if need + DISK_MARGIN <= free:
        return True, ""
    return False, (f"the decoded photos were not cached ({_gb(need)} needed, {_gb(free)} free in {cache_dir()}), "
                   f"so they are held in memory and the next run decodes them again; free some disk space "
                   f"or set CNNLAB_HOME to a bigger disk")


_KEYS: dict[tuple, str] = {}  # (root, settings, every file's size and mtime) -> content key, this process only


def _content_key(files: list[tuple[Path, int]], root: Path, settings: str) -> str:
    """A hash of every photo's bytes and label and the settings: the cache's name.

    A training run reads a folder two or three times (train, val, test) in a few seconds: the photos are
    hashed once, and read again only if a file's size or modification time changed meanwhile.
    """
    stats = tuple((str(p), label, st.st_size, st.st_mtime_ns) for p, label in files for st in [p.stat()])
    memo = (str(root), settings, stats)
    if memo not in _KEYS:
        _KEYS.clear()  # one folder remembered: a long-lived process (the studio) does not grow
        _KEYS[memo] = _hash_files(files, root, settings)
    return _KEYS[memo]


def _hash_files(files: list[tuple[Path, int]], root: Path, settings: str) -> str:
    h = hashlib.blake2b(settings.encode(), digest_size=16)
    for p, label in files:
        h.update(f"{p.relative_to(root)}|{label}|".encode())
        h.update(hashlib.blake2b(p.read_bytes(), digest_size=16).digest())
    return h.hexdigest()


def _decode(p: Path, image_size, fit: str):
    """``(image at image_size, facts for cnnlab check, None)`` or ``(None, None, reason)``: one decoding of ``p``."""
    try:
        info = {}
        arr = load_image(p, draft=image_size, info=info)
        return resize(arr, image_size, fit=fit) if image_size else arr, photo_facts(arr, info), None
    except ImageError as e:
        return None, None, str(e)


def cached_facts(root: str | os.PathLike, image_size: int | None = 64, channels: int | str = "auto",
                 fit: str = "crop") -> tuple[list[Path], list[dict | None]] | None:
    """What the decoded cache of ``root`` (with these settings) knows of each file, or None when there is none.

    Returns:
        ``(files, facts)``: the files in :func:`cnnlab.data.layout.list_files` order and, for each,
        :func:`cnnlab.data.phash.photo_facts` as the decoding that filled the cache found them, or
        ``{"error": reason}`` for a file that could not be read. A training run's data check reads these
        instead of decoding every photo again.
    """
    root = Path(root).expanduser().resolve()
    _, files = list_files(root)
    settings = f"{image_size}|{channels}|{fit}"
    cache = folder_cache_path(root, settings, _content_key(files, root, settings))
    facts = load_folder_facts(cache, len(files)) if cache.is_dir() else None
    if facts is None:
        return None
    try:
        skipped = dict(load_folder_cache(cache)[3])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for i, (p, _) in enumerate(files):
        if facts[i] is None:
            reason = skipped.get(str(p))
            if reason is None:
                return None  # the facts and the list of unreadable files disagree: decode instead
            facts[i] = {"error": reason.removeprefix(f"{p}: ")}
    return [p for p, _ in files], facts


def read_folder(root: str | os.PathLike, image_size: int | None = 64, channels: int | str = "auto",
                fit: str = "crop", progress: bool = True, use_cache: bool = True) -> ImageSet:
    """Decode one class-per-subfolder folder (no splitting) into an ImageSet, from the cache when possible.

    Args:
        root: a folder with one subfolder per class.
        image_size: square size in pixels (8..1024), or None to keep the photos' own (equal) size.
        channels: 1, 3 or "auto" (gray only if every photo is gray).
        fit: "crop", "pad" or "stretch" (see :func:`cnnlab.data.images.resize`).
        progress: show a progress bar on a terminal.
        use_cache: read and write the decoded cache (then the images are memory-mapped, not in memory).

    Returns:
        An ImageSet with ``skipped`` (unreadable files and why) and ``notes``; its ``images`` are
        :class:`~cnnlab.data.imageset.MappedImages` when cached, an in-memory tensor otherwise.

    Raises:
        ConfigError: a bad option. DataError: a bad folder, or not enough memory (when not cached).
    """
    check_options(image_size, channels, fit)
    root = Path(root).expanduser().resolve()
    classes, files = list_files(root)
    settings = f"{image_size}|{channels}|{fit}"
    cache = folder_cache_path(root, settings, _content_key(files, root, settings))
    if use_cache and cache.is_dir():
        try:
            images, labels, cached_classes, skipped = load_folder_cache(cache)
            return ImageSet(images, labels, cached_classes, source=f"folder:{root}", skipped=skipped)
        except (OSError, ValueError, KeyError, TypeError):
            shutil.rmtree(cache, ignore_errors=True)  # a damaged cache: decode again
    notes = []
    c = 1 if channels == 1 else 3  # "auto" is decoded as color, made gray at the end if every photo was gray
    if use_cache and image_size is not None:
        use_cache, note = cache_fits(len(files), c, image_size, image_size)
        notes += [note] * bool(note)
    if not use_cache and image_size is not None:
        check_memory(root, len(files), c, image_size)
    sink = None
    labels, skipped, gray, facts = [], [], True, []
    try:
        for (p, label), (arr, fact, err) in zip(files, _decoded(files, image_size, fit, root.name, progress),
                                                strict=True):
            facts.append(fact)
            if err is not None:
                skipped.append((str(p), err))
                continue
            if sink is None:  # the first readable photo fixes the size when image_size is None
                if use_cache and image_size is None:
                    use_cache, note = cache_fits(len(files), c, *arr.shape[:2])
                    notes += [note] * bool(note)
                sink = _Sink(cache if use_cache else None, (len(files), c, *arr.shape[:2]), root)
            elif arr.shape[:2] != sink.shape[2:]:
                raise DataError(f"images under {root} differ in size; pass image_size to resize them")
            gray &= arr.ndim == 2
            sink.write(len(labels), to_chw(convert_mode(arr, "gray" if c == 1 else "rgb")))
            labels.append(label)
        found = set(labels)
        empty = [name for i, name in enumerate(classes) if i not in found]
        if empty:
            raise DataError(f"no readable images in class folder(s) {', '.join(empty)} under {root}; "
                            f"{len(skipped)} file(s) could not be read")
        keep = 1 if channels == "auto" and gray else c
        info = {"folder": str(root), "images": len(labels), "image_size": image_size, "channels": keep, "fit": fit}
        images = sink.finish(np.asarray(labels, np.int64), classes, skipped, info, keep, facts)
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    data = ImageSet(images, np.asarray(labels, np.int64), classes, source=f"folder:{root}", skipped=skipped)
    data.notes += notes
    return data


def _decoded(files, image_size, fit: str, name: str, progress: bool):
    """``(array, None)`` or ``(None, reason)`` for each file, in order, decoded on a few threads.

    Threads rather than processes: Pillow releases Python's lock while it decodes and resizes, so two
    threads decode 224-px photos about 1.5x as fast as one (measured on 2 cores: 634 vs 410 photos/s, and
    2 processes 430/s, which must also copy each image back), and the images land in this process with no copy.
    At most a few dozen decoded photos wait in memory at any time.
    """
    workers = max(1, min(WORKERS, os.cpu_count() or 1))
    ahead = 8 * workers
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            bar(total=len(files), desc=f"decoding {name}", unit="img", enabled=progress) as b:
        pending = deque()
        for p, _ in files:
            pending.append(pool.submit(_decode, p, image_size, fit))
            if len(pending) >= ahead:
                yield pending.popleft().result()
                b.update()
        while pending:
            yield pending.popleft().result()
            b.update()


class _Sink:
    """Where decoded images go, one at a time: the cache file on disk, or one array in memory."""

    def __init__(self, cache: Path | None, shape: tuple[int, int, int, int], root: Path):
        self.shape, self.cache = shape, cache
        self.writer = FolderCacheWriter(cache, shape) if cache is not None else None
        self.array = None if cache is not None else np.empty(shape, np.uint8)  # (N, C, H, W), filled in place

    def write(self, i: int, image: np.ndarray) -> None:
        if self.writer is not None:
            self.writer.write(i, image)
        else:
            self.array[i] = image

    def finish(self, labels, classes, skipped, info, channels: int, facts: list):
        n = len(labels)
        if self.writer is None:
            return self.array[:n, :channels]
        self.writer.finish(n, labels, classes, skipped, info, channels, facts)
        return load_folder_cache(self.cache)[0]

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()


def decode_folder(root: str | os.PathLike, image_size: int | None = 64, channels: int | str = "auto",
                  fit: str = "crop", progress: bool = True, use_cache: bool = True):
    """:func:`read_folder` as arrays: ``(images uint8 (N, C, H, W), labels (N,), classes, skipped)``."""
    d = read_folder(root, image_size, channels, fit, progress, use_cache)
    return np.asarray(d.images), d.labels.numpy(), d.classes, d.skipped


def load_folder(path: str | os.PathLike, split: str = "train", image_size: int | None = 64,
                channels: int | str = "auto", fit: str = "crop", progress: bool = True,
                use_cache: bool = True) -> ImageSet:
    """The ``train``, ``val`` or ``test`` ImageSet of a photo folder (see the module docstring).

    Args:
        path: the folder (class subfolders, or train/ [val/] [test/] with class subfolders).
        split: "train", "test", or "val" when the folder has a val folder (:func:`folder_splits`).
        image_size, channels, fit, progress, use_cache: as for :func:`read_folder`.

    Returns:
        The split, with ``skipped`` (unreadable files of the folder it was read from) and ``notes``
        (e.g. classes too small to test).

    Raises:
        ConfigError: a bad option or a split the folder does not have.
        DataError: a bad layout, split folders whose classes differ, or not enough memory.
    """
    check_options(image_size, channels, fit)
    layout = folder_layout(path)
    if split not in layout.splits:
        raise ConfigError("split", split, f"one of {', '.join(layout.splits)} for {layout.root}",
                          hint="a val split comes from a val/ folder; without one, training splits it off train")
    check_classes(layout)  # every split folder has the same classes: checked before decoding
    if split in layout.folders and not (split == "train" and layout.held_out):
        return read_folder(layout.folders[split], image_size, channels, fit, progress, use_cache)
    data = read_folder(layout.folders["train"], image_size, channels, fit, progress, use_cache)
    return hold_out(data, split)  # train minus the test share, or the test share
