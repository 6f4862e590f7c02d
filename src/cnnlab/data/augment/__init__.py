"""Data augmentation: mirroring, rotation, translation, random crop, color, random erasing; batched, seeded.

Steps are registered by name (``register_augment``) and written as spec strings
("flip,rotate=15,crop=4@0.5"); ``parse_augment`` turns a spec into a :class:`Pipeline`,
``pipeline.spec`` turns it back.

>>> import torch
>>> from cnnlab.data.augment import parse_augment
>>> aug = parse_augment("flip,rotate=15,translate=0.1,crop=4,color=0.2")
>>> aug(torch.zeros(4, 3, 32, 32, dtype=torch.uint8), seed=0).shape
torch.Size([4, 3, 32, 32])
"""

from cnnlab.data.augment.pipeline import Pipeline
from cnnlab.data.augment.pixels import ColorShift, Erase
from cnnlab.data.augment.registry import (
    augment_help,
    augment_names,
    get_augment,
    list_augments,
    register_augment,
    unregister_augment,
)
from cnnlab.data.augment.spec import parse_augment
from cnnlab.data.augment.transforms import Flip, PadCrop, RandomResizedCrop, Rotate, Transform, Translate
from cnnlab.data.augment.view import preview, preview_grid
from cnnlab.errors import AugmentSpecError

__all__ = ["AugmentSpecError", "ColorShift", "Erase", "Flip", "PadCrop", "Pipeline", "RandomResizedCrop", "Rotate",
           "Transform", "Translate", "augment_help", "augment_names", "get_augment", "list_augments", "parse_augment",
           "preview", "preview_grid", "register_augment", "unregister_augment"]
