"""What every lecture page's routes share: reading a request, finding the page's picture, answering with PNGs.

Pages name their picture by an id from ``POST /api/learn/images`` (:mod:`cnnlab.studio.lab.images`):
``sample-cat`` for a built-in one, or the id of an uploaded one, kept in memory while the studio runs.
Numbers in requests are checked here, one rule per kind, so every page refuses bad input with the same
kind of sentence (HTTP 400) instead of computing something silently wrong.

>>> int_field({"stride": 2}, "stride", 1, 4, default=1)
2
>>> int_field({"stride": 9}, "stride", 1, 4, default=1)
Traceback (most recent call last):
  ...
cnnlab.errors.ConfigError: stride=9: expected a whole number from 1 to 4
"""

from __future__ import annotations

import io
import math
from collections import OrderedDict

import numpy as np
from PIL import Image
from starlette.responses import JSONResponse, Response

from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.learn.lab.images import SAMPLES, sample_image
from cnnlab.studio.api import read_json_body
from cnnlab.studio.safety import NotFound

KEEP_IMAGES = 64  # uploaded pictures kept in memory (the oldest is forgotten first)


class BadRequest(CnnlabError):
    """A request the page cannot read: HTTP 400."""

    status = 400


read_json = read_json_body  # the studio's one JSON body reader: {} when empty, 413 too big, 400 not an object


def int_field(data: dict, name: str, lo: int, hi: int, default: int | None = None) -> int:
    """``data[name]`` as a whole number in ``lo..hi`` (``default`` when it is missing and a default is given)."""
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(name, value, f"a whole number from {lo} to {hi}")
    return value


def float_field(data: dict, name: str, lo: float, hi: float, default: float | None = None) -> float:
    """``data[name]`` as a finite number in ``lo..hi``."""
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise ConfigError(name, value, f"a number from {lo:g} to {hi:g}")
    return float(value)


def choice_field(data: dict, name: str, choices, default=None) -> str:
    """``data[name]`` as one of ``choices``."""
    value = data.get(name, default)
    if value not in choices:
        raise ConfigError(name, value, "one of " + ", ".join(map(str, choices)))
    return value


def matrix_field(data: dict, name: str, sizes=(1, 2, 3, 4, 5, 6, 7), limit: float = 1e4) -> np.ndarray:
    """``data[name]`` as a square float matrix (a kernel), e.g. ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``."""
    value = data.get(name)
    what = f"a square list of lists of numbers, {'/'.join(f'{s}x{s}' for s in sizes)}, each within ±{limit:g}"
    try:
        m = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(name, value, what) from None
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] not in sizes or not np.isfinite(m).all() \
            or np.abs(m).max() > limit:
        raise ConfigError(name, value, what)
    return m


def images_of(app) -> OrderedDict:
    """The app's uploaded pictures: id -> uint8 pixels (made on first use)."""
    if not hasattr(app.state, "lab_images"):
        app.state.lab_images = OrderedDict()
    return app.state.lab_images


def lab_image(request, image_id) -> np.ndarray:
    """The picture a page asked about: uint8 ``(H, W)`` or ``(H, W, 3)``, at most 256 pixels a side (read-only).

    Raises:
        NotFound: no such picture (an upload is forgotten when the studio restarts: pick it again).
    """
    if isinstance(image_id, str) and image_id.startswith("sample-") and image_id[7:] in SAMPLES:
        return sample_image(image_id[7:])
    kept = images_of(request.app)
    if isinstance(image_id, str) and image_id in kept:
        kept.move_to_end(image_id)
        return kept[image_id]
    raise NotFound(f"there is no picture {str(image_id)[:40]!r} (the studio forgets uploaded pictures when it "
                   "restarts); pick the picture again")


def gray_of(pixels: np.ndarray) -> np.ndarray:
    """A picture in gray, as floats 0..255: the luminance Pillow's "L" mode computes (ITU-R 601-2)."""
    a = np.asarray(pixels)
    if a.ndim == 2:
        return a.astype(np.float64)
    return np.asarray(Image.fromarray(np.asarray(a, np.uint8)).convert("L"), dtype=np.float64)


def png_bytes(pixels: np.ndarray) -> bytes:
    """uint8 ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` as PNG bytes (fast setting: these are throwaway views)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def png_response(pixels: np.ndarray) -> Response:
    """A PNG answer that the browser must not cache (the same address may show new numbers)."""
    return Response(png_bytes(pixels), media_type="image/png", headers={"cache-control": "no-store"})


def to_gray_png(values: np.ndarray, signed: bool = False) -> np.ndarray:
    """Numbers -> uint8 pixels to look at. Unsigned: 0..255 clipped (a picture stays a picture). Signed: the
    largest magnitude maps to 0 or 255 and zero to mid-gray 128, so negative and positive show as dark and light.

    >>> to_gray_png(np.array([[-2.0, 0.0, 2.0]]), signed=True).tolist()
    [[0, 128, 255]]
    """
    v = np.asarray(values, dtype=np.float64)
    if signed:
        top = float(np.abs(v).max()) or 1.0
        return np.clip(np.rint(128 + 127.5 * v / top), 0, 255).astype(np.uint8)
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def json_response(data) -> JSONResponse:
    """A JSON answer; NumPy arrays and numbers become lists and plain numbers."""
    return JSONResponse(_plain(data), headers={"cache-control": "no-store"})


def _plain(x):
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
