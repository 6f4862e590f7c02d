"""The lecture's five augmentation techniques (and random erasing) as batched, seeded transforms.

Each transform first draws per-sample random parameters (``make_params``), then applies them
to the whole batch (``apply``): Keras' RandomFlip idea, torchvision v2's make_params/transform
split. A :class:`Pipeline` gives each step a probability and fuses neighbouring geometric steps
into one resampling.

>>> import torch
>>> from cnnlab.data.augment import Pipeline, Flip, Rotate
>>> aug = Pipeline([Flip(), Rotate(15)])
>>> x = torch.zeros(8, 1, 28, 28, dtype=torch.uint8)
>>> aug(x, seed=0).shape
torch.Size([8, 1, 28, 28])
"""

from __future__ import annotations

import math

import torch

from cnnlab.data.augment import kernels as K
from cnnlab.errors import ConfigError


def _uniform(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return torch.rand(n, generator=g) * (hi - lo) + lo


def _randint(g: torch.Generator, n: int, lo: int, hi: int) -> torch.Tensor:
    """Integers in [lo, hi], inclusive."""
    return torch.randint(lo, hi + 1, (n,), generator=g)


class Transform:
    """Base: ``make_params(shape, g)`` draws parameters, ``apply(x, params)`` transforms the batch."""

    name = "transform"
    geometric = False
    p = 1.0

    def make_params(self, shape: tuple[int, ...], g: torch.Generator) -> dict:
        raise NotImplementedError

    def apply(self, x: torch.Tensor, params: dict) -> torch.Tensor:
        raise NotImplementedError

    def identity(self, params: dict, keep: torch.Tensor) -> dict:
        """Parameters equal to ``params`` where ``keep`` (N,) is True and to the identity elsewhere."""
        raise NotImplementedError

    def __call__(self, x: torch.Tensor, seed: int | None = None) -> torch.Tensor:
        return Pipeline([self], p=[self.p])(x, seed=seed)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "p")
        return f"{type(self).__name__}({args})"


class GeometricTransform(Transform):
    """A transform described by one 3x3 matrix per sample (normalized coordinates)."""

    geometric = True
    fill: float = 0.0
    mode: str = "constant"

    def matrices(self, shape, params: dict) -> torch.Tensor:
        raise NotImplementedError

    def apply(self, x, params):
        return K.warp(x, self.matrices(x.shape, params), self.fill, self.mode)

    def identity(self, params, keep):
        return {"matrix": torch.where(keep.view(-1, 1, 1), params["matrix"], torch.eye(3))}

    def make_params(self, shape, g):
        return {"matrix": self.matrices(shape, self.draw(shape, g))}

    def draw(self, shape, g) -> dict:
        raise NotImplementedError


class Flip(GeometricTransform):
    """Mirroring: left-right (and top-bottom if ``vertical``), each with probability 1/2 per sample."""

    name = "flip"

    def __init__(self, horizontal: bool = True, vertical: bool = False):
        self.horizontal, self.vertical = horizontal, vertical

    def draw(self, shape, g):
        n = shape[0]
        h = (torch.rand(n, generator=g) < 0.5) & self.horizontal
        v = (torch.rand(n, generator=g) < 0.5) & self.vertical
        return {"horizontal": h, "vertical": v}

    def matrices(self, shape, params):
        return params["matrix"] if "matrix" in params else K.flip_matrices(params["horizontal"], params["vertical"])


class Rotate(GeometricTransform):
    """Rotation by a random angle in [-degrees, +degrees]; corners filled by ``fill``/``mode``."""

    name = "rotate"

    def __init__(self, degrees: float = 15.0, fill: float = 0.0, mode: str = "constant"):
        self.degrees, self.fill, self.mode = float(degrees), float(fill), mode

    def draw(self, shape, g):
        return {"angle": _uniform(g, shape[0], -self.degrees, self.degrees)}

    def matrices(self, shape, params):
        return params["matrix"] if "matrix" in params else K.rotation_matrices(params["angle"], *shape[2:])


class Translate(GeometricTransform):
    """Shift by whole pixels, up to ``fraction`` of the width/height in each direction."""

    name = "translate"

    def __init__(self, fraction: float = 0.1, fill: float = 0.0, mode: str = "constant"):
        self.fraction, self.fill, self.mode = float(fraction), float(fill), mode

    def draw(self, shape, g):
        h, w = shape[2:]
        mx, my = round(self.fraction * w), round(self.fraction * h)
        return {"dx": _randint(g, shape[0], -mx, mx), "dy": _randint(g, shape[0], -my, my)}

    def matrices(self, shape, params):
        if "matrix" in params:
            return params["matrix"]
        return K.translation_matrices(params["dx"], params["dy"], *shape[2:])


class PadCrop(Translate):
    """Random crop, the classic way: pad by ``padding`` pixels, cut a window of the original size."""

    name = "crop"

    def __init__(self, padding: int = 4, fill: float = 0.0, mode: str = "constant"):
        self.padding, self.fill, self.mode = int(padding), float(fill), mode

    def draw(self, shape, g):
        p = self.padding
        return {"dx": _randint(g, shape[0], -p, p), "dy": _randint(g, shape[0], -p, p)}


