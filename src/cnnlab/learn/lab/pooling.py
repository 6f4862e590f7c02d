"""Max pooling: keep the biggest number of each window, step by step, and what moving the picture does to it.

Max pooling slides a window (2x2 or 3x3) over a grid of numbers, ``stride`` pixels at a time, and keeps the
largest number of each window (:func:`cnnlab.ref.max_pool2d`, traced by :func:`cnnlab.ref.trace_pool`).
Moving the picture by a multiple of the stride only moves the pooled map; other moves change some of its
numbers, and a small move changes each maximum only a little: that is the "translation invariance" it gives.

>>> import numpy as np
>>> x = np.array([[1, 3, 0, 2], [4, 2, 1, 1], [0, 0, 9, 5], [7, 1, 6, 8]], float)
>>> pool_picture(x, 2).tolist()
[[4.0, 2.0], [7.0, 9.0]]
>>> compare_shift(x, 2, 2)["cell_shift"], compare_shift(x, 2, 2)["changed"]
(1, 0)
"""

from __future__ import annotations

import numpy as np

from cnnlab.errors import ConfigError
from cnnlab.learn.ref import max_pool2d, trace_pool
from cnnlab.learn.ref.conv import out_size

LITTLE = 10  # a change of a pooled number by at most this much (of 255) counts as "a little"


def pool_picture(gray: np.ndarray, size: int = 2, stride: int | None = None) -> np.ndarray:
    """Max pooling of one gray picture.

    Args:
        gray: ``(H, W)`` numbers.
        size: the window's side.
        stride: how far the window moves each step (default: ``size``).

    Returns:
        ``(Ho, Wo)`` maxima, ``Ho = (H - size) // stride + 1`` (and the same for ``Wo``).

    Raises:
        ConfigError: the picture is smaller than the window.

    Example:

    >>> pool_picture(np.arange(16.0).reshape(4, 4), 2, 1).shape
    (3, 3)
    """
    x = np.asarray(gray, dtype=np.float64)
    if min(x.shape) < size:
        raise ConfigError("size", size, f"a window no bigger than the picture ({x.shape[0]}x{x.shape[1]})")
    out, _ = max_pool2d(x[None, None], size, stride or size)  # (1, 1, Ho, Wo)
    return out[0, 0]


def pool_steps(patch: np.ndarray, size: int = 2, stride: int | None = None) -> dict:
    """Every step of max pooling a small patch: which window each output cell reads, and where its maximum is.

    Args:
        patch: ``(h, w)`` numbers (the page uses 8x8).
        size: the window's side.
        stride: how far the window moves each step (default: ``size``).

    Returns:
        ``{"output": (Ho, Wo) nested list, "steps": [...]}``, one step per output cell, row by row:
        ``{"row", "col", "rows": [first, last], "cols": [first, last], "window", "value", "where": [r, c]}``.

    Example:

    >>> out = pool_steps(np.array([[1, 3, 0, 2], [4, 2, 1, 1], [0, 0, 9, 5], [7, 1, 6, 8]]), 2)
    >>> out["output"], out["steps"][3]["where"]
    ([[4.0, 2.0], [7.0, 9.0]], [2, 2])
    """
    stride = stride or size
    x = np.asarray(patch, dtype=np.float64)
    out = pool_picture(x, size, stride)
    steps = []
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            s = trace_pool(x, i, j, size, stride)
            steps.append({"row": i, "col": j, "rows": list(s.rows), "cols": list(s.cols),
                          "window": s.window.tolist(), "value": s.value, "where": list(s.where)})
    return {"output": out.tolist(), "steps": steps}


def shift_right(gray: np.ndarray, k: int) -> np.ndarray:
    """The picture moved ``k`` pixels to the right; a black strip (0) comes in on the left.

    Example:

    >>> shift_right(np.array([[1, 2, 3]]), 1).tolist()
    [[0, 1, 2]]
    """
    x = np.asarray(gray)
    out = np.zeros_like(x)
    out[:, k:] = x[:, :x.shape[1] - k]
    return out


def compare_shift(gray: np.ndarray, k: int, size: int = 2, stride: int | None = None) -> dict:
    """Pool the picture and the picture moved ``k`` pixels right, and compare the two pooled maps.

    Moving the picture by ``k`` pixels moves the pooled map by ``k // stride`` cells, so cell ``(i, j)`` of the
    moved picture's map is compared with cell ``(i, j - k // stride)`` of the original's. Cells whose window
    reads the black strip are not compared. When ``k`` is a multiple of the stride every compared cell is equal.

    Args:
        gray: ``(H, W)`` numbers.
        k: the move in pixels (0 or more, less than the width).
        size, stride: the pooling window and its step (stride defaults to ``size``).

    Returns:
        ``{"pooled", "shifted_pooled", "change", "cell_shift", "exact", "compared", "same", "changed", "little",
        "changed_a_little", "biggest_change", "mean_change"}``: the two pooled maps, ``change`` =
        ``|moved - original|`` per cell of the moved picture's map (-1 where not compared), ``exact``: whether ``k``
        is a multiple of the stride, the counts of compared / equal / changed cells and of those changed by at most
        ``little`` (``LITTLE``), and the biggest and the mean change of the compared cells.

    Raises:
        ConfigError: ``k`` is negative or not smaller than the picture's width.

    Example:

    >>> x = np.array([[0, 9, 0, 0, 5, 0]], float).repeat(2, axis=0)
    >>> r = compare_shift(x, 1, 2)
    >>> r["pooled"], r["shifted_pooled"], r["change"]   # the 9 moved into the next window
    ([[9.0, 0.0, 5.0]], [[0.0, 9.0, 5.0]], [[-1, 9, 0]])
    """
    stride = stride or size
    x = np.asarray(gray, dtype=np.float64)
    width = x.shape[1]
    if not 0 <= k < width:
        raise ConfigError("shift", k, f"a whole number from 0 to {width - 1} (less than the picture's width)")
    pooled = pool_picture(x, size, stride)  # (Ho, Wo)
    moved = pool_picture(shift_right(x, k), size, stride)  # (Ho, Wo)
    cells = k // stride
    first = -(-k // stride)  # the first output column whose window starts right of the black strip
    change = np.full(moved.shape, -1.0)
    if first < moved.shape[1]:
        diff = np.abs(moved[:, first:] - pooled[:, first - cells:moved.shape[1] - cells])
        change[:, first:] = diff
    compared = change >= 0
    diffs = change[compared]
    return {"pooled": pooled.tolist(), "shifted_pooled": moved.tolist(), "change": change.astype(int).tolist(),
            "cell_shift": int(cells), "exact": k % stride == 0, "compared": int(compared.sum()),
            "same": int((diffs == 0).sum()), "changed": int((diffs > 0).sum()), "little": LITTLE,
            "changed_a_little": int(((diffs > 0) & (diffs <= LITTLE)).sum()),
            "biggest_change": float(diffs.max()) if diffs.size else 0.0,
            "mean_change": float(diffs.mean()) if diffs.size else 0.0}


def output_shape(height: int, width: int, size: int, stride: int | None = None) -> tuple[int, int]:
    """The pooled map's shape ``(Ho, Wo)`` for an ``(H, W)`` input.

    >>> output_shape(256, 256, 2), output_shape(170, 256, 3, 2)
    ((128, 128), (84, 127))
    """
    stride = stride or size
    return out_size(height, size, stride, 0), out_size(width, size, stride, 0)
