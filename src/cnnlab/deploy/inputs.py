"""What a run's model takes, and one image made to fit it: the half of the input pipeline that needs no PyTorch.

    file or array --prepare_image--> uint8 (C, H, W) at the run's size and channels (+ notes on what changed)

Photos are decoded and resized exactly as the folder loader did when the run was trained (JPEG draft,
centre crop, bilinear resize, then gray/RGB). :mod:`cnnlab.deploy.pipeline` (PyTorch) and
:mod:`cnnlab.deploy.onnx_predict` (onnxruntime, no PyTorch) both use it, so both paths see the same pixels.

>>> import numpy as np
>>> meta = {"input": {"channels": 1, "size": [28, 28]}, "data": "fashion-mnist"}
>>> chw, notes = prepare_image(np.zeros((56, 40, 3), np.uint8), meta)
>>> chw.shape, notes[:2]
((1, 28, 28), ['converted from RGB to gray', 'cropped the centre 40x40 of 40x56'])
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cnnlab.data.images import convert_mode, load_image, resize, to_chw
from cnnlab.errors import ConfigError, ImageError

COLOURFUL = 12.0  # mean (max - min) over R, G, B in pixel units above which an image counts as a colour photo
SHRINK_WARNING = 2.0  # shrinking more than this into a model trained on unresized images: never seen such images
ENLARGE_WARNING = 4.0  # enlarging more than this: a blurry image the model has never seen


@dataclass(frozen=True)
class RunInput:
    """What a run's model takes, read from ``model.json``.

    Args:
        channels: 1 (gray) or 3 (RGB).
        size: (H, W) of the images the model was trained on.
        fit: how other sizes were made to fit when training ("crop", "pad" or "stretch").
        resample: the resize filter ("bilinear", "bicubic" or "nearest").
        data: the data spec the run was trained on (``fashion-mnist``, ``folder:PATH``...).
    """

    channels: int
    size: tuple[int, int]
    fit: str = "crop"
    resample: str = "bilinear"
    data: str = ""

    @classmethod
    def from_meta(cls, meta: dict) -> RunInput:
        """The input description of a run's ``model.json``.

        >>> RunInput.from_meta({"input": {"channels": 1, "size": [8, 8]}, "data": "digits"}).size
        (8, 8)
        """
        inp = meta["input"]
        return cls(int(inp["channels"]), (int(inp["size"][0]), int(inp["size"][1])), inp.get("fit", "crop"),
                   inp.get("resample", "bilinear"), str(meta.get("data", "")))

    @property
    def photos_were_resized(self) -> bool:
        """True when the training images were photos of any size resized to ``size`` (a folder of photos)."""
        return self.data.startswith("folder:") or self.data == "imagenet"

    def describe(self) -> str:
        kind = "gray" if self.channels == 1 else "colour"
        source = f" from {self.data}" if self.data and not self.photos_were_resized else ""
        return f"{kind} {self.size[1]}x{self.size[0]} images{source}"


def run_tta(meta: dict) -> bool:
    """Whether the run scores with flip test-time augmentation (its test accuracy was measured that way).

    >>> run_tta({"training": {"tta": True}}), run_tta({})
    (True, False)
    """
    return bool(meta.get("training", {}).get("tta", False))


def run_precision(meta: dict) -> str:
    """The precision setting the run was trained with (``auto``, ``fp32`` or ``bf16``).

    >>> run_precision({"training": {"precision": "fp32"}}), run_precision({})
    ('fp32', 'auto')
    """
    return meta.get("training", {}).get("precision", "auto")


def _as_hwc(arr: np.ndarray) -> np.ndarray:
    """One image as (H, W) gray or (H, W, 3) RGB; (C, H, W) and (H, W, 1) are accepted too."""
    if arr.ndim == 3 and arr.shape[-1] not in (1, 3) and arr.shape[0] in (1, 3):
        arr = arr.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] != 3):
        raise ConfigError("images", f"an array of shape {tuple(arr.shape)}",
                          "images of shape (H, W), (H, W, 3), (C, H, W) or a batch (N, C, H, W) with 1 or 3 channels")
    return np.ascontiguousarray(arr)


def check_uint8(arr) -> None:
    """Refuse an array or tensor that is not uint8 pixels (a float image in 0..1 would be read as black).

    >>> check_uint8(np.zeros(3, np.float32))
    Traceback (most recent call last):
      ...
    cnnlab.errors.ConfigError: images='an array of float32': expected uint8 pixel values 0..255; convert float \
