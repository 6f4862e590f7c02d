"""The maths of the lecture pages "Convolution" and "Many channels", built on :mod:`cnnlab.ref`.

Convolution: a kernel slid over a small patch of the picture, one output cell at a time
(:func:`patch_steps`, from :func:`cnnlab.ref.trace`), and over the whole picture in gray
(:func:`conv_gray`, from :func:`cnnlab.ref.conv2d`), with stride and padding.

Many channels: one kernel per colour channel; each channel's own result and their sum plus a bias,
which is what a Conv2D layer with one output channel computes (:func:`channel_results`), and the
sum taken apart at one position (:func:`channel_example`).

>>> gray = np.array([[255, 255, 255], [255, 0, 255], [255, 255, 255]], float)   # the lecture's image
>>> conv_gray(gray, np.array([[0, 1], [1, 0]], float))
array([[510., 255.],
       [255., 510.]])
>>> [s["value"] for s in patch_steps(gray, np.array([[0, 1], [1, 0]], float))["steps"]]
[510.0, 255.0, 255.0, 510.0]
"""

from __future__ import annotations

import numpy as np

from cnnlab.errors import ConfigError
from cnnlab.learn.ref import conv2d, trace, trace_conv
from cnnlab.learn.ref.conv import out_size

PATCH = 8  # the side of the patch the stepper walks over
CHANNELS = ("red", "green", "blue")


def check_fits(height: int, width: int, k: int, stride: int, padding: int, what: str = "picture") -> tuple[int, int]:
    """The output size ``(Ho, Wo)`` of a ``k x k`` kernel over a ``height x width`` picture.

    Args:
        height, width: the picture's size.
        k: the kernel's side.
        stride, padding: as in :func:`cnnlab.ref.conv2d`.
        what: what the picture is, for the error message.

    Returns:
        ``(Ho, Wo)``, each ``(n + 2 * padding - k) // stride + 1``.

    Raises:
        ConfigError: the kernel does not fit in the padded picture (the output would be empty).

    >>> check_fits(256, 170, 3, stride=2, padding=1)
    (128, 85)
    """
    if min(height, width) + 2 * padding < k:
        raise ConfigError("kernel", f"{k}x{k}", f"a kernel that fits in the {what} ({height}x{width} pixels with "
                          f"padding {padding})", hint="use a smaller kernel or more padding")
    return out_size(height, k, stride, padding), out_size(width, k, stride, padding)


