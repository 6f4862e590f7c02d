"""The images of a class: add (decoded, encoded again, on disk before the answer), delete, thumbnails, checks.

>>> import tempfile
>>> import numpy as np
>>> from cnnlab.studio.store import Store
>>> store = Store(tempfile.mkdtemp())
>>> p = store.create_project("Shapes")["id"]
>>> c = store.add_class(p, "dark")["id"]
>>> image = add_pixels(store, p, c, np.zeros((32, 32), np.uint8))
>>> sorted(image), [f["kind"] for f in findings(store, p)]
(['id', 'thumb', 'url'], ['classes', 'too_few'])
"""

from __future__ import annotations

import hashlib
import io
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from cnnlab.data.images import load_image
from cnnlab.errors import ImageError
from cnnlab.studio import checks
from cnnlab.studio.meta import fsync_dir, write_durable
from cnnlab.studio.safety import NotFound, TooLarge, image_id
from cnnlab.studio.store import Store, image_dict
from cnnlab.studio.uploads import decode_upload, encode, is_zip, zip_members

THUMB = 128  # thumbnails fit in THUMB x THUMB pixels
_hashes: dict[tuple, tuple[str, str]] = {}  # (path, size, mtime_ns) -> ("ok", pixel hash) or ("bad", reason)
_hashes_lock = threading.Lock()


def pixel_hash(pixels: np.ndarray) -> str:
    """A hash of decoded pixels (shape included): equal for exact copies, whatever their file format.

    >>> pixel_hash(np.zeros((2, 2), np.uint8)) == pixel_hash(np.zeros((2, 2), np.uint8))
    True
    """
    return hashlib.blake2b(str(pixels.shape).encode() + np.ascontiguousarray(pixels).tobytes(),
                           digest_size=16).hexdigest()


def add_pixels(store: Store, p: str, c: str, pixels: np.ndarray, ext: str = "png") -> dict:
    """Store decoded pixels as a new image of class ``c``; it is on disk (fsync) when this returns.

    Args:
        store: the projects.
        p, c: project and class ids.
        pixels: uint8 ``(H, W)`` or ``(H, W, 3)``.
        ext: "png" or "jpg" (see :func:`cnnlab.studio.uploads.encode`).

    Returns:
        ``{"id", "url", "thumb"}``.

    Raises:
        NotFound: no such project or class (also when it is deleted meanwhile: it is never recreated).
    """
    folder = store.class_dir(p, c)
    i = image_id()
    try:
        if not folder.is_dir():
            folder.mkdir()  # listed in project.json but removed by hand; fails if the project is gone
        write_durable(folder / f"{i}.{ext}", encode(pixels, ext))
    except FileNotFoundError:
        raise NotFound("the class was deleted while the image was being added") from None
    return image_dict(p, c, i)


def add_files(store: Store, p: str, c: str, files: list[tuple[str, object]]) -> dict:
    """Add uploaded files — images, or zips of images — to class ``c``.

    Every file is decoded (:func:`cnnlab.studio.uploads.decode_upload`) and stored under a name the
    server makes; what cannot be decoded is refused with its reason, and the rest is still added.

    Args:
        store: the projects.
        p, c: project and class ids.
        files: ``(shown name, bytes or a binary file)`` pairs; the names appear in messages only.

    Returns:
        ``{"added": [image...], "refused": [{"file", "reason"}], "findings": [...]}``.

    Raises:
        NotFound: no such project or class.
    """
    store.class_dir(p, c)
    added, refused = [], []
    for shown, f in files:
        f = io.BytesIO(f) if isinstance(f, bytes) else f
        head = f.read(4)
        f.seek(0)
        if is_zip(head):
            try:
                items = [(m.name, m.data, m.reason) for m in zip_members(f, store.limits, shown)]
            except (ImageError, TooLarge) as e:  # refuse this zip, keep the other files
                refused.append({"file": shown, "reason": str(e)})
                continue
        else:
            items = [(shown, f.read(int(store.limits.max_file_mb * 2**20) + 1), None)]
        for name, blob, reason in items:
            if reason is None:
                try:
                    pixels, ext = decode_upload(blob, store.limits)
                    added.append(add_pixels(store, p, c, pixels, ext))
                    continue
                except ImageError as e:
                    reason = str(e)
            refused.append({"file": name, "reason": reason})
    return {"added": added, "refused": refused, "findings": findings(store, p, refused)}


def delete_image(store: Store, p: str, c: str, i: str) -> str:
    """Delete image ``i`` of class ``c``; returns ``i``. Raises NotFound."""
    path = store.image_path(p, c, i)
    path.unlink()
    fsync_dir(path.parent)
    return i


@lru_cache(maxsize=1024)
def _thumbnail(path: str, mtime_ns: int, size: int) -> bytes:  # keyed by mtime and size: a new file, a new thumb
    img = Image.fromarray(load_image(path))
    img.thumbnail((THUMB, THUMB), Image.BILINEAR)
    return encode(np.asarray(img), "png")


def thumbnail(store: Store, p: str, c: str, i: str) -> bytes:
    """A PNG of image ``i``, at most 128 x 128 pixels (made once per file, then cached).

    Raises:
        NotFound: no such image. ImageError: the file cannot be decoded.
    """
    path = store.image_path(p, c, i)
    st = path.stat()
    try:
        return _thumbnail(str(path), st.st_mtime_ns, st.st_size)
    except ImageError as e:
        raise ImageError(f"image '{i}' cannot be read ({str(e).split(': ', 1)[-1]})") from None


def findings(store: Store, p: str, refused: list[dict] = ()) -> list[dict]:
    """What the checks of :mod:`cnnlab.studio.checks` find in project ``p``.

    Unreadable files, exact copies (equal decoded pixels, in one class or across two), classes with
    too few images, strong imbalance. Pixel hashes are cached per file (path, size, modification time).

    Args:
        store: the projects.
        p: the project id.
        refused: ``[{"file", "reason"}]`` of an upload or import, reported with the unreadable files.

    Returns:
        ``[{"kind", "level", "message"}]``.
    """
    meta = store.meta(p)
    counts, hashes, bad = {}, {}, [(r["file"], r["reason"]) for r in refused]
    for k in meta["classes"]:
        files = store.image_files(p, k["id"])
        counts[k["name"]] = len(files)
        for f in files:
            status, value = _hash(f)
            if status == "ok":
                hashes[(k["name"], f.stem)] = value
            else:
                bad.append((f"{k['name']}/{f.name}", value))
    return checks.unreadable_findings(bad) + checks.duplicate_findings(hashes) + checks.class_findings(counts)


def _hash(path: Path) -> tuple[str, str]:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _hashes_lock:
        if key in _hashes:
            return _hashes[key]
    try:
        value = ("ok", pixel_hash(load_image(path)))
    except ImageError as e:
        value = ("bad", str(e).split(": ", 1)[-1])
    with _hashes_lock:
        if len(_hashes) > 200_000:
            _hashes.clear()
        _hashes[key] = value
    return value
