import io

import numpy as np
import pytest
from PIL import Image

from cnnlab.data.images import ImageError, convert_mode, flatten, load_image, resize, to_chw, to_hwc


def save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


@pytest.mark.parametrize("fmt,suffix", [("JPEG", ".jpg"), ("PNG", ".png"), ("BMP", ".bmp"), ("WEBP", ".webp"),
                                        ("GIF", ".gif")])
def test_formats_load_as_uint8_rgb(tmp_path, fmt, suffix):
    arr = np.zeros((20, 30, 3), np.uint8)
    arr[:, :15] = (200, 30, 30)
    p = save(Image.fromarray(arr), tmp_path / f"a{suffix}", format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    out = load_image(p)
    assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
    assert out[10, 5, 0] > 150 and out[10, 25, 0] < 40


def test_gray_stays_gray_and_modes_convert(tmp_path):
    p = save(Image.fromarray(np.full((8, 9), 77, np.uint8)), tmp_path / "g.png")
    assert load_image(p).shape == (8, 9)
    assert load_image(p, mode="rgb").shape == (8, 9, 3)
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 1] = 255
    assert convert_mode(rgb, "gray")[0, 0] == round(0.587 * 255)


def test_exif_orientation_6_equals_manual_rotation(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:5, :5] = 255  # marker in the top-left corner
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    p = tmp_path / "o.png"
    img.save(p, exif=exif)
    out = load_image(p)
    expected = np.asarray(img.transpose(Image.Transpose.ROTATE_270))
    assert out.shape == (40, 20, 3)
    np.testing.assert_array_equal(out, expected)


def test_palette_with_transparency_composited_on_white(tmp_path):
    img = Image.new("P", (4, 4))
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.putpixel((0, 0), 1)
    img.info["transparency"] = 0
    p = tmp_path / "p.png"
    img.save(p, transparency=0)
    out = load_image(p)
    assert out.shape == (4, 4, 3)
    assert tuple(out[0, 0]) == (255, 0, 0) and tuple(out[1, 1]) == (255, 255, 255)


def test_rgba_and_la_alpha(tmp_path):
    rgba = np.zeros((3, 3, 4), np.uint8)
    rgba[..., 2] = 255
    rgba[0, 0, 3] = 255
    p = save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png")
    out = load_image(p)
    assert tuple(out[0, 0]) == (0, 0, 255) and tuple(out[2, 2]) == (255, 255, 255)
    la = Image.fromarray(np.stack([np.zeros((3, 3), np.uint8), np.full((3, 3), 255, np.uint8)], -1), "LA")
    assert load_image(save(la, tmp_path / "la.png")).shape == (3, 3)


def test_cmyk_jpeg(tmp_path):
    img = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red in CMYK
    out = load_image(save(img, tmp_path / "c.jpg"))
    assert out.shape == (8, 8, 3) and out[4, 4, 0] > 200 and out[4, 4, 1] < 60


def test_16bit_is_scaled_not_saturated(tmp_path):
    a = np.array([[0, 32768, 65535, 1000]], dtype=np.uint16)
    p = tmp_path / "d.png"
    Image.fromarray(a).save(p)
    out = load_image(p)
    assert out.dtype == np.uint8
    assert out[0].tolist() == [0, 128, 255, 4]


def test_one_bit_image(tmp_path):
    img = Image.new("1", (5, 5), 0)
    img.putpixel((2, 2), 1)
    out = load_image(save(img, tmp_path / "b.png"))
    assert out.shape == (5, 5) and out[2, 2] == 255 and out[0, 0] == 0


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("L", (6, 6), v) for v in (10, 200)]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:])
    assert int(load_image(p).mean()) < 50


@pytest.mark.parametrize("content,why", [(b"", "empty"), (b"hello, not an image", "not an image"),
                                         (b"<html><body>404</body></html>", "not an image")])
def test_bad_files_name_the_file(tmp_path, content, why):
    p = tmp_path / "bad.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageError, match="bad.jpg") as e:
        load_image(p)
    assert why in str(e.value)


def test_truncated_jpeg(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    p = tmp_path / "t.jpg"
    p.write_bytes(buf.getvalue()[:300])
    with pytest.raises(ImageError, match="t.jpg"):
        load_image(p)


def test_decompression_bomb_refused_before_decoding(tmp_path):
    p = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(p)  # a few KB on disk, 400 megapixels
    assert p.stat().st_size < 200_000
    with pytest.raises(ImageError, match="bomb"):
        load_image(p)


def test_formats_outside_allow_list_refused(tmp_path):
    p = tmp_path / "x.eps"
    p.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(ImageError, match="allowed format"):
        load_image(p)
    svg = tmp_path / "x.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>')
    with pytest.raises(ImageError):
        load_image(svg)


def test_tiny_and_strip_images(tmp_path):
    assert load_image(save(Image.new("RGB", (1, 1), (1, 2, 3)), tmp_path / "one.png")).shape == (1, 1, 3)
    with pytest.raises(ImageError, match="strip"):
        load_image(save(Image.new("L", (2, 10000)), tmp_path / "strip.png"))


def test_resize_flatten_and_layout():
    arr = np.arange(4 * 6, dtype=np.uint8).reshape(4, 6)
    assert resize(arr, 8).shape == (8, 8)
    assert resize(np.zeros((10, 20, 3), np.uint8), (5, 7), fit="pad").shape == (5, 7, 3)
    flat = flatten(arr)
    assert flat.shape == (24,) and flat[1 * 6 + 2] == arr[1, 2]
    rgb = np.random.default_rng(0).integers(0, 255, (3, 4, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_hwc(to_chw(rgb)), rgb)
    with pytest.raises(ValueError, match="fit"):
        resize(arr, 4, fit="squash")
