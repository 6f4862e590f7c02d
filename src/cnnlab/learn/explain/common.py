"""Shared helpers for the lecture figures: the user's photo, sample data and their names, drawing numbers.

:func:`resolve_image` is the one place where ``--image`` becomes pixels: :func:`~cnnlab.learn.explain.explain`
calls it once, before any figure is drawn, so a missing file is an error for every topic, and every
topic that shows an image draws the same pixels.

>>> import numpy as np
>>> from cnnlab.learn.explain.common import resolve_image, with_article
>>> resolve_image(np.zeros((4, 5), np.uint8)).name
'your image'
>>> with_article("Ankle boot"), with_article("Sneaker"), with_article("8")
('an Ankle boot', 'a Sneaker', 'an 8')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab.data.images import convert_mode, load_image, resize
from cnnlab.data.imageset import ImageSet
from cnnlab.data.sources import load_dataset
from cnnlab.errors import DataError, ImageError
from cnnlab.plots import pyplot as plt  # noqa: F401  (the figure modules call plt())

DATA_NAMES = {"fashion-mnist": "Fashion-MNIST", "digits": "scikit-learn's digits"}


@dataclass(frozen=True)
class Photo:
    """An image to draw, and how titles call it.

    Args:
        pixels: uint8 array, ``(H, W)`` for gray or ``(H, W, 3)`` for color.
        name: a short name for titles (the file name, or "your image").
        path: the file it was read from (None for an array), so a model can decode it its own way.

    Example:

    >>> Photo(np.zeros((2, 2), np.uint8), "dark.png").name
    'dark.png'
    """

    pixels: np.ndarray
    name: str
    path: Path | None = None


def resolve_image(image) -> Photo | None:
    """Turn what the user passed as ``image`` into a :class:`Photo` (or None for "use the default").

    Args:
        image: None, a path to an image file, a NumPy array ``(H, W)``/``(H, W, 3)`` with values
            0..255, or a :class:`Photo` (returned as it is).

    Returns:
        A :class:`Photo`, or None when ``image`` is None.

    Raises:
        ImageError: the file does not exist or cannot be read as an image, or the array has
            another shape.

    Example:

    >>> resolve_image(None) is None
    True
    >>> resolve_image(np.full((3, 3, 3), 200, np.uint8)).pixels.shape
    (3, 3, 3)
    >>> resolve_image("no-such-photo.jpg")
    Traceback (most recent call last):
    ...
    cnnlab.errors.ImageError: no-such-photo.jpg: no such file
    """
    if image is None or isinstance(image, Photo):
        return image
    if isinstance(image, (str, os.PathLike)):
        return Photo(load_image(image), Path(image).name, Path(image))
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)) or a.size == 0:
        raise ImageError(f"an image array must have shape (H, W) or (H, W, 3), got {a.shape}; "
                         "pass a path to an image file or such an array")
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a.astype(np.float64)), 0, 255).astype(np.uint8)
    return Photo(a, "your image")


def default_photo() -> Photo:
    """scikit-image's photo of Chelsea the cat, the figures' photo when the user gives none.

    Returns:
        A :class:`Photo` of shape ``(300, 451, 3)``.

    Example:

    >>> default_photo().pixels.shape
    (300, 451, 3)
    """
    # deferred: scikit-image is slow to import and only the default photo needs it
    from skimage import data

    return Photo(data.chelsea(), "a photo of a cat")


def photo(image=None) -> np.ndarray:
    """The pixels of the user's image, or of the default cat photo.

    Args:
        image: anything :func:`resolve_image` takes.

    Returns:
        uint8 ``(H, W, 3)`` (or ``(H, W)`` for a gray image).

    Example:

    >>> photo().shape
    (300, 451, 3)
    """
    return (resolve_image(image) or default_photo()).pixels


def gray(image=None) -> np.ndarray:
    """The user's image (or the cat) in gray, uint8 ``(H, W)``.

    Example:

    >>> gray(np.full((2, 2, 3), 100, np.uint8)).tolist()
    [[100, 100], [100, 100]]
    """
    return convert_mode(photo(image), "gray")


def lecture_images() -> ImageSet:
    """The test split of Fashion-MNIST, or of scikit-learn's digits when Fashion-MNIST is not installed.

    Returns:
        An ImageSet; :func:`data_name` says which one it is (for titles).

    Example:

    >>> data_name(lecture_images()) in ("Fashion-MNIST", "scikit-learn's digits")
    True
    """
    try:
        return load_dataset("fashion-mnist", "test")
    except DataError:
        return load_dataset("digits", "test")


def data_name(data: ImageSet) -> str:
    """How titles name a data set: "Fashion-MNIST", "scikit-learn's digits", else its source.

    Example:

    >>> data_name(load_dataset("digits", "test"))
    "scikit-learn's digits"
    """
    key = data.source.split("/")[0]
    return DATA_NAMES.get(key, key or "the data set")


def with_article(word: str) -> str:
    """``word`` with "a" or "an" in front, by how it sounds ("an Ankle boot", "a T-shirt/top", "an 8").

    Example:

    >>> with_article("Ankle boot"), with_article("T-shirt/top"), with_article("11"), with_article("unicorn")
    ('an Ankle boot', 'a T-shirt/top', 'an 11', 'a unicorn')
    """
    w = word.strip().lower()
    if w[:1].isdigit():
        an = w.startswith("8") or w.split(" ")[0] in ("11", "18")
    else:
        an = w[:1] in ("a", "e", "i", "o", "u") and not w.startswith(("uni", "use", "one", "eu"))
        an = an or w.startswith(("hour", "honest", "honour", "honor"))
    return f"{'an' if an else 'a'} {word.strip()}"


def sample(index: int = 0) -> tuple[np.ndarray, str]:
    """One image of :func:`lecture_images` and a phrase naming it ("an Ankle boot from Fashion-MNIST").

    Args:
        index: which test image.

    Returns:
        ``(image, phrase)``: uint8 ``(H, W)`` and the phrase for titles.

    Example:

    >>> img, phrase = sample(0)
    >>> img.ndim, " from " in phrase
    (2, True)
    """
    ds = lecture_images()
    label = ds.classes[int(ds.labels[index])]
    return ds.images[index, 0].numpy(), f"{with_article(label)} from {data_name(ds)}"


def small_gray(image, size: int, index: int, crop: tuple[int, int] | None) -> tuple[np.ndarray, str]:
    """A small gray image for the figures that write every pixel value: the user's photo or a data sample.

    The user's photo is shrunk (center-cropped to a square) to ``size`` x ``size``; without one, the
    ``size`` x ``size`` patch at ``crop`` (row, col) of :func:`sample` ``(index)`` is used (its top-left
    corner when the sample is too small, e.g. 8x8 digits).

    Args:
        image: anything :func:`resolve_image` takes, or None.
        size: side of the result in pixels.
        index: which data sample to use without a photo.
        crop: (row, col) of the patch in the data sample, or None to shrink the whole sample.

    Returns:
        ``(pixels, phrase)``: uint8 ``(size, size)`` and a phrase for titles.

    Example:

    >>> px, phrase = small_gray(np.full((40, 60), 7, np.uint8), 6, 0, None)
    >>> px.shape, int(px[0, 0]), phrase
    ((6, 6), 7, 'your image, shrunk')
    """
    p = resolve_image(image)
    if p is not None:
        return resize(convert_mode(p.pixels, "gray"), size, fit="crop", resample="bilinear"), f"{p.name}, shrunk"
    img, phrase = sample(index)
    if crop is None:
        return resize(img, size, fit="crop", resample="bilinear"), phrase
    r, c = crop if img.shape[0] >= crop[0] + size and img.shape[1] >= crop[1] + size else (0, 0)
    if img.shape[0] < size or img.shape[1] < size:
        img = resize(img, size, fit="crop", resample="nearest")
    return img[r:r + size, c:c + size], phrase


def show_numbers(ax, a: np.ndarray, fmt: str = "{:d}", cmap: str = "gray", vmin=0, vmax=255, fontsize=8):
    """Draw a small array as an image with its value written in each cell.

    Args:
        ax: a matplotlib Axes.
        a: a 2-D array (a few rows and columns: every value is written).
        fmt: format of each value ("{:d}" rounds to whole numbers).
        cmap, vmin, vmax: the color map and its range.
        fontsize: size of the numbers.

    Example:

    >>> fig, ax = plt().subplots()
    >>> show_numbers(ax, np.array([[0, 255], [128, 64]]))
    >>> [t.get_text() for t in ax.texts]
    ['0', '255', '128', '64']
    >>> plt().close(fig)
    """
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
    """Outline the ``h`` x ``w`` cells whose top-left cell is (``r0``, ``c0``) on an image drawn with imshow.

    Example:

    >>> fig, ax = plt().subplots()
    >>> box(ax, 0, 0, 2, 2)
    >>> len(ax.patches)
    1
    >>> plt().close(fig)
    """
    # deferred: matplotlib is imported only when a figure is drawn (see cnnlab.plots)
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), w, h, fill=False, edgecolor=color, linewidth=lw))


def off(ax):
    """Hide an Axes' ticks (for images).

    Example:

    >>> fig, ax = plt().subplots()
    >>> off(ax)
    >>> list(ax.get_xticks())
    []
    >>> plt().close(fig)
    """
    ax.set_xticks([])
    ax.set_yticks([])


def figure_text(fig) -> str:
    """Every title, label and text of a figure, joined: what a reader of the figure sees written.

    Example:

    >>> fig, ax = plt().subplots()
    >>> _ = ax.set_title("hello")
    >>> _ = fig.suptitle("world")
    >>> "hello" in figure_text(fig) and "world" in figure_text(fig)
    True
    >>> plt().close(fig)
    """
    parts = [t.get_text() for t in fig.texts]
    if getattr(fig, "_suptitle", None) is not None:
        parts.append(fig._suptitle.get_text())
    for ax in fig.axes:
        parts += [ax.get_title(loc) for loc in ("left", "center", "right")]
        parts += [ax.get_xlabel(), ax.get_ylabel()] + [t.get_text() for t in ax.texts]
    return "\n".join(p for p in parts if p)