class RandomResizedCrop(GeometricTransform):
    """Cut a random box (``scale`` of the area, aspect ``ratio``) and stretch it to the full size."""

    name = "rrc"

    def __init__(self, scale: tuple[float, float] = (0.35, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3)):
        self.scale, self.ratio = tuple(scale), tuple(ratio)

    def draw(self, shape, g):
        n, (h, w) = shape[0], shape[2:]
        area = _uniform(g, n, *self.scale) * h * w
        logr = _uniform(g, n, math.log(self.ratio[0]), math.log(self.ratio[1]))
        bw = (area * logr.exp()).sqrt().clamp(1, w)
        bh = (area / logr.exp()).sqrt().clamp(1, h)
        x0 = torch.rand(n, generator=g) * (w - bw)
        y0 = torch.rand(n, generator=g) * (h - bh)
        return {"boxes": torch.stack([x0, y0, x0 + bw, y0 + bh], -1)}

    def matrices(self, shape, params):
        return params["matrix"] if "matrix" in params else K.crop_matrices(params["boxes"], *shape[2:])


class ColorShift(Transform):
    """Brightness, contrast, saturation, hue, and a per-channel shift (RGB); gray gets brightness/contrast/shift."""

    name = "color"

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2, saturation: float = 0.2,
                 hue: float = 0.05, shift: float = 0.05):
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation
        self.hue, self.shift = hue, shift  # hue in turns of the color wheel, shift as a fraction of 255

    def make_params(self, shape, g):
        n, c = shape[:2]
        b = _uniform(g, n, 1 - self.brightness, 1 + self.brightness)
        ct = _uniform(g, n, 1 - self.contrast, 1 + self.contrast)
        s = _uniform(g, n, 1 - self.saturation, 1 + self.saturation)
        hue = _uniform(g, n, -self.hue, self.hue)
        shift = (torch.rand(n, c, generator=g) * 2 - 1) * self.shift * 255
        return {"matrix": K.color_matrices(b, ct, s, hue, c), "brightness": b, "contrast": ct, "shift": shift}

    def apply(self, x, params):
        return K.color_shift(x, params["matrix"], params["contrast"], params["brightness"], params["shift"])

    def identity(self, params, keep):
        c = params["shift"].shape[1]
        eye = torch.eye(c) if c == 3 else torch.ones(1, 1)
        k1 = keep.view(-1)
        return {"matrix": torch.where(keep.view(-1, 1, 1), params["matrix"], eye),
                "brightness": torch.where(k1, params["brightness"], 1.0),
                "contrast": torch.where(k1, params["contrast"], 1.0),
                "shift": torch.where(keep.view(-1, 1), params["shift"], 0.0)}


class Erase(Transform):
    """Random erasing (cutout): paint a random box (``scale`` of the area, aspect ``ratio``) over each sample.

    The box is filled with uniform noise over the pixel range (``value=None``, as in Zhong et al.,
    "Random Erasing Data Augmentation") or with a constant ``value`` in pixel units (0 = black).
    The network must then recognize the object from the parts it can still see.
    """

    name = "erase"

    def __init__(self, scale: tuple[float, float] = (0.02, 0.25), ratio: tuple[float, float] = (0.3, 3.3),
                 value: float | None = None):
        self.scale, self.ratio, self.value = tuple(scale), tuple(ratio), value

    def make_params(self, shape, g):
        n, c, h, w = shape
        area = _uniform(g, n, *self.scale) * h * w
        logr = _uniform(g, n, math.log(self.ratio[0]), math.log(self.ratio[1]))
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


class Pipeline:
    """Steps applied in order, each to a random ``p`` share of the samples.

    Parameters for all steps are drawn from one generator seeded by ``seed``: the same seed
    gives the same batch. Neighbouring geometric steps are fused into one matrix per sample,
    so the batch is resampled once (and exactly, by index gather, when only flips and whole-pixel
    shifts are involved).
    """

    def __init__(self, steps: list[Transform], p: list[float] | float = 1.0, spec: str = ""):
        self.steps = list(steps)
        self.p = [float(p)] * len(self.steps) if isinstance(p, (int, float)) else [float(v) for v in p]
        if len(self.p) != len(self.steps):
            raise ConfigError("p", p, "one probability per step")
        self.spec = spec

    def make_params(self, shape, g: torch.Generator) -> list[dict]:
        out = []
        for step, p in zip(self.steps, self.p, strict=True):
            keep = torch.rand(shape[0], generator=g) < p
            out.append(step.identity(step.make_params(shape, g), keep))
        return out

    def apply(self, x: torch.Tensor, params: list[dict]) -> torch.Tensor:  # x: (N, C, H, W)
        matrix = None
        for step, prm in zip(self.steps, params, strict=True):
            if step.geometric:
                m = prm["matrix"]
                # output samples M_prev @ M_this: the earlier step's warp is applied first to the image
                matrix = m if matrix is None else matrix @ m
                fill, mode = step.fill, step.mode
                continue
            if matrix is not None:
                x, matrix = K.warp(x, matrix, fill, mode), None
            x = step.apply(x, prm)
        if matrix is not None:
            x = K.warp(x, matrix, fill, mode)
        return x

    def __call__(self, x: torch.Tensor, seed: int | None = None, generator: torch.Generator | None = None):
        if generator is None:
            generator = torch.Generator().manual_seed(int(torch.randint(2**62, ()).item()) if seed is None else seed)
        return self.apply(x, self.make_params(tuple(x.shape), generator))

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        steps = ", ".join(f"{s!r}@{p:g}" for s, p in zip(self.steps, self.p, strict=True))
        return f"Pipeline([{steps}])"

    def summary(self, image: torch.Tensor, seed: int = 0) -> str:
        """Run one sample (C, H, W) through each step and print what each step did to it."""
        from cnnlab.data.augment.view import describe_steps

        return describe_steps(self, image, seed)
