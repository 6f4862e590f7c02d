import ast
import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image

import cnnlab.data.augment as augment_pkg
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
    augment_help,
    list_augments,
    parse_augment,
    preview,
    register_augment,
    registry,
)
from cnnlab.data.augment import kernels as K
from cnnlab.errors import ConfigError

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
    for c in (1, 3):
        x = batch(c=c)
        n = len(x)
        ones, zeros = torch.ones(n), torch.zeros(n)
        assert torch.equal(K.color_shift(x, ones, ones, ones, zeros, torch.zeros(n, c)), x)


def test_hue_turns_red_towards_yellow_then_green_as_torchvision():
    # the old kernel rotated the YIQ chroma plane the other way (red -> magenta) by a different amount
    red = torch.tensor([255.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert K.hue_shift(red, torch.tensor([1 / 6])).flatten().round().tolist() == [255.0, 255.0, 0.0]  # yellow
    assert K.hue_shift(red, torch.tensor([1 / 3])).flatten().round().tolist() == [0.0, 255.0, 0.0]  # green
    x = batch(c=3).float()
    torch.testing.assert_close(K.hue_shift(x, torch.zeros(len(x))), x, atol=1e-3, rtol=0)
    torch.testing.assert_close(K.hue_shift(K.hue_shift(x, torch.full((len(x),), 0.3)), torch.full((len(x),), -0.3)),
                               x, atol=1e-3, rtol=0)


def test_color_factors_never_go_negative_for_strong_settings():
    # brightness=1.5 used to draw factors from -0.5 .. 2.5: a negative factor turns the image black
    params = ColorShift(1.5, 1.5, 1.5).make_params((512, 3, 4, 4), torch.Generator().manual_seed(0))
    for key in ("brightness", "contrast", "saturation"):
        assert params[key].min() >= 0 and params[key].max() > 2


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect"])
def test_reflect_edge_and_fill_agree_on_the_exact_and_the_interpolating_path(mode):
    # a shift of 2.5 pixels (bilinear, grid_sample) is the mean of the shifts by 2 and by 3 (exact index gather);
    # "reflect" used to mirror about the image edge (1 0 0 1) on one path and about the border pixel (2 1 0 1) on
    # the other
    x = batch(n=4, c=3, dtype=torch.float32)
    n, h, w = x.shape[0], 12, 10

    def shift(dx, dy):
        return K.warp(x, K.translation_matrices(torch.full((n,), dx), torch.full((n,), dy), h, w), 30.0, mode)

    torch.testing.assert_close(shift(2.5, 0.0), (shift(2.0, 0.0) + shift(3.0, 0.0)) / 2, atol=1e-3, rtol=0)
    torch.testing.assert_close(shift(0.0, -4.5), (shift(0.0, -4.0) + shift(0.0, -5.0)) / 2, atol=1e-3, rtol=0)


def test_same_seed_same_batch_different_seed_differs():
    x = batch(n=32, c=3)
    aug = parse_augment(FULL)
    assert torch.equal(aug(x, seed=7), aug(x, seed=7))
    assert not torch.equal(aug(x, seed=7), aug(x, seed=8))


def test_spec_parsing():
    p = parse_augment("flip, rotate=10@0.5, translate=0.1, crop=4, color=0.2, rrc=0.5, vflip, ROTATE")
    assert [s.name for s in p.steps] == ["flip", "rotate", "translate", "crop", "color", "rrc", "flip", "rotate"]
    assert p.p[1] == 0.5 and p.steps[1].degrees == 10 and p.steps[-1].degrees == 15  # the default value
    assert p.steps[6].vertical and not p.steps[0].vertical
    for off in (None, "", "none", "off", " None "):
        assert parse_augment(off) is None


@pytest.mark.parametrize("bad,message", [
    ("blur", "unknown augmentation 'blur'\nvalid items"),
    ("rotat=10", "unknown augmentation 'rotat'; did you mean 'rotate'?"),
    ("flip,erace", "unknown augmentation 'erace'; did you mean 'erase'?"),
    ("rotate=abc", "rotate='abc': not a number; DEGREES must be a number, e.g. rotate=15"),
    ("rotate=500", "rotate=500: DEGREES must be between 0 and 180, e.g. rotate=15"),
    ("translate=2", "translate=2: FRACTION must be between 0 and 0.5, e.g. translate=0.1"),
    ("rotate=nan", "rotate=nan: DEGREES must be between 0 and 180"),
    ("crop=2.5", "crop=2.5: PIXELS must be a whole number, e.g. crop=4"),
    ("flip=3", "flip=3: flip takes no value"),
    ("flip@1.5", "flip@1.5: the probability after @ must be a number between 0 and 1"),
    ("color=0.2@half", "color=0.2@half: the probability after @ must be a number between 0 and 1"),
    ("=4", "'=4': an item needs a step name"),
    (",,", "empty augmentation spec"),
])
def test_spec_errors_name_the_item_the_value_and_what_is_allowed(bad, message):
    with pytest.raises(AugmentSpecError) as e:
        parse_augment(bad)
    assert str(e.value).startswith(message)


def test_unknown_names_list_every_registered_form():
    with pytest.raises(AugmentSpecError) as e:
        parse_augment("blur")
    for row in list_augments():
        assert row["form"] in str(e.value)


def test_spec_is_not_a_string():
    with pytest.raises(AugmentSpecError, match="expected a spec string"):
        parse_augment(15)


@pytest.mark.parametrize("spec,canonical", [
    (FULL, FULL),
    ("flip, rotate=10@0.5, vflip@0.25", "flip,rotate=10@0.5,vflip@0.25"),
    ("rotate,translate,crop,rrc,erase,color", "rotate=15,translate=0.1,crop=4,rrc=0.35,erase=0.25,color=0.2"),
    ("erase=0.01", None),  # below the range: refused by the parser, see below
    ("rrc=0.123456789@0.3333", "rrc=0.123456789@0.3333"),
    ("COLOR=1, crop=0, rotate=180@0", "color=1,crop=0,rotate=180@0"),
])
def test_spec_round_trip(spec, canonical):
    if canonical is None:
        with pytest.raises(AugmentSpecError):
            parse_augment(spec)
        return
    p = parse_augment(spec)
    assert p.spec == canonical
    again = parse_augment(p.spec)
    assert repr(again) == repr(p) and again.spec == p.spec


def test_a_pipeline_built_in_python_has_a_spec_when_one_exists():
    assert Pipeline([Flip(), Rotate(20), PadCrop(2)], p=[1, 0.5, 1]).spec == "flip,rotate=20@0.5,crop=2"
    assert Pipeline([ColorShift(0.4, 0.4, 0.4, 0.1, 0.1)]).spec == "color=0.4"
    assert Pipeline([Erase((0.02, 0.3))]).spec == "erase=0.3"
    assert Pipeline([]).spec == "none"
    # no spec item builds these: a fill, a constant erase value, unequal color strengths
    for step in (Rotate(10, fill=255), Erase(value=0), ColorShift(0.1, 0.2)):
        assert Pipeline([Flip(), step]).spec is None


@pytest.fixture
def scratch_registry(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_a_registered_step_is_parsed_listed_and_written_back(scratch_registry):
    @register_augment("tilt", form="tilt=DEGREES", about="a small rotation with edge filling",
                      default=5, low=0, high=30, value_of=lambda t: t.degrees)
    def tilt(degrees):
        return Rotate(degrees, mode="edge")

    p = parse_augment("flip,tilt=7@0.5")
    assert p.steps[1].mode == "edge" and p.steps[1].degrees == 7 and p.spec == "flip,tilt=7@0.5"
    assert {"name": "tilt", "form": "tilt=DEGREES", "about": "a small rotation with edge filling", "default": 5,
            "low": 0, "high": 30} in list_augments()
    assert "tilt=DEGREES" in augment_help()
    with pytest.raises(AugmentSpecError, match="tilt=31: DEGREES must be between 0 and 30"):
        parse_augment("tilt=31")
    with pytest.raises(AugmentSpecError, match="did you mean 'tilt'"):
        parse_augment("tlt")


def test_registering_a_name_again_warns_and_replaces(scratch_registry):
    with pytest.warns(UserWarning, match="'flip' was already registered"):
        @register_augment("flip", about="mirror top-bottom only")
        def flip_vertical():
            return Flip(horizontal=False, vertical=True)
    assert parse_augment("flip").steps[0].vertical
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register_augment("brand_new", about="x")(Flip)  # a new name does not warn


def test_unregistering_a_step_removes_it_everywhere(scratch_registry):
    augment_pkg.unregister_augment("rrc")
    assert "rrc" not in augment_pkg.augment_names() and "rrc=MIN_SCALE" not in augment_help()
    with pytest.raises(AugmentSpecError, match="unknown augmentation 'rrc'"):
        parse_augment("rrc=0.5")
    assert Pipeline([RandomResizedCrop((0.5, 1.0))]).spec is None
    with pytest.raises(AugmentSpecError, match="unknown augmentation 'rrc'"):
        augment_pkg.unregister_augment("rrc")


@pytest.mark.parametrize("kwargs", [{"name": "Blur"}, {"name": "a b"}, {"name": ""},
                                    {"name": "blur", "default": 5, "low": 0, "high": 1},
                                    {"name": "blur", "default": 5}])
def test_register_refuses_bad_names_and_defaults(kwargs, scratch_registry):
    with pytest.raises(ConfigError):
        register_augment(about="x", **kwargs)


def test_pipeline_checks_its_probabilities_and_steps():
    with pytest.raises(ConfigError, match="between 0 and 1"):
        Pipeline([Flip()], p=1.5)
    with pytest.raises(ConfigError, match="one probability per step"):
        Pipeline([Flip(), Rotate()], p=[0.5])
    with pytest.raises(ConfigError, match="Transform"):
        Pipeline(["flip"])


def test_summary_describes_each_step():
    text = parse_augment(FULL).summary(batch(n=1, c=3)[0])
    assert len(text.splitlines()) == 6 and "Rotate" in text and "ColorShift" in text


def test_preview_writes_a_grid(tmp_path):
    wide = preview("digits", "flip,rotate=20", tmp_path / "wide.png", n=3, rows=2)  # 4 columns, 2 rows
    tall = preview("digits", "flip", tmp_path / "tall.png", n=1, rows=4)  # 2 columns, 4 rows
    with Image.open(wide) as w, Image.open(tall) as t:
        assert w.format == t.format == "PNG"
        assert w.width > 1.5 * w.height and t.height > 1.5 * t.width
    for bad in ({"n": 0}, {"rows": 0}, {"augment": "none"}):
        with pytest.raises(ConfigError):
            preview("digits", **{"augment": "flip", "out": tmp_path / "q.png", **bad})
    assert not (tmp_path / "q.png").exists()


def test_preview_grid_puts_the_originals_first_then_variants():
    x = batch(n=3, c=1)
    grid = augment_pkg.preview_grid(x, parse_augment("vflip"), n=4, seed=2)
    assert grid.shape == (3, 5, 1, 12, 10) and torch.equal(grid[:, 0], x)
    for i in range(3):
        for v in grid[i, 1:]:
            assert any(torch.equal(v, y) for y in (x[i], x[i].flip(-1), x[i].flip(-2), x[i].flip(-1, -2)))


def test_augment_modules_import_cnnlab_only_at_the_top():
    # Pipeline.summary used to import view inside a function to dodge a transforms <-> view import cycle
    for path in Path(augment_pkg.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cnnlab"):
                        pytest.fail(f"{path.name}: {fn.name} imports {node.module} inside a function")


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
