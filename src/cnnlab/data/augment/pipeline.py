"""A Pipeline: augmentation steps in order, each on a random share of the samples, fused where possible.

>>> import torch
>>> from cnnlab.data.augment import Flip, Rotate
>>> aug = Pipeline([Flip(), Rotate(15)], p=[1.0, 0.5])
>>> aug(torch.zeros(8, 1, 28, 28, dtype=torch.uint8), seed=0).shape
torch.Size([8, 1, 28, 28])
>>> aug.spec  # the equivalent --augment spec
'flip,rotate=15@0.5'
"""

from __future__ import annotations

import torch

import cnnlab.data.augment.kernels as K
from cnnlab.data.augment.registry import pipeline_spec
from cnnlab.data.augment.transforms import Transform, make_generator, sample_params
from cnnlab.errors import ConfigError

CHUNK_VALUES = 1 << 19  # pixel values per chunk on the CPU: 2 MB as float32, in cache (bench/augment_speed.py)


class Pipeline:
    """Steps applied in order, each to a random ``p`` share of the samples.

    Parameters for all steps are drawn from one generator seeded by ``seed``: the same seed
    gives the same batch. Neighbouring geometric steps are fused into one matrix per sample,
    so the batch is resampled once (and exactly, by index gather, when only flips and whole-pixel
    shifts are involved).

    Args:
        steps: the transforms, applied first to last.
        p: one probability for every step, or one per step.

    Raises:
        ConfigError: a step that is not a Transform, or probabilities of the wrong number or outside 0..1.

    Example:

    >>> from cnnlab.data.augment import PadCrop
    >>> x = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4)
    >>> torch.equal(Pipeline([PadCrop(2)], p=0.0)(x, seed=1), x)  # p=0: nothing happens
    True
    """

    def __init__(self, steps: list[Transform], p: list[float] | float = 1.0):
        self.steps = list(steps)
        for s in self.steps:
            if not isinstance(s, Transform):
                raise ConfigError("steps", s, "augmentation steps (Transform objects such as Flip() or Rotate(15))")
        self.p = [float(p)] * len(self.steps) if isinstance(p, (int, float)) else [float(v) for v in p]
        if len(self.p) != len(self.steps):
            raise ConfigError("p", p, f"one probability per step ({len(self.steps)} steps)")
        if not all(0 <= v <= 1 for v in self.p):
            raise ConfigError("p", p, "probabilities between 0 and 1")

    @property
    def spec(self) -> str | None:
        """The equivalent ``--augment`` spec string, or None if a step cannot be written as one.

        ``parse_augment(pipeline.spec)`` builds the same pipeline again.

        Example:

        >>> from cnnlab.data.augment import parse_augment
        >>> parse_augment("rotate, flip@0.5").spec  # the default value is written out
        'rotate=15,flip@0.5'
        """
        return pipeline_spec(self.steps, self.p)

    def make_params(self, shape: tuple[int, ...], g: torch.Generator) -> list[dict]:
        """Draw every step's parameters for a batch of ``shape`` (N, C, H, W), "do nothing" where a sample skips it.

        Returns:
            One parameter dict per step, for :meth:`apply`.
        """
        return [sample_params(step, shape, g, p) for step, p in zip(self.steps, self.p, strict=True)]

    def apply(self, x: torch.Tensor, params: list[dict]) -> torch.Tensor:
        """Apply the steps with the given parameters to ``x`` (N, C, H, W).

        On the CPU, a batch of large images goes through the steps a few images at a time (about
        ``CHUNK_VALUES`` pixel values per chunk), so that every in-between result stays in the processor's
        cache: at 224x224 this is several times faster, and the result is the same, since every built-in
        step treats each sample on its own (steps that don't say so, ``per_sample = False``, get the whole batch).

        Returns:
            The augmented batch, same shape and dtype.
        """
        n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
        if n == 0:
            return x.clone()
        stages = self._stages(params, h, w)
        size = max(1, CHUNK_VALUES // max(1, x[0].numel()))
        if n <= size or x.device.type != "cpu" or not all(s.per_sample for s in self.steps):
            return _run(x, stages)
        out = torch.empty_like(x)
        for i in range(0, n, size):
            out[i:i + size] = _run(x[i:i + size], [(kind, how, _rows(prm, i, i + size, n))
                                                   for kind, how, prm in stages])
        return out

    def _stages(self, params: list[dict], h: int, w: int) -> list[tuple]:
        """The work for the whole batch: neighbouring geometric steps fused into one warp, decided once."""
        stages, matrix = [], None
        for step, prm in zip(self.steps, params, strict=True):
            if step.geometric:
                # output samples M_prev @ M_this: the earlier step's warp is applied first to the image
                matrix = prm["matrix"] if matrix is None else matrix @ prm["matrix"]
                fill, mode = step.fill, step.mode
                continue
            if matrix is not None:
                stages.append(_warp_stage(matrix, fill, mode, h, w))
                matrix = None
            stages.append(("step", step, prm))
        if matrix is not None:
            stages.append(_warp_stage(matrix, fill, mode, h, w))
        return stages

    def __call__(self, x: torch.Tensor, seed: int | None = None, generator: torch.Generator | None = None):
        """Augment the batch ``x`` (N, C, H, W); the same ``seed`` (or generator state) gives the same result."""
        g = generator if generator is not None else make_generator(seed)
        return self.apply(x, self.make_params(tuple(x.shape), g))

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        steps = ", ".join(f"{s!r}@{p:g}" for s, p in zip(self.steps, self.p, strict=True))
        return f"Pipeline([{steps}])"

    def summary(self, image: torch.Tensor, seed: int = 0) -> str:
        """Run one sample through each step (each with p=1) and say what each step did to it.

        Args:
            image: one (C, H, W) sample.
            seed: seed of the random parameters.

        Returns:
            One line for the input and one per step: its parameters, the share of values changed, the mean.

        Example:

        >>> from cnnlab.data.augment import Rotate
        >>> print(Pipeline([Rotate(10)]).summary(torch.full((1, 8, 8), 100, dtype=torch.uint8)))  # doctest: +ELLIPSIS
        input (1, 8, 8) torch.uint8, mean 100.0
        1. Rotate(degrees=10.0, ...) (p=1): angle=[...]; ...% of values changed, mean 100.0 -> ...
        """
        x = image[None]
        lines = [f"input {tuple(image.shape)} {image.dtype}, mean {image.float().mean():.1f}"]
        g = torch.Generator().manual_seed(seed)
        for i, step in enumerate(self.steps):
            params = step.make_params(tuple(x.shape), g)
            y = step.apply(x, params)
            changed = (y != x).float().mean().item()
            detail = ", ".join(f"{k}={_fmt(v)}" for k, v in params.items() if k not in ("matrix", "noise"))
            lines.append(f"{i + 1}. {step!r} (p={self.p[i]:g}): {detail or _fmt(params.get('matrix'))}; "
                         f"{changed:.0%} of values changed, mean {x.float().mean():.1f} -> {y.float().mean():.1f}")
            x = y
        return "\n".join(lines)


def _warp_stage(matrix: torch.Tensor, fill: float, mode: str, h: int, w: int) -> tuple:
    moves = K.whole_pixel_moves(matrix, h, w)
    if moves is None:
        return "resample", (fill, mode), {"matrix": matrix}
    return "gather", (fill, mode), dict(zip("abcd", moves))


def _run(x: torch.Tensor, stages: list[tuple]) -> torch.Tensor:
    """Do the stages of :meth:`Pipeline._stages` on ``x``, first to last."""
    for kind, how, prm in stages:
        if kind == "step":
            x = how.apply(x, prm)
        elif kind == "gather":
            x = K.gather_warp(x, tuple(prm[k] for k in "abcd"), *how)
        else:
            x = K.resample(x, prm["matrix"], *how)
    return x


def _rows(params: dict, start: int, stop: int, n: int) -> dict:
    """The parameters of samples ``start:stop``: every per-sample tensor (first size ``n``) cut, the rest kept."""
    return {k: v[start:stop] if torch.is_tensor(v) and v.dim() and v.shape[0] == n else v for k, v in params.items()}


def _fmt(v) -> str:
    if v is None:
        return ""
    if torch.is_tensor(v):
        v = v.flatten()
        if v.dtype == torch.bool:
            return "[" + ", ".join(str(b) for b in v[:6].tolist()) + (", ...]" if v.numel() > 6 else "]")
        return "[" + ", ".join(f"{t:.2f}" if v.is_floating_point() else str(int(t)) for t in v[:6].tolist()) + \
               (", ...]" if v.numel() > 6 else "]")
    return str(v)
