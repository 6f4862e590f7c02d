"""Step-by-step traces: which window an output read, the products, and their sum (or max).

>>> import numpy as np
>>> from cnnlab.learn.ref import trace_conv
>>> image = np.array([[255, 255, 255], [255, 0, 255], [255, 255, 255]])   # the lecture's 3x3 image
>>> kernel = np.array([[0, 1], [1, 0]])
>>> print(trace_conv(image, kernel, 0, 0).text())
output[0, 0] reads input rows 0..1, cols 0..1
  window          kernel          products
  [255 255]   *   [  0   1]   =   [  0 255]
  [255   0]       [  1   0]       [255   0]
  sum of products = 510
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Step:
    """One output position of a convolution or pooling, and how it was computed.

    Args:
        row, col: the output position.
        rows, cols: the input rows and columns read (first, last).
        window: the input values read.
        kernel: the kernel (None for max pooling).
        products: window * kernel (None for max pooling).
        value: the output value (the sum of the products, or the maximum).
        where: the input position of the maximum (pooling only).

    Example:

    >>> trace_pool(np.array([[1, 3], [4, 2]]), 0, 0).where
    (1, 0)
    """

    row: int
    col: int
    rows: tuple[int, int]  # input rows read (first, last)
    cols: tuple[int, int]
    window: np.ndarray
    kernel: np.ndarray | None  # None for max pooling
    products: np.ndarray | None
    value: float
    where: tuple[int, int] | None = None  # position of the maximum (pooling)

    def text(self) -> str:
        """The step as a few lines of text: the window, the kernel, the products and their sum (or the max).

        >>> print(trace_pool(np.array([[1, 3], [4, 2]]), 0, 0).text())
        output[0, 0] reads input rows 0..1, cols 0..1
          window
          [1 3]
          [4 2]
          max = 4 at input (1, 0)
        """
        head = f"output[{self.row}, {self.col}] reads input rows {self.rows[0]}..{self.rows[1]}, " \
               f"cols {self.cols[0]}..{self.cols[1]}"
        fmt = _formatter(self.window, self.kernel, self.products)
        w = _lines(self.window, fmt)
        if self.kernel is None:
            body = ["  window"] + [f"  {line}" for line in w]
            return "\n".join([head] + body + [f"  max = {_num(self.value)} at input {self.where}"])
        k, p = _lines(self.kernel, fmt), _lines(self.products, fmt)
        width_w, width_k = max(map(len, w)), max(map(len, k))
        body = [f"  {'window':{width_w}s}       {'kernel':{width_k}s}       products"]
        for i, (a, b, c) in enumerate(zip(w, k, p)):
            op, eq = ("*", "=") if i == 0 else (" ", " ")
            body.append(f"  {a:{width_w}s}   {op}   {b:{width_k}s}   {eq}   {c}")
        return "\n".join([head] + body + [f"  sum of products = {_num(self.value)}"])


def _num(v) -> str:
    return f"{v:g}" if isinstance(v, float) and not float(v).is_integer() else str(int(v))


def _formatter(*arrays):
    vals = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays if a is not None])
    integral = np.all(np.mod(vals, 1) == 0)
    width = max(len(_num(float(v)) if integral else f"{v:.2f}") for v in vals)
    return (lambda v: f"{_num(float(v)):>{width}s}") if integral else (lambda v: f"{v:>{width}.2f}")


def _lines(a, fmt) -> list[str]:
    return ["[" + " ".join(fmt(v) for v in row) + "]" for row in np.atleast_2d(a)]


def trace_conv(image, kernel, row: int, col: int, stride: int = 1, padding: int = 0) -> Step:
    """How output[row, col] of a single-channel convolution is computed.

    Args:
        image: a 2-D array (H, W).
        kernel: a 2-D array (kh, kw).
        row, col: the output position.
        stride, padding: as in :func:`~cnnlab.learn.ref.conv2d`.

    Returns:
        A :class:`Step`.

    Raises:
        IndexError: the position is outside the result.

    Example:

    >>> trace_conv(np.eye(3), np.ones((2, 2)), 1, 1).value
    2.0
    """
    x = np.pad(np.asarray(image, dtype=float), padding)
    k = np.asarray(kernel, dtype=float)
    kh, kw = k.shape
    r0, c0 = row * stride, col * stride
    window = x[r0:r0 + kh, c0:c0 + kw]
    if window.shape != k.shape:
        raise IndexError(f"output position ({row}, {col}) is outside the result")
    products = window * k
    return Step(row, col, (r0 - padding, r0 - padding + kh - 1), (c0 - padding, c0 - padding + kw - 1),
                window, k, products, float(products.sum()))


def trace_pool(image, row: int, col: int, size: int = 2, stride: int | None = None) -> Step:
    """How output[row, col] of max pooling is computed, and where its maximum sits.

    Args:
        image: a 2-D array (H, W).
        row, col: the output position.
        size: window size.
        stride: step of the window (default: ``size``).

    Returns:
        A :class:`Step` whose ``where`` is the maximum's input position.

    Example:

    >>> trace_pool(np.arange(16).reshape(4, 4), 1, 1).value
    15.0
    """
    stride = stride or size
    x = np.asarray(image, dtype=float)
    r0, c0 = row * stride, col * stride
    window = x[r0:r0 + size, c0:c0 + size]
    u, v = np.unravel_index(np.argmax(window), window.shape)
    return Step(row, col, (r0, r0 + size - 1), (c0, c0 + size - 1), window, None, None,
                float(window[u, v]), (int(r0 + u), int(c0 + v)))


def trace(image, kernel=None, stride: int = 1, padding: int = 0, pool: int | None = None) -> list[Step]:
    """Every output position of a small convolution (or, with ``pool``, of max pooling), row by row.

    Args:
        image: a 2-D array (H, W).
        kernel: a 2-D kernel (ignored with ``pool``).
        stride, padding: as in :func:`~cnnlab.learn.ref.conv2d`.
        pool: the window size of max pooling instead of a convolution.

    Returns:
        A list of :class:`Step`, one per output position.

    Example:

    >>> [s.value for s in trace([[255, 255, 255], [255, 0, 255], [255, 255, 255]], [[0, 1], [1, 0]])]
    [510.0, 255.0, 255.0, 510.0]
    """
    x = np.asarray(image)
    if pool:
        ho, wo = (x.shape[0] - pool) // pool + 1, (x.shape[1] - pool) // pool + 1
        return [trace_pool(x, i, j, pool) for i in range(ho) for j in range(wo)]
    kh, kw = np.asarray(kernel).shape
    ho = (x.shape[0] + 2 * padding - kh) // stride + 1
    wo = (x.shape[1] + 2 * padding - kw) // stride + 1
    return [trace_conv(x, kernel, i, j, stride, padding) for i in range(ho) for j in range(wo)]


def trace_text(steps: list[Step]) -> str:
    """All steps' texts, separated by blank lines.

    >>> trace_text(trace(np.eye(2), pool=2)).splitlines()[-1]
    '  max = 1 at input (0, 0)'
    """
    return "\n\n".join(s.text() for s in steps)
