"""Routes of the lecture page 4. Max pooling: a stepper, and what shifting the picture does.

    POST /api/learn/pooling/steps  {"image", "row", "col", "size": 2, "stride": 2}
        -> {"row", "col", "patch": 8x8 gray numbers, "output", "steps": [...]}   every step in one answer
    POST /api/learn/pooling/shift  {"image", "shift": 0..6, "size": 2, "stride": 2}
        -> {"height", "width", "pooled", "shifted_pooled", "change", "same", "changed", ...}

The page's gray picture is Pillow's "L" (:func:`~cnnlab.studio.lab.common.gray_of`); the maths is in
:mod:`cnnlab.learn.lab.pooling` (on :func:`cnnlab.ref.max_pool2d` and :func:`cnnlab.ref.trace_pool`).
"""

from __future__ import annotations

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

from cnnlab.errors import ConfigError
from cnnlab.learn.lab.pooling import compare_shift, pool_steps
from cnnlab.studio.lab.common import gray_of, int_field, json_response, lab_image, read_json

PATCH = 8  # the stepper's patch: 8x8 numbers


def _window(data: dict) -> tuple[int, int]:
    size = int_field(data, "size", 2, 3, default=2)
    stride = int_field(data, "stride", 1, 3, default=size)
    return size, stride


async def steps(request):
    """POST /api/learn/pooling/steps: an 8x8 patch of the gray picture and every step of pooling it."""
    data = await read_json(request)
    size, stride = _window(data)
    row = int_field(data, "row", 0, 4095, default=0)
    col = int_field(data, "col", 0, 4095, default=0)
    pixels = lab_image(request, data.get("image"))

    def work():
        gray = gray_of(pixels)  # (H, W) floats 0..255
        height, width = gray.shape
        side = min(PATCH, height, width)
        if side < size:
            raise ConfigError("size", size, f"a window no bigger than the picture ({height}x{width})")
        if not (0 <= row < height and 0 <= col < width):
            raise ConfigError("row, col", (row, col), f"a pixel inside the picture (rows 0 to {height - 1}, "
                              f"columns 0 to {width - 1})")
        r, c = min(row, height - side), min(col, width - side)
        patch = gray[r:r + side, c:c + side]  # (side, side)
        return {"row": r, "col": c, "height": height, "width": width, "size": size, "stride": stride,
                "patch": patch.astype(int).tolist(), **pool_steps(patch, size, stride)}

    return json_response(await run_in_threadpool(work))


async def shift(request):
    """POST /api/learn/pooling/shift: the pooled gray picture, and the pooled picture moved right by k pixels."""
    data = await read_json(request)
    size, stride = _window(data)
    k = int_field(data, "shift", 0, 6, default=0)
    pixels = lab_image(request, data.get("image"))

    def work():
        gray = gray_of(pixels)
        out = compare_shift(gray, k, size, stride)
        for key in ("pooled", "shifted_pooled"):
            out[key] = np.asarray(out[key]).astype(int).tolist()  # whole numbers: shorter to send
        return {"height": gray.shape[0], "width": gray.shape[1], "shift": k, "size": size, "stride": stride, **out}

    # Every value is a plain Python number or list already: JSONResponse directly, skipping json_response's walk
    # over some 50,000 numbers (30 ms of the slider's 100 ms budget).
    return JSONResponse(await run_in_threadpool(work), headers={"cache-control": "no-store"})


routes = [Route("/api/learn/pooling/steps", steps, methods=["POST"]),
          Route("/api/learn/pooling/shift", shift, methods=["POST"])]
