"""A small residual network for small images (28x28, 32x32): the ResNet-9 pattern of fast-training recipes.

    stem:   Conv 3x3 -> BatchNorm -> ReLU                                    (widths[0] channels, full size)
    stage:  Conv 3x3 -> MaxPool 2 -> BatchNorm -> ReLU  [+ residual blocks]   (one per further width, halves H, W)
    block:  x + ReLU(BN(Conv(ReLU(BN(Conv(x))))))                            (the "skip connection")
    head:   global max pool -> Dense -> logits (times a fixed scale)

Why residual: each block learns a *correction* to its input instead of a whole new picture, so the
gradient reaches the first layers directly through the additions and deeper networks train as fast
as shallow ones (He et al., 2015). Published Fashion-MNIST results above 95% use residual networks.

The layout follows the fast CIFAR-10 recipes (the DAWNBench ResNet-9, airbench): pooling right after
a stage's first convolution, so batch norm and ReLU work on a quarter of the numbers (as ``lecture_cnn``'s
``pool_first``), residual blocks only where they pay, global max pooling (any image size) and a scaled
last layer (logits times ``head_scale``, which keeps the first steps calm with a high learning rate).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from cnnlab.errors import ConfigError
from cnnlab.models.layers import Normalize, default_stats
from cnnlab.models.lecture import Classifier
from cnnlab.models.registry import register_model


def conv_bn(c_in: int, c_out: int, pool: bool = False) -> nn.Sequential:
    """Conv 3x3 (no bias) -> [MaxPool 2] -> BatchNorm -> ReLU."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    layers += [nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class Residual(nn.Module):
    """``x + f(x)`` with ``f`` = two Conv-BN-ReLU layers of the same width: output shape = input shape.

    >>> block = Residual(8)
    >>> block(torch.zeros(2, 8, 7, 7)).shape
    torch.Size([2, 8, 7, 7])
    """

    def __init__(self, channels: int):
        super().__init__()
        self.f = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The input plus the block's correction."""
        return x + self.f(x)


class Scale(nn.Module):
    """Multiply by a fixed number (the logits' scale)."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = float(factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x * factor``."""
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


class ResNetClassifier(Classifier):
    """A :class:`Classifier` whose head ends with a :class:`Scale` (the last *dense* layer gives the logits)."""

    def get_classifier(self) -> nn.Linear:
        """The last dense layer."""
        return self.head[-2]

    def reset_classifier(self, num_classes: int) -> None:
        """A new last dense layer with ``num_classes`` outputs."""
        old = self.head[-2]
        self.head[-2] = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)


@register_model(about="a small residual network (ResNet-9 pattern): the fastest way past 95% on Fashion-MNIST",
                augment="flip")
def resnet_small(num_classes: int = 10, in_channels: int = 1, image_size: int | Sequence[int] = 28,
                 widths: Sequence[int] = (32, 64, 128, 256), blocks: Sequence[int] = (0, 1, 0, 1),
                 head_scale: float = 0.125, mean=None, std=None) -> ResNetClassifier:
    """A small residual network.

    Args:
        num_classes: outputs (logits).
        in_channels: 1 for gray images, 3 for colour.
        image_size: the images' size (each stage after the stem halves it).
        widths: channels of the stem, then of each stage.
        blocks: residual blocks after the stem and after each stage (one count per width).
        head_scale: the logits are multiplied by this.
        mean, std: per-channel normalization in pixel units (training sets them from the data).

    Returns:
        A :class:`ResNetClassifier`.

    Raises:
        ConfigError: blocks does not fit widths, or the image is too small for the number of stages.

    >>> m = resnet_small(widths=(8, 16, 32), blocks=(0, 1, 1))
    >>> m(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)).shape
    torch.Size([2, 10])
    >>> m.forward_features(torch.zeros(2, 1, 28, 28)).shape  # 28 -> 14 -> 7 after two stages
    torch.Size([2, 32, 7, 7])
    """
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    widths, blocks = list(widths), list(blocks)
    if len(widths) < 2:
        raise ConfigError("model_args.widths", widths, "a stem width and at least one stage width, e.g. [32, 64, 128]")
    if len(blocks) != len(widths) or min(blocks) < 0:
        raise ConfigError("model_args.blocks", blocks, f"one count (0 or more) per width ({len(widths)} widths)")
    if min(h, w) < 2 ** (len(widths) - 1):
        raise ConfigError("model_args.widths", widths, f"at most {min(h, w).bit_length()} widths for {h}x{w} images "
                          "(each stage halves the size)", hint="use fewer widths or larger images")
    mean, std = (mean, std) if mean is not None else default_stats(in_channels)
    layers: list[nn.Module] = [conv_bn(in_channels, widths[0])]
    layers += [Residual(widths[0]) for _ in range(blocks[0])]
    for c_in, c_out, n in zip(widths, widths[1:], blocks[1:]):
        layers.append(conv_bn(c_in, c_out, pool=True))
        layers += [Residual(c_out) for _ in range(n)]
    head = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(widths[-1], num_classes, bias=False),
                         Scale(head_scale))
    return ResNetClassifier(Normalize(mean, std), nn.Sequential(*layers), head)


__all__ = ["Residual", "ResNetClassifier", "conv_bn", "resnet_small"]
