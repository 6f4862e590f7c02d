import pytest
import torch

from cnnlab.data.augment import (
    AugmentSpecError,
    ColorShift,
    Erase,
    Flip,
    PadCrop,
    Pipeline,
    RandomResizedCrop,
    Rotate,
    Translate,
    parse_augment,
)
from cnnlab.data.augment import kernels as K

FULL = "flip,rotate=15,translate=0.1,crop=4,color=0.2"


def batch(n=16, c=1, h=12, w=10, dtype=torch.uint8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, c, h, w), generator=g, dtype=torch.int32)
    return x.to(dtype)


ALL = [Flip(), Flip(vertical=True), Rotate(20), Translate(0.2), PadCrop(3), RandomResizedCrop((0.3, 1.0)),
       ColorShift(0.3, 0.3, 0.3, 0.1, 0.1), Erase(), Erase(value=0)]


@pytest.mark.parametrize("t", ALL, ids=repr)
@pytest.mark.parametrize("c", [1, 3])
def test_p0_is_identity_and_p1_equals_functional_kernel(t, c):
    x = batch(c=c)
    assert torch.equal(Pipeline([t], p=0.0)(x, seed=3), x)
    g = torch.Generator().manual_seed(5)
    pipe = Pipeline([t], p=1.0)
    params = pipe.make_params(tuple(x.shape), g)
    assert torch.equal(pipe.apply(x, params), t.apply(x, params[0]))


@pytest.mark.parametrize("t", ALL, ids=repr)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_batch_equals_samples_one_by_one(t, dtype):
    x = batch(c=3, dtype=dtype)
    params = t.make_params(tuple(x.shape), torch.Generator().manual_seed(1))
    whole = t.apply(x, params)
    for i in range(len(x)):
        one = {k: v[i:i + 1] for k, v in params.items()}
        torch.testing.assert_close(t.apply(x[i:i + 1], one), whole[i:i + 1], atol=1e-4, rtol=0)


def test_mirroring_twice_is_identity_and_flip_mirrors():
    x = batch()
    h = torch.ones(len(x), dtype=torch.bool)
    m = K.flip_matrices(h, ~h)
    once = K.warp(x, m)
    assert torch.equal(once, x.flip(-1))
    assert torch.equal(K.warp(once, m), x)
    v = K.flip_matrices(~h, h)
    assert torch.equal(K.warp(x, v), x.flip(-2))


def test_flip_only_mirrors_left_right_in_a_pipeline():
    x = batch(n=64)
    y = parse_augment("flip")(x, seed=0)
    for a, b in zip(x, y):
        assert torch.equal(a, b) or torch.equal(a.flip(-1), b)


def test_rotation_and_translation_by_zero_are_identities():
    x = batch(c=3)
    n = len(x)
    assert torch.equal(K.warp(x, K.rotation_matrices(torch.zeros(n), 12, 10)), x)
    assert torch.equal(K.warp(x, K.translation_matrices(torch.zeros(n), torch.zeros(n), 12, 10)), x)
    assert torch.equal(Rotate(0)(x, seed=1), x) and torch.equal(Translate(0.0)(x, seed=1), x)


@pytest.mark.parametrize("k", [-3, -1, 1, 2, 4])
def test_translation_moves_a_bright_pixel_by_k(k):
    x = torch.zeros(1, 1, 16, 16, dtype=torch.uint8)
    x[0, 0, 7, 8] = 255
    y = K.warp(x, K.translation_matrices(torch.tensor([k]), torch.tensor([0]), 16, 16))
    assert y[0, 0, 7, 8 + k] == 255 and int(y.sum()) == 255
    y = K.warp(x, K.translation_matrices(torch.tensor([0]), torch.tensor([k]), 16, 16))
    assert y[0, 0, 7 + k, 8] == 255


def test_rotation_by_90_degrees_turns_the_picture_counter_clockwise():
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 8] = 1.0  # right of the center
    y = K.warp(x, K.rotation_matrices(torch.tensor([90.0]), 9, 9))
    assert y[0, 0].argmax() == 0 * 9 + 4  # now above the center
    filled = Rotate(45, fill=200)(torch.zeros(2, 1, 9, 9, dtype=torch.uint8), seed=0)
    assert filled[:, :, 0, 0].min() > 0  # corners come from the fill value


