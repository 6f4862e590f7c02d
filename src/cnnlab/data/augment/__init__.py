"""Data augmentation: mirroring, rotation, translation, random crop, color, random erasing; batched, seeded."""

from cnnlab.data.augment.spec import AugmentSpecError, parse_augment
from cnnlab.data.augment.transforms import (
    ColorShift,
    Erase,
    Flip,
    PadCrop,
    Pipeline,
    RandomResizedCrop,
    Rotate,
    Transform,
    Translate,
)

__all__ = ["AugmentSpecError", "ColorShift", "Erase", "Flip", "PadCrop", "Pipeline", "RandomResizedCrop", "Rotate",
           "Transform", "Translate", "parse_augment", "preview"]


def preview(*args, **kwargs):
    """See :func:`cnnlab.data.augment.view.preview`."""
    from cnnlab.data.augment.view import preview as _preview

    return _preview(*args, **kwargs)
