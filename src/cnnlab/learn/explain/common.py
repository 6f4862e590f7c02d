"""Shared helpers for the lecture figures: sample images, matplotlib setup, drawing numbers."""

from __future__ import annotations

import numpy as np

from cnnlab.plots import pyplot as plt  # noqa: E402,F401  (the figures call plt())


def photo(image=None) -> np.ndarray:
    """The user's photo (a path or an array) or scikit-image's cat, as uint8 RGB (or gray if it is gray)."""
    if image is None:
        from skimage import data

        return data.chelsea()
    if isinstance(image, np.ndarray):
        return image
    from cnnlab.data.images import load_image

    return load_image(image)


def gray(image=None) -> np.ndarray:
    from cnnlab.data.images import convert_mode

    return convert_mode(photo(image), "gray")


def lecture_images():
    """The test split of Fashion-MNIST, or of scikit-learn's digits when Fashion-MNIST is not installed."""
    from cnnlab.data.sources import DataError, load_dataset

    try:
        return load_dataset("fashion-mnist", "test")
    except DataError:
        return load_dataset("digits", "test")


def fashion_sample(index: int = 0) -> tuple[np.ndarray, str]:
    """One image of :func:`lecture_images` as (H, W) uint8, and its class name."""
    ds = lecture_images()
    return ds.images[index, 0].numpy(), ds.classes[int(ds.labels[index])]


def show_numbers(ax, a: np.ndarray, fmt: str = "{:d}", cmap: str = "gray", vmin=0, vmax=255, fontsize=8):
    """Draw a small array as an image with its values written in each cell."""
    a = np.asarray(a)
    ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax)
    mid = (vmin + vmax) / 2
    for (i, j), v in np.ndenumerate(a):
        text = fmt.format(int(v) if fmt == "{:d}" else float(v))
        color = "black" if (cmap == "coolwarm" or v > mid) else "white"  # diverging maps are light in the middle
        ax.text(j, i, text, ha="center", va="center", fontsize=fontsize, color=color)
    ax.set_xticks(range(a.shape[1]))
    ax.set_yticks(range(a.shape[0]))
    ax.tick_params(length=0, labelsize=7)


def box(ax, r0, c0, h, w, color="red", lw=2.0):
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), w, h, fill=False, edgecolor=color, linewidth=lw))


def off(ax):
    ax.set_xticks([])
    ax.set_yticks([])
