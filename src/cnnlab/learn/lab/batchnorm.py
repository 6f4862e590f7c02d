"""Batch norm and dropout on a student's picture: a small conv layer's activations before and after batch norm,
and a layer of neurons switched off at random.

Batch norm: a batch of ``batch`` square patches is cut from the picture (seeded positions), each patch's
brightness is changed to ``scale * x + shift`` (not clipped), and four fixed 3x3 kernels are applied with
:func:`cnnlab.ref.conv2d`. The four channels come out with very different means and spreads; after
:func:`cnnlab.ref.batch_norm` (training mode, gamma 1, beta 0) every channel has mean 0 and standard
deviation 1, whatever the brightness was (a linear change of the input is undone per channel).

Dropout: 32 neurons hold the mean brightness (0..1) of a 4x8 grid of tiles of the picture;
:func:`cnnlab.ref.dropout` with ``np.random.default_rng(step)`` gives the mask of training step ``step``.

>>> gray = np.arange(64 * 64, dtype=float).reshape(64, 64) % 251
>>> out = batch_norm_view(gray, batch=4, size=16)
>>> [abs(c["after"]["mean"]) < 1e-9 for c in out["channels"]], [round(c["after"]["std"], 3) for c in out["channels"]]
([True, True, True, True], [1.0, 1.0, 1.0, 1.0])
"""

from __future__ import annotations

import numpy as np

from cnnlab.errors import ConfigError
from cnnlab.learn.ref import batch_norm, conv2d, dropout

# The small conv layer: (name, what it looks for, 3x3 kernel). Their outputs differ a lot in mean and spread.
KERNELS = [
    ("blur", "the average brightness around each pixel", [[1, 1, 1], [1, 1, 1], [1, 1, 1]]),
    ("vertical edges", "left-to-right changes (Sobel)", [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    ("horizontal edges", "top-to-bottom changes (Sobel)", [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
    ("spots", "a pixel brighter than its neighbours (Laplacian)", [[0, -1, 0], [-1, 4, -1], [0, -1, 0]]),
]
NEURONS = (4, 8)  # the dropout layer: rows x columns of tiles = 32 neurons
BINS = 30


def kernel_weights() -> np.ndarray:
    """The conv layer's weights, (K=4, C=1, 3, 3).

    >>> kernel_weights().shape
    (4, 1, 3, 3)
    """
    return np.array([k for _, _, k in KERNELS], dtype=np.float64)[:, None]


def patch_positions(height: int, width: int, batch: int, size: int, seed: int = 0) -> np.ndarray:
    """Top-left corners ``(batch, 2)`` as (row, col) of ``batch`` patches of ``size`` x ``size``, seeded.

    Raises:
        ConfigError: the picture is smaller than one patch.

    >>> patch_positions(40, 50, 3, 16).shape
    (3, 2)
    """
    if height < size or width < size:
        raise ConfigError("image", f"{width}x{height}", f"a picture of at least {size}x{size} pixels",
                          hint="pick a bigger picture")
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, height - size + 1, batch)
    cols = rng.integers(0, width - size + 1, batch)
    return np.stack([rows, cols], 1)


def patches(gray: np.ndarray, positions: np.ndarray, size: int) -> np.ndarray:
    """The patches at ``positions`` as a batch (N, C=1, size, size) of floats.

    >>> patches(np.zeros((8, 8)), np.array([[0, 0], [4, 4]]), 4).shape
    (2, 1, 4, 4)
    """
    return np.stack([gray[r:r + size, c:c + size] for r, c in positions])[:, None].astype(np.float64)


def stats(values: np.ndarray, bins: int = BINS) -> dict:
    """Mean, standard deviation, min, max and a histogram (``counts``, ``edges``) of some numbers.

    >>> s = stats(np.array([1.0, 3.0]), bins=2)
    >>> s["mean"], s["std"], s["counts"], s["edges"]
    (2.0, 1.0, [1, 1], [1.0, 2.0, 3.0])
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 1e-9:  # all equal: one visible bar around the value
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max()),
            "counts": counts.tolist(), "edges": edges.tolist()}


def batch_norm_view(gray: np.ndarray, batch: int = 16, size: int = 32, scale: float = 1.0, shift: float = 0.0,
                    seed: int = 0) -> dict:
    """The conv layer's activations on a batch of patches, per channel, before and after batch norm.

    Args:
        gray: the picture, floats 0..255 (H, W).
        batch: how many patches in the batch (N).
        size: the side of each patch.
        scale, shift: brightness change of the input, ``scale * x + shift`` (not clipped).
        seed: where the patches are cut.

    Returns:
        ``{"positions": (N, 2) row/col, "size", "channels": [{"name", "about", "kernel", "before": stats,
        "after": stats}], "running_mean", "running_var"}``: running statistics after this one training step,
        starting from PyTorch's 0 and 1.

    Example:

    >>> out = batch_norm_view(np.full((40, 40), 100.0), batch=2, size=8)
    >>> out["channels"][0]["before"]["mean"], out["channels"][0]["after"]["mean"]
    (900.0, 0.0)
    """
    positions = patch_positions(gray.shape[0], gray.shape[1], batch, size, seed)
    x = patches(gray, positions, size) * scale + shift  # (N, 1, S, S)
    z = conv2d(x, kernel_weights())  # (N, K=4, S-2, S-2), no padding
    k = z.shape[1]
    out, _, running_mean, running_var = batch_norm(z, np.ones(k), np.zeros(k), np.zeros(k), np.ones(k), training=True)
    channels = [{"name": name, "about": about, "kernel": kernel, "before": stats(z[:, c]), "after": stats(out[:, c])}
                for c, (name, about, kernel) in enumerate(KERNELS)]
    return {"positions": positions.tolist(), "size": size, "channels": channels,
            "running_mean": running_mean.tolist(), "running_var": running_var.tolist()}


def neurons(gray: np.ndarray, grid: tuple[int, int] = NEURONS) -> np.ndarray:
    """A layer's values to drop out: the mean brightness (0..1) of each tile of a ``grid`` over the picture.

    Returns:
        (rows * cols,) floats, row by row.

    >>> neurons(np.full((8, 16), 255.0)).tolist() == [1.0] * 32
    True
    """
    rows, cols = grid
    h, w = gray.shape
    ys = np.linspace(0, h, rows + 1).astype(int)
    xs = np.linspace(0, w, cols + 1).astype(int)
    return np.array([gray[ys[r]:max(ys[r + 1], ys[r] + 1), xs[c]:max(xs[c + 1], xs[c] + 1)].mean() / 255
                     for r in range(rows) for c in range(cols)])


def dropout_steps(values: np.ndarray, p: float, training: bool, first: int, count: int) -> list[dict]:
    """Dropout on the same values at training steps ``first .. first + count - 1`` (step s uses seed s).

    Args:
        values: the layer's values (D,).
        p: the probability of dropping a neuron.
        training: True: a new mask each step; False (evaluation): no mask, values unchanged.
        first, count: which steps.

    Returns:
        ``[{"step", "kept": [bool] * D, "out": [float] * D, "sum_in", "sum_out"}]``.

    >>> s = dropout_steps(np.ones(4), 0.5, True, 0, 1)[0]
    >>> s["out"], s["kept"]
    ([2.0, 0.0, 0.0, 0.0], [True, False, False, False])
    """
    out = []
    for step in range(first, first + count):
        y, mask = dropout(values[None], p, training, rng=np.random.default_rng(step))  # (1, D)
        out.append({"step": step, "kept": mask[0].tolist(), "out": y[0].tolist(),
                    "sum_in": float(values.sum()), "sum_out": float(y.sum())})
    return out
