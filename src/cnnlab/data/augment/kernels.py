"""Batched functional kernels: each applies *per-sample* parameters to a whole batch at once.

Geometric transforms are 3x3 matrices in normalized coordinates (the convention of
``torch.nn.functional.affine_grid``: -1..1 across the image, output -> input). Several of them
compose into one matrix, so a flip + rotation + translation costs a single resampling.
When every matrix only flips and shifts by whole pixels (flip, translate, pad-and-crop), the
warp is an exact index gather — no interpolation, no float conversion, much faster.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from cnnlab.errors import ConfigError

FILL_MODES = {"constant": "zeros", "edge": "border", "reflect": "reflection"}

# RGB -> YIQ; hue rotation is a rotation of the (I, Q) chroma plane
_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_LUMA = torch.tensor([0.299, 0.587, 0.114])


def _restore(out: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    if like.dtype == torch.uint8:
        return out.round_().clamp_(0, 255).to(torch.uint8)
    return out.to(like.dtype)


# ---------------------------------------------------------------- geometry

def pixel_to_normalized(linear: torch.Tensor, shift_px: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(N,2,2) linear map about the image center + (N,2) shift in pixels -> (N,3,3) normalized matrix."""
    n = linear.shape[0]
    s = torch.tensor([2.0 / w, 2.0 / h])
    m = torch.zeros(n, 3, 3)
    m[:, :2, :2] = linear * s.view(1, 2, 1) / s.view(1, 1, 2)  # S L S^-1
    m[:, :2, 2] = shift_px * s
    m[:, 2, 2] = 1.0
    return m


def rotation_matrices(degrees: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Counter-clockwise rotation by ``degrees`` (N,) about the center."""
    t = torch.deg2rad(degrees.float())
    c, s = torch.cos(t), torch.sin(t)
    # output -> input sampling is the inverse rotation; with y pointing down this turns the picture CCW
    lin = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    return pixel_to_normalized(lin, torch.zeros(len(t), 2), h, w)


def translation_matrices(dx: torch.Tensor, dy: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Move the content right by dx and down by dy pixels (N,)."""
    lin = torch.eye(2).expand(len(dx), 2, 2)
    return pixel_to_normalized(lin, -torch.stack([dx, dy], -1).float(), h, w)


def flip_matrices(horizontal: torch.Tensor, vertical: torch.Tensor) -> torch.Tensor:
    """Mirror left-right where ``horizontal`` (N,) is True, top-bottom where ``vertical`` is True."""
    m = torch.eye(3).repeat(len(horizontal), 1, 1)
    m[:, 0, 0] = torch.where(horizontal, -1.0, 1.0)
    m[:, 1, 1] = torch.where(vertical, -1.0, 1.0)
    return m


def crop_matrices(boxes: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Boxes (N,4) as (x0, y0, x1, y1) in pixels -> matrices that stretch each box over the output."""
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
    if n == 1:
        return torch.zeros_like(i)
    period = 2 * (n - 1)
    i = i.remainder(period)
    return torch.where(i >= n, period - i, i)


def _gather_warp(x, shuffle, fill: float, mode: str) -> torch.Tensor:
    n, c, h, w = x.shape
    a, ox, d, oy = shuffle
    cols = a[:, None] * torch.arange(w) + ox[:, None]  # (N, W) source column of each output column
    rows = d[:, None] * torch.arange(h) + oy[:, None]  # (N, H)
    valid = None
    if mode == "constant":
        valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # (N,H,W)
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
    """Sampling grid (N, H, W, 2) for matrices (N, 3, 3), like F.affine_grid(align_corners=False).

    Written out as two broadcast multiply-adds: on CPU this is ~10x faster than F.affine_grid,
    which dominated the cost of a rotation (measured in bench/augment_speed.py).
    """
    xs = ((torch.arange(w, dtype=torch.float32) * 2 + 1) / w - 1).view(1, 1, w)
    ys = ((torch.arange(h, dtype=torch.float32) * 2 + 1) / h - 1).view(1, h, 1)
    m = m.float()
    coef = [m[:, i, j].view(-1, 1, 1) for i in range(2) for j in range(3)]
    gx = coef[0] * xs + coef[1] * ys + coef[2]
    gy = coef[3] * xs + coef[4] * ys + coef[5]
    return torch.stack([gx, gy], dim=-1)


def warp(x: torch.Tensor, m: torch.Tensor, fill: float = 0.0, mode: str = "constant",
         interpolation: str = "bilinear") -> torch.Tensor:
    """Resample each image x[i] (N, C, H, W) through its matrix m[i] (N, 3, 3); outside -> fill/edge/reflect."""
    if mode not in FILL_MODES:
        raise ConfigError("fill", mode, f"one of {', '.join(FILL_MODES)}")
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
    out = F.grid_sample(xf, grid, mode=interpolation, padding_mode=FILL_MODES[mode], align_corners=False)
    if mode == "constant" and fill:
        out = out + fill
    return _restore(out, x)


# ---------------------------------------------------------------- color

def color_matrices(brightness, contrast, saturation, hue_turns, channels: int) -> torch.Tensor:
    """Per-sample (N, C, C) color matrices: brightness * contrast * hue-rotation @ saturation."""
    n = len(brightness)
    bc = (brightness * contrast).view(n, 1, 1)
    if channels == 1:
        return bc.clone()
    eye = torch.eye(3)
    sat = saturation.view(n, 1, 1) * eye + (1 - saturation).view(n, 1, 1) * _LUMA.view(1, 1, 3).expand(n, 3, 3)
    t = hue_turns * 2 * math.pi
    rot = torch.zeros(n, 3, 3)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2] = torch.cos(t), -torch.sin(t)
    rot[:, 2, 1], rot[:, 2, 2] = torch.sin(t), torch.cos(t)
    hue = torch.linalg.inv(_YIQ) @ rot @ _YIQ
    return bc * (hue @ sat)


def color_shift(x: torch.Tensor, matrix: torch.Tensor, contrast: torch.Tensor, brightness: torch.Tensor,
                shift: torch.Tensor) -> torch.Tensor:
    """x' = A x + (1 - contrast) * brightness * mean_gray(x) + shift, clamped to 0..255.

    All four adjustments are linear, and saturation and hue keep gray pixels gray, so they fuse into
    one per-sample matrix A plus an offset: one pass over the batch. Contrast blends towards the
    image's mean gray level, as torchvision does.
    """
    n, c = x.shape[:2]
    xf = x.float()
    if c == 3:
        mean = torch.einsum("c,nchw->n", _LUMA, xf) / (x.shape[2] * x.shape[3])  # mean gray level (N,)
    else:
        mean = xf.mean((1, 2, 3))
    offset = ((1 - contrast) * brightness * mean).view(n, 1) + shift  # (N, C)
    if c == 3:
        out = torch.einsum("nij,njhw->nihw", matrix, xf)
        out = out.add_(offset.view(n, c, 1, 1))
    else:
        out = torch.addcmul(offset.view(n, 1, 1, 1), xf, matrix.view(n, 1, 1, 1))
    out = out.clamp_(0, 255)
    return _restore(out, x)
