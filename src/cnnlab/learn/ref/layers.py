"""The other layers of the lecture in NumPy, forward and backward.

Each ``*_backward`` takes the upstream gradient ``dout`` and what the forward pass saved.
"""

from __future__ import annotations

import numpy as np


def relu(x):
    return np.maximum(x, 0)


def relu_backward(dout, x):
    return dout * (x > 0)


def flatten(x):
    """(N, C, H, W) -> (N, C*H*W): the spatial layout is gone, only the order of the numbers remains."""
    return x.reshape(len(x), -1)


def dense(x, w, b):
    """x (N, D) @ w (D, M) + b (M,)."""
    return x @ w + b


def dense_backward(dout, x, w):
    return dout @ w.T, x.T @ dout, dout.sum(0)


def normalize(x, mean=None, std=None, eps: float = 0.0):
    """x' = (x - mean) / std, the lecture's data normalization: afterwards mean 0, variance 1."""
    mean = x.mean() if mean is None else mean
    std = x.std() if std is None else std
    return (x - mean) / (std + eps), mean, std


def batch_norm(x, gamma, beta, running_mean, running_var, training: bool, momentum: float = 0.1,
               eps: float = 1e-5):
    """Batch normalization over the batch (and, for (N, C, H, W), the spatial positions) per channel.

    Training: normalize with the batch's own mean/variance and update the running statistics
    (running = (1 - momentum) * running + momentum * batch, unbiased variance, as PyTorch does).
    Evaluation: normalize with the running statistics. Returns (out, cache, running_mean, running_var).
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
    so evaluation needs no change at all. Returns (out, mask)."""
    if not training or p == 0:
        return x, np.ones_like(x, dtype=bool)
    rng = rng or np.random.default_rng()
    mask = rng.random(x.shape) >= p
    return x * mask / (1 - p), mask


def dropout_backward(dout, mask, p: float):
    return dout * mask / (1 - p)


def softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) against integer labels; returns (loss, dlogits)."""
    n = len(labels)
    p = softmax(logits)
    loss = -np.log(p[np.arange(n), labels] + 1e-300).mean()
    d = p.copy()
    d[np.arange(n), labels] -= 1
    return loss, d / n
