"""A folder of your own photos as an ImageSet: one subfolder per class.

    photos/                      or    photos/
      cat/  a.jpg b.png ...              train/cat/ train/dog/
      dog/  c.jpg ...                    val/cat/   val/dog/     (val/ and test/ are optional)

The layout is recognised first (see :mod:`cnnlab.data.layout`), and the class names of every
split folder are compared before any photo is decoded. Each photo is decoded once, resized to
``image_size`` and cached on disk under a key made from the files' *contents* and the settings,
so the second run starts at once and any change to a photo is noticed (the older cache of that
folder is then removed). Unreadable files (truncated, empty, not images) are skipped and listed
with their reasons, never a crash mid-epoch. Before decoding, the memory the decoded images need
is compared with the memory available, so a too-large ``image_size`` is refused at once.

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
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from cnnlab.data.cache import cache_dir, folder_cache_path, load_folder_cache, save_folder_cache
from cnnlab.data.images import convert_mode, load_image, resize, to_chw
from cnnlab.data.imageset import ImageSet, hold_out
from cnnlab.data.layout import check_classes, folder_layout, folder_splits, list_files
from cnnlab.errors import ConfigError, DataError, ImageError
from cnnlab.progress import bar

MIN_SIZE, MAX_SIZE = 8, 1024  # allowed image_size, in pixels
MEMORY_SHARE = 0.5  # decoded images may take at most this share of the available memory
DISK_MARGIN = 200 * 2**20  # leave this much disk free when writing a cache file

__all__ = ["available_memory", "check_memory", "decode_folder", "folder_splits", "load_folder", "read_folder"]


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
    """Refuse to decode when ``n`` images of ``channels x image_size x image_size`` bytes would not fit.

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
    raise DataError(f"{root}: decoding {n:,} photos at image_size={image_size} needs {_gb(need)} of memory "
                    f"({n:,} x {channels} x {image_size} x {image_size} bytes), more than half of the "
                    f"{_gb(budget / MEMORY_SHARE)} available; {advice}")


def _content_key(files: list[tuple[Path, int]], root: Path, settings: str) -> str:
    h = hashlib.blake2b(settings.encode(), digest_size=16)
    for p, label in files:
        h.update(f"{p.relative_to(root)}|{label}|".encode())
        h.update(hashlib.blake2b(p.read_bytes(), digest_size=16).digest())
    return h.hexdigest()


def _decode(p: Path, image_size, fit: str):
    try:
        arr = load_image(p, draft=image_size)
        return resize(arr, image_size, fit=fit) if image_size else arr, None
    except ImageError as e:
        return None, str(e)


def read_folder(root: str | os.PathLike, image_size: int | None = 64, channels: int | str = "auto",
                fit: str = "crop", progress: bool = True, use_cache: bool = True) -> ImageSet:
    """Decode one class-per-subfolder folder (no splitting) into an ImageSet, from the cache when possible.

    Args:
        root: a folder with one subfolder per class.
        image_size: square size in pixels (8..1024), or None to keep the photos' own (equal) size.
        channels: 1, 3 or "auto" (gray only if every photo is gray).
        fit: "crop", "pad" or "stretch" (see :func:`cnnlab.data.images.resize`).
        progress: show a progress bar on a terminal.
        use_cache: read and write the decoded cache.

    Returns:
        An ImageSet with ``skipped`` (unreadable files and why) and ``notes``.

    Raises:
        ConfigError: a bad option. DataError: a bad folder, or not enough memory.
    """
    check_options(image_size, channels, fit)
    root = Path(root).expanduser().resolve()
    classes, files = list_files(root)
    if image_size is not None:  # loading a cached copy needs as much memory as decoding
        check_memory(root, len(files), 1 if channels == 1 else 3, image_size)
    settings = f"{image_size}|{channels}|{fit}"
    cache = folder_cache_path(root, settings, _content_key(files, root, settings))
    if use_cache and cache.is_file():
        try:
            images, labels, cached_classes, skipped = load_folder_cache(cache)
            return ImageSet(images, labels, cached_classes, source=f"folder:{root}", skipped=skipped)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            cache.unlink(missing_ok=True)  # a damaged cache file: decode again
    workers = min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            bar(total=len(files), desc=f"decoding {root.name}", unit="img", enabled=progress) as b:
        results = []
        for r in pool.map(lambda f: _decode(f[0], image_size, fit), files):
            results.append(r)
            b.update()
    arrays, labels, skipped = [], [], []
    for (p, label), (arr, err) in zip(files, results, strict=True):
        if err is None:
            arrays.append(arr)
            labels.append(label)
        else:
            skipped.append((str(p), err))
    del results
    found = set(labels)
    empty = [c for i, c in enumerate(classes) if i not in found]
    if empty:
        raise DataError(f"no readable images in class folder(s) {', '.join(empty)} under {root}; "
                        f"{len(skipped)} file(s) could not be read")
    if channels == "auto":
        channels = 1 if all(a.ndim == 2 for a in arrays) else 3
    if image_size is None and len({a.shape[:2] for a in arrays}) > 1:
        raise DataError(f"images under {root} differ in size; pass image_size to resize them")
    mode = "gray" if channels == 1 else "rgb"
    h, w = arrays[0].shape[:2]
    images = np.empty((len(arrays), channels, h, w), np.uint8)  # (N, C, H, W), filled in place: one copy
    for i in range(len(arrays)):
        images[i] = to_chw(convert_mode(arrays[i], mode))
        arrays[i] = None
    labels = np.asarray(labels, dtype=np.int64)
    data = ImageSet(images, labels, classes, source=f"folder:{root}", skipped=skipped)
    if use_cache:
        _write_cache(cache, data, root, image_size is not None, fit)
    return data


def _write_cache(path: Path, data: ImageSet, root: Path, size_given: bool, fit: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(path.parent).free
        size = data.images.numel()
        if free < size + DISK_MARGIN:
            data.notes.append(f"the decoded photos were not cached ({_gb(size)} needed, {_gb(free)} free in "
                              f"{cache_dir()}); the next run decodes them again")
            return
        info = {"folder": str(root), "images": len(data), "image_size": data.image_size[0] if size_given else None,
                "channels": data.channels, "fit": fit}
        save_folder_cache(path, data.images.numpy(), data.labels.numpy(), data.classes, data.skipped, info)
    except OSError as e:
        data.notes.append(f"the decoded photos were not cached ({e}); the next run decodes them again")


def decode_folder(root: str | os.PathLike, image_size: int | None = 64, channels: int | str = "auto",
                  fit: str = "crop", progress: bool = True, use_cache: bool = True):
    """:func:`read_folder` as arrays: ``(images uint8 (N, C, H, W), labels (N,), classes, skipped)``."""
    d = read_folder(root, image_size, channels, fit, progress, use_cache)
    return d.images.numpy(), d.labels.numpy(), d.classes, d.skipped


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
