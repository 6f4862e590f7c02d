"""The batched augmentation kernels against torchvision.transforms.v2.functional, one operation at a time.

Each test fixes the parameters (the transforms' ``apply`` with hand-written params, the same for every
sample), runs the same operation through torchvision image by image, and states its tolerance:

- flips, whole-pixel translations, pad + crop and erasing: identical.
- rotation and affine (rotate + translate) maps, bilinear: both use pixel centres at ``(2 i + 1) / W - 1``
  (``align_corners=False``) and rotate about the image centre, so every pixel whose four bilinear taps lie
  inside the image agrees to 1 grey level (float rounding at .5). Pixels that mix image and fill differ:
  torchvision samples with zero padding (already weighted by the coverage m) and then computes
  ``(sample - fill) * m + fill``, weighting the image part by m twice; we blend ``sample + (1 - m) * fill``,
  the plain bilinear mix of image and fill. With fill 0 this is exactly ``torchvision = ours * m``, which is
  tested on every pixel.
- brightness, contrast, saturation, hue (uint8): within 1 grey level everywhere. torchvision truncates to
  uint8 where we round, floors the gray level of contrast/saturation, weighs red 0.2989 rather than 0.299,
  and computes hue in 0..1 floats. Contrast blends with the mean gray level of each image, in both.
"""

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TVF
from skimage import data
from torchvision.transforms import InterpolationMode

from cnnlab.data.augment import ColorShift, Erase, Flip, PadCrop, Pipeline, Rotate, Translate
from cnnlab.data.augment import kernels as K
from cnnlab.data.sources import load_dataset

BILINEAR = InterpolationMode.BILINEAR


