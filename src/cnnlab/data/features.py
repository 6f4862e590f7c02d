"""FeatureSet: cached backbone features with their labels, the transfer-learning twin of an ImageSet.

A frozen pretrained backbone turns each image into one feature vector; the new head then trains on
those vectors exactly like a CNN trains on images.

>>> import torch
>>> from cnnlab.data.features import FeatureSet, inputs_of
>>> fs = FeatureSet(torch.zeros(4, 1280), torch.tensor([0, 1, 0, 1]), ["cat", "dog"])
>>> len(fs), tuple(inputs_of(fs).shape)
(4, (4, 1280))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from cnnlab.data.imageset import ImageSet


@dataclass
class FeatureSet:
    """Backbone features ``(N, F)`` float32, labels ``(N,)`` int64 and class names.

    Args:
        features: float tensor (N, F), one feature vector per image.
        labels: int64 tensor (N,).
        classes: the class names.
        skipped: (path, reason) of files that could not be read.
    """

    features: torch.Tensor  # float (N, F)
    labels: torch.Tensor  # int64 (N,)
    classes: list[str]
    skipped: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)


def inputs_of(data: ImageSet | FeatureSet) -> torch.Tensor:
    """What a network is fed from a data set: the images of an ImageSet, the features of a FeatureSet."""
    return data.features if isinstance(data, FeatureSet) else data.images