images in 0..1 with (x * 255).round() and a uint8 type
    """
    if str(arr.dtype) not in ("uint8", "torch.uint8"):  # a numpy array or a tensor
        raise ConfigError("images", f"an array of {arr.dtype}", "uint8 pixel values 0..255",
                          hint="convert float images in 0..1 with (x * 255).round() and a uint8 type")


def prepare_image(image, meta: dict | RunInput) -> tuple[np.ndarray, list[str]]:
    """One image file or array -> uint8 (C, H, W) as the run's model takes it, and notes on what was changed.

    The steps are those of the folder loader that made the training images: decode (JPEG at reduced
    scale), centre-crop and resize to the run's size, convert to gray or RGB. A warning note is added
    when the image is unlike anything the model was trained on (a colour photo into a gray model, or
    a very different size).

    Args:
        image: a path to an image file, or a uint8 array (H, W), (H, W, 3) or (C, H, W).
        meta: the run's ``model.json`` (a dict) or its :class:`RunInput`.

    Returns:
        ``(chw, notes)``: the uint8 (C, H, W) array and a list of plain-text notes (empty when nothing changed).

    Raises:
        ImageError: the file cannot be read as an image.
        ConfigError: the array is not uint8 or has an unusable shape.

    >>> import numpy as np
    >>> meta = {"input": {"channels": 3, "size": [32, 32]}, "data": "folder:photos"}
    >>> chw, notes = prepare_image(np.full((64, 64), 200, np.uint8), meta)
    >>> chw.shape, notes
    ((3, 32, 32), ['resized from 64x64 to 32x32', 'copied the gray image into 3 colour channels'])
    """
    spec = meta if isinstance(meta, RunInput) else RunInput.from_meta(meta)
    if isinstance(image, (str, os.PathLike)):
        arr = load_image(Path(image), draft=max(spec.size))  # draft: JPEGs decode at reduced scale, as in training
        h, w = _file_size(Path(image), arr)
    else:
        arr = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)  # a tensor or array
        check_uint8(arr)
        arr = _as_hwc(arr)
        h, w = arr.shape[:2]
    th, tw = spec.size
    notes: list[str] = []
    colourful = arr.ndim == 3 and float(np.mean(arr.max(2).astype(np.int16) - arr.min(2))) > COLOURFUL
    if (h, w) != (th, tw) or arr.shape[:2] != (th, tw):
        cw, ch = w, h
        if spec.fit == "crop" and h * tw != w * th:
            scale = min(w / tw, h / th)  # the largest centre box with the model's aspect ratio
            cw, ch = round(tw * scale), round(th * scale)
            notes.append(f"cropped the centre {cw}x{ch} of {w}x{h}")
        notes.append(f"resized from {cw}x{ch} to {tw}x{th}")
        if spec.fit == "pad" and h * tw != w * th:
            notes.append("padded with black to keep its shape")
        arr = resize(arr, (th, tw), fit=spec.fit, resample=spec.resample)
    if spec.channels == 1 and arr.ndim == 3:
        notes.insert(0, "converted from RGB to gray")
    elif spec.channels == 3 and arr.ndim == 2:
        notes.append("copied the gray image into 3 colour channels")
    arr = convert_mode(arr, "gray" if spec.channels == 1 else "rgb")
    warning = _unfamiliar(spec, (h, w), colourful)
    if warning:
        notes.append(warning)
    return to_chw(arr), notes


def _file_size(path: Path, decoded: np.ndarray) -> tuple[int, int]:
    """(H, W) of the photo as stored, upright: a JPEG may have been decoded at reduced scale (draft)."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            if img.getexif().get(0x0112) in (5, 6, 7, 8):  # EXIF orientation: turned by 90 degrees
                w, h = h, w
        return h, w
    except (OSError, ValueError):
        return decoded.shape[:2]


def _unfamiliar(spec: RunInput, hw: tuple[int, int], colourful: bool) -> str:
    """A plain warning when the model has never seen images like this one, else ''."""
    reasons = []
    if colourful and spec.channels == 1:
        reasons.append("it is a colour image")
    shrink = min(hw[0] / spec.size[0], hw[1] / spec.size[1])
    enlarge = max(spec.size[0] / hw[0], spec.size[1] / hw[1])
    if shrink > SHRINK_WARNING and not spec.photos_were_resized:
        reasons.append(f"it was {hw[1]}x{hw[0]} and had to be shrunk {shrink:.0f} times")
    elif enlarge > ENLARGE_WARNING:
        reasons.append(f"it was {hw[1]}x{hw[0]} and had to be enlarged {enlarge:.0f} times")
    if not reasons:
        return ""
    return (f"warning: the model was trained on {spec.describe()} and has never seen images like this one "
            f"({' and '.join(reasons)}); the answer may mean little")


def prepared_batches(items, spec: RunInput, batch_size: int, skipped: list[tuple[str, str]]):
    """``(name, image)`` items -> batches ``(names, uint8 (N, C, H, W), notes)`` ready for the run's model.

    The one decode-and-fit loop of both predictors (PyTorch and onnxruntime). Unreadable files are appended
    to ``skipped`` as ``(name, reason)``; a batch where nothing could be read is not yielded.

    >>> spec = RunInput(1, (8, 8))
    >>> skipped = []
    >>> [(names, x.shape) for names, x, _ in prepared_batches([("a", np.zeros((8, 8), np.uint8))], spec, 4, skipped)]
    [(['a'], (1, 1, 8, 8))]
    """
    for start in range(0, len(items), batch_size):
        names, arrays, notes = [], [], []
        for name, item in items[start:start + batch_size]:
            try:
                chw, why = prepare_image(item, spec)
            except ImageError as e:
                skipped.append((name, str(e)))
                continue
            names.append(name)
            arrays.append(chw)
            notes.append(why)
        if arrays:
            yield names, np.stack(arrays), notes


__all__ = ["RunInput", "check_uint8", "prepare_image", "prepared_batches", "run_precision", "run_tta"]