def _resize(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    y = F.interpolate(x.float(), size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return y.round().clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def photos():
    """(4, 3, 48, 64) uint8: astronaut, cat, coffee, rocket; not square, so a mix-up of x and y shows."""
    imgs = [torch.from_numpy(getattr(data, n)()).permute(2, 0, 1)[None] for n in
            ("astronaut", "chelsea", "coffee", "rocket")]
    return torch.cat([_resize(i, 48, 64) for i in imgs])


@pytest.fixture(scope="module")
def grays():
    """(8, 1, 28, 28) uint8: handwritten digits at the size of Fashion-MNIST."""
    ds = load_dataset("digits", "train")
    return _resize(ds.images[:8], 28, 28)


@pytest.fixture(params=["photos", "grays"])
def images(request):
    return request.getfixturevalue(request.param)


def per_image(fn, x):
    return torch.cat([fn(img[None]) for img in x])


def coverage(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W): the share of each output pixel's bilinear weight that falls inside the image."""
    ones = torch.ones(len(x), 1, *x.shape[2:])
    return K.warp(ones, m)


def full(n, v, dtype=torch.float32):
    return torch.full((n,), v, dtype=dtype)


# ---------------------------------------------------------------- geometry


def test_flips_are_identical(images):
    n = len(images)
    yes, no = torch.ones(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)
    flip = Flip(vertical=True)
    assert torch.equal(flip.apply(images, {"horizontal": yes, "vertical": no}), TVF.horizontal_flip(images))
    assert torch.equal(flip.apply(images, {"horizontal": no, "vertical": yes}), TVF.vertical_flip(images))
    both = TVF.vertical_flip(TVF.horizontal_flip(images))
    assert torch.equal(flip.apply(images, {"horizontal": yes, "vertical": yes}), both)


@pytest.mark.parametrize("angle", [-170.0, -30.0, -7.5, 3.0, 15.0, 45.0, 90.0, 137.0])
@pytest.mark.parametrize("fill", [0.0, 100.0])
def test_rotation_matches_torchvision_inside_the_image(images, angle, fill):
    n, h, w = len(images), *images.shape[2:]
    ours = Rotate(fill=fill).apply(images, {"angle": full(n, angle)})
    tv = per_image(lambda img: TVF.rotate(img, angle, interpolation=BILINEAR, fill=[fill]), images)
    inside = (coverage(images, K.rotation_matrices(full(n, angle), h, w)) > 1 - 1e-5).expand_as(ours)
    diff = (ours.float() - tv.float()).abs()
    assert inside.float().mean() > 0.3  # enough pixels to compare, also at 137 degrees on a 48x64 image
    assert diff[inside].max() <= 1 and diff[inside].mean() < 0.05


@pytest.mark.parametrize("angle", [-30.0, 15.0, 137.0])
def test_rotation_edges_differ_from_torchvision_only_by_its_double_weighting(images, angle):
    # fill 0: torchvision's edge pixels are ours times the coverage (see the module docstring)
    n, h, w = len(images), *images.shape[2:]
    ours = Rotate().apply(images.float(), {"angle": full(n, angle)})
    tv = per_image(lambda img: TVF.rotate(img, angle, interpolation=BILINEAR, fill=[0.0]), images.float())
    m = coverage(images, K.rotation_matrices(full(n, angle), h, w))
    assert ((m > 0) & (m < 1 - 1e-3)).any()  # there are edge pixels
    torch.testing.assert_close(ours * m, tv, atol=0.01, rtol=0)  # float images 0..255


@pytest.mark.parametrize("dx,dy", [(3, -2), (-5, 4), (0, 7), (-9, -1)])
@pytest.mark.parametrize("fill", [0.0, 200.0])
def test_whole_pixel_translation_is_identical(images, dx, dy, fill):
    n = len(images)
    ours = Translate(fill=fill).apply(images, {"dx": full(n, dx, torch.long), "dy": full(n, dy, torch.long)})
    tv = TVF.affine(images, angle=0.0, translate=[dx, dy], scale=1.0, shear=[0.0, 0.0], interpolation=BILINEAR,
                    fill=[fill])
    assert torch.equal(ours, tv)


@pytest.mark.parametrize("dx,dy", [(2.5, 1.25), (-0.3, 3.7)])
def test_fractional_translation_matches_torchvision_inside_the_image(images, dx, dy):
    n, h, w = len(images), *images.shape[2:]
    m = K.translation_matrices(full(n, dx), full(n, dy), h, w)
    ours = K.warp(images, m)
    tv = TVF.affine(images, angle=0.0, translate=[dx, dy], scale=1.0, shear=[0.0, 0.0], interpolation=BILINEAR)
    inside = (coverage(images, m) > 1 - 1e-5).expand_as(ours)
    diff = (ours.float() - tv.float()).abs()
    assert diff[inside].max() <= 1 and diff[inside].mean() < 0.05


@pytest.mark.parametrize("angle,dx,dy", [(20.0, 3, -2), (-45.0, -6, 5), (100.0, 0, 4)])
def test_fused_rotation_and_translation_match_one_affine(images, angle, dx, dy):
    # Pipeline([Rotate, Translate]) composes both into one matrix: torchvision's affine does the same
    # (rotate about the centre, then shift), in one resampling. Its angle turns clockwise, rotate's (and
    # ours) counter-clockwise: affine(angle=-a) == rotate(a)
    n, h, w = len(images), *images.shape[2:]
    pipe = Pipeline([Rotate(), Translate()])
    rot = K.rotation_matrices(full(n, angle), h, w)
    move = K.translation_matrices(full(n, dx), full(n, dy), h, w)
    ours = pipe.apply(images, [{"matrix": rot}, {"matrix": move}])
    tv = per_image(lambda img: TVF.affine(img, angle=-angle, translate=[dx, dy], scale=1.0, shear=[0.0, 0.0],
                                          interpolation=BILINEAR), images)
    inside = (coverage(images, rot @ move) > 1 - 1e-5).expand_as(ours)
    diff = (ours.float() - tv.float()).abs()
    assert inside.float().mean() > 0.3
    assert diff[inside].max() <= 1 and diff[inside].mean() < 0.05


def test_fused_flip_and_rotation_match_flip_then_rotate(images):
    n, h, w = len(images), *images.shape[2:]
    flips = K.flip_matrices(torch.ones(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool))
    rot = K.rotation_matrices(full(n, 25.0), h, w)
    ours = Pipeline([Flip(), Rotate()]).apply(images, [{"matrix": flips}, {"matrix": rot}])
    tv = per_image(lambda img: TVF.rotate(TVF.horizontal_flip(img), 25.0, interpolation=BILINEAR), images)
    inside = (coverage(images, flips @ rot) > 1 - 1e-5).expand_as(ours)
    assert (ours.float() - tv.float()).abs()[inside].max() <= 1


@pytest.mark.parametrize("mode,fill", [("constant", 0.0), ("constant", 77.0), ("edge", 0.0), ("reflect", 0.0)])
@pytest.mark.parametrize("dx,dy", [(4, -4), (-2, 3), (0, 0), (1, 4)])
def test_pad_and_crop_is_identical(images, mode, fill, dx, dy):
    n, h, w = len(images), *images.shape[2:]
    pad = 4
    ours = PadCrop(pad, fill=fill, mode=mode).apply(images, {"dx": full(n, dx, torch.long),
                                                             "dy": full(n, dy, torch.long)})
    padded = TVF.pad(images, [pad], fill=fill, padding_mode=mode)
    # content moved right by dx = the window starts dx pixels left of the padded image's centre window
    tv = TVF.crop(padded, top=pad - dy, left=pad - dx, height=h, width=w)
    assert torch.equal(ours, tv)


def test_erasing_with_a_value_is_identical(images):
    n = len(images)
    box = torch.tensor([[3, 5, 13, 9]]).expand(n, 4)  # x0, y0, x1, y1
    ours = Erase(value=211).apply(images, {"boxes": box})
    tv = TVF.erase(images, i=5, j=3, h=4, w=10, v=torch.tensor(211, dtype=torch.uint8))
    assert torch.equal(ours, tv)


# ---------------------------------------------------------------- color


def color(x, **factors):
    """ColorShift.apply with one adjustment set and the others at "do nothing"."""
    n, c = x.shape[:2]
    params = {"brightness": torch.ones(n), "contrast": torch.ones(n), "saturation": torch.ones(n),
              "hue": torch.zeros(n), "shift": torch.zeros(n, c)}
    params.update({k: full(n, v) for k, v in factors.items()})
    return ColorShift().apply(x, params)


def assert_within_one_level(ours, tv):
    diff = (ours.float() - tv.float()).abs()
    assert ours.dtype == tv.dtype == torch.uint8
    assert diff.max() <= 1, f"max difference {diff.max():.0f} grey levels"


@pytest.mark.parametrize("factor", [0.0, 0.5, 0.8, 1.25, 1.9])
def test_brightness_matches_torchvision(images, factor):
    assert_within_one_level(color(images, brightness=factor), TVF.adjust_brightness(images, factor))


@pytest.mark.parametrize("factor", [0.0, 0.5, 0.8, 1.25, 1.9])
def test_contrast_matches_torchvision_mean_gray_of_each_image(images, factor):
    tv = per_image(lambda img: TVF.adjust_contrast(img, factor), images)  # per image: its own mean
    assert_within_one_level(color(images, contrast=factor), tv)


@pytest.mark.parametrize("factor", [0.0, 0.5, 0.8, 1.25, 1.9])
def test_saturation_matches_torchvision(photos, factor):
    assert_within_one_level(color(photos, saturation=factor), TVF.adjust_saturation(photos, factor))


@pytest.mark.parametrize("turns", [-0.5, -0.2, -0.05, 0.02, 0.1, 0.35, 0.5])
def test_hue_matches_torchvision(photos, turns):
    assert_within_one_level(color(photos, hue=turns), TVF.adjust_hue(photos, turns))


def test_saturation_and_hue_leave_gray_images_alone_as_torchvision_does(grays):
    assert torch.equal(color(grays, saturation=0.3, hue=0.2), grays)
    assert torch.equal(TVF.adjust_hue(TVF.adjust_saturation(grays, 0.3), 0.2), grays)
