"""Images as arrays: load a photo as a uint8 NumPy array, resize it, flatten it.

The lecture's first idea: a grayscale image is a 2-D array of brightness values 0..255,
a color image is three such arrays stacked, shape ``(H, W, 3)``.

>>> import tempfile
>>> from PIL import Image
>>> from skimage import data
>>> path = tempfile.mkdtemp() + "/cat.jpg"
>>> Image.fromarray(data.chelsea()).save(path)        # scikit-image's cat photo, as a JPEG file
>>> from cnnlab.data.images import load_image
>>> img = load_image(path)
>>> img.shape, img.dtype
((300, 451, 3), dtype('uint8'))

Safety: only an allow-list of formats is decoded (no EPS/PSD/SVG, which can invoke external
programs), and the pixel count is checked from the header *before* decoding, so a
decompression bomb (a few KB that expand to gigabytes) is refused with bounded memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cnnlab.errors import ConfigError, ImageError

# Formats Pillow decodes itself, without external programs (phone MPO files open as JPEG).
ALLOWED_FORMATS = ("JPEG", "PNG", "BMP", "WEBP", "GIF", "TIFF")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")
MAX_PIXELS = 50_000_000  # ~7000 x 7000; larger is refused before decoding
MAX_ASPECT = 100  # 2 x 10000 strips are not photos: refuse clearly
ORIENTATION = 0x0112  # the EXIF tag that says how a photo is turned


def load_image(path: str | os.PathLike, mode: str = "auto", max_pixels: int = MAX_PIXELS,
               draft: int | None = None, info: dict | None = None) -> np.ndarray:
    """Load an image file as uint8: ``(H, W)`` for gray, ``(H, W, 3)`` for color.

    mode: "auto" keeps gray images gray, "gray" converts to luminance, "rgb" gives 3 channels.
    EXIF orientation is applied; alpha is composited over white; palette, CMYK and 16-bit
    images are converted (16-bit values are scaled to 0..255, not clipped). Animated images
    give their first frame. ``draft``: a JPEG at least twice this size on both sides is decoded
    at 1/2, 1/4 or 1/8 scale by libjpeg itself (never below ``draft`` pixels), much faster.
    ``info``: a dict to fill with what the same opening of the file tells (see :func:`load_image_info`).
    """
    if mode not in ("auto", "gray", "rgb"):
        raise ConfigError("mode", mode, "'auto', 'gray' or 'rgb'")
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty (0 bytes)")
    try:
        with Image.open(path, formats=ALLOWED_FORMATS) as img:
            _check_size(path, img.size, max_pixels)
            img.seek(0)  # first frame of animated GIF/WebP
            full = img.size
            orientation = _orientation(img) if info is not None else 1
            if draft and img.format == "JPEG":
                img.draft(img.mode, (draft, draft))
            img.load()
            scale = max(1, round(full[0] / img.size[0]))
            img = ImageOps.exif_transpose(img)
            arr = _to_uint8(img)
    except UnidentifiedImageError:
        raise ImageError(
            f"{path}: not an image in an allowed format ({', '.join(ALLOWED_FORMATS)}); "
            "convert it to PNG or JPEG"
        ) from None
    except Image.DecompressionBombError as e:
        raise ImageError(f"{path}: refused, too many pixels ({e})") from None
    except (OSError, SyntaxError, ValueError) as e:
        if isinstance(e, ImageError):
            raise
        raise ImageError(f"{path}: cannot decode the image ({e}); the file may be truncated or corrupt") from None
    if info is not None:
        size = full[::-1] if orientation in (5, 6, 7, 8) else full  # these tags turn the photo by 90 degrees
        info.update(size=size, orientation=orientation, scale=scale)
    return convert_mode(arr, mode)


def load_image_info(path: str | os.PathLike, mode: str = "auto", max_pixels: int = MAX_PIXELS,
                    draft: int | None = None) -> tuple[np.ndarray, dict]:
    """:func:`load_image`, and what the same opening of the file tells about it.

    Returns:
        ``(array, info)``; ``info``: ``size`` (width, height) of the full-size image as shown (EXIF
        rotation applied), ``orientation`` (the EXIF tag, 1 when there is none) and ``scale`` (1, or the
        reduction 2, 4 or 8 of a JPEG decoded in draft mode).

    >>> import tempfile
    >>> from PIL import Image
    >>> path = tempfile.mkdtemp() + "/wide.jpg"
    >>> Image.new("RGB", (640, 480)).save(path)
    >>> arr, info = load_image_info(path, draft=224)
    >>> arr.shape, info
    ((240, 320, 3), {'size': (640, 480), 'orientation': 1, 'scale': 2})
    """
    info = {}
    arr = load_image(path, mode, max_pixels, draft, info)
    return arr, info


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation tag (1: upright, also when there is none or it cannot be read)."""
    try:
        value = img.getexif().get(ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError, TypeError):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _check_size(path: Path, size: tuple[int, int], max_pixels: int) -> None:
    w, h = size
    if w < 1 or h < 1:
        raise ImageError(f"{path}: the image has no pixels ({w}x{h})")
    if w * h > max_pixels:
        raise ImageError(
            f"{path}: refused, {w}x{h} = {w * h:,} pixels is more than the limit of {max_pixels:,} "
            "(a decompression bomb or a huge scan); resize it first"
        )
    if max(w, h) / min(w, h) > MAX_ASPECT:
        raise ImageError(f"{path}: refused, {w}x{h} is a strip, not a photo (aspect ratio over {MAX_ASPECT}:1)")


