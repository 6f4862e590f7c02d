"""Lecture page 6, normalization: gradient descent for y = w*x + b on raw and on normalized input, and a picture's
mean and standard deviation per channel.

The data set is real and small: the training pictures of scikit-learn's digits (8x8, in pixel units 0..255).
x is a picture's mean brightness (about 78 ± 9), y the share of its pixels that are dark background (%).
The model has one weight w and one bias b; the loss is the mean squared error. With raw x the loss
surface is a long thin valley (w multiplies numbers near 78, b multiplies 1), so one learning rate is
either too big for w or far too small for b. With x normalized (:func:`cnnlab.ref.normalize`: mean 0,
std 1) the valley becomes a round bowl and gradient descent walks straight to the bottom.

Each step uses the reference dense layer and its backward pass (:func:`cnnlab.ref.dense`,
:func:`cnnlab.ref.dense_backward`); the landscape and the number of steps needed are exact formulas of
the same quadratic loss (tested equal to stepping).

>>> x, y = brightness_data()
>>> len(x), round(float(x.mean()), 1), round(float(y.mean()), 1)
(1438, 77.9, 67.7)
>>> steps_needed(features(x, normalized=True), y, lr=0.5)  # a round bowl: one step lands at the bottom
1
>>> steps_needed(x, y, lr=1.5e-4)  # raw: the biggest safe step is tiny for b
1082922
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from cnnlab.data.sources import load_dataset
from cnnlab.errors import ConfigError
from cnnlab.learn.ref import dense, dense_backward, normalize

START = (0.0, 0.0)  # w = 0, b = 0: predict 0 for every picture (the same model on both sides)
TOLERANCE = 0.01  # "at the minimum": the loss is within 1% of the best possible loss
SHOW_STEPS = 100  # steps of the path the page draws
LR_EXPONENTS = (-600, 30)  # the page's slider: lr = 10 ** (k / 100) for whole k in this range (1e-6 .. 1.995)
LR_RANGE = (1e-6, 2.0)  # learning rates :func:`walk` accepts
MAX_STEPS = 10**12  # more steps than this count as "never"


@lru_cache(maxsize=1)
def brightness_data() -> tuple[np.ndarray, np.ndarray]:
    """The regression data: for each training picture of the digits data set, x and y.

    Returns:
        ``(x, y)``, float64 arrays of length N (1438): x is the mean brightness (0..255), y the share of
        pixels darker than 128, in % (the empty background around the digit).
    """
    imgs = load_dataset("digits", "train").images[:, 0].numpy().astype(np.float64)  # (N, 8, 8), 0..255
    return imgs.mean((1, 2)), (imgs < 128).mean((1, 2)) * 100


def features(x: np.ndarray, normalized: bool) -> np.ndarray:
    """The input as the model gets it: raw, or normalized to mean 0 and std 1 (:func:`cnnlab.ref.normalize`).

    Example:

    >>> features(np.array([70.0, 80.0, 90.0]), normalized=True).round(3)
    array([-1.225,  0.   ,  1.225])
    """
    return normalize(x)[0] if normalized else np.asarray(x, np.float64)


def loss(w: float, b: float, x: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of y = w*x + b (through the reference dense layer).

    Example:

    >>> loss(2.0, 1.0, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    0.5
    """
    pred = dense(x[:, None], np.array([[w]]), np.array([b]))[:, 0]  # (N, 1) @ (1, 1) + (1,) -> (N,)
    return float(np.mean((pred - y) ** 2))


def descent(x: np.ndarray, y: np.ndarray, lr: float, steps: int = SHOW_STEPS, start=START) -> np.ndarray:
    """Gradient descent on the mean squared error of y = w*x + b, one point per step.

    Each step: the prediction by :func:`cnnlab.ref.dense`, the error's gradient ``2 (pred - y) / N``, the
    weight's and bias's gradients by :func:`cnnlab.ref.dense_backward`, then ``w -= lr * dw``, ``b -= lr * db``.
    The walk stops early once it has clearly diverged (the loss a million times the start's, or not finite).

    Args:
        x, y: the data (N,).
        lr: the learning rate.
        steps: the most steps.
        start: ``(w, b)`` at step 0.

    Returns:
        ``(k + 1, 3)``: w, b and the loss at steps 0..k.

    Example:

    >>> descent(np.array([1.0, 2.0]), np.array([2.0, 4.0]), lr=0.1, steps=2).round(3).tolist()
    [[0.0, 0.0, 10.0], [1.0, 0.6, 1.06], [1.32, 0.78, 0.173]]
    """
    n = len(x)
    xs = x[:, None]  # (N, 1)
    w, b = np.array([[float(start[0])]]), np.array([float(start[1])])  # (1, 1), (1,)
    path = []
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            err = dense(xs, w, b) - y[:, None]  # (N, 1): the prediction's error at step k
            path.append((w[0, 0], b[0], float(np.mean(err ** 2))))
            if k == steps or not math.isfinite(path[-1][2]) or path[-1][2] > 1e6 * path[0][2]:
                break
            _, dw, db = dense_backward(2 * err / n, xs, w)  # d loss / d (w, b)
            w, b = w - lr * dw, b - lr * db
    return np.array(path)


