"""MappedImages: uint8 images (N, C, H, W) in a .npy file on disk, read a batch at a time.

A photo folder decoded into the cache (:mod:`cnnlab.data.folder`) is opened as MappedImages, so a
folder larger than the memory trains with only its batches in memory. ``images[idx]`` returns a
torch tensor of just those images; ``take(idx)`` is a view (the file plus an index array), which is
how the splits of a folder share one file. The file is mapped read-only, and the pages read are
handed back to the system every READ_WINDOW bytes, so the process's resident memory does not grow
with the file however often it is read.
"""

from __future__ import annotations

import hashlib
import mmap
from pathlib import Path

import numpy as np
import torch

READ_WINDOW = 64 * 2**20  # MappedImages hands back the pages it read after this many bytes


class _Mapping:
    """One read-only memory map of a .npy file, shared by every view of it."""

    def __init__(self, path: Path):
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(f)
            offset = f.tell()
            if fortran or dtype != np.uint8 or len(shape) != 4:
                raise ValueError(f"{path}: not a uint8 (N, C, H, W) array")
            self.mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        if len(self.mm) < offset + int(np.prod(shape)):
            raise ValueError(f"{path}: shorter than its header says (a damaged file)")
        self.array = np.ndarray(shape, np.uint8, buffer=self.mm, offset=offset)  # read-only, backed by the file
        self.path = path
        self.read = 0

    def used(self, nbytes: int) -> None:
        """Count bytes read; past READ_WINDOW, drop the mapped pages from this process (they stay in the
        operating system's file cache, so reading them again is fast, but they no longer count as ours)."""
        self.read += nbytes
        if self.read >= READ_WINDOW and hasattr(self.mm, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
            self.mm.madvise(mmap.MADV_DONTNEED)
            self.read = 0


class MappedImages:
    """uint8 images ``(N, C, H, W)`` in a .npy file, memory-mapped read-only: indexing returns torch tensors.

    ``images[idx]`` (an int, a slice, an index tensor or array) reads only those images into a new
    tensor; :meth:`take` makes a view of some images without reading any. Any other tensor method
    (``.float()``, ``.flip()``) works on an in-memory copy of the whole view, so code written for
    tensors still runs; the training, splitting and feature paths only ever index batches.

    Args:
        path: a .npy file holding uint8 ``(N, C, H, W)``.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "images.npy"
    >>> np.save(path, np.arange(4 * 3 * 2 * 2, dtype=np.uint8).reshape(4, 3, 2, 2))
    >>> images = MappedImages(path)
    >>> tuple(images.shape), images[1:3].shape, images.take([3, 0])[0][0, 0].tolist()
    ((4, 3, 2, 2), torch.Size([2, 3, 2, 2]), [36, 37])
    """

    dtype = torch.uint8
    ndim = 4

    def __init__(self, path: str | Path, _mapping: _Mapping | None = None, _index: np.ndarray | None = None):
        self.mapping = _mapping or _Mapping(Path(path))
        self.index = _index  # int64 rows of the file this view shows, or None: all of them, in order

    @property
    def array(self) -> np.ndarray:
        """The whole file as a read-only NumPy array (no copy)."""
        return self.mapping.array

    @property
    def path(self) -> Path:
        """The .npy file."""
        return self.mapping.path

    @property
    def shape(self) -> torch.Size:
        """``(N, C, H, W)`` of this view."""
        return torch.Size((len(self), *self.array.shape[1:]))

    def __len__(self) -> int:
        return len(self.array) if self.index is None else len(self.index)

    def __repr__(self) -> str:
        return f"MappedImages({self.path}, {tuple(self.shape)})"

    def size(self, dim: int | None = None):
        """Like ``Tensor.size``."""
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        """4."""
        return 4

    def numel(self) -> int:
        """Number of bytes (= values) in this view."""
        return int(np.prod(self.shape))

    def rows(self, key=None) -> np.ndarray:
        """The file rows of this view's images ``key`` (an index, slice, list, array or tensor; None: all)."""
        n = len(self)
        if key is None:
            pos = np.arange(n)
        elif isinstance(key, slice):
            pos = np.arange(n)[key]
        else:
            pos = np.asarray(key.cpu() if torch.is_tensor(key) else key)
            if pos.dtype == bool:
                pos = np.flatnonzero(pos)
            pos = pos.astype(np.int64).reshape(-1)
            if len(pos) and (pos.min() < -n or pos.max() >= n):
                raise IndexError(f"index out of range for {n} images")
            pos = np.where(pos < 0, pos + n, pos)
        return pos if self.index is None else self.index[pos]

    def take(self, idx) -> MappedImages:
        """A view of the images at ``idx`` (nothing is read)."""
        return MappedImages(self.path, self.mapping, self.rows(idx))

    def _read(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) > 1 and rows[-1] - rows[0] == len(rows) - 1 and np.all(np.diff(rows) == 1):
            out = np.array(self.array[rows[0]:rows[-1] + 1])  # one contiguous read
        else:
            out = self.array[rows]  # fancy indexing copies just these rows
        self.mapping.used(out.nbytes)
        return out

    def __getitem__(self, key) -> torch.Tensor:
        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        one = isinstance(key, (int, np.integer)) or (torch.is_tensor(key) and key.ndim == 0)
        if one:
            i = int(key)
            if not -len(self) <= i < len(self):
                raise IndexError(f"image {i} out of range for {len(self)} images")
            key = [i]
        x = torch.from_numpy(self._read(self.rows(key)))  # (B, C, H, W), a new in-memory tensor
        x = x[0] if one else x
        return x[(slice(None), *rest)] if rest and not one else x[rest] if rest else x

    def numpy(self) -> np.ndarray:
        """This view as a NumPy array: the read-only mapped file itself when the view is all of it, else a copy."""
        return self.array if self.index is None else self._read(self.index)

    def tensor(self) -> torch.Tensor:
        """The whole view as an in-memory tensor (a copy: as much memory as the view's bytes)."""
        return torch.from_numpy(self._read(self.rows()))

    def fingerprint(self) -> str:
        """Names these exact pixels: the file (cache file names hold a hash of the photos and settings) + rows."""
        h = hashlib.blake2b(f"{self.path.resolve()}|{self.array.shape}".encode(), digest_size=16)
        h.update(self.rows().tobytes())
        return h.hexdigest()

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        def real(a):
            return a.tensor() if isinstance(a, MappedImages) else a
        args = tuple(real(a) for a in args)
        if isinstance(args[0] if args else None, (list, tuple)):
            args = (type(args[0])(real(a) for a in args[0]), *args[1:])
        return func(*args, **{k: real(v) for k, v in (kwargs or {}).items()})

    def __getattr__(self, name):  # any other tensor method: on an in-memory copy
        if name.startswith("_") or name in ("mapping", "index"):
            raise AttributeError(name)
        return getattr(self.tensor(), name)
