"""Figures for 'Working with Images': an image as numbers, RGB channels, flattening.

Each function takes ``image`` (None for the default, a path, an array or a
:class:`~cnnlab.learn.explain.common.Photo`) and returns a matplotlib Figure.

>>> from cnnlab.learn.explain.basics import rgb_channels
>>> fig = rgb_channels()
>>> len(fig.axes)
4
"""

from __future__ import annotations

import numpy as np

from cnnlab.data.images import convert_mode
from cnnlab.learn.explain.common import box, default_photo, off, plt, resolve_image, show_numbers, small_gray
from cnnlab.learn.ref import LECTURE_IMAGE


def image_as_numbers(image=None):
    """The lecture's 3x3 image, and a zoomed 8x8 patch of a real photo with its pixel values.

    Args:
        image: the photo (None: scikit-image's cat).

    Returns:
        A matplotlib Figure.

    Example:

    >>> import numpy as np
    >>> fig = image_as_numbers(np.full((20, 30), 90, np.uint8))
    >>> "(20, 30)" in fig.axes[1].get_title()
    True
    """
    p = plt()
    photo = resolve_image(image) or default_photo()
    g = convert_mode(photo.pixels, "gray")
    h, w = g.shape
    r0, c0 = min(int(h * 0.38), max(h - 8, 0)), min(int(w * 0.42), max(w - 8, 0))  # the cat's eye by default
    patch = g[r0:r0 + 8, c0:c0 + 8]
    fig, axes = p.subplots(1, 3, figsize=(13, 4.4), gridspec_kw={"width_ratios": [1, 1.5, 1.3]})
    show_numbers(axes[0], np.array(LECTURE_IMAGE), fontsize=12)
    axes[0].set_title("The lecture's 3x3 image\n0 = darkest, 255 = brightest")
    axes[1].imshow(g, cmap="gray", vmin=0, vmax=255)
    box(axes[1], r0, c0, 8, 8, lw=2.5)
    axes[1].set_title(f"A real photo ({photo.name}) is the same thing, bigger:\nshape {g.shape} = {g.size:,} numbers")
    off(axes[1])
    show_numbers(axes[2], patch, fontsize=7.5)
    axes[2].set_title(f"The {patch.shape[0]}x{patch.shape[1]} patch in the red box,\n"
                      "zoomed in: every pixel is a number")
    fig.tight_layout()
    return fig


def rgb_channels(image=None):
    """An RGB photo split into its red, green and blue arrays (a gray photo has three equal ones).

    Args:
        image: the photo (None: scikit-image's cat).

    Returns:
        A matplotlib Figure.

    Example:

    >>> import numpy as np
    >>> fig = rgb_channels(np.zeros((10, 12, 3), np.uint8))
    >>> fig.axes[0].get_title().splitlines()
    ['your image', 'shape (10, 12, 3) = (H, W, 3)']
    """
    p = plt()
    photo = resolve_image(image) or default_photo()
    img = convert_mode(photo.pixels, "rgb")
    fig, axes = p.subplots(1, 4, figsize=(15, 3.6))
    axes[0].imshow(img)
    axes[0].set_title(f"{photo.name}\nshape {img.shape} = (H, W, 3)")
    for i, (name, cmap) in enumerate([("Red", "Reds_r"), ("Green", "Greens_r"), ("Blue", "Blues_r")]):
        axes[i + 1].imshow(img[..., i], cmap=cmap, vmin=0, vmax=255)
        axes[i + 1].set_title(f"{name} channel: img[:, :, {i}]\nshape {img.shape[:2]}, mean {img[..., i].mean():.0f}")
    for ax in axes:
        off(ax)
    fig.suptitle("A color image is three 2-D arrays stacked: how much red, green and blue at each pixel", y=1.02)
    fig.tight_layout()
    return fig


def flattening(image=None):
    """Flattening a small image into one row: vertical neighbours end up W positions apart.

    Args:
        image: the photo to shrink to 6x6 (None: a sample of Fashion-MNIST, or of the digits offline).

    Returns:
        A matplotlib Figure.

    Example:

    >>> import numpy as np
    >>> fig = flattening(np.full((30, 30), 200, np.uint8))
    >>> fig.axes[0].get_title().splitlines()[0]
    'Your image, shrunk to 6x6'
    """
    p = plt()
    small, name = small_gray(image, 6, 0, None)  # 6x6 so every number is readable
    h, w = small.shape
    flat = small.reshape(-1)
    fig = p.figure(figsize=(14, 5.2))
    ax1 = fig.add_axes([0.03, 0.3, 0.28, 0.62])
    show_numbers(ax1, small, fontsize=9)
    box(ax1, 2, 3, 1, 1, "red", 3)
    box(ax1, 3, 3, 1, 1, "dodgerblue", 3)
    what = name if name.endswith(", shrunk") else f"{name}, shrunk"
    if what.split(" ")[0] in ("a", "an", "your"):  # a sentence starts with a capital; file names stay as they are
        what = what[0].upper() + what[1:]
    ax1.set_title(f"{what} to {h}x{w}\nred and blue pixels are neighbours (one above the other)")
    ax2 = fig.add_axes([0.05, 0.05, 0.92, 0.1])
    ax2.imshow(flat[None], cmap="gray", vmin=0, vmax=255, aspect="auto")
    for i, v in enumerate(flat):
        ax2.text(i, 0, str(int(v)), ha="center", va="center", fontsize=6.5, color="black" if v > 127 else "white")
    i_red, i_blue = 2 * w + 3, 3 * w + 3
    box(ax2, 0, i_red, 1, 1, "red", 3)
    box(ax2, 0, i_blue, 1, 1, "dodgerblue", 3)
    ax2.set_yticks([])
    ax2.set_xticks(range(0, h * w, w))
    ax2.set_title(f"flattened: one row of {h * w} numbers — index = row * {w} + col; the two neighbours are now "
                  f"{i_blue - i_red} positions apart", fontsize=9)
    ax3 = fig.add_axes([0.4, 0.32, 0.55, 0.56])
    ax3.axis("off")
    ax3.text(0, 0.95, "Why flattening loses the picture", fontsize=12, weight="bold", va="top")
    ax3.text(0, 0.75, "- A dense layer sees a list of numbers; it does not know which ones were neighbours.\n"
                      "- Move the object one pixel and every input number changes place.\n"
                      "- A 1024x1024 photo becomes 1,048,576 inputs (x3 for color):\n"
                      "  one dense layer of 1,000 units would need over a billion weights.\n"
                      "- Convolution keeps the 2-D layout and reuses one small kernel everywhere.",
             fontsize=10, va="top", linespacing=1.6)
    return fig
