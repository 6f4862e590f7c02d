"""The lecture's networks: the flatten-then-dense MLP it starts from, and its CNN.

The CNN follows the lecture's batch-norm slide: Conv -> BatchNorm -> ReLU (batch norm *before*
the activation), max pooling in each block, then Flatten -> Dense -> BatchNorm -> ReLU -> Dropout
-> Dense.

One reordering is on by default, for speed: ``pool_first`` moves each block's max pooling right
after its first convolution (Conv -> MaxPool -> BatchNorm -> ReLU). Max pooling commutes with ReLU,
and with batch norm's per-channel scaling when the scale is positive, so the block computes nearly the
same thing, but batch norm and ReLU then work on a quarter of the numbers. Measured on a 2-core CPU
(bench/speed_options.py): 14% more training images per second, the same test accuracy.
``pool_first=False`` gives the slide's exact order.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from cnnlab.errors import ConfigError
from cnnlab.models.layers import Normalize, default_stats
from cnnlab.models.registry import register_model


class Classifier(nn.Module):
    """normalize -> features -> head, with timm's forward_features / forward_head / reset_classifier.

    Args:
        normalize: the first layer (uint8 pixels -> normalized floats), e.g. :class:`Normalize`.
        features: the feature extractor (convolutions; ``nn.Identity()`` for an MLP).
        head: the classifier, an ``nn.Sequential`` whose last layer is the ``nn.Linear`` giving the logits.

    Input shape: uint8 ``(N, C, H, W)``. Output shape: ``(N, num_classes)`` logits.

    >>> import torch, torch.nn as nn
    >>> from cnnlab.models import Classifier, Normalize
    >>> m = Classifier(Normalize([127.5], [127.5]), nn.Flatten(), nn.Sequential(nn.Linear(16, 3)))
    >>> m(torch.zeros(2, 1, 4, 4, dtype=torch.uint8)).shape
    torch.Size([2, 3])
    >>> m.reset_classifier(5); m.forward_head(m.forward_features(torch.zeros(2, 1, 4, 4))).shape
    torch.Size([2, 5])
    """

    def __init__(self, normalize: nn.Module, features: nn.Module, head: nn.Sequential):
        super().__init__()
        self.normalize = normalize
        self.features = features
        self.head = head

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) -> features before the head (N, C', H', W')."""
        return self.features(self.normalize(x))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Features from :meth:`forward_features` -> logits (N, num_classes)."""
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, C, H, W) -> logits (N, num_classes)."""
        return self.head(self.features(self.normalize(x)))

    def get_classifier(self) -> nn.Linear:
        """The last dense layer (the one that gives the logits)."""
        return self.head[-1]

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the last dense layer by a new one with ``num_classes`` outputs (fresh weights)."""
        old = self.head[-1]
        self.head[-1] = nn.Linear(old.in_features, num_classes)


def conv_block(c_in: int, c_out: int, batch_norm: bool, pool: bool = False) -> list[nn.Module]:
    """Conv -> [MaxPool] -> BatchNorm -> ReLU (the conv needs no bias when batch norm follows).

    Args:
        c_in: input channels.
        c_out: output channels (number of 3x3 kernels).
        batch_norm: add batch norm before the activation.
        pool: add 2x2 max pooling right after the convolution (halves H and W).

    Returns:
        The layers, to put in an ``nn.Sequential``.

    >>> [type(m).__name__ for m in conv_block(1, 8, batch_norm=True, pool=True)]
    ['Conv2d', 'MaxPool2d', 'BatchNorm2d', 'ReLU']
    """
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return layers


@register_model(about="the lecture's CNN: conv blocks with batch norm and max pooling, then dense layers")
def lecture_cnn(num_classes: int = 10, in_channels: int = 1, image_size: int | Sequence[int] = 28,
                widths: Sequence[int] = (32, 64, 128), convs_per_block: int | Sequence[int] = 1, hidden: int = 128,
                batch_norm: bool = True, dropout: float = 0.3, pool_first: bool = True,
                mean=None, std=None) -> Classifier:
    """The lecture's CNN.

    Args:
        num_classes: outputs (logits).
        in_channels: 1 for gray images, 3 for colour.
        image_size: the images' size, one number (square) or (H, W).
        widths: channels of each block (one block = ``convs_per_block`` convolutions + 2x2 max pooling).
        convs_per_block: convolutions per block: one number, or one per block.
        hidden: units of the first dense layer.
        batch_norm: batch norm on/off.
        dropout: drop rate before the last dense layer.
        pool_first: pool right after the block's first convolution (faster, see the module's docstring)
            instead of after its last ReLU.
        mean, std: per-channel normalization in pixel units (training sets them from the data).

    Returns:
        A :class:`Classifier`.

    Raises:
        ConfigError: the image is too small for the number of blocks, or convs_per_block does not fit widths.

    >>> import torch
    >>> m = lecture_cnn(num_classes=10, in_channels=1, image_size=28, widths=(8, 16))
    >>> m(torch.zeros(4, 1, 28, 28, dtype=torch.uint8)).shape
    torch.Size([4, 10])
    >>> m.forward_features(torch.zeros(4, 1, 28, 28, dtype=torch.uint8)).shape   # (N, C, H, W) after 2 poolings
    torch.Size([4, 16, 7, 7])
    """
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if not len(widths):
        raise ConfigError("model_args.widths", list(widths), "at least one block width, e.g. [32, 64]")
    if min(h, w) < 2 ** len(widths):
        raise ConfigError("model_args.widths", list(widths), f"at most {max(0, min(h, w).bit_length() - 1)} "
                          f"blocks for {h}x{w} images (each block halves the size)",
                          hint="the images are too small for so many blocks: use fewer widths or larger images")
    mean, std = (mean, std) if mean is not None else default_stats(in_channels)
    convs = [convs_per_block] * len(widths) if isinstance(convs_per_block, int) else list(convs_per_block)
    if len(convs) != len(widths) or min(convs) < 1:
        raise ConfigError("model_args.convs_per_block", convs_per_block,
                          f"one count (>= 1) for all blocks or one per block ({len(widths)} widths)")
    layers, c = [], in_channels
    for width, n in zip(widths, convs, strict=True):
        for i in range(n):
            layers += conv_block(c, width, batch_norm, pool=pool_first and i == 0)
            c = width
        if not pool_first:
            layers.append(nn.MaxPool2d(2))
        h, w = h // 2, w // 2
    head = [nn.Flatten(), nn.Linear(c * h * w, hidden, bias=not batch_norm)]
    if batch_norm:
        head.append(nn.BatchNorm1d(hidden))
    head += [nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(hidden, num_classes)]
    return Classifier(Normalize(mean, std), nn.Sequential(*layers), nn.Sequential(*head))


lecture_cnn.legacy_defaults = {"pool_first": False}  # runs saved before pool_first existed: the slide's order


@register_model(about="flatten the image, then dense layers: the network the lecture starts from")
def mlp(num_classes: int = 10, in_channels: int = 1, image_size: int | Sequence[int] = 28,
        hidden: Sequence[int] = (256, 128), dropout: float = 0.2, mean=None, std=None) -> Classifier:
    """Flatten the image, then dense layers: the network the lecture starts from (and why it falls short).

    Args:
        num_classes: outputs (logits).
        in_channels: 1 for gray images, 3 for colour.
        image_size: the images' size, one number (square) or (H, W).
        hidden: units of each hidden dense layer.
        dropout: drop rate after each hidden layer.
        mean, std: per-channel normalization in pixel units (training sets them from the data).

    Returns:
        A :class:`Classifier` whose features are the identity (no convolutions).

    >>> import torch
    >>> m = mlp(num_classes=10, in_channels=1, image_size=28, hidden=(64,))
    >>> m(torch.zeros(4, 1, 28, 28, dtype=torch.uint8)).shape
    torch.Size([4, 10])
    >>> sum(p.numel() for p in m.parameters())   # 784*64 + 64 + 64*10 + 10: every pixel has its own weights
    50890
    """
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    mean, std = (mean, std) if mean is not None else default_stats(in_channels)
    head: list[nn.Module] = [nn.Flatten()]
    n = in_channels * h * w
    for units in hidden:
        head += [nn.Linear(n, units), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        n = units
    head.append(nn.Linear(n, num_classes))
    return Classifier(Normalize(mean, std), nn.Identity(), nn.Sequential(*head))
