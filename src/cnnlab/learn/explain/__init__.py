"""A figure for every idea of the lecture, made from real images.

>>> from cnnlab.learn.explain import explain
>>> explain("convolution", out="conv.png")          # doctest: +SKIP
>>> explain("all", out="figures/")                  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from cnnlab.errors import ConfigError
from cnnlab.learn.explain import basics, convolution, trained, training

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
    "batchnorm": (training.batch_normalization, "activation histograms before and after batch norm"),
    "dropout": (training.dropout, "dropout masks in training vs evaluation"),
    "transfer": (training.transfer, "transfer learning: frozen vs trained layers"),
    "trained": (trained.trained, "a trained model: first-layer kernels, feature maps, Grad-CAM"),
}


def figure(topic: str, image=None, run: str | None = None):
    """The matplotlib Figure for ``topic``."""
    if topic not in TOPICS:
        raise ConfigError("topic", topic, f"one of {', '.join(TOPICS)} or 'all'")
    fn = TOPICS[topic][0]
    return fn(image=image, run=run) if topic == "trained" else fn(image=image)


def explain(topic: str, out: str | Path | None = None, image=None, run: str | None = None) -> list[Path]:
    """Write the figure for ``topic`` (or every topic for 'all') and return the written paths."""
    from cnnlab.plots import save_figure

    if topic == "list":
        print("\n".join(f"{name:14s} {about}" for name, (_, about) in TOPICS.items()))
        return []
    if topic == "all":
        folder = Path(out or "figures")
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        from tqdm.auto import tqdm

        for name in tqdm(TOPICS, desc="figures", unit="fig"):
            paths += explain(name, folder / f"{name}.png", image, run)
        convolution.convolution_gif(folder / "convolution.gif", image)
        return paths + [folder / "convolution.gif"]
    out = Path(out or f"{topic}.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    if topic == "convolution" and out.suffix.lower() == ".gif":
        convolution.convolution_gif(out, image)
        return [out]
    save_figure(figure(topic, image, run), out)
    return [out]