@pytest.mark.parametrize("t", [PadCrop(4), RandomResizedCrop((0.1, 0.5))], ids=repr)
def test_crop_output_size_is_the_input_size(t):
    for shape in [(3, 1, 28, 28), (2, 3, 17, 31)]:
        assert t(torch.zeros(shape, dtype=torch.uint8), seed=0).shape == shape


def test_color_shift_keeps_the_value_range_on_gray_and_rgb():
    for c in (1, 3):
        x = batch(c=c)
        y = ColorShift(0.9, 0.9, 0.9, 0.5, 0.5)(x, seed=0)
        assert y.dtype == torch.uint8 and y.shape == x.shape and not torch.equal(x, y)
        f = ColorShift(0.9, 0.9, 0.9, 0.5, 0.5)(x.float(), seed=0)
        assert f.min() >= 0 and f.max() <= 255


def test_color_identity_parameters_change_nothing():
    x = batch(c=3)
    n = len(x)
    ones, zeros = torch.ones(n), torch.zeros(n)
    m = K.color_matrices(ones, ones, ones, zeros, 3)
    assert torch.equal(K.color_shift(x, m, ones, ones, torch.zeros(n, 3)), x)


def test_same_seed_same_batch_different_seed_differs():
    x = batch(n=32, c=3)
    aug = parse_augment(FULL)
    assert torch.equal(aug(x, seed=7), aug(x, seed=7))
    assert not torch.equal(aug(x, seed=7), aug(x, seed=8))


def test_spec_parsing_and_errors():
    p = parse_augment("flip, rotate=10@0.5, translate=0.1, crop=4, color=0.2, rrc=0.5, vflip")
    assert [s.name for s in p.steps] == ["flip", "rotate", "translate", "crop", "color", "rrc", "flip"]
    assert p.p[1] == 0.5 and p.steps[1].degrees == 10
    assert parse_augment("none") is None and parse_augment("") is None
    for bad, why in [("blur", "unknown augmentation 'blur'"), ("rotate=abc", "not a number"),
                     ("translate=2", "between"), ("flip@1.5", "between")]:
        with pytest.raises(AugmentSpecError) as e:
            parse_augment(bad)
        assert why in str(e.value) and "rotate=DEGREES" in str(e.value)  # lists the valid forms


def test_summary_describes_each_step():
    text = parse_augment(FULL).summary(batch(n=1, c=3)[0])
    assert len(text.splitlines()) == 6 and "Rotate" in text and "ColorShift" in text


def test_preview_writes_a_grid(tmp_path):
    from cnnlab.data.augment import preview

    out = preview("digits", "flip,rotate=20", tmp_path / "p.png", n=3, rows=2)
    assert out.stat().st_size > 1000


@pytest.mark.parametrize("order", [0, 1])
def test_fused_pipeline_matches_sequential_for_exact_moves(order):
    # a flip and a whole-pixel shift compose exactly: fusing equals applying them one after the other
    # (and they do not commute, so this also checks the order of composition)
    x = batch(n=16)
    steps = [Flip(), Translate(0.2)][::(1 if order == 0 else -1)]
    pipe = Pipeline(steps)
    params = pipe.make_params(tuple(x.shape), torch.Generator().manual_seed(0))
    seq = x
    for s, prm in zip(steps, params):
        seq = s.apply(seq, prm)
    assert torch.equal(pipe.apply(x, params), seq)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_erase_paints_one_box_per_sample_and_leaves_the_rest(dtype):
    x = torch.full((64, 3, 20, 24), 7, dtype=dtype)
    t = Erase(scale=(0.05, 0.3), value=200)
    params = t.make_params(tuple(x.shape), torch.Generator().manual_seed(0))
    y = t.apply(x, params)
    for i, (x0, y0, x1, y1) in enumerate(params["boxes"].tolist()):
        assert 0 <= x0 < x1 <= 24 and 0 <= y0 < y1 <= 20
        inside = torch.zeros(20, 24, dtype=torch.bool)
        inside[y0:y1, x0:x1] = True
        assert (y[i][:, inside] == 200).all() and (y[i][:, ~inside] == 7).all()
        assert 0.05 * 480 * 0.5 <= inside.sum() <= 0.3 * 480 * 1.5  # the area drawn, up to rounding
    noisy = Erase(scale=(0.2, 0.2))(x, seed=1)
    changed = (noisy != x).any(1)
    assert changed.any() and (noisy.float().std() > 1)  # noise, not a constant
    assert torch.equal(parse_augment("erase=0.25@0")(x, seed=0), x)
