"""Batched functional kernels: each applies *per-sample* parameters to a whole batch at once.

Geometric transforms are 3x3 matrices in normalized coordinates (the convention of
``torch.nn.functional.affine_grid`` with ``align_corners=False``: -1..1 across the image, pixel
centres at ``(2 i + 1) / W - 1``, output -> input). torchvision uses the same pixel-centre
convention, so our rotations equal ``torchvision.transforms.v2.functional.rotate`` inside the
image. Several matrices compose into one, so a flip + rotation + translation costs a single
resampling. When every matrix only flips and shifts by whole pixels (flip, translate,
pad-and-crop), the warp is an exact index gather: no interpolation, no float conversion.

>>> import torch
>>> x = torch.arange(6, dtype=torch.uint8).view(1, 1, 2, 3)  # (N, C, H, W)
>>> warp(x, flip_matrices(torch.tensor([True]), torch.tensor([False])))[0, 0].tolist()
[[2, 1, 0], [5, 4, 3]]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnnlab.data.augment.color import color_matrices, color_shift, hue_shift  # noqa: F401 (callers use K.*)
from cnnlab.data.augment.workspace import scratch
from cnnlab.errors import ConfigError

FILL_MODES = {"constant": "zeros", "edge": "border", "reflect": "border"}  # grid_sample padding per mode
_PADDING = {"constant": 0, "edge": 1, "reflect": 1}  # the same as aten::grid_sampler_2d's numbers
_INTERPOLATION = {"bilinear": 0, "nearest": 1}



# ---------------------------------------------------------------- geometry

def pixel_to_normalized(linear: torch.Tensor, shift_px: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Turn a linear map about the image centre plus a shift in pixels into normalized 3x3 matrices.

    Args:
        linear: (N, 2, 2) maps in pixel units, acting on (x, y) about the centre.
        shift_px: (N, 2) shifts in pixels, (x, y).
        h, w: image height and width.

    Returns:
        (N, 3, 3) matrices in normalized coordinates.

    Example:

    >>> pixel_to_normalized(torch.eye(2)[None], torch.tensor([[5.0, 0.0]]), 10, 10)[0, 0].tolist()
    [1.0, 0.0, 1.0]
    """
    n = linear.shape[0]
    s = torch.tensor([2.0 / w, 2.0 / h])
    m = torch.zeros(n, 3, 3)
    m[:, :2, :2] = linear * s.view(1, 2, 1) / s.view(1, 1, 2)  # S L S^-1
    m[:, :2, 2] = shift_px * s
    m[:, 2, 2] = 1.0
    return m