def _to_uint8(img: Image.Image) -> np.ndarray:
    """Pillow image of any mode -> uint8 array (H, W) or (H, W, 3)."""
    m = img.mode
    if m in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(img).astype(np.float64)
        hi = 65535.0 if (m.startswith("I;16") or a.max() > 255) else 255.0
        return np.clip(np.rint(a * (255.0 / hi)), 0, 255).astype(np.uint8)
    if m == "F":
        a = np.asarray(img, dtype=np.float64)
        scale = 255.0 if a.max() <= 1.0 else 1.0
        return np.clip(np.rint(a * scale), 0, 255).astype(np.uint8)
    if m == "1":
        return np.asarray(img.convert("L"))
    if m == "P":
        img = img.convert("RGBA")
        m = "RGBA"
    if m == "PA":
        img = img.convert("RGBA")
        m = "RGBA"
    if m in ("RGBA", "LA", "RGBa", "La"):
        base = "RGB" if m.startswith("RGB") else "L"
        bg = Image.new(base, img.size, 255 if base == "L" else (255, 255, 255))
        bg.paste(img.convert(base), mask=img.getchannel("A"))
        return np.asarray(bg)
    if m == "L":
        return np.asarray(img)
    return np.asarray(img.convert("RGB"))


def convert_mode(arr: np.ndarray, mode: str) -> np.ndarray:
    """Convert a uint8 array between gray ``(H, W)`` and RGB ``(H, W, 3)``."""
    if mode == "auto":
        return arr
    if mode == "rgb":
        return np.repeat(arr[:, :, None], 3, axis=2) if arr.ndim == 2 else arr
    if arr.ndim == 2:
        return arr
    # ITU-R 601 luma, the same weights Pillow uses for "L"
    gray = arr[..., 0] * 0.299 + arr[..., 1] * 0.587 + arr[..., 2] * 0.114
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)


def resize(arr: np.ndarray, size: int | tuple[int, int], fit: str = "crop",
           resample: str = "bilinear") -> np.ndarray:
    """Resize a uint8 image to ``size`` (an int for square, or (H, W)).

    fit: "crop" keeps the aspect ratio and center-crops, "pad" keeps it and pads with black,
    "stretch" ignores it.
    """
    th, tw = (size, size) if isinstance(size, int) else size
    filt = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}[resample]
    img = Image.fromarray(arr)
    if fit == "stretch":
        return np.asarray(img.resize((tw, th), filt, reducing_gap=3.0))
    if fit == "crop":
        return np.asarray(ImageOps.fit(img, (tw, th), method=filt))
    if fit == "pad":
        return np.asarray(ImageOps.pad(img, (tw, th), method=filt, color=0))
    raise ConfigError("fit", fit, "'crop', 'pad' or 'stretch'")


def flatten(arr: np.ndarray) -> np.ndarray:
    """Flatten an image into one long vector, as a fully connected network sees it.

    A 28x28 image becomes 784 numbers; the pixel at row r, column c lands at index r*W + c,
    so pixels that were neighbours vertically end up W positions apart.
    """
    return np.asarray(arr).reshape(-1)


def to_chw(arr: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, C) -> (C, H, W)."""
    return arr[None] if arr.ndim == 2 else np.ascontiguousarray(arr.transpose(2, 0, 1))


def to_hwc(arr: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W) for one channel, (H, W, C) otherwise."""
    arr = np.asarray(arr)
    return arr[0] if arr.shape[0] == 1 else np.ascontiguousarray(arr.transpose(1, 2, 0))


def save_image(arr: np.ndarray, path: str | os.PathLike) -> None:
    """Save a uint8 ``(H, W)`` or ``(H, W, 3)`` array as an image file (format from the suffix)."""
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(path)


def is_image_file(path: str | os.PathLike) -> bool:
    """True for a non-hidden file whose suffix is one we decode."""
    p = Path(path)
    return p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
