"""Color kernels: brightness, contrast, saturation and hue of whole batches, parameters per sample.

They follow torchvision's ``adjust_*`` functions (see :func:`color_shift` for the small differences)
and write their in-between results into reused scratch tensors (``workspace.py``).

>>> import torch
>>> x = torch.full((2, 3, 4, 4), 100, dtype=torch.uint8)
>>> one = torch.ones(2)
>>> color_shift(x, one * 1.1, one, one, one * 0, torch.zeros(2, 3))[0, :, 0, 0].tolist()  # 10% brighter
[110, 110, 110]
"""

from __future__ import annotations

import torch

from cnnlab.data.augment.workspace import scratch

_LUMA = torch.tensor([0.299, 0.587, 0.114])  # ITU-R 601 gray level, as PIL (torchvision: 0.2989)
_OPPOSITE = torch.tensor([3.0, 5.0, 1.0]).view(1, 3, 1, 1)  # the hue opposite red, green, blue, in sixths of a turn


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
    return bc * (s * torch.eye(3) + (1 - s) * _LUMA.to(brightness.device).view(1, 1, 3))


def hue_shift(x: torch.Tensor, turns: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Turn the hue of each RGB sample by ``turns`` of the color wheel, keeping HSV saturation and value.

    The definition of PIL and ``torchvision...adjust_hue`` (red -> yellow -> green for positive turns):
    each pixel keeps its largest and smallest channel; the hue angle moves round the HSV hexagon.

    Args:
        x: (N, 3, H, W) float images (any range, e.g. 0..255).
        turns: (N,) hue shift per sample, in turns (0.5 = opposite color).
        out: where to write the result ((N, 3, H, W) float32, not ``x`` itself); None: a new tensor.

    Returns:
        (N, 3, H, W) float images.

    Example:

    >>> red = torch.tensor([255.0, 0.0, 0.0]).view(1, 3, 1, 1)
    >>> hue_shift(red, torch.tensor([1 / 3])).flatten().round().tolist()  # a third of a turn: green
    [0.0, 255.0, 0.0]
    """
    n, _, h, w = x.shape
    out = torch.empty(x.shape, dtype=torch.float32, device=x.device) if out is None else out
    r, g, b = x.unbind(1)  # (N, H, W) each

    def plane(name, dtype=torch.float32):
        return scratch("hue_" + name, (n, h, w), dtype, x.device)

    hi = torch.maximum(torch.maximum(r, g, out=plane("hi")), b, out=plane("hi"))  # 3x faster than amax(1)
    lo = torch.minimum(torch.minimum(r, g, out=plane("lo")), b, out=plane("lo"))
    chroma = torch.sub(hi, lo, out=plane("chroma"))
    # hue in sixths of a turn (0 red, 2 green, 4 blue) as in PIL's rgb -> hsv, times chroma; red wins ties
    # (choices by lerp with a 0/1 float mask: exact, and ~10x faster than torch.where with a bool mask on CPU)
    hue, tmp, mask = plane("h"), plane("tmp"), plane("mask")
    torch.sub(r, g, out=hue).add_(chroma, alpha=4)  # blue is largest
    torch.sub(b, r, out=tmp).add_(chroma, alpha=2)  # green is largest
    torch.lerp(hue, tmp, torch.eq(hi, g, out=mask), out=hue)
    torch.lerp(hue, torch.sub(g, b, out=tmp), torch.eq(hi, r, out=mask), out=hue)  # red is largest
    hue.div_(torch.clamp(chroma, min=1e-6, out=tmp))  # no chroma (gray): any hue gives the same gray
    hue.add_((6 * turns.float().remainder(1) + 6).to(x.device).view(-1, 1, 1))  # shifted, positive: 5 .. 17
    hue.sub_(torch.mul(hue, 1 / 6, out=tmp).floor_().mul_(6))  # mod 6 (torch.fmod is ~20x slower than this)
    # hsv -> rgb: a channel is at the minimum within 1 sixth of its opposite hue (red 3, green 5, blue 1), at the
    # maximum from 2 sixths away, linear in between: clamp(lo + chroma * (circle distance - 1), lo, hi), where
    # the distance round the circle of 6 sixths is 3 - |d - 3| for d = |hue - opposite|: all channels at once
    torch.sub(hue[:, None], _OPPOSITE.to(x.device), out=out).abs_().sub_(3).abs_()
    top = torch.add(hi, chroma, out=tmp)[:, None]  # lo + 2 chroma = hi + chroma
    return torch.addcmul(top, chroma[:, None], out, value=-1, out=out).clamp_(lo[:, None], hi[:, None])


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
    saturation, hue) without a clamp between the first three, uint8 rounded (half up) rather than truncated,
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
    n, c, h, w = x.shape
    xf = scratch("color_in", (n, c, h * w), torch.float32, x.device).copy_(x.reshape(n, c, h * w))
    mean = (xf.sum(2) @ _LUMA.to(x.device) if c == 3 else xf.sum(2)[:, 0]) / (h * w)  # mean gray level (N,)
    offset = ((1 - contrast) * brightness * mean).view(n, 1, 1).expand(n, c, 1)  # the same gray for every channel
    matrix = color_matrices(brightness, contrast, saturation, c).to(x.device)  # (N, C, C)
    out = scratch("color_mix", (n, c, h * w), torch.float32, x.device)
    if c == 1:  # a 1x1 matrix is a factor: elementwise is much faster than a batched matrix product
        torch.addcmul(offset.to(x.device), xf, matrix, out=out)
    else:
        torch.baddbmm(offset.to(x.device), matrix, xf, out=out)
    out = out.view(n, c, h, w).clamp_(0, 255)
    if c == 3 and bool((hue != 0).any()):
        out = hue_shift(out, hue, out=xf.view(n, c, h, w))  # xf is free again
    if x.dtype == torch.uint8:  # rounded half up: + 0.5, then the conversion cuts off the fraction
        out = out.add_(shift.to(x.device).view(n, c, 1, 1) + 0.5).clamp_(0, 255.5)
        return torch.empty(x.shape, dtype=torch.uint8, device=x.device).copy_(out)
    return out.add_(shift.to(x.device).view(n, c, 1, 1)).clamp_(0, 255).to(x.dtype, copy=True)
