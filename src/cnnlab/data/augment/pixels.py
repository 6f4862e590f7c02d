"""Steps that change pixel values, not positions: color (brightness, contrast, saturation, hue) and random erasing.

>>> import torch
>>> x = torch.full((4, 3, 16, 16), 128, dtype=torch.uint8)  # (N, C, H, W)
>>> ColorShift(0.3)(x, seed=0).shape
torch.Size([4, 3, 16, 16])
"""

from __future__ import annotations

import math

import torch

import cnnlab.data.augment.kernels as K
from cnnlab.data.augment.transforms import Transform, uniform


class ColorShift(Transform):
    """Random brightness, contrast, saturation, hue and per-channel shift; gray images get brightness/contrast/shift.

    Each factor is drawn per sample from [1 - s, 1 + s] (never below 0), the hue shift from
    [-hue, +hue] turns of the color wheel and the shift from [-shift, +shift] x 255 per channel;
    the adjustments are torchvision's (see :func:`cnnlab.data.augment.kernels.color_shift`).

    Args:
        brightness: strength of the brightness change (0.2: factors 0.8 .. 1.2).
        contrast: strength of the contrast change.
        saturation: strength of the saturation change (RGB only).
        hue: the largest hue shift, in turns (0.05 = 18 degrees; RGB only).
        shift: the largest per-channel shift, as a share of 255.

    Example:

    >>> x = torch.full((1, 1, 2, 2), 100, dtype=torch.uint8)
    >>> one, zero = torch.ones(1), torch.zeros(1)
    >>> params = {"brightness": one * 1.2, "contrast": one, "saturation": one, "hue": zero, "shift": torch.zeros(1, 1)}
    >>> ColorShift().apply(x, params)[0, 0].tolist()
    [[120, 120], [120, 120]]
    """

    name = "color"
    per_sample = True

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2, saturation: float = 0.2,
                 hue: float = 0.05, shift: float = 0.05):
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation
        self.hue, self.shift = hue, shift  # hue in turns of the color wheel, shift as a fraction of 255

    def make_params(self, shape, g):
        n, c = shape[:2]
        b = uniform(g, n, max(0.0, 1 - self.brightness), 1 + self.brightness)
        ct = uniform(g, n, max(0.0, 1 - self.contrast), 1 + self.contrast)
        s = uniform(g, n, max(0.0, 1 - self.saturation), 1 + self.saturation)
        hue = uniform(g, n, -self.hue, self.hue)
        shift = (torch.rand(n, c, generator=g) * 2 - 1) * self.shift * 255  # (N, C)
        return {"brightness": b, "contrast": ct, "saturation": s, "hue": hue, "shift": shift}

    def apply(self, x, params):
        return K.color_shift(x, params["brightness"], params["contrast"], params["saturation"], params["hue"],
                             params["shift"])

    def identity(self, params, keep):
        k1 = keep.view(-1)
        return {"brightness": torch.where(k1, params["brightness"], 1.0),
                "contrast": torch.where(k1, params["contrast"], 1.0),
                "saturation": torch.where(k1, params["saturation"], 1.0),
                "hue": torch.where(k1, params["hue"], 0.0),
                "shift": torch.where(keep.view(-1, 1), params["shift"], 0.0)}


class Erase(Transform):
    """Random erasing (cutout): paint a random box (``scale`` of the area, aspect ``ratio``) over each sample.

    The box is filled with uniform noise over the pixel range (``value=None``, as in Zhong et al.,
    "Random Erasing Data Augmentation") or with a constant ``value`` in pixel units (0 = black).
    The network must then recognize the object from the parts it can still see.

    Args:
        scale: (smallest, largest) share of the image area the box covers.
        ratio: (smallest, largest) width / height of the box.
        value: the box's value (None: noise).

    Example:

    >>> x = torch.zeros(1, 1, 4, 4, dtype=torch.uint8)
    >>> Erase(value=9).apply(x, {"boxes": torch.tensor([[1, 1, 3, 2]])})[0, 0].tolist()  # x0, y0, x1, y1
    [[0, 0, 0, 0], [0, 9, 9, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    """

    name = "erase"
    per_sample = True

    def __init__(self, scale: tuple[float, float] = (0.02, 0.25), ratio: tuple[float, float] = (0.3, 3.3),
                 value: float | None = None):
        self.scale, self.ratio, self.value = tuple(scale), tuple(ratio), value

    def make_params(self, shape, g):
        n, c, h, w = shape
        area = uniform(g, n, *self.scale) * h * w
        logr = uniform(g, n, math.log(self.ratio[0]), math.log(self.ratio[1]))
        bw = (area * logr.exp()).sqrt().round().clamp(1, w)
        bh = (area / logr.exp()).sqrt().round().clamp(1, h)
        x0 = (torch.rand(n, generator=g) * (w - bw + 1)).floor()
        y0 = (torch.rand(n, generator=g) * (h - bh + 1)).floor()
        boxes = torch.stack([x0, y0, x0 + bw, y0 + bh], -1).long()  # (N, 4): x0, y0, x1, y1, end exclusive
        noise = torch.rand(n, c, h, w, generator=g) if self.value is None else None
        return {"boxes": boxes} if noise is None else {"boxes": boxes, "noise": noise}

    def apply(self, x, params):
        b = params["boxes"].to(x.device)
        h, w = x.shape[-2:]
        xs = torch.arange(w, device=x.device).view(1, 1, 1, w)
        ys = torch.arange(h, device=x.device).view(1, 1, h, 1)
        inside = ((xs >= b[:, 0].view(-1, 1, 1, 1)) & (xs < b[:, 2].view(-1, 1, 1, 1))
                  & (ys >= b[:, 1].view(-1, 1, 1, 1)) & (ys < b[:, 3].view(-1, 1, 1, 1)))
        if "noise" in params:
            fill = params["noise"].to(x.device) * 255
            fill = fill.floor().clamp_(0, 255).to(torch.uint8) if x.dtype == torch.uint8 else fill.to(x.dtype)
        else:
            fill = torch.tensor(self.value, dtype=torch.float32).clamp(0, 255).round().to(x.dtype)
        return torch.where(inside, fill, x)

    def identity(self, params, keep):
        return dict(params, boxes=torch.where(keep.view(-1, 1), params["boxes"], 0))  # an empty box
