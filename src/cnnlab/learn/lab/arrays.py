"""Images are arrays: a pixel's numbers, the three colour channels, gray, and flattening into one line.

A gray picture is a ``(H, W)`` grid of whole numbers 0..255; a colour one is ``(H, W, 3)``: three such grids
(red, green, blue) stacked. A fully connected (dense) layer cannot take a grid, so the picture is flattened
into one line of ``H * W * C`` numbers first (:func:`cnnlab.ref.flatten`, NumPy's row-by-row "C" order), and
every one of those numbers needs its own input neuron.

>>> import numpy as np
>>> picture = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)   # (H=2, W=2, C=3)
>>> flatten_patch(picture, 0, 0, 2)["flat"]
[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
>>> dense_size(1024, 1024, 3, neurons=100)["weights"]
314572800
"""

from __future__ import annotations

import numpy as np

from cnnlab.errors import ConfigError
from cnnlab.learn.ref import flatten


def grayscale(pixels: np.ndarray) -> np.ndarray:
    """A colour picture in gray, exactly as Pillow's ``convert("L")`` computes it.

    The formula is L = 0.299 R + 0.587 G + 0.114 B, rounded; Pillow works with whole numbers,
    ``(R*19595 + G*38470 + B*7471 + 32768) >> 16``, which is what this does (the page does the same in the browser).

    Args:
        pixels: uint8 ``(H, W, 3)`` (a gray ``(H, W)`` picture is returned as it is).

    Returns:
        uint8 ``(H, W)``.

    Example:

    >>> grayscale(np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [200, 100, 50]]], np.uint8)).tolist()
    [[76, 150, 29, 124]]
    """
    a = np.asarray(pixels)
    if a.ndim == 2:
        return a.astype(np.uint8)
    r, g, b = (a[..., i].astype(np.int64) for i in range(3))  # each (H, W)
    return ((r * 19595 + g * 38470 + b * 7471 + 32768) >> 16).astype(np.uint8)


def pixel(pixels: np.ndarray, row: int, col: int) -> list[int]:
    """The number(s) of one pixel: ``[gray]`` or ``[R, G, B]``.

    Raises:
        ConfigError: the position is outside the picture.

    Example:

    >>> pixel(np.array([[[10, 20, 30]]], np.uint8), 0, 0)
    [10, 20, 30]
    """
    a = np.asarray(pixels)
    _check_position(a, row, col)
    return np.atleast_1d(a[row, col]).astype(int).tolist()


def flatten_patch(pixels: np.ndarray, row: int, col: int, size: int) -> dict:
    """A small square of the picture and the same numbers flattened into one line (:func:`cnnlab.ref.flatten`).

    The square starts at ``(row, col)`` and is moved inside the picture when it would stick out.

    Args:
        pixels: uint8 ``(H, W)`` or ``(H, W, 3)``.
        row, col: the top-left pixel wanted.
        size: the side of the square (1 to 8, at most the picture's smaller side).

    Returns:
        ``{"row", "col", "size", "channels", "patch", "flat", "where"}``: the square's real top-left corner,
        its numbers (``size x size`` or ``size x size x 3`` nested lists), the flattened line, and for each number
        of the line its ``[row, col, channel]`` inside the square (row by row; in a row, pixel by pixel;
        in a pixel R, G, B, like Keras' ``Flatten`` on an ``(H, W, 3)`` picture).

    Raises:
        ConfigError: the position is outside the picture, or the square does not fit in it.

    Example:

    >>> out = flatten_patch(np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], np.uint8), 2, 2, 2)
    >>> out["row"], out["col"], out["patch"], out["flat"]
    (1, 1, [[5, 6], [8, 9]], [5, 6, 8, 9])
    """
    a = np.asarray(pixels)
    _check_position(a, row, col)
    height, width = a.shape[:2]
    if not 1 <= size <= min(8, height, width):
        most = min(8, height, width)
        raise ConfigError("size", size, f"a whole number from 1 to {most} (it must fit in the picture)")
    r, c = min(row, height - size), min(col, width - size)
    patch = np.asarray(a[r:r + size, c:c + size], dtype=np.float64)  # (size, size) or (size, size, 3)
    line = flatten(patch[None])[0]  # one picture in a batch of one -> (size * size * C,)
    channels = 1 if a.ndim == 2 else a.shape[2]
    where = np.stack(np.unravel_index(np.arange(line.size), (size, size, channels)), axis=1)
    return {"row": int(r), "col": int(c), "size": int(size), "channels": int(channels),
            "patch": patch.astype(int).tolist(), "flat": line.astype(int).tolist(), "where": where.tolist()}


def dense_size(height: int, width: int, channels: int, neurons: int = 100) -> dict:
    """How big a dense layer on a flattened picture is: one input per number, one weight per input and neuron.

    Args:
        height, width, channels: the picture's shape (H, W, C).
        neurons: the dense layer's neurons.

    Returns:
        ``{"inputs", "neurons", "weights", "biases", "parameters", "megabytes"}``: ``inputs = H*W*C``,
        ``weights = inputs * neurons``, one bias per neuron, and the memory of the parameters as 32-bit floats.

    Example:

    >>> dense_size(28, 28, 1, neurons=10)
    {'inputs': 784, 'neurons': 10, 'weights': 7840, 'biases': 10, 'parameters': 7850, 'megabytes': 0.0314}
    """
    inputs = int(height) * int(width) * int(channels)
    weights, biases = inputs * int(neurons), int(neurons)
    return {"inputs": inputs, "neurons": int(neurons), "weights": weights, "biases": biases,
            "parameters": weights + biases, "megabytes": round(4 * (weights + biases) / 1e6, 4)}


def _check_position(a: np.ndarray, row: int, col: int) -> None:
    height, width = a.shape[:2]
    if not 0 <= row < height:
        raise ConfigError("row", row, f"a row from 0 to {height - 1} (the picture is {height} pixels high)")
    if not 0 <= col < width:
        raise ConfigError("col", col, f"a column from 0 to {width - 1} (the picture is {width} pixels wide)")
