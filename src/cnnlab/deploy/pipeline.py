"""A run's input pipeline: the one way images reach a saved model, shared by predict and evaluate.

    file or array --prepare_image--> uint8 (C, H, W) at the run's size and channels (+ notes on what changed)
    uint8 (N, C, H, W) --run_logits--> scores (N, K): the run's test-time augmentation and precision applied

Photos are decoded and resized exactly as the folder loader did when the run was trained
(JPEG draft, centre crop, bilinear resize, then gray/RGB), so predicting a test photo gives the
same answer as ``evaluate`` does for it. Everything is read from the run's ``model.json`` (``meta``).

>>> import numpy as np
>>> from cnnlab.deploy.pipeline import prepare_images
>>> meta = {"input": {"channels": 1, "size": [28, 28]}, "data": "fashion-mnist"}
>>> x, notes = prepare_images(np.zeros((56, 40, 3), np.uint8), meta)
>>> tuple(x.shape), x.dtype
((1, 1, 28, 28), torch.uint8)
>>> notes[0][:2]
['converted from RGB to gray', 'cropped the centre 40x40 of 40x56']
"""

from __future__ import annotations

import os

import numpy as np
import torch

from cnnlab.deploy.inputs import RunInput, check_uint8, prepare_image, run_precision, run_tta
from cnnlab.device import autocast_dtype
from cnnlab.errors import ConfigError
from cnnlab.training.trainer import predict_logits


def match_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, channels, H, W): gray copied to RGB, or RGB to gray (ITU-R 601 luma).

    The gray conversion rounds exactly as :func:`cnnlab.data.images.convert_mode` does for one image.

    Args:
        images: uint8 (N, 1, H, W) or (N, 3, H, W).
        channels: 1 or 3.

    Returns:
        uint8 (N, channels, H, W).

    >>> match_channels(torch.full((2, 3, 4, 4), 100, dtype=torch.uint8), 1).shape
    torch.Size([2, 1, 4, 4])
    """
    c = images.shape[1]
    if c == channels:
        return images
    if channels == 3 and c == 1:
        return images.expand(-1, 3, -1, -1).contiguous()
    if channels == 1 and c == 3:
        x = images.double()
        gray = x[:, 0] * 0.299 + x[:, 1] * 0.587 + x[:, 2] * 0.114  # (N, H, W), as convert_mode
        return gray.round().clamp(0, 255).to(torch.uint8)[:, None]
    raise ConfigError("images", f"{c}-channel images", "images with 1 (gray) or 3 (RGB) channels")


def prepare_images(images, meta: dict | RunInput) -> tuple[torch.Tensor, list[list[str]]]:
    """Images in any accepted form -> a uint8 batch (N, C, H, W) for the run's model, with notes per image.

    Args:
        images: a uint8 batch (N, C, H, W) (array or tensor); one image (H, W), (H, W, 3) or (C, H, W);
            or a list of image file paths and/or such arrays.
        meta: the run's ``model.json`` (a dict) or its :class:`RunInput`.

    Returns:
        ``(x, notes)``: uint8 tensor (N, C, H, W) and, per image, a list of notes on what was changed.

    Raises:
        ImageError: a file cannot be read.
        ConfigError: an array is not uint8 or has an unusable shape.

    >>> meta = {"input": {"channels": 1, "size": [8, 8]}, "data": "digits"}
    >>> x, notes = prepare_images(torch.zeros(5, 1, 8, 8, dtype=torch.uint8), meta)
    >>> tuple(x.shape), notes[0]
    ((5, 1, 8, 8), [])
    """
    spec = meta if isinstance(meta, RunInput) else RunInput.from_meta(meta)
    if isinstance(images, (str, os.PathLike)):
        images = [images]
    if (torch.is_tensor(images) or isinstance(images, np.ndarray)) and images.ndim == 4:
        check_uint8(images)
        x = images if torch.is_tensor(images) else torch.from_numpy(np.ascontiguousarray(images))
        if x.shape[1] not in (1, 3):
            raise ConfigError("images", f"a batch of shape {tuple(x.shape)}", "(N, C, H, W) with C = 1 or 3")
        if tuple(x.shape[2:]) == spec.size:  # the whole batch at once: only the channels may change
            note = [] if x.shape[1] == spec.channels else [f"converted {x.shape[1]} channel(s) to {spec.channels}"]
            return match_channels(x, spec.channels), [list(note) for _ in range(len(x))]
        images = list(x)
    elif torch.is_tensor(images) or isinstance(images, np.ndarray):
        images = [images]
    done = [prepare_image(im, spec) for im in images]
    if not done:
        return torch.zeros(0, spec.channels, *spec.size, dtype=torch.uint8), []
    return torch.from_numpy(np.stack([chw for chw, _ in done])), [notes for _, notes in done]


def run_logits(model: torch.nn.Module, images: torch.Tensor, meta: dict, precision: str | None = None,
               tta: bool | None = None, batch_size: int = 1024) -> torch.Tensor:
    """Scores (N, K) of prepared images, with the run's test-time augmentation and precision.

    With flip TTA the scores are the mean log-probabilities of the image and its mirror (exactly as the
    run's test accuracy was measured); without, the logits. Either way ``softmax(1)`` gives probabilities.

    Args:
        model: the run's model (from :func:`cnnlab.training.rundir.load_model`).
        images: uint8 (N, C, H, W) from :func:`prepare_images`.
        meta: the run's ``model.json``.
        precision: ``auto``, ``fp32`` or ``bf16``; default: the run's own setting.
        tta: override the run's test-time augmentation (None: as the run was tested).
        batch_size: images per forward pass.

    Returns:
        float32 tensor (N, K) on the CPU.

    >>> from cnnlab.models import create_model
    >>> model = create_model("mlp", num_classes=3, in_channels=1, image_size=8).eval()
    >>> meta = {"training": {"tta": True, "precision": "fp32"}}
    >>> scores = run_logits(model, torch.zeros(2, 1, 8, 8, dtype=torch.uint8), meta)  # (N, K)
    >>> scores.shape, scores.softmax(1).sum(1).allclose(torch.ones(2))
    (torch.Size([2, 3]), True)
    """
    device = next(model.parameters()).device  # computed where the model is
    amp = autocast_dtype(device, precision or run_precision(meta))
    use_tta = run_tta(meta) if tta is None else bool(tta)
    return predict_logits(model, images, batch_size, device, tta=use_tta, amp_dtype=amp)


__all__ = ["RunInput", "match_channels", "prepare_image", "prepare_images", "run_logits", "run_tta", "run_precision"]
