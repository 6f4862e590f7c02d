"""Small layers shared by the models."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from cnnlab.errors import ModelError


class Normalize(nn.Module):
    """The model's first layer: uint8 (or float 0..255) pixels -> (x - mean) / std per channel.

    mean/std are in pixel units, computed on the training split and saved with the weights,
    so a saved model can never be fed with the wrong statistics.

    Args:
        mean: per-channel mean, in pixel units (0..255).
        std: per-channel standard deviation, in pixel units (all positive).

    Input shape: ``(N, C, H, W)`` uint8 or float. Output shape: the same, float32.

    Raises:
        ModelError: a std is not positive, or the input has another number of channels.

    >>> import torch
    >>> norm = Normalize([127.5], [127.5])
    >>> norm(torch.tensor([0, 255], dtype=torch.uint8).view(1, 1, 1, 2))
    tensor([[[[-1.,  1.]]]])
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
        if (std <= 0).any():
            raise ModelError(f"std must be positive, got {std.flatten().tolist()}")
        self.register_buffer("mean", mean)
        self.register_buffer("inv_std", 1.0 / std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W)
        if x.shape[1] != self.mean.shape[1]:
            raise ModelError(f"the model expects {self.mean.shape[1]} channel(s), got input of shape "
                             f"{tuple(x.shape)}; convert the images (gray <-> RGB) to match")
        return (x.float() - self.mean) * self.inv_std

    def extra_repr(self) -> str:
        return f"mean={[round(v, 2) for v in self.mean.flatten().tolist()]}, " \
               f"std={[round(1 / v, 2) for v in self.inv_std.flatten().tolist()]}"


def default_stats(in_channels: int) -> tuple[list[float], list[float]]:
    """Neutral statistics (0..255 -> about -1..1) for a model built before the data is seen.

    Args:
        in_channels: number of channels.

    Returns:
        ``(mean, std)``, one value per channel, in pixel units.

    >>> default_stats(3)
    ([127.5, 127.5, 127.5], [127.5, 127.5, 127.5])
    """
    return [127.5] * in_channels, [127.5] * in_channels
