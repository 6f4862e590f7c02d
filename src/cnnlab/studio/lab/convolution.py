"""Routes of the lecture page 2. Convolution: a stepper over a patch, an editable kernel, stride and padding.

    POST /api/learn/convolution              {"image", "kernel": 3x3 or 5x5, "stride": 1..4, "padding": 0..3,
                                              "top", "left": the patch's corner (left out: the busiest patch),
                                              "whole": false to leave out the whole picture (the patch moved)}
        -> {"patch": {"top", "left", "values", "padded", "rows", "cols", "steps": [...]},
            "result": {"height", "width", "png": a data URL, "signed", "black", "white", "min", "max"}}
    GET  /api/learn/convolution/gray/{id}.png  the picture in gray: what the kernel is slid over

One answer holds every step of the patch, so the stepper plays without asking again; the numbers come
from :mod:`cnnlab.learn.lab.convolution` (:func:`cnnlab.ref.trace` and :func:`cnnlab.ref.conv2d`).
"""

from __future__ import annotations

import base64

from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from cnnlab.learn.lab.convolution import PATCH, busy_corner, conv_gray, patch_at, patch_steps, picture_of
from cnnlab.studio.lab.common import (
    gray_of,
    int_field,
    json_response,
    lab_image,
    matrix_field,
    png_bytes,
    png_response,
    read_json,
)

KERNEL_SIZES = (3, 5)


def data_url(pixels) -> str:
    """uint8 pixels as a ``data:image/png`` address (the picture travels inside the JSON answer)."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode("ascii")


def shown(values) -> dict:
    """A result as a picture to look at, with its size and what black and white stand for."""
    pixels, scale = picture_of(values)
    return {"height": int(values.shape[0]), "width": int(values.shape[1]), "png": data_url(pixels), **scale}


def convolve(pixels, kernel, stride: int, padding: int, top: int | None, left: int | None,
             whole: bool = True) -> dict:
    """The page's numbers: every step over the patch (at ``top, left``, or the busiest patch when they are None),
    and, when ``whole``, the whole picture's result."""
    gray = gray_of(pixels)
    if top is None or left is None:
        top, left = busy_corner(gray, PATCH)
    top, left, patch = patch_at(gray, top, left, PATCH)
    steps = patch_steps(patch, kernel, stride, padding)
    answer = {"patch": {"top": top, "left": left, "values": patch, **steps}, "stride": stride, "padding": padding}
    if whole:
        answer["result"] = shown(conv_gray(gray, kernel, stride, padding))
    return answer


async def run(request):
    """POST /api/learn/convolution: the kernel over the patch, step by step, and over the whole picture."""
    data = await read_json(request)
    pixels = lab_image(request, data.get("image"))
    kernel = matrix_field(data, "kernel", sizes=KERNEL_SIZES)
    stride = int_field(data, "stride", 1, 4, default=1)
    padding = int_field(data, "padding", 0, 3, default=0)
    top = int_field(data, "top", 0, 10_000) if "top" in data else None
    left = int_field(data, "left", 0, 10_000) if "left" in data else None
    whole = data.get("whole", True) is not False
    return json_response(await run_in_threadpool(convolve, pixels, kernel, stride, padding, top, left, whole))


async def gray_png(request):
    """GET /api/learn/convolution/gray/{id}.png: the picture in gray (0..255), as the page computes on it."""
    pixels = lab_image(request, request.path_params["image_id"])
    return png_response(await run_in_threadpool(lambda: gray_of(pixels).astype("uint8")))


routes = [
    Route("/api/learn/convolution", run, methods=["POST"]),
    Route("/api/learn/convolution/gray/{image_id}.png", gray_png, methods=["GET"]),
]
