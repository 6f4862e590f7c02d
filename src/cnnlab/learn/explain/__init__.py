"""A figure for every idea of the lecture, made from real images (your own photo where a topic shows one).

>>> import tempfile
>>> from cnnlab.learn.explain import explain
>>> [path] = explain("pooling", out=tempfile.mkdtemp() + "/pooling.png")
>>> path.suffix
'.png'
"""

from __future__ import annotations

from pathlib import Path

from cnnlab.errors import ConfigError
from cnnlab.learn.explain import basics, convolution, trained, training
from cnnlab.learn.explain.common import Photo, resolve_image
from cnnlab.plots import save_figure
from cnnlab.progress import bar

TOPICS = {
    "numbers": (basics.image_as_numbers, "an image as numbers: the lecture's 3x3 image and a zoomed photo patch"),
    "channels": (basics.rgb_channels, "an RGB photo split into its three channels, shape (H, W, 3)"),
    "flatten": (basics.flattening, "flattening, and why it loses spatial structure"),
    "convolution": (convolution.convolution_steps, "convolution step by step (use --out x.gif for an animation)"),
    "kernels": (convolution.kernel_gallery, "a kernel gallery: edges, blur, sharpen, Sobel x/y"),
    "multichannel": (convolution.multichannel, "multi-channel convolution: per-channel results and their sum"),
    "pooling": (convolution.max_pooling, "max pooling with the maximum of each window marked"),
    "augmentation": (training.augmentation, "each augmentation technique on a photo"),
    "normalization": (training.normalization, "gradient descent on loss contours, raw vs normalized input"),
    "batchnorm": (training.batch_normalization, "activations before and after batch norm (a data set, no photo)"),
    "dropout": (training.dropout, "dropout masks in training vs evaluation (a network, no photo)"),
    "transfer": (training.transfer, "transfer learning: frozen vs trained layers (a network, no photo)"),
    "trained": (trained.trained, "a trained model: first-layer kernels, feature maps, Grad-CAM"),
}
# the topics that draw the user's image (the others draw a data set or a network)
IMAGE_TOPICS = ("numbers", "channels", "flatten", "convolution", "kernels", "multichannel", "pooling",
                "augmentation", "trained")


def _check_topic(topic: str) -> None:
    if topic not in TOPICS:
        raise ConfigError("topic", topic, f"one of {', '.join(TOPICS)}, 'all' or 'list'")


def _check_image_topic(topic: str, image: Photo | None) -> None:
    if image is not None and topic not in IMAGE_TOPICS:
        raise ConfigError("image", image.name, f"no image for the topic {topic!r}: it draws "
                          f"{'a network' if topic in ('dropout', 'transfer') else 'a whole data set'}",
                          hint=f"the topics that show your image are {', '.join(IMAGE_TOPICS)}")


def figure(topic: str, image=None, run: str | None = None):
    """The matplotlib Figure for ``topic``.

    Args:
        topic: one of :data:`TOPICS`.
        image: your photo (a path or an array) for the topics in :data:`IMAGE_TOPICS`; None for the default.
        run: a run folder, for the "trained" topic.

    Returns:
        A matplotlib Figure (close it, or save it with :func:`cnnlab.plots.save_figure`).

    Raises:
        ConfigError: unknown topic, or an image for a topic that shows none.
        ImageError: ``image`` cannot be read.

    Example:

    >>> import numpy as np
    >>> fig = figure("flatten", image=np.full((32, 32), 128, np.uint8))
    >>> fig.axes[0].get_title().splitlines()[0]
    'Your image, shrunk to 6x6'
    """
    _check_topic(topic)
    image = resolve_image(image)
    _check_image_topic(topic, image)
    fn = TOPICS[topic][0]
    return fn(image=image, run=run) if topic == "trained" else fn(image=image)


def explain(topic: str, out: str | Path | None = None, image=None, run: str | None = None) -> list[Path]:
    """Write the figure for ``topic`` (or every topic for "all") and return the written paths.

    The image is read once, before anything is drawn: a missing or unreadable file is an error for
    every topic, and every topic that shows a photo shows this one.

    Args:
        topic: one of :data:`TOPICS`, "all" (every figure into the folder ``out``) or "list" (print them).
        out: the PNG to write (a ``.gif`` for "convolution" writes an animation); for "all", a folder.
            Default: ``TOPIC.png``, or ``figures/`` for "all".
        image: your photo (a path or an array), used by the topics in :data:`IMAGE_TOPICS`.
        run: a run folder for the "trained" topic (None: a small model is trained first).

    Returns:
        The paths written.

    Raises:
        ConfigError: unknown topic, or an image for a topic that shows none.
        ImageError: ``image`` does not exist or cannot be read as an image.

    Example:

    >>> explain("pooling", out="pooling.png", image="missing.jpg")
    Traceback (most recent call last):
    ...
    cnnlab.errors.ImageError: missing.jpg: no such file
    """
    if topic == "list":
        print("\n".join(f"{name:14s} {about}" for name, (_, about) in TOPICS.items()))
        return []
    if topic != "all":
        _check_topic(topic)
    image = resolve_image(image)  # the one place the image is read: errors before any figure is drawn
    if topic == "all":
        folder = Path(out or "figures")
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        with bar(total=len(TOPICS), desc="figures", unit="fig") as progress:
            for name in TOPICS:
                paths += explain(name, folder / f"{name}.png", image if name in IMAGE_TOPICS else None, run)
                progress.update()
        convolution.convolution_gif(folder / "convolution.gif", image)
        return paths + [folder / "convolution.gif"]
    _check_image_topic(topic, image)
    out = Path(out or f"{topic}.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    if topic == "convolution" and out.suffix.lower() == ".gif":
        convolution.convolution_gif(out, image)
        return [out]
    save_figure(figure(topic, image, run), out)
    return [out]
