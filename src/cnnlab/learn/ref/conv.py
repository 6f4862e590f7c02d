"""Convolution and max pooling in NumPy: plain loops to read, vectorized to use. Forward and backward.

Shapes: x (N, C, H, W) images, w (K, C, kh, kw) kernels (K = output channels), b (K,) bias.
Like every deep-learning library, "convolution" here is cross-correlation: the kernel is not flipped.

Multi-channel convolution, as the lecture's figure shows: each input channel has its own kernel
slice w[k, c]; each slice is slid over its channel; the per-channel results are summed (plus b[k]).

>>> x = np.ones((1, 3, 4, 4))                      # (N, C, H, W): a white 4x4 RGB image
>>> w = np.ones((2, 3, 3, 3))                      # (K, C, kh, kw): two kernels over three channels
>>> conv2d(x, w).shape, float(conv2d(x, w)[0, 0, 0, 0])  # 27 products of 1 * 1, summed
((1, 2, 2, 2), 27.0)
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def out_size(n: int, k: int, stride: int, padding: int) -> int:
    """Output length of a sliding window: ``(n + 2 * padding - k) // stride + 1``.

    >>> out_size(28, 3, stride=1, padding=0), out_size(28, 3, stride=2, padding=1)
    (26, 14)
    """
    return (n + 2 * padding - k) // stride + 1


def pad(x: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad the height and width of ``x`` (N, C, H, W) by ``padding`` on each side.

    >>> pad(np.ones((1, 1, 2, 2)), 1).shape
    (1, 1, 4, 4)
    """
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))) if padding else x


# ---------------------------------------------------------------- convolution, plain loops

def conv2d_loops(x, w, b=None, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Slide each kernel over the image; at each position multiply the window by the kernel and add up.

    Args:
        x: images (N, C, H, W).
        w: kernels (K, C, kh, kw).
        b: bias (K,) or None.
        stride: step of the window.
        padding: zeros added around the image.

    Returns:
        (N, K, Ho, Wo), Ho = (H + 2 * padding - kh) // stride + 1.

    Example:

    >>> x = np.array([[[[255, 255, 255], [255, 0, 255], [255, 255, 255]]]], float)  # the lecture's image
    >>> conv2d_loops(x, np.array([[[[0, 1], [1, 0]]]], float))[0, 0]
    array([[510., 255.],
           [255., 510.]])
    """
    N, C, H, W = x.shape
    K, _, kh, kw = w.shape
    xp = pad(x, padding)
    Ho, Wo = out_size(H, kh, stride, padding), out_size(W, kw, stride, padding)
    out = np.zeros((N, K, Ho, Wo), dtype=np.result_type(x, w))
    for n in range(N):
        for k in range(K):
            for i in range(Ho):
                for j in range(Wo):
                    total = 0.0
                    for c in range(C):  # one kernel slice per input channel, results summed
                        window = xp[n, c, i * stride:i * stride + kh, j * stride:j * stride + kw]
                        total += (window * w[k, c]).sum()
                    out[n, k, i, j] = total + (b[k] if b is not None else 0.0)
    return out


# ---------------------------------------------------------------- convolution, vectorized

def windows(x: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """View of every kh x kw window: (N, C, Ho, Wo, kh, kw), no copy (as_strided).

    >>> windows(np.arange(9.0).reshape(1, 1, 3, 3), 2, 2, 1)[0, 0, 1, 1]
    array([[4., 5.],
           [7., 8.]])
    """
    N, C, H, W = x.shape
    Ho, Wo = (H - kh) // stride + 1, (W - kw) // stride + 1
    sn, sc, sh, sw = x.strides
    return as_strided(x, (N, C, Ho, Wo, kh, kw), (sn, sc, sh * stride, sw * stride, sh, sw), writeable=False)


def conv2d(x, w, b=None, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Same result as :func:`conv2d_loops`, as one tensor contraction over (C, kh, kw).

    Args:
        x: images (N, C, H, W).
        w: kernels (K, C, kh, kw).
        b: bias (K,) or None.
        stride: step of the window.
        padding: zeros added around the image.

    Returns:
        (N, K, Ho, Wo).

    Example:

    >>> x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    >>> w = np.random.default_rng(1).standard_normal((4, 3, 3, 3))
    >>> conv2d(x, w, stride=2, padding=1).shape, np.allclose(conv2d(x, w), conv2d_loops(x, w))
    ((2, 4, 3, 3), True)
    """
    K, C, kh, kw = w.shape
    win = windows(pad(x, padding), kh, kw, stride)  # (N, C, Ho, Wo, kh, kw)
    # out[n, k, i, j] = sum_{c, u, v} win[n, c, i, j, u, v] * w[k, c, u, v]
    out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, Ho, Wo, K)
    out = out.transpose(0, 3, 1, 2)
    return out + b.reshape(1, -1, 1, 1) if b is not None else np.ascontiguousarray(out)


