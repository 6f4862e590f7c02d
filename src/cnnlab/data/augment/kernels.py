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

from cnnlab.errors import ConfigError

FILL_MODES = {"constant": "zeros", "edge": "border", "reflect": "border"}  # grid_sample padding per mode

_LUMA = torch.tensor([0.299, 0.587, 0.114])  # ITU-R 601 gray level, as PIL (torchvision: 0.2989)


def _restore(out: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    if like.dtype == torch.uint8:
        return out.round_().clamp_(0, 255).to(torch.uint8)
    return out.to(like.dtype)


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


def _as_pixel_shuffle(m: torch.Tensor, h: int, w: int):
    """If every matrix is a flip and/or whole-pixel shift, return per-axis (sign, offset); else None."""
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


def _gather_warp(x, shuffle, fill: float, mode: str) -> torch.Tensor:
    n, c, h, w = x.shape
    a, ox, d, oy = shuffle
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


def affine_grid(m: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Sampling grid for matrices, like ``F.affine_grid(align_corners=False)`` but faster on CPU.

    Written out as two broadcast multiply-adds: on CPU this is ~10x faster than F.affine_grid,
    which dominated the cost of a rotation (measured in bench/augment_speed.py).

    Args:
        m: (N, 3, 3) matrices.
        h, w: output height and width.

    Returns:
        (N, H, W, 2) grid of normalized (x, y) input coordinates for ``F.grid_sample``.

    Example:

    >>> m = torch.eye(3)[None]
    >>> torch.allclose(affine_grid(m, 4, 5), F.affine_grid(m[:, :2], [1, 1, 4, 5], align_corners=False))
    True
    """
    xs = ((torch.arange(w, dtype=torch.float32) * 2 + 1) / w - 1).view(1, 1, w)
    ys = ((torch.arange(h, dtype=torch.float32) * 2 + 1) / h - 1).view(1, h, 1)
    m = m.float()
    coef = [m[:, i, j].view(-1, 1, 1) for i in range(2) for j in range(3)]
    gx = coef[0] * xs + coef[1] * ys + coef[2]
    gy = coef[3] * xs + coef[4] * ys + coef[5]
    return torch.stack([gx, gy], dim=-1)


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
    shuffle = _as_pixel_shuffle(m, h, w)
    if shuffle is not None:
        return _gather_warp(x, shuffle, fill, mode)
    xf = x.float()
    if mode == "constant" and fill:
        xf = xf - fill  # grid_sample pads with zeros: shift so that zero means `fill`
    grid = affine_grid(m, h, w)
    if mode == "reflect":
        grid = _reflect_grid(grid, h, w)
    out = F.grid_sample(xf, grid, mode=interpolation, padding_mode=FILL_MODES[mode], align_corners=False)
    if mode == "constant" and fill:
        out = out + fill
    return _restore(out, x)


# ---------------------------------------------------------------- color

def color_matrices(brightness: torch.Tensor, contrast: torch.Tensor, saturation: torch.Tensor,
                   channels: int) -> torch.Tensor:
    """Per-sample (N, C, C) matrices for the linear part of :func:`color_shift`: brightness * contrast * saturation.

    Args:
        brightness, contrast, saturation: (N,) factors (1 = unchanged).
        channels: 1 (gray: saturation does nothing) or 3 (RGB).

    Returns:
        (N, C, C) matrices.

    Example:

    >>> color_matrices(torch.tensor([2.0]), torch.tensor([1.0]), torch.tensor([1.0]), 1).tolist()
    [[[2.0]]]
    """
    n = len(brightness)
    bc = (brightness * contrast).view(n, 1, 1)
    if channels == 1:
        return bc.clone()
    # saturation blends each pixel with its own gray level: s * I + (1 - s) * (rows of luma weights)
    s = saturation.view(n, 1, 1)
    return bc * (s * torch.eye(3) + (1 - s) * _LUMA.view(1, 1, 3))


def hue_shift(x: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Turn the hue of each RGB sample by ``turns`` of the color wheel, keeping HSV saturation and value.

    The definition of PIL and ``torchvision...adjust_hue`` (red -> yellow -> green for positive turns):
    each pixel keeps its largest and smallest channel; the hue angle moves round the HSV hexagon.

    Args:
        x: (N, 3, H, W) float images (any range, e.g. 0..255).
        turns: (N,) hue shift per sample, in turns (0.5 = opposite color).

    Returns:
        (N, 3, H, W) float images.

    Example:

    >>> red = torch.tensor([255.0, 0.0, 0.0]).view(1, 3, 1, 1)
    >>> hue_shift(red, torch.tensor([1 / 3])).flatten().round().tolist()  # a third of a turn: green
    [0.0, 255.0, 0.0]
    """
    r, g, b = x.unbind(1)  # (N, H, W) each
    hi = torch.maximum(torch.maximum(r, g), b)  # elementwise: 3x faster than aminmax over dim 1
    lo = torch.minimum(torch.minimum(r, g), b)
    chroma = hi - lo
    # hue in sixths of a turn (0 red, 2 green, 4 blue) as in PIL's rgb -> hsv, times chroma; red wins ties
    h = torch.where(hi == r, g - b, torch.where(hi == g, (b - r).add_(chroma, alpha=2), (r - g).add_(chroma, alpha=4)))
    h = h.div_(chroma.clamp(min=1e-6))  # no chroma (gray): any hue gives the same gray
    h += (6 * turns.float().remainder(1) + 6).view(-1, 1, 1)  # shifted and positive: -1 + 6 .. 5 + 12
    h.sub_(h.mul(1 / 6).floor_().mul_(6))  # mod 6 (torch.fmod is ~20x slower than these three steps)
    base = lo - chroma
    out = torch.empty_like(x, dtype=torch.float32)
    # hsv -> rgb: a channel is at the minimum within 1 sixth of its opposite hue (red 3, green 5, blue 1), at the
    # maximum from 2 sixths away, linear in between: clamp(lo + chroma * (distance - 1), lo, hi)
    for i, opposite in enumerate((3.0, 5.0, 1.0)):
        d = h.sub(opposite).abs_()
        d = torch.minimum(d, d.neg().add_(6))  # distance round the circle of 6 sixths
        torch.addcmul(base, chroma, d, out=out[:, i]).clamp_(lo, hi)
    return out


def color_shift(x: torch.Tensor, brightness: torch.Tensor, contrast: torch.Tensor, saturation: torch.Tensor,
                hue: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Change brightness, contrast, saturation and hue, then shift each channel; parameters per sample.

    Each adjustment is torchvision's (``adjust_brightness/contrast/saturation/hue``): brightness
    scales; contrast blends with the mean gray level of the (brightened) image; saturation blends each
    pixel with its own gray level; hue turns the HSV hue (RGB only). The first three are linear and
    keep gray pixels gray, so they fuse into one (C, C) matrix plus a gray offset: one pass over the
    batch, clamped to 0..255; hue takes a second pass only when some sample's hue moves; then the
    per-channel ``shift`` is added and the result clamped again. Differences from torchvision's
    ColorJitter, all below one gray level for one operation: fixed order (brightness, contrast,
    saturation, hue) without a clamp between the first three, uint8 rounded rather than truncated,
    gray levels not floored, luma weight 0.299 rather than 0.2989.

    Args:
        x: (N, C, H, W) images, C = 1 or 3, values 0..255 (uint8 or float).
        brightness, contrast, saturation: (N,) factors (1 = unchanged).
        hue: (N,) hue shifts in turns (0 = unchanged; ignored for gray images).
        shift: (N, C) values added to each channel, in pixel units.

    Returns:
        The adjusted images, same shape and dtype, within 0..255.

    Example:

    >>> x = torch.tensor([[[[100, 200]]]], dtype=torch.uint8)
    >>> one, zero = torch.ones(1), torch.zeros(1)
    >>> color_shift(x, one * 1.5, one, one, zero, torch.zeros(1, 1))[0, 0].tolist()  # brighter
    [[150, 255]]
    >>> color_shift(x, one, one * 0.5, one, zero, torch.zeros(1, 1))[0, 0].tolist()  # halfway to the mean, 150
    [[125, 175]]
    """
    n, c = x.shape[:2]
    xf = x.float()
    if c == 3:
        mean = torch.einsum("c,nchw->n", _LUMA, xf) / (x.shape[2] * x.shape[3])  # mean gray level (N,)
    else:
        mean = xf.mean((1, 2, 3))
    offset = ((1 - contrast) * brightness * mean).view(n, 1, 1, 1)  # the same gray for every channel
    matrix = color_matrices(brightness, contrast, saturation, c)  # (N, C, C)
    if c == 3:
        out = torch.einsum("nij,njhw->nihw", matrix, xf).add_(offset)
    else:
        out = torch.addcmul(offset, xf, matrix.view(n, 1, 1, 1))
    out = out.clamp_(0, 255)
    if c == 3 and bool((hue != 0).any()):
        out = hue_shift(out, hue)
    out = out.add_(shift.view(n, c, 1, 1)).clamp_(0, 255)
    return _restore(out, x)
