"""The fast paths of batched augmentation give what the plain formulas give: chunked pipelines, scratch tensors,
the hue and colour kernels, and the resampling into reused memory."""

from __future__ import annotations

import threading

import pytest
import torch
import torch.nn.functional as F

import cnnlab.data.augment.kernels as K
import cnnlab.data.augment.pipeline as P
from cnnlab.data.augment import Flip, Pipeline, Rotate, Transform, Translate, parse_augment
from cnnlab.data.augment.workspace import scratch

LUMA = torch.tensor([0.299, 0.587, 0.114])


def photos(n=7, size=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    x[0] = x[0, :1]  # a gray picture
    x[1, 1] = x[1, 0]  # ties between red and green
    return x


def hue_reference(x, turns):
    """The textbook rgb -> hsv -> rgb hue turn (torch.where and torch.fmod), as the kernel was first written."""
    r, g, b = x.unbind(1)
    hi = torch.maximum(torch.maximum(r, g), b)
    lo = torch.minimum(torch.minimum(r, g), b)
    c = hi - lo
    is_r = hi == r
    is_g = (hi == g) & ~is_r
    h = torch.where(is_r, g - b, torch.where(is_g, b - r + 2 * c, r - g + 4 * c)) / c.clamp(min=1e-6)
    h = h + (6 * turns.remainder(1) + 6).view(-1, 1, 1)
    out = torch.empty_like(x)
    for i, k0 in enumerate((5.0, 3.0, 1.0)):
        k = torch.fmod(h + k0, 6.0)
        out[:, i] = hi - c * torch.minimum(k, 4.0 - k).clamp(0, 1)
    return out


def color_reference(x, bright, contrast, sat, hue, shift):
    """Brightness, contrast, saturation as one matrix plus offset, hue, shift: the plain float formulas."""
    xf = x.float()
    n = len(x)
    mean = torch.einsum("c,nchw->n", LUMA, xf) / (x.shape[2] * x.shape[3])
    s = sat.view(n, 1, 1)
    m = (bright * contrast).view(n, 1, 1) * (s * torch.eye(3) + (1 - s) * LUMA.view(1, 1, 3))
    out = torch.einsum("nij,njhw->nihw", m, xf) + ((1 - contrast) * bright * mean).view(n, 1, 1, 1)
    out = hue_reference(out.clamp(0, 255), hue)
    return (out + shift.view(n, 3, 1, 1)).clamp(0, 255)


def test_hue_shift_equals_the_textbook_formula_and_writes_into_out():
    x = photos(16).float()
    turns = torch.linspace(-1, 1, 16)
    expected = hue_reference(x, turns)
    got = K.hue_shift(x, turns)
    assert (got - expected).abs().max() < 1e-3
    target = torch.full_like(x, -1.0)
    assert K.hue_shift(x, turns, out=target) is target and torch.equal(target, got)


def test_color_shift_equals_the_plain_formulas_within_rounding():
    x = photos(12)
    g = torch.Generator().manual_seed(1)
    b, c, s = (torch.rand(12, generator=g) * 0.8 + 0.6 for _ in range(3))
    hue, shift = torch.rand(12, generator=g) * 0.2 - 0.1, torch.rand(12, 3, generator=g) * 40 - 20
    got = K.color_shift(x, b, c, s, hue, shift)
    expected = color_reference(x, b, c, s, hue, shift)
    assert got.dtype == torch.uint8 and got.shape == x.shape
    diff = (got.float() - expected).abs()
    assert diff.max() <= 0.5 + 1e-3  # rounded to the nearest level
    as_float = K.color_shift(x.float(), b, c, s, hue, shift)  # float in, float out, not rounded
    assert as_float.dtype == torch.float32 and (as_float - expected).abs().max() < 1e-2


@pytest.mark.parametrize("mode, fill, interpolation", [("constant", 0.0, "bilinear"), ("constant", 90.0, "bilinear"),
                                                       ("edge", 0.0, "bilinear"), ("constant", 0.0, "nearest")])
def test_resample_equals_grid_sample(mode, fill, interpolation):
    x = photos(5)
    dx, dy = torch.tensor([0.5, 2.0, -3.25, 0.0, 1.0]), torch.tensor([1.5, 0.0, 2.0, -1.0, 0.0])
    angles = torch.tensor([10.0, -25.0, 3.0, 90.0, 0.5])
    m = K.rotation_matrices(angles, 20, 20) @ K.translation_matrices(dx, dy, 20, 20)
    grid = K.affine_grid(m, 20, 20)  # equal to F.affine_grid up to float rounding (its doctest)
    padding = "zeros" if mode == "constant" else "border"
    ref = F.grid_sample(x.float() - fill, grid, mode=interpolation, padding_mode=padding, align_corners=False) + fill
    got = K.resample(x, m, fill, mode, interpolation)
    assert got.dtype == torch.uint8
    assert torch.equal(got.float(), ref.round().clamp(0, 255))
    got_float = K.resample(x.float(), m, fill, mode, interpolation)
    assert got_float.dtype == torch.float32 and torch.allclose(got_float, ref, atol=1e-3)


def test_results_are_never_the_reused_scratch_memory():
    x = photos(4)
    m = K.rotation_matrices(torch.full((4,), 12.0), 20, 20)
    one, zero = torch.ones(4), torch.zeros(4)
    for run in (lambda v: K.resample(v, m), lambda v: K.resample(v.float(), m),
                lambda v: K.color_shift(v, one * 1.2, one, one, one * 0.05, torch.zeros(4, 3)),
                lambda v: K.color_shift(v.float(), one, one, one * 0.5, zero, torch.zeros(4, 3)),
                lambda v: parse_augment("flip,rotate=15,color=0.2")(v, seed=0)):
        first = run(x)
        kept = first.clone()
        second = run(255 - x)  # the same shapes again: the same scratch tensors are reused
        assert torch.equal(first, kept), "a later call changed an earlier result"
        assert first.data_ptr() != second.data_ptr()


def test_scratch_keeps_memory_per_name_and_per_thread():
    a = scratch("test_a", (3, 4), torch.float32)
    assert scratch("test_a", (2, 4), torch.float32).data_ptr() == a.data_ptr()  # smaller: the same memory
    assert scratch("test_b", (3, 4), torch.float32).data_ptr() != a.data_ptr()
    assert scratch("test_a", (3, 4), torch.int16).dtype == torch.int16
    other = []
    t = threading.Thread(target=lambda: other.append(scratch("test_a", (3, 4), torch.float32).data_ptr()))
    t.start()
    t.join()
    assert other[0] != scratch("test_a", (3, 4), torch.float32).data_ptr()


@pytest.mark.parametrize("build", [lambda: parse_augment("flip,rotate=15,translate=0.1,crop=4,color=0.2"),
                                   lambda: parse_augment("rrc,color=0.3@0.5,erase=0.2"),
                                   lambda: parse_augment("flip,crop=2,erase=0.25@0.5"),
                                   lambda: Pipeline([Rotate(30, mode="reflect"), Flip(), Translate(0.2, mode="edge")])])
def test_a_chunked_batch_equals_the_whole_batch(build, monkeypatch):
    x = photos(7)
    whole = build()(x, seed=5)
    sizes = []
    real = P._run
    monkeypatch.setattr(P, "_run", lambda v, stages: sizes.append(len(v)) or real(v, stages))
    monkeypatch.setattr(P, "CHUNK_VALUES", 2 * x[0].numel())  # two images at a time
    chunked = build()(x, seed=5)
    assert sizes == [2, 2, 2, 1]
    assert torch.equal(chunked, whole)
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert torch.equal(build()(x, generator=g1), build()(x, generator=g2))


def test_a_step_that_may_mix_samples_gets_the_whole_batch(monkeypatch):
    seen = []

    class BatchMean(Transform):  # uses every sample: must not be cut into chunks
        name = "batchmean"

        def make_params(self, shape, g):
            return {"on": torch.ones(shape[0], dtype=torch.bool)}

        def apply(self, x, params):
            seen.append(len(x))
            return x.float().mean(0, keepdim=True).expand_as(x).round().to(x.dtype)

        def identity(self, params, keep):
            return {"on": params["on"] & keep}

    monkeypatch.setattr(P, "CHUNK_VALUES", photos()[0].numel())
    out = Pipeline([parse_augment("rotate=10").steps[0], BatchMean()])(photos(), seed=0)
    assert seen == [7] and out.shape == (7, 3, 20, 20)


def test_an_empty_batch_stays_empty():
    x = torch.zeros(0, 3, 16, 16, dtype=torch.uint8)
    assert parse_augment("flip,rotate=15,color=0.2")(x, seed=0).shape == (0, 3, 16, 16)
