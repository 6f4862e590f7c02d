"""What the claims measure besides a run's own test accuracy: shifted test images, unchanged predictions,
and the training curve of plain gradient descent (for the claims about normalization and batch norm).

>>> import torch
>>> x = torch.arange(16, dtype=torch.uint8).reshape(1, 1, 4, 4)
>>> shift(x, 1, 0)[0, 0].tolist()   # down by one row: the top row is new (black)
[[0, 0, 0, 0], [0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnlab.data.sources import load_dataset
from cnnlab.deploy.pipeline import match_channels, run_logits
from cnnlab.models import Normalize, create_model
from cnnlab.training.rundir import load_model

SHIFT_SEED = 2024  # the same shifted test images for every run and every seed


def shift(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Move uint8 images ``(N, C, H, W)`` by whole pixels (down ``dy``, right ``dx``; negative: up, left);
    the pixels moved in are 0 (black, the background of Fashion-MNIST and the digits)."""
    out = torch.zeros_like(images)
    h, w = images.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = images[..., ys, xs]
    return out


def shifted_by(images: torch.Tensor, pixels: int, seed: int = SHIFT_SEED) -> torch.Tensor:
    """Each image moved by exactly ``pixels`` in one of 8 directions (up, down, left, right, diagonals; the
    diagonal moves are ``pixels`` along each axis), drawn per image with ``seed``.

    >>> import torch
    >>> x = torch.randint(0, 255, (5, 1, 8, 8), dtype=torch.uint8)
    >>> bool((shifted_by(x, 0) == x).all())
    True
    """
    if pixels == 0:
        return images.clone()
    g = np.random.default_rng(seed + pixels)
    moves = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
    picks = g.integers(0, len(moves), len(images))
    out = torch.empty_like(images)
    for k, (my, mx) in enumerate(moves):
        idx = torch.from_numpy(np.flatnonzero(picks == k))
        if len(idx):
            out[idx] = shift(images[idx], my * pixels, mx * pixels)
    return out


def shifted_random(images: torch.Tensor, lo: int, hi: int, seed: int = SHIFT_SEED) -> torch.Tensor:
    """Each image moved by a whole number of pixels from ``lo`` to ``hi`` (drawn per image), in one of 8 directions."""
    g = np.random.default_rng(seed)
    amounts = g.integers(lo, hi + 1, len(images))
    out = torch.empty_like(images)
    for k in range(lo, hi + 1):
        idx = torch.from_numpy(np.flatnonzero(amounts == k))
        if len(idx):
            out[idx] = shifted_by(images[idx], k, seed)
    return out


def predictions(run: str | Path, images: torch.Tensor) -> torch.Tensor:
    """A saved run's top-1 class for each uint8 image ``(N, C, H, W)``, scored as its test accuracy was."""
    model, meta = load_model(run)
    return run_logits(model, match_channels(images, meta["input"]["channels"]), meta).argmax(1)


def descent_curve(data: str, seed: int, steps: int, lr: float, raw: bool, batch_norm: bool, batch_size: int = 64,
                  per_class: int = 500, widths=(8, 16), hidden: int = 32, model: str = "cnn") -> list[float]:
    """The training loss after each step of plain gradient descent (SGD, no momentum).

    Everything but the two switches is fixed by ``seed``: the training subset, the initial weights and the
    order of the batches. ``raw=True`` feeds the pixels as they are (0..255); ``raw=False`` standardizes them
    with the training images' mean and standard deviation, as cnnlab always does.

    Args:
        data: a data spec, e.g. "fashion-mnist".
        seed: the seed of the subset, the weights and the batches.
        steps: how many steps to take.
        lr: the learning rate.
        raw: feed raw pixel values instead of standardized ones.
        batch_norm: batch norm in the network (after each convolution and the hidden dense layer).
        batch_size: images per step.
        per_class: training images per class to draw batches from.
        widths, hidden: the CNN's size.
        model: "cnn", the lecture's CNN (batch norm after each convolution and the hidden dense layer), or
            "linear", one dense layer on the flattened pixels (the lecture's w x + b with many weights; batch
            norm, when on, normalizes the flattened pixels before it).

    Returns:
        ``steps`` losses; once a loss is not a finite number (the run diverged) the rest are ``inf``.

    >>> curve = descent_curve("digits", seed=0, steps=5, lr=0.05, raw=False, batch_norm=True, per_class=20)
    >>> len(curve), curve[0] > curve[-1]
    (5, True)
    """
    train = load_dataset(data, "train").per_class(per_class, seed=seed)
    x, y = train.images, train.labels
    c, h, w = x.shape[1:]
    mean, std = ([0.0] * c, [1.0] * c) if raw else train.mean_std()
    torch.manual_seed(seed)
    if model == "linear":
        layers = [Normalize(mean, std), nn.Flatten()] + ([nn.BatchNorm1d(c * h * w)] if batch_norm else [])
        net = nn.Sequential(*layers, nn.Linear(c * h * w, len(train.classes)))
    else:
        net = create_model("lecture_cnn", num_classes=len(train.classes), in_channels=c, image_size=(h, w),
                           widths=widths, hidden=hidden, batch_norm=batch_norm, dropout=0.0, mean=mean, std=std)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    order = torch.randperm(len(x), generator=g)
    at = 0
    for _ in range(steps):
        if at + batch_size > len(order):
            order, at = torch.randperm(len(x), generator=g), 0
        idx = order[at:at + batch_size]
        at += batch_size
        loss = F.cross_entropy(net(x[idx]), y[idx])
        value = float(loss.detach())
        if not math.isfinite(value) or value > 1e6:
            losses += [math.inf] * (steps - len(losses))
            break
        losses.append(value)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return losses


def steps_to(curve: list[float], threshold: float, window: int = 10) -> int:
    """The first step after which the loss, averaged over ``window`` steps, is below ``threshold``
    (``len(curve) + 1`` when it never is: "did not get there within the budget").

    >>> steps_to([2.0, 1.5, 1.0, 0.5, 0.4], 0.9, window=2)
    4
    >>> steps_to([2.0, 2.0], 0.5)
    3
    """
    for i in range(len(curve)):
        part = curve[max(0, i + 1 - window):i + 1]
        if len(part) == min(window, len(curve)) and sum(part) / len(part) < threshold:
            return i + 1
    return len(curve) + 1