def conv_gray(gray: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """A gray picture convolved with one kernel: :func:`cnnlab.ref.conv2d` with one channel in and out.

    Args:
        gray: the picture (H, W), numbers 0..255.
        kernel: (k, k).
        stride, padding: as in :func:`cnnlab.ref.conv2d`.

    Returns:
        (Ho, Wo) floats.

    Raises:
        ConfigError: the kernel does not fit.

    >>> conv_gray(np.ones((256, 256)), np.ones((3, 3)), stride=2, padding=1).shape
    (128, 128)
    """
    g = np.asarray(gray, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    check_fits(*g.shape, k.shape[0], stride, padding)
    return conv2d(g[None, None], k[None, None], stride=stride, padding=padding)[0, 0]  # (1, 1, Ho, Wo) -> (Ho, Wo)


def patch_at(gray: np.ndarray, top: int, left: int, size: int = PATCH) -> tuple[int, int, np.ndarray]:
    """The ``size x size`` patch whose top-left corner is nearest to ``(top, left)`` inside the picture.

    Returns:
        ``(top, left, patch)``: the corner actually used and the patch (smaller when the picture is).

    >>> patch_at(np.arange(100.0).reshape(10, 10), 7, 0, size=4)[:2]
    (6, 0)
    """
    g = np.asarray(gray, dtype=np.float64)
    side = min(size, *g.shape)
    top = int(np.clip(top, 0, g.shape[0] - side))
    left = int(np.clip(left, 0, g.shape[1] - side))
    return top, left, g[top:top + side, left:left + side]


def busy_corner(gray: np.ndarray, size: int = PATCH) -> tuple[int, int]:
    """The top-left corner of the ``size x size`` patch with the most varied pixels (the largest standard
    deviation, looked for every half patch), so the stepper starts on something to see, such as an edge.

    >>> g = np.zeros((32, 32)); g[20:, :] = 255       # dark above row 20, bright below
    >>> busy_corner(g)                                # half dark, half bright: the edge in the middle
    (16, 0)
    """
    g = np.asarray(gray, dtype=np.float64)
    side, step = min(size, *g.shape), max(1, size // 2)
    blocks = np.lib.stride_tricks.sliding_window_view(g, (side, side))[::step, ::step]  # (nh, nw, side, side)
    spread = blocks.std(axis=(2, 3))
    i, j = np.unravel_index(np.argmax(spread), spread.shape)  # the first of equals: top-left first
    return int(i * step), int(j * step)


def patch_steps(patch: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> dict:
    """Every step of a kernel sliding over a small patch (the patch is a little picture of its own: padding puts
    zeros around it), from :func:`cnnlab.ref.trace`.

    Args:
        patch: (h, w), e.g. 8x8 gray values.
        kernel: (k, k).
        stride, padding: as in :func:`cnnlab.ref.conv2d`.

    Returns:
        ``{"padded": the patch with its zeros, "rows", "cols": the output's size, "steps": [{"row", "col",
        "top", "left" (the window's corner in the padded patch), "window", "products", "value"}]}``, row by row.

    Raises:
        ConfigError: the kernel does not fit in the padded patch.

    >>> s = patch_steps(np.full((4, 4), 10.0), np.ones((3, 3)), padding=1)
    >>> s["rows"], s["cols"], s["steps"][0]["value"], s["steps"][5]["value"]
    (4, 4, 40.0, 90.0)
    """
    p = np.asarray(patch, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    rows, cols = check_fits(*p.shape, k.shape[0], stride, padding, what="patch")
    steps = [{"row": s.row, "col": s.col, "top": s.row * stride, "left": s.col * stride,
              "window": s.window, "products": s.products, "value": s.value}
             for s in trace(p, k, stride=stride, padding=padding)]
    return {"padded": np.pad(p, padding), "rows": rows, "cols": cols, "steps": steps}


def picture_of(values: np.ndarray) -> tuple[np.ndarray, dict]:
    """Numbers -> uint8 gray pixels to look at, and what black and white stand for.

    With no negative number a result stays a picture: 0 is black and 255 white (brighter results are scaled
    down so the largest is white). With negative numbers zero is mid-gray, the most negative black and the most
    positive white, so both signs show.

    Returns:
        ``(pixels, {"signed", "black", "white", "min", "max"})``.

    >>> pixels, scale = picture_of(np.array([[-2.0, 0.0, 2.0]]))
    >>> pixels.tolist(), scale["signed"], scale["black"], scale["white"]
    ([[0, 128, 255]], True, -2.0, 2.0)
    >>> picture_of(np.array([[0.0, 100.0, 510.0]]))[0].tolist()
    [[0, 50, 255]]
    """
    v = np.asarray(values, dtype=np.float64)
    lo, hi = float(v.min()), float(v.max())
    if lo < 0:
        top = max(abs(lo), abs(hi))
        pixels = np.clip(np.rint(128 + 127.5 * v / top), 0, 255)
        scale = {"signed": True, "black": -top, "white": top}
    else:
        top = max(255.0, hi)
        pixels = np.clip(np.rint(v * (255.0 / top)), 0, 255)
        scale = {"signed": False, "black": 0.0, "white": top}
    return pixels.astype(np.uint8), {**scale, "min": lo, "max": hi}


def _planes(rgb: np.ndarray) -> np.ndarray:
    """A colour picture (H, W, 3) as one image of three channels (N=1, C=3, H, W), floats."""
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ConfigError("image", f"{a.shape[1]}x{a.shape[0]} gray" if a.ndim == 2 else str(a.shape),
                          "a colour picture (3 channels: red, green, blue)",
                          hint="this one is gray, with 1 channel; pick a colour one such as the cat")
    return a.astype(np.float64).transpose(2, 0, 1)[None]


def channel_results(rgb: np.ndarray, kernels: np.ndarray, bias: float = 0.0) -> dict:
    """Each colour channel convolved with its own kernel, and the sum: one Conv2D output channel.

    The kernels are one weight tensor ``w`` of shape (1, 3, k, k); padding ``k // 2`` keeps the picture's size.

    Args:
        rgb: a colour picture (H, W, 3), numbers 0..255.
        kernels: (3, k, k): the red, green and blue kernels.
        bias: the number added at the end.

    Returns:
        ``{"channels": (3, H, W) each channel's own result, "sum": (H, W) = conv2d(x, w, b)}``.

    Raises:
        ConfigError: the picture is gray, or the kernel does not fit.

    >>> out = channel_results(np.full((4, 4, 3), 10, np.uint8), np.ones((3, 3, 3)), bias=1.0)
    >>> out["channels"][:, 1, 1].tolist(), float(out["sum"][1, 1])      # 3 channels x 9 products of 10 + 1
    ([90.0, 90.0, 90.0], 271.0)
    """
    x = _planes(rgb)  # (1, 3, H, W)
    w = np.asarray(kernels, dtype=np.float64)[None]  # (K=1, C=3, k, k)
    k = w.shape[-1]
    check_fits(x.shape[2], x.shape[3], k, 1, k // 2)
    per = np.stack([conv2d(x[:, c:c + 1], w[:, c:c + 1], padding=k // 2)[0, 0] for c in range(3)])  # (3, H, W)
    total = conv2d(x, w, np.array([bias], dtype=np.float64), padding=k // 2)[0, 0]  # (H, W)
    return {"channels": per, "sum": total}


def channel_example(rgb: np.ndarray, kernels: np.ndarray, bias: float, row: int, col: int) -> dict:
    """The output pixel at ``(row, col)`` taken apart: each channel's window times its kernel, then the sum.

    Args:
        rgb: a colour picture (H, W, 3).
        kernels: (3, k, k).
        bias: the number added at the end.
        row, col: the output position (the same as the picture's: padding ``k // 2``).

    Returns:
        ``{"row", "col", "channels": [{"name", "window", "kernel", "products", "value"}] * 3, "bias", "total"}``
        where ``total`` is the three values plus the bias.

    Raises:
        ConfigError: the position is outside the picture.

    >>> ex = channel_example(np.full((4, 4, 3), 10, np.uint8), np.ones((3, 3, 3)), 1.0, 0, 0)
    >>> [c["value"] for c in ex["channels"]], ex["total"]      # a corner: 4 pixels of 10 in each window
    ([40.0, 40.0, 40.0], 121.0)
    """
    x = _planes(rgb)[0]  # (3, H, W)
    k = np.asarray(kernels, dtype=np.float64)
    if not (0 <= row < x.shape[1] and 0 <= col < x.shape[2]):
        raise ConfigError("row, col", (row, col), f"a position inside the {x.shape[1]}x{x.shape[2]} picture")
    parts = []
    for c, name in enumerate(CHANNELS):
        s = trace_conv(x[c], k[c], row, col, stride=1, padding=k.shape[-1] // 2)
        parts.append({"name": name, "window": s.window, "kernel": s.kernel, "products": s.products,
                      "value": s.value})
    return {"row": row, "col": col, "channels": parts, "bias": float(bias),
            "total": float(sum(p["value"] for p in parts) + bias)}
