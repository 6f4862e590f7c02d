"""A folder of your own photos as an ImageSet: one subfolder per class.

    photos/
      cat/  a.jpg b.png ...
      dog/  c.jpg ...

Each photo is decoded once, resized to ``image_size`` and cached on disk under a key made
from the files' *contents* and the settings, so the second run starts at once and any change
to a photo is noticed. Unreadable files (truncated, empty, not images) are skipped and listed,
never a crash mid-epoch. If the folder holds ``train/`` and ``test/`` subfolders they are used
as given; otherwise a fixed stratified 20% of each class is held out as the test split.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from cnnlab.data.images import ImageError, convert_mode, load_image, resize, to_chw

CACHE_VERSION = "2"  # 2: JPEGs decoded at reduced scale (draft) before resizing


def class_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def list_files(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """Class names and (file, label) pairs. Every non-hidden file counts; bad ones are skipped later."""
    from cnnlab.data.sources import DataError

    if not root.is_dir():
        raise DataError(f"{root}: no such folder. Expected one subfolder per class, e.g. {root}/cat/*.jpg")
    classes = class_folders(root)
    if len(classes) < 2:
        raise DataError(f"{root}: found {len(classes)} class folder(s); a classifier needs at least two, "
                           f"one subfolder per class (e.g. {root}/cat/, {root}/dog/)")
    files = []
    for label, d in enumerate(classes):
        found = sorted(p for p in d.rglob("*") if p.is_file() and not p.name.startswith("."))
        if not found:
            raise DataError(f"class folder {d} is empty; put images of '{d.name}' in it or remove it")
        files += [(p, label) for p in found]
    return [d.name for d in classes], files


def _key(files: list[tuple[Path, int]], root: Path, settings: str) -> str:
    h = hashlib.blake2b(f"{CACHE_VERSION}|{settings}".encode(), digest_size=16)
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


def decode_folder(root: str | os.PathLike, image_size: int | None = 64, channels: int | str = "auto",
                  fit: str = "crop", progress: bool = True, use_cache: bool = True):
    """Decode a class-per-subfolder tree into (images uint8 (N,C,H,W), labels, classes, skipped)."""
    from cnnlab.data.sources import DataError, cache_dir

    root = Path(root).expanduser().resolve()
    classes, files = list_files(root)
    settings = f"{image_size}|{channels}|{fit}"
    cache = cache_dir() / "folders" / f"{_key(files, root, settings)}.npz"
    if use_cache and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            return (z["images"], z["labels"], z["classes"].tolist(),
                    list(zip(z["skipped_paths"].tolist(), z["skipped_reasons"].tolist(), strict=True)))

    from tqdm.auto import tqdm

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        results = list(tqdm(pool.map(lambda f: _decode(f[0], image_size, fit), files), total=len(files),
                            desc=f"decoding {root.name}", unit="img", disable=not progress or len(files) < 50))
    arrays, labels, skipped = [], [], []
    for (p, label), (arr, err) in zip(files, results, strict=True):
        if err is None:
            arrays.append(arr)
            labels.append(label)
        else:
            skipped.append((str(p), err))
    empty = [c for i, c in enumerate(classes) if i not in set(labels)]
    if empty:
        raise DataError(f"no readable images in class folder(s) {', '.join(empty)} under {root}; "
                           f"{len(skipped)} file(s) could not be read")
    if channels == "auto":
        channels = 1 if all(a.ndim == 2 for a in arrays) else 3
    if channels not in (1, 3):
        raise DataError(f"channels must be 1, 3 or 'auto', not {channels!r}")
    mode = "gray" if channels == 1 else "rgb"
    if image_size is None and len({a.shape[:2] for a in arrays}) > 1:
        raise DataError(f"images under {root} differ in size; pass image_size to resize them")
    images = np.stack([to_chw(convert_mode(a, mode)) for a in arrays])
    labels = np.asarray(labels, dtype=np.int64)
    if use_cache:
        _save_cache(cache, images, labels, classes, skipped)
    return images, labels, classes, skipped


def _save_cache(path: Path, images, labels, classes, skipped) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, images=images, labels=labels, classes=np.asarray(classes, dtype=str),
                     skipped_paths=np.asarray([s[0] for s in skipped], dtype=str),
                     skipped_reasons=np.asarray([s[1] for s in skipped], dtype=str))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_folder(path: str, split: str = "train", image_size: int | None = 64, channels="auto",
                fit: str = "crop", progress: bool = True):
    """The ``train`` or ``test`` ImageSet of a photo folder (see the module docstring)."""
    from cnnlab.data.imageset import ImageSet, stratified_indices
    from cnnlab.data.sources import SPLIT_SEED, TEST_FRACTION

    root = Path(path).expanduser()
    given = root / split
    if (root / "train").is_dir() and (root / "test").is_dir():
        images, labels, classes, skipped = decode_folder(given, image_size, channels, fit, progress)
        return ImageSet(images, labels, classes, source=f"folder:{root}/{split}", skipped=skipped)
    images, labels, classes, skipped = decode_folder(root, image_size, channels, fit, progress)
    train_idx, test_idx = stratified_indices(labels, TEST_FRACTION, SPLIT_SEED)
    idx = train_idx if split == "train" else test_idx
    return ImageSet(images[idx], labels[idx], classes, source=f"folder:{root}", skipped=skipped)