def rotation_matrices(degrees: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Matrices that turn each picture counter-clockwise by ``degrees`` about its centre.

    Args:
        degrees: (N,) angles, counter-clockwise as in torchvision.
        h, w: image height and width.

    Returns:
        (N, 3, 3) matrices for :func:`warp`.

    Example:

    >>> rotation_matrices(torch.tensor([90.0]), 8, 8)[0, :2, :2].round().int().tolist()
    [[0, -1], [1, 0]]
    """
    t = torch.deg2rad(degrees.float())
    c, s = torch.cos(t), torch.sin(t)
    # output -> input sampling is the inverse rotation; with y pointing down this turns the picture CCW
    lin = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    return pixel_to_normalized(lin, torch.zeros(len(t), 2), h, w)


def translation_matrices(dx: torch.Tensor, dy: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Matrices that move the content right by ``dx`` and down by ``dy`` pixels.

    Args:
        dx, dy: (N,) shifts in pixels (whole pixels give an exact, interpolation-free warp).
        h, w: image height and width.

    Returns:
        (N, 3, 3) matrices for :func:`warp`.

    Example:

    >>> x = torch.tensor([[[[1, 2, 3]]]], dtype=torch.uint8)
    >>> warp(x, translation_matrices(torch.tensor([1]), torch.tensor([0]), 1, 3))[0, 0].tolist()
    [[0, 1, 2]]
    """
    lin = torch.eye(2).expand(len(dx), 2, 2)
    return pixel_to_normalized(lin, -torch.stack([dx, dy], -1).float(), h, w)


def flip_matrices(horizontal: torch.Tensor, vertical: torch.Tensor) -> torch.Tensor:
    """Matrices that mirror left-right where ``horizontal`` is True and top-bottom where ``vertical`` is.

    Args:
        horizontal, vertical: (N,) booleans.

    Returns:
        (N, 3, 3) matrices for :func:`warp`.

    Example:

    >>> flip_matrices(torch.tensor([True]), torch.tensor([False]))[0].diagonal().tolist()
    [-1.0, 1.0, 1.0]
    """
    m = torch.eye(3).repeat(len(horizontal), 1, 1)
    m[:, 0, 0] = torch.where(horizontal, -1.0, 1.0)
    m[:, 1, 1] = torch.where(vertical, -1.0, 1.0)
    return m


def crop_matrices(boxes: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Matrices that stretch each box over the whole output (a resized crop).

    Args:
        boxes: (N, 4) as (x0, y0, x1, y1) in pixels (edges, not centres).
        h, w: image height and width.

    Returns:
        (N, 3, 3) matrices for :func:`warp`.

    Example:

    >>> crop_matrices(torch.tensor([[0.0, 0.0, 8.0, 8.0]]), 8, 8)[0].diagonal().tolist()  # the whole image
    [1.0, 1.0, 1.0]
    """
    x0, y0, x1, y1 = boxes.unbind(-1)
    m = torch.zeros(len(boxes), 3, 3)
    m[:, 0, 0] = (x1 - x0) / w
    m[:, 1, 1] = (y1 - y0) / h
    m[:, 0, 2] = (x0 + x1) / w - 1
    m[:, 1, 2] = (y0 + y1) / h - 1
    m[:, 2, 2] = 1.0
    return m


def whole_pixel_moves(m: torch.Tensor, h: int, w: int) -> tuple | None:
    """If every matrix only flips and shifts by whole pixels, each sample's (sign x, offset x, sign y, offset y).

    Args:
        m: (N, 3, 3) matrices.
        h, w: image height and width.

    Returns:
        Four (N,) integer tensors for :func:`gather_warp`, or None when some matrix needs interpolation.

    Example:

    >>> [v.tolist() for v in whole_pixel_moves(flip_matrices(torch.tensor([True]), torch.tensor([False])), 2, 3)]
    [[-1], [2], [1], [0]]
    """
    if m[:, 0, 1].abs().max() > 1e-6 or m[:, 1, 0].abs().max() > 1e-6:
        return None
    a, d = m[:, 0, 0], m[:, 1, 1]
    if ((a.abs() - 1).abs().max() > 1e-6) or ((d.abs() - 1).abs().max() > 1e-6):
        return None
    # pixel p_in = a * p_out + off, from n = (2p + 1)/W - 1 (align_corners=False)
    ox = (a * (1 - w) + (m[:, 0, 2] + 1) * w - 1) / 2
    oy = (d * (1 - h) + (m[:, 1, 2] + 1) * h - 1) / 2
    if (ox - ox.round()).abs().max() > 1e-4 or (oy - oy.round()).abs().max() > 1e-4:
        return None
    return a.round().long(), ox.round().long(), d.round().long(), oy.round().long()


def _reflect(i: torch.Tensor, n: int) -> torch.Tensor:
    """Mirror pixel coordinates (whole or fractional) about the first and last pixel centres: 2 1 0 1 2."""
    if n == 1:
        return torch.zeros_like(i)
    period = 2 * (n - 1)
    i = i.remainder(period)
    return torch.where(i > n - 1, period - i, i)


def gather_warp(x: torch.Tensor, moves: tuple, fill: float = 0.0, mode: str = "constant") -> torch.Tensor:
    """Flip and shift each image by whole pixels (the moves of :func:`whole_pixel_moves`): an exact index gather.

    Args:
        x: (N, C, H, W) images.
        moves: (sign x, offset x, sign y, offset y), each (N,).
        fill, mode: as in :func:`warp`.

    Returns:
        The moved images, same shape and dtype.

    Example:

    >>> x = torch.tensor([[[[1, 2, 3]]]], dtype=torch.uint8)
    >>> gather_warp(x, tuple(torch.tensor([v]) for v in (1, -1, 1, 0)))[0, 0].tolist()  # one pixel right
    [[0, 1, 2]]
    """
    n, c, h, w = x.shape
    a, ox, d, oy = moves
    cols = a[:, None] * torch.arange(w) + ox[:, None]  # (N, W) source column of each output column
    rows = d[:, None] * torch.arange(h) + oy[:, None]  # (N, H)
    valid = None
    if mode == "constant":
        valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # (N, H, W)
        rows, cols = rows.clamp(0, h - 1), cols.clamp(0, w - 1)
    elif mode == "edge":
        rows, cols = rows.clamp(0, h - 1), cols.clamp(0, w - 1)
    else:
        rows, cols = _reflect(rows, h), _reflect(cols, w)
    index = (rows[:, :, None] * w + cols[:, None, :]).view(n, 1, h * w).expand(n, c, h * w)
    out = torch.gather(x.reshape(n, c, h * w), 2, index).view(n, c, h, w)
    if valid is not None:
        out = torch.where(valid[:, None], out, torch.tensor(fill, dtype=x.dtype) if x.dtype != torch.uint8
                          else torch.tensor(int(round(fill)), dtype=torch.uint8))
    return out


def affine_grid(m: torch.Tensor, h: int, w: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """Sampling grid for matrices, like ``F.affine_grid(align_corners=False)`` but faster on CPU.

    Written out as two broadcast multiply-adds: on CPU this is ~10x faster than F.affine_grid,
    which dominated the cost of a rotation (measured in bench/augment_speed.py).

    Args:
        m: (N, 3, 3) matrices.
        h, w: output height and width.
        out: where to write the grid ((N, H, W, 2) float32); None: a new tensor.

    Returns:
        (N, H, W, 2) grid of normalized (x, y) input coordinates for ``F.grid_sample``.

    Example:

    >>> m = torch.eye(3)[None]
    >>> torch.allclose(affine_grid(m, 4, 5), F.affine_grid(m[:, :2], [1, 1, 4, 5], align_corners=False))
    True
    """
    xs = ((torch.arange(w, dtype=torch.float32, device=m.device) * 2 + 1) / w - 1).view(1, 1, w)
    ys = ((torch.arange(h, dtype=torch.float32, device=m.device) * 2 + 1) / h - 1).view(1, h, 1)
    m = m.float()
    out = torch.empty(len(m), h, w, 2, device=m.device) if out is None else out
    for k in range(2):  # x = a x_out + b y_out + c: a row term (N, 1, W) plus a column term (N, H, 1)
        a, b, c = (m[:, k, j].view(-1, 1, 1) for j in range(3))
        torch.add(a * xs + c, b * ys, out=out[..., k])
    return out


def _reflect_grid(grid: torch.Tensor, h: int, w: int) -> torch.Tensor:
    # grid_sample's own "reflection" (align_corners=False) mirrors about the image *edge* and repeats the
    # border pixel (1 0 0 1 2, "symmetric"); the exact gather path mirrors about the border pixel's centre
    # (2 1 0 1 2, "reflect" as in numpy and torchvision.pad). Mirror the coordinates ourselves so both agree.
    out = torch.empty_like(grid)
    for k, size in enumerate((w, h)):
        px = ((grid[..., k] + 1) * size - 1) / 2  # pixel coordinates, centres at 0 .. size - 1
        out[..., k] = (2 * _reflect(px, size) + 1) / size - 1
    return out


def warp(x: torch.Tensor, m: torch.Tensor, fill: float = 0.0, mode: str = "constant",
         interpolation: str = "bilinear") -> torch.Tensor:
    """Resample each image through its own matrix; what comes from outside is ``fill``, the edge, or a mirror.

    Args:
        x: (N, C, H, W) images, uint8 or float.
        m: (N, 3, 3) matrices (output -> input, normalized coordinates).
        fill: the value outside the image, in pixel units, when ``mode="constant"``.
        mode: "constant" (fill), "edge" (repeat the border pixel) or "reflect" (mirror: 2 1 0 1 2).
        interpolation: "bilinear" or "nearest".

    Returns:
        The warped images, same shape and dtype (uint8 is rounded).

    Raises:
        ConfigError: an unknown ``mode``.

    Example:

    >>> x = torch.tensor([[[[1.0, 2.0, 3.0]]]])
    >>> warp(x, translation_matrices(torch.tensor([0.5]), torch.tensor([0.0]), 1, 3))[0, 0].tolist()
    [[0.5, 1.5, 2.5]]
    """
    if mode not in FILL_MODES:
        raise ConfigError("mode", mode, f"one of {', '.join(FILL_MODES)}")
    n, c, h, w = x.shape
    if n == 0:
        return x
    moves = whole_pixel_moves(m, h, w)
    if moves is not None:
        return gather_warp(x, moves, fill, mode)
    return resample(x, m, fill, mode, interpolation)


def resample(x: torch.Tensor, m: torch.Tensor, fill: float = 0.0, mode: str = "constant",
             interpolation: str = "bilinear") -> torch.Tensor:
    """The interpolating half of :func:`warp` (``F.grid_sample``), for any matrices; same arguments and result.

    Example:

    >>> x = torch.tensor([[[[1.0, 2.0, 3.0]]]])
    >>> resample(x, torch.eye(3)[None])[0, 0].tolist()
    [[1.0, 2.0, 3.0]]
    """
    n, c, h, w = x.shape
    xf = scratch("warp_in", x.shape, torch.float32, x.device).copy_(x)
    if mode == "constant" and fill:
        xf.sub_(fill)  # grid_sample pads with zeros: shift so that zero means `fill`
    grid = affine_grid(m.to(x.device), h, w, out=scratch("warp_grid", (n, h, w, 2), torch.float32, x.device))
    if mode == "reflect":
        grid = _reflect_grid(grid, h, w)
    if x.device.type == "cpu":  # the same kernel as F.grid_sample, into a reused tensor
        out = torch.ops.aten.grid_sampler_2d.out(xf, grid, _INTERPOLATION[interpolation], _PADDING[mode], False,
                                                 out=scratch("warp_out", x.shape, torch.float32))
    else:
        out = F.grid_sample(xf, grid, mode=interpolation, padding_mode=FILL_MODES[mode], align_corners=False)
    if mode == "constant" and fill:
        out.add_(fill)
    if x.dtype == torch.uint8:  # rounded half to even, as torchvision (half up would differ on exact half-pixel shifts)
        return torch.empty(x.shape, dtype=torch.uint8, device=x.device).copy_(out.round_().clamp_(0, 255))
    return out.to(x.dtype, copy=True)
