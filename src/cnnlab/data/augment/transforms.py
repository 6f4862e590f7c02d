"""The lecture's augmentation techniques as batched, seeded transforms: the base class and the geometric ones.

Each transform first draws per-sample random parameters (``make_params``), then applies them
to the whole batch (``apply``): Keras' RandomFlip idea, torchvision v2's make_params/transform
split. Geometric steps are one 3x3 matrix per sample, so a :class:`~cnnlab.data.augment.Pipeline`
fuses neighbouring ones into a single resampling. Color and erasing live in ``pixels.py``.

>>> import torch
>>> x = torch.zeros(8, 1, 28, 28, dtype=torch.uint8)  # (N, C, H, W)
>>> Rotate(15)(x, seed=0).shape
torch.Size([8, 1, 28, 28])
"""

from __future__ import annotations

import math

import torch

import cnnlab.data.augment.kernels as K


def uniform(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    """``n`` floats drawn uniformly from [lo, hi).

    Example:

    >>> uniform(torch.Generator().manual_seed(0), 3, 2.0, 2.0).tolist()
    [2.0, 2.0, 2.0]
    """
    return torch.rand(n, generator=g) * (hi - lo) + lo


def randint(g: torch.Generator, n: int, lo: int, hi: int) -> torch.Tensor:
    """``n`` integers drawn from [lo, hi], both ends included.

    Example:

    >>> randint(torch.Generator().manual_seed(0), 4, 3, 3).tolist()
    [3, 3, 3, 3]
    """
    return torch.randint(lo, hi + 1, (n,), generator=g)


def make_generator(seed: int | None = None) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (None: a fresh random seed).

    Example:

    >>> torch.rand(1, generator=make_generator(3)).item() == torch.rand(1, generator=make_generator(3)).item()
    True
    """
    return torch.Generator().manual_seed(int(torch.randint(2**62, ()).item()) if seed is None else seed)


def sample_params(step: Transform, shape: tuple[int, ...], g: torch.Generator, p: float) -> dict:
    """Draw ``step``'s parameters for a batch and set them to "do nothing" on a random ``1 - p`` share of it.

    Args:
        step: the transform.
        shape: the batch shape (N, C, H, W).
        g: the random generator.
        p: the probability that a sample is transformed.

    Returns:
        The parameter dict for ``step.apply``.

    Example:

    >>> prm = sample_params(Rotate(30), (4, 1, 8, 8), torch.Generator().manual_seed(0), p=0.0)
    >>> torch.equal(prm["matrix"], torch.eye(3).expand(4, 3, 3))
    True
    """
    keep = torch.rand(shape[0], generator=g) < p
    return step.identity(step.make_params(shape, g), keep)


class Transform:
    """Base class of an augmentation step: ``make_params`` draws per-sample parameters, ``apply`` uses them.

    Subclasses set ``name`` and implement ``make_params``, ``apply`` and ``identity``. Calling a
    transform applies it to every sample (``p = 1``); use a Pipeline for probabilities.

    Example:

    >>> class Invert(Transform):
    ...     name = "invert"
    ...     def make_params(self, shape, g):
    ...         return {"on": torch.ones(shape[0], dtype=torch.bool)}
    ...     def apply(self, x, params):
    ...         return torch.where(params["on"].view(-1, 1, 1, 1), 255 - x, x)
    ...     def identity(self, params, keep):
    ...         return {"on": params["on"] & keep}
    >>> Invert()(torch.zeros(2, 1, 2, 2, dtype=torch.uint8)).max().item()
    255
    """

    name = "transform"
    geometric = False
    per_sample = False  # True: each sample's result depends only on that sample (a Pipeline may cut the batch)
    p = 1.0

    def make_params(self, shape: tuple[int, ...], g: torch.Generator) -> dict:
        """Draw the random parameters for a batch of ``shape`` (N, C, H, W): a dict of per-sample tensors."""
        raise NotImplementedError

    def apply(self, x: torch.Tensor, params: dict) -> torch.Tensor:
        """Transform the batch ``x`` (N, C, H, W) with the parameters from :meth:`make_params`."""
        raise NotImplementedError

    def identity(self, params: dict, keep: torch.Tensor) -> dict:
        """Parameters equal to ``params`` where ``keep`` (N,) is True and to "do nothing" elsewhere."""
        raise NotImplementedError

    def __call__(self, x: torch.Tensor, seed: int | None = None, generator: torch.Generator | None = None):
        """Apply to the batch ``x`` (N, C, H, W) with fresh parameters; the same ``seed`` gives the same result."""
        g = generator if generator is not None else make_generator(seed)
        return self.apply(x, sample_params(self, tuple(x.shape), g, self.p))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "p")
        return f"{type(self).__name__}({args})"


class GeometricTransform(Transform):
    """A transform described by one 3x3 matrix per sample (normalized coordinates, see kernels.py).

    Subclasses implement ``draw`` (readable parameters such as ``angle``) and ``matrices``;
    ``apply`` accepts either the readable parameters or ``{"matrix": (N, 3, 3)}``.

    Example:

    >>> params = Rotate(30).make_params((2, 1, 8, 8), torch.Generator().manual_seed(0))
    >>> sorted(params), tuple(params["matrix"].shape)
    (['angle', 'matrix'], (2, 3, 3))
    """

    geometric = True
    per_sample = True  # one matrix per sample: a Pipeline fuses them and never calls ``apply`` of a subclass
    fill: float = 0.0
    mode: str = "constant"

    def draw(self, shape, g) -> dict:
        """Draw the readable per-sample parameters (e.g. ``{"angle": (N,)}``)."""
        raise NotImplementedError

    def matrices(self, shape, params: dict) -> torch.Tensor:
        """(N, 3, 3) matrices from the parameters (``params["matrix"]`` itself if present)."""
        raise NotImplementedError

    def make_params(self, shape, g):
        drawn = self.draw(shape, g)
        return {**drawn, "matrix": self.matrices(shape, drawn)}

    def apply(self, x, params):
        return K.warp(x, self.matrices(x.shape, params), self.fill, self.mode)

    def identity(self, params, keep):
        return {"matrix": torch.where(keep.view(-1, 1, 1), params["matrix"], torch.eye(3))}


class Flip(GeometricTransform):
    """Mirroring: left-right (and top-bottom if ``vertical``), each with probability 1/2 per sample.

    Args:
        horizontal: mirror left-right, half of the samples.
        vertical: mirror top-bottom, half of the samples (independently).

    Example:

    >>> x = torch.arange(4, dtype=torch.uint8).view(1, 1, 2, 2)
    >>> Flip().apply(x, {"horizontal": torch.tensor([True]), "vertical": torch.tensor([False])})[0, 0].tolist()
    [[1, 0], [3, 2]]
    """

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
    """Rotation by a random angle in [-degrees, +degrees], counter-clockwise for positive angles.

    Args:
        degrees: the largest angle.
        fill: the value of the corners that come from outside the image (pixel units).
        mode: "constant" (``fill``), "edge" or "reflect".

    Example:

    >>> x = torch.zeros(1, 1, 9, 9)
    >>> x[0, 0, 4, 8] = 1.0  # right of the centre
    >>> Rotate().apply(x, {"angle": torch.tensor([90.0])})[0, 0].argmax().item()  # now above it: row 0, column 4
    4
    """

    name = "rotate"

    def __init__(self, degrees: float = 15.0, fill: float = 0.0, mode: str = "constant"):
        self.degrees, self.fill, self.mode = float(degrees), float(fill), mode

    def draw(self, shape, g):
        return {"angle": uniform(g, shape[0], -self.degrees, self.degrees)}

    def matrices(self, shape, params):
        return params["matrix"] if "matrix" in params else K.rotation_matrices(params["angle"], *shape[2:])


class Translate(GeometricTransform):
    """Shift by whole pixels, up to ``fraction`` of the width/height in each direction.

    Args:
        fraction: the largest shift as a share of the size (0.1 = 10%).
        fill: the value of the pixels shifted in (pixel units).
        mode: "constant" (``fill``), "edge" or "reflect".

    Example:

    >>> x = torch.tensor([[[[1, 2, 3]]]], dtype=torch.uint8)
    >>> Translate().apply(x, {"dx": torch.tensor([1]), "dy": torch.tensor([0])})[0, 0].tolist()
    [[0, 1, 2]]
    """

    name = "translate"

    def __init__(self, fraction: float = 0.1, fill: float = 0.0, mode: str = "constant"):
        self.fraction, self.fill, self.mode = float(fraction), float(fill), mode

    def draw(self, shape, g):
        h, w = shape[2:]
        mx, my = round(self.fraction * w), round(self.fraction * h)
        return {"dx": randint(g, shape[0], -mx, mx), "dy": randint(g, shape[0], -my, my)}

    def matrices(self, shape, params):
        if "matrix" in params:
            return params["matrix"]
        return K.translation_matrices(params["dx"], params["dy"], *shape[2:])


class PadCrop(Translate):
    """Random crop, the classic way: pad by ``padding`` pixels, cut a window of the original size.

    The same as a shift by up to ``padding`` pixels, and computed as one (exact, whole-pixel).

    Args:
        padding: pixels of padding on each side.
        fill: the value of the padding (pixel units).
        mode: "constant" (``fill``), "edge" or "reflect".

    Example:

    >>> PadCrop(4)(torch.zeros(2, 3, 32, 32, dtype=torch.uint8), seed=0).shape
    torch.Size([2, 3, 32, 32])
    """

    name = "crop"

    def __init__(self, padding: int = 4, fill: float = 0.0, mode: str = "constant"):
        self.padding, self.fill, self.mode = int(padding), float(fill), mode

    def draw(self, shape, g):
        p = self.padding
        return {"dx": randint(g, shape[0], -p, p), "dy": randint(g, shape[0], -p, p)}


class RandomResizedCrop(GeometricTransform):
    """Cut a random box (``scale`` of the area, aspect ``ratio``) and stretch it to the full size.

    Args:
        scale: (smallest, largest) share of the image area the box covers.
        ratio: (smallest, largest) width / height of the box.

    Example:

    >>> RandomResizedCrop((0.5, 1.0))(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), seed=0).shape
    torch.Size([2, 1, 28, 28])
    """

    name = "rrc"

    def __init__(self, scale: tuple[float, float] = (0.35, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3)):
        self.scale, self.ratio = tuple(scale), tuple(ratio)

    def draw(self, shape, g):
        n, (h, w) = shape[0], shape[2:]
        area = uniform(g, n, *self.scale) * h * w
        logr = uniform(g, n, math.log(self.ratio[0]), math.log(self.ratio[1]))
        bw = (area * logr.exp()).sqrt().clamp(1, w)
        bh = (area / logr.exp()).sqrt().clamp(1, h)
        x0 = torch.rand(n, generator=g) * (w - bw)
        y0 = torch.rand(n, generator=g) * (h - bh)
        return {"boxes": torch.stack([x0, y0, x0 + bw, y0 + bh], -1)}

    def matrices(self, shape, params):
        return params["matrix"] if "matrix" in params else K.crop_matrices(params["boxes"], *shape[2:])
