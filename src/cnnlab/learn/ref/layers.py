"""The other layers of the lecture in NumPy, forward and backward.

Each ``*_backward`` takes the upstream gradient ``dout`` and what the forward pass saved.

>>> import numpy as np
>>> from cnnlab.learn.ref import dense, relu, softmax
>>> softmax(relu(dense(np.ones((1, 2)), np.eye(2), np.array([0.0, -5.0])))).round(3)
array([[0.731, 0.269]])
"""

from __future__ import annotations

import numpy as np


def relu(x):
    """max(x, 0), element by element.

    >>> relu(np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 3.])
    """
    return np.maximum(x, 0)


def relu_backward(dout, x):
    """The gradient passes where the input was positive, and is 0 elsewhere.

    >>> relu_backward(np.ones(3), np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 1.])
    """
    return dout * (x > 0)


def flatten(x):
    """(N, C, H, W) -> (N, C*H*W): the spatial layout is gone, only the order of the numbers remains.

    >>> flatten(np.zeros((2, 3, 28, 28))).shape
    (2, 2352)
    """
    return x.reshape(len(x), -1)


def dense(x, w, b):
    """A fully connected layer: x (N, D) @ w (D, M) + b (M,) -> (N, M).

    >>> dense(np.ones((1, 3)), np.ones((3, 2)), np.array([0.0, 1.0]))
    array([[3., 4.]])
    """
    return x @ w + b


def dense_backward(dout, x, w):
    """Gradients ``(dx, dw, db)`` of ``sum(dout * dense(x, w, b))``.

    >>> dx, dw, db = dense_backward(np.ones((1, 2)), np.ones((1, 3)), np.ones((3, 2)))
    >>> dx.shape, dw.shape, db.tolist()
    ((1, 3), (3, 2), [1.0, 1.0])
    """
    return dout @ w.T, x.T @ dout, dout.sum(0)


def normalize(x, mean=None, std=None, eps: float = 0.0):
    """x' = (x - mean) / std, the lecture's data normalization: afterwards mean 0, variance 1.

    Args:
        x: any array.
        mean, std: the statistics to use (default: those of ``x``).
        eps: added to std (avoids dividing by 0).

    Returns:
        ``(x', mean, std)``.

    Example:

    >>> xn, mean, std = normalize(np.array([0.0, 100.0, 200.0]), mean=100.0, std=50.0)
    >>> xn
    array([-2.,  0.,  2.])
    """
    mean = x.mean() if mean is None else mean
    std = x.std() if std is None else std
    return (x - mean) / (std + eps), mean, std


def batch_norm(x, gamma, beta, running_mean, running_var, training: bool, momentum: float = 0.1,
               eps: float = 1e-5):
    """Batch normalization over the batch (and, for (N, C, H, W), the spatial positions) per channel.

    Training: normalize with the batch's own mean/variance and update the running statistics
    (running = (1 - momentum) * running + momentum * batch, unbiased variance, as PyTorch does).
    Evaluation: normalize with the running statistics.

    Args:
        x: activations (N, C) or (N, C, H, W).
        gamma, beta: learned scale and shift (C,).
        running_mean, running_var: running statistics (C,).
        training: use the batch's statistics (and update the running ones).
        momentum, eps: as in PyTorch.

    Returns:
        ``(out, cache, running_mean, running_var)``; ``cache`` is for :func:`batch_norm_backward`.

    Example:

    >>> x = np.array([[1.0], [3.0]])
    >>> out, cache, rm, rv = batch_norm(x, np.ones(1), np.zeros(1), np.zeros(1), np.ones(1), training=True)
    >>> out.round(3).ravel().tolist(), rm.tolist()
    ([-1.0, 1.0], [0.2])
    """
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
    if training:
        mean = x.mean(axes)
        var = x.var(axes)
        m = x.size // x.shape[1]
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var = (1 - momentum) * running_var + momentum * var * m / max(m - 1, 1)
    else:
        mean, var = running_mean, running_var
    inv = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean.reshape(shape)) * inv.reshape(shape)
    out = gamma.reshape(shape) * xhat + beta.reshape(shape)
    return out, (xhat, inv, gamma, axes, shape, training), running_mean, running_var


def batch_norm_backward(dout, cache):
    """Gradients ``(dx, dgamma, dbeta)`` of batch norm, from the ``cache`` its forward pass returned.

    >>> x = np.array([[1.0], [3.0]])
    >>> _, cache, _, _ = batch_norm(x, np.ones(1), np.zeros(1), np.zeros(1), np.ones(1), training=True)
    >>> dx, dgamma, dbeta = batch_norm_backward(np.ones((2, 1)), cache)
    >>> dx.round(6).ravel().tolist(), dbeta.tolist()  # shifting every output equally changes nothing
    ([0.0, 0.0], [2.0])
    """
    xhat, inv, gamma, axes, shape, training = cache
    dgamma = (dout * xhat).sum(axes)
    dbeta = dout.sum(axes)
    dxhat = dout * gamma.reshape(shape)
    if not training:  # the statistics are constants in evaluation mode
        return dxhat * inv.reshape(shape), dgamma, dbeta
    m = dout.size // dout.shape[1]
    dx = (inv.reshape(shape) / m) * (m * dxhat - dxhat.sum(axes, keepdims=True)
                                     - xhat * (dxhat * xhat).sum(axes, keepdims=True))
    return dx, dgamma, dbeta


def dropout(x, p: float, training: bool, rng: np.random.Generator | None = None):
    """Inverted dropout: in training, zero each unit with probability p and scale the rest by 1/(1-p),
    so evaluation needs no change at all.

    Args:
        x: activations.
        p: the probability of dropping a unit.
        training: drop (True) or pass everything unchanged (False).
        rng: the random generator (default: a fresh one).

    Returns:
        ``(out, mask)``: the output and which units were kept.

    Example:

    >>> out, mask = dropout(np.ones((1, 6)), p=0.5, training=True, rng=np.random.default_rng(0))
    >>> sorted(set(out.ravel().tolist()))  # dropped units are 0, kept ones are scaled by 1 / (1 - p)
    [0.0, 2.0]
    """
    if not training or p == 0:
        return x, np.ones_like(x, dtype=bool)
    rng = rng or np.random.default_rng()
    mask = rng.random(x.shape) >= p
    return x * mask / (1 - p), mask


def dropout_backward(dout, mask, p: float):
    """The gradient flows through the kept units only, scaled like them.

    >>> dropout_backward(np.ones(3), np.array([True, False, True]), 0.5)
    array([2., 0., 2.])
    """
    return dout * mask / (1 - p)


def softmax(z):
    """Scores (N, K) -> probabilities (N, K): exp, then divide by the row's sum (computed stably).

    >>> softmax(np.array([[0.0, np.log(3.0)]])).round(2)
    array([[0.25, 0.75]])
    """
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) against integer labels.

    Args:
        logits: scores (N, K).
        labels: the right class of each row (N,).

    Returns:
        ``(loss, dlogits)``: the mean loss and its gradient with respect to ``logits``.

    Example:

    >>> loss, d = softmax_cross_entropy(np.zeros((1, 4)), np.array([2]))
    >>> round(float(loss), 4)  # four equally likely classes: -log(1/4)
    1.3863
    """
    n = len(labels)
    p = softmax(logits)
    loss = -np.log(p[np.arange(n), labels] + 1e-300).mean()
    d = p.copy()
    d[np.arange(n), labels] -= 1
    return loss, d / n
