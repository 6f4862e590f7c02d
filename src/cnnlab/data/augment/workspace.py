"""Scratch tensors that the augmentation kernels reuse from one call to the next, one set per thread.

A kernel that makes a fresh float tensor for every in-between result asks the memory allocator for
megabytes each time; on Linux, glibc gives large blocks back to the system when they are freed and
every page of the next one is then faulted in again, which took more than half of the augmentation
time at 224x224 (bench/augment_speed.py). The kernels write their in-between results into these
tensors instead. Only in-between results live here: a kernel's result is always a tensor of its own.

>>> import torch
>>> a = scratch("demo", (4, 3), torch.float32)
>>> a.data_ptr() == scratch("demo", (2, 3), torch.float32).data_ptr()  # the same memory again, as (2, 3)
True
"""

from __future__ import annotations

import threading

import torch

_LOCAL = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str = "cpu"
            ) -> torch.Tensor:
    """A tensor of ``shape`` that the calling thread gets back on the next call with the same ``name``.

    Its contents are whatever was left in it: write before reading. Two uses of one name must not
    overlap in time (a kernel uses each name for one in-between result).

    Args:
        name: which scratch tensor (one per in-between result of a kernel).
        shape, dtype, device: what it must be; a larger size or another dtype or device replaces the kept memory.

    Returns:
        A contiguous tensor (uninitialized when new).
    """
    store = getattr(_LOCAL, "store", None)
    if store is None:
        store = _LOCAL.store = {}
    shape = tuple(shape)
    numel = 1
    for size in shape:
        numel *= size
    flat = store.get(name)
    if flat is None or flat.numel() < numel or flat.dtype != dtype or flat.device != torch.device(device):
        flat = store[name] = torch.empty(numel, dtype=dtype, device=device)  # grows, never shrinks
    return flat[:numel].view(shape)