def conv2d_backward(dout, x, w, stride: int = 1, padding: int = 0):
    """Gradients (dx, dw, db) of ``sum(dout * conv2d(x, w, b))``.

    Args:
        dout: upstream gradient (N, K, Ho, Wo).
        x, w: the forward pass's images and kernels.
        stride, padding: as in the forward pass.

    Returns:
        ``(dx, dw, db)`` shaped like x, w and (K,).

    Example:

    >>> x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
    >>> dx, dw, db = conv2d_backward(np.ones((1, 1, 2, 2)), x, w)
    >>> dx[0, 0]  # how many windows read each pixel
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    K, C, kh, kw = w.shape
    xp = pad(x, padding)
    win = windows(xp, kh, kw, stride)
    db = dout.sum(axis=(0, 2, 3))
    # dw[k, c, u, v] = sum_{n, i, j} dout[n, k, i, j] * win[n, c, i, j, u, v]
    dw = np.tensordot(dout, win, axes=([0, 2, 3], [0, 2, 3]))
    # each output position sends dout * kernel back to the window it read
    dxp = np.zeros_like(xp, dtype=np.result_type(dout, w))
    Ho, Wo = dout.shape[2:]
    contrib = np.tensordot(dout, w, axes=([1], [0]))  # (N, Ho, Wo, C, kh, kw)
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, u:u + stride * Ho:stride, v:v + stride * Wo:stride] += contrib[..., u, v].transpose(0, 3, 1, 2)
    dx = dxp[:, :, padding:padding + x.shape[2], padding:padding + x.shape[3]] if padding else dxp
    return dx, dw, db


# ---------------------------------------------------------------- max pooling

def max_pool2d_loops(x, size: int = 2, stride: int | None = None):
    """Keep the largest value of each window; also return where it was (row, col in the input).

    Args:
        x: feature maps (N, C, H, W).
        size: window size.
        stride: step of the window (default: ``size``).

    Returns:
        ``(out, where)``: (N, C, Ho, Wo) maxima and (N, C, Ho, Wo, 2) their input positions.

    Example:

    >>> out, where = max_pool2d_loops(np.array([[[[1, 3], [4, 2]]]], float))
    >>> float(out[0, 0, 0, 0]), where[0, 0, 0, 0].tolist()
    (4.0, [1, 0])
    """
    stride = stride or size
    N, C, H, W = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    where = np.zeros((N, C, Ho, Wo, 2), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    u, v = np.unravel_index(np.argmax(window), window.shape)
                    out[n, c, i, j] = window[u, v]
                    where[n, c, i, j] = (i * stride + u, j * stride + v)
    return out, where


def max_pool2d(x, size: int = 2, stride: int | None = None):
    """Vectorized max pooling: ``(out, where)`` exactly as :func:`max_pool2d_loops`.

    Example:

    >>> x = np.random.default_rng(0).standard_normal((2, 3, 8, 8))
    >>> out, where = max_pool2d(x)
    >>> out.shape, all(np.array_equal(a, b) for a, b in zip(max_pool2d(x), max_pool2d_loops(x)))
    ((2, 3, 4, 4), True)
    """
    stride = stride or size
    win = windows(x, size, size, stride)  # (N, C, Ho, Wo, size, size)
    flat = win.reshape(*win.shape[:4], size * size)
    arg = flat.argmax(-1)  # first maximum, like the loops
    out = np.take_along_axis(flat, arg[..., None], -1)[..., 0]
    Ho, Wo = out.shape[2:]
    rows = np.arange(Ho).reshape(1, 1, Ho, 1) * stride + arg // size
    cols = np.arange(Wo).reshape(1, 1, 1, Wo) * stride + arg % size
    return out, np.stack([rows, cols], -1)


def max_pool2d_backward(dout, x_shape, where):
    """The gradient of max pooling: it flows only to the position of each maximum.

    Args:
        dout: upstream gradient (N, C, Ho, Wo).
        x_shape: the forward input's shape.
        where: positions of the maxima from :func:`max_pool2d`.

    Returns:
        dx of shape ``x_shape``.

    Example:

    >>> x = np.array([[[[1, 3], [4, 2]]]], float)
    >>> max_pool2d_backward(np.ones((1, 1, 1, 1)), x.shape, max_pool2d(x)[1])[0, 0]
    array([[0., 0.],
           [1., 0.]])
    """
    dx = np.zeros(x_shape, dtype=dout.dtype)
    N, C, Ho, Wo = dout.shape
    n, c = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
    for i in range(Ho):
        for j in range(Wo):
            np.add.at(dx, (n, c, where[:, :, i, j, 0], where[:, :, i, j, 1]), dout[:, :, i, j])
    return dx