def quadratic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The loss as a quadratic in theta = (w, b): ``loss = theta.T H theta / 2 - g.T theta + c``.

    Returns:
        ``(H, g, c)``: the Hessian ``2 A.T A / N`` (A = [x, 1]), ``2 A.T y / N`` and ``mean(y**2)``.
    """
    a = np.stack([x, np.ones_like(x)], 1)  # (N, 2)
    return 2 * a.T @ a / len(x), 2 * a.T @ y / len(x), float(np.mean(y ** 2))


def minimum(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """The best ``(w, b)`` and its loss (least squares).

    Example:

    >>> [round(v, 6) for v in minimum(np.array([1.0, 2.0, 3.0]), np.array([3.0, 5.0, 7.0]))]
    [2.0, 1.0, 0.0]
    """
    h, g, _ = quadratic(x, y)
    w, b = np.linalg.solve(h, g)
    return float(w), float(b), loss(w, b, x, y)


def steps_needed(x: np.ndarray, y: np.ndarray, lr: float, start=START, tolerance: float = TOLERANCE) -> int | None:
    """How many steps of :func:`descent` bring the loss within ``tolerance`` (1%) of the best possible loss.

    Exact, without stepping: along each eigenvector of the Hessian H the distance to the minimum is
    multiplied by ``1 - lr * lambda`` at every step, so the extra loss after k steps is
    ``sum(lambda_i / 2 * c_i**2 * (1 - lr * lambda_i) ** (2 k))``.

    Returns:
        The number of steps; ``None`` if descent diverges (a step factor beyond ±1), ``MAX_STEPS`` or more
        counted as "never" (returned as ``MAX_STEPS``).

    Example:

    >>> x, y = np.array([1.0, 2.0, 3.0]), np.array([3.0, 5.0, 8.0])
    >>> steps_needed(x, y, lr=0.05), steps_needed(x, y, lr=0.5)
    (194, None)
    """
    h, _, _ = quadratic(x, y)
    w, b, best = minimum(x, y)
    lam, vec = np.linalg.eigh(h)
    c = vec.T @ (np.asarray(start, np.float64) - (w, b))
    factor = np.abs(1 - lr * lam)
    matters = np.abs(c) * np.sqrt(lam) > 1e-12
    if (factor[matters] >= 1).any():
        return None if (factor[matters] > 1).any() else MAX_STEPS
    target = tolerance * best if best > 0 else 1e-12

    def extra(k: int) -> float:
        return float(np.sum(lam / 2 * c ** 2 * factor ** (2.0 * k)))

    if extra(0) <= target:
        return 0
    lo, hi = 0, 1
    while extra(hi) > target:  # the extra loss only falls: double, then halve the interval
        lo, hi = hi, hi * 2
        if hi >= MAX_STEPS:
            return MAX_STEPS
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if extra(mid) > target else (lo, mid)
    return hi


def best_rate(x: np.ndarray, y: np.ndarray, rates=None) -> tuple[float, int | None]:
    """The learning rate of the page's slider (10 ** (k / 100)) that needs the fewest steps.

    Returns:
        ``(lr, steps)``.

    Example:

    >>> lr, steps = best_rate(features(brightness_data()[0], True), brightness_data()[1])
    >>> round(lr, 3), steps
    (0.501, 1)
    """
    rates = 10 ** (np.arange(LR_EXPONENTS[0], LR_EXPONENTS[1] + 1) / 100) if rates is None else rates
    counted = [(s, lr) for lr in rates if (s := steps_needed(x, y, float(lr))) is not None]
    s, lr = min(counted)
    return float(lr), s


def landscape(x: np.ndarray, y: np.ndarray, box: tuple[float, float, float, float], n: int = 96) -> np.ndarray:
    """The loss on an ``n`` x ``n`` grid of (w, b): row 0 is the top (the largest b), column 0 the smallest w.

    Args:
        box: ``(w_lo, w_hi, b_lo, b_hi)``.

    Returns:
        ``(n, n)`` losses, computed from the quadratic (equal to :func:`loss` at every point).

    Example:

    >>> x, y = np.array([1.0, 2.0]), np.array([2.0, 4.0])
    >>> bool(np.isclose(landscape(x, y, (0, 4, 0, 2), n=3)[0, 1], loss(2.0, 2.0, x, y)))
    True
    """
    h, g, c = quadratic(x, y)
    w, b = np.meshgrid(np.linspace(box[0], box[1], n), np.linspace(box[3], box[2], n))  # (n, n) each
    return 0.5 * (h[0, 0] * w * w + 2 * h[0, 1] * w * b + h[1, 1] * b * b) - g[0] * w - g[1] * b + c


def view_box(x: np.ndarray, y: np.ndarray, start=START, square: bool = False) -> tuple[float, float, float, float]:
    """The part of the (w, b) plane a page draws: the start, the minimum, and where the steepest first step of
    a safe learning rate can land (twice the way to the valley's floor), with a margin.

    Args:
        square: the same span on both axes (for the normalized side, so a round bowl looks round).

    Returns:
        ``(w_lo, w_hi, b_lo, b_hi)``.
    """
    h, g, _ = quadratic(x, y)
    w_min, b_min, _ = minimum(x, y)
    w0, b0 = start
    w_floor = (g[0] - h[0, 1] * b0) / h[0, 0]  # the valley's floor at the start's b
    ws, bs = [w0, w_min, 2 * w_floor - w0], [b0, b_min]
    wc, bc = (max(ws) + min(ws)) / 2, (max(bs) + min(bs)) / 2
    half_w, half_b = 0.6 * (max(ws) - min(ws)) or 1.0, 0.6 * (max(bs) - min(bs)) or 1.0
    if square:
        half_w = half_b = max(half_w, half_b)
    return wc - half_w, wc + half_w, bc - half_b, bc + half_b


def channel_stats(pixels: np.ndarray, bins: int = 32, spread: float = 4.0) -> list[dict]:
    """Each channel's mean and standard deviation in pixel units, and histograms before and after normalizing.

    This is what cnnlab's Normalize layer (the first layer of every model) does per channel, there with the
    training set's statistics: ``x' = (x - mean) / std``.

    Args:
        pixels: uint8 ``(H, W)`` or ``(H, W, 3)``.
        bins: histogram bins.
        spread: the "after" histogram covers ``-spread .. spread`` (values beyond count in the end bins).

    Returns:
        One dict per channel: ``mean``, ``std`` (pixel units), ``after_mean``, ``after_std``, ``before``
        (counts over 0..256) and ``after`` (counts over -spread..spread).

    Example:

    >>> s = channel_stats(np.array([[0, 100], [200, 100]], np.uint8), bins=4)
    >>> s[0]["mean"], round(s[0]["std"], 2), s[0]["before"]
    (100.0, 70.71, [1, 2, 0, 1])
    """
    a = np.asarray(pixels, np.float64)
    a = a[..., None] if a.ndim == 2 else a  # (H, W, C)
    if a.size == 0:
        raise ConfigError("image", a.shape, "a picture with at least one pixel")
    out = []
    for ch in range(a.shape[2]):
        v = a[..., ch].ravel()
        after, mean, std = normalize(v, eps=1e-12)  # a flat channel (std 0) stays at 0 instead of dividing by 0
        out.append({"mean": float(mean), "std": float(std), "after_mean": float(after.mean()),
                    "after_std": float(after.std()),
                    "before": np.histogram(v, bins=bins, range=(0, 256))[0].tolist(),
                    "after": np.histogram(np.clip(after, -spread, spread), bins=bins,
                                          range=(-spread, spread))[0].tolist()})
    return out


@lru_cache(maxsize=2)
def side(normalized: bool, n: int = 96) -> dict:
    """Everything one side of the page draws that does not depend on the learning rate.

    Args:
        normalized: the normalized side (else the raw one).
        n: grid points per axis of the landscape.

    Returns:
        ``{"normalized", "box": (w_lo, w_hi, b_lo, b_hi), "loss": (n, n) grid, "minimum": (w, b, loss),
        "start": (w, b, loss), "best_lr", "best_steps", "x_mean", "x_std"}``.

    Example:

    >>> s = side(True)
    >>> abs(round(s["x_mean"], 6)), round(s["x_std"], 6), s["best_steps"]
    (0.0, 1.0, 1)
    """
    x, y = brightness_data()
    xs = features(x, normalized)
    box = view_box(xs, y, square=normalized)
    lr, steps = best_rate(xs, y)
    return {"normalized": normalized, "box": box, "loss": landscape(xs, y, box, n), "minimum": minimum(xs, y),
            "start": (*START, loss(*START, xs, y)), "best_lr": lr, "best_steps": steps,
            "x_mean": float(xs.mean()), "x_std": float(xs.std())}


def walk(normalized: bool, lr: float) -> dict:
    """Gradient descent on one side at learning rate ``lr``: the path to draw and how many steps it needs.

    The path stops at :data:`SHOW_STEPS` steps, or earlier once the loss is within 1% of the best.

    Returns:
        ``{"path": (k + 1, 3) w, b, loss, "steps": steps needed or None (diverges), "never": True when it
        would need more than MAX_STEPS}``.

    Raises:
        ConfigError: ``lr`` outside the slider's range.

    Example:

    >>> walk(True, 0.5)["steps"], len(walk(True, 0.5)["path"])
    (1, 2)
    """
    if not LR_RANGE[0] <= lr <= LR_RANGE[1]:
        raise ConfigError("lr", lr, f"a learning rate from {LR_RANGE[0]:g} to {LR_RANGE[1]:g}")
    x, y = brightness_data()
    xs = features(x, normalized)
    steps = steps_needed(xs, y, lr)
    shown = SHOW_STEPS if steps is None else min(SHOW_STEPS, steps)
    return {"path": descent(xs, y, lr, shown), "steps": steps, "never": steps == MAX_STEPS}
