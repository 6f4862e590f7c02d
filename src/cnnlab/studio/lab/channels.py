"""Routes of the lecture page 3. Many channels: one kernel per input channel, and their sum.

    POST /api/learn/channels    {"image": a colour picture, "kernels": three 3x3 kernels (red, green, blue),
                                 "bias", "row", "col": the position taken apart, "pictures": true|false}
        -> {"height", "width", "example": {"channels": [{"name", "window", "kernel", "products", "value"}] * 3,
            "bias", "total", "output": the sum picture's number there},
            "channels": [3 x {"png", "signed", "black", "white", "min", "max"}], "sum": {...}}

"pictures": false answers only the example (a click on a position); the numbers come from
:mod:`cnnlab.learn.lab.convolution` (:func:`cnnlab.ref.conv2d` with weights of shape (1, 3, 3, 3)).
"""

from __future__ import annotations

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from cnnlab.errors import ConfigError
from cnnlab.learn.lab.convolution import channel_example, channel_results
from cnnlab.studio.lab.common import float_field, int_field, json_response, lab_image, matrix_field, read_json
from cnnlab.studio.lab.convolution import shown

KERNEL_SIZES = (3,)


def kernels_field(data: dict) -> np.ndarray:
    """``data["kernels"]``: three 3x3 kernels, red, green and blue, as one (3, 3, 3) array."""
    value = data.get("kernels")
    if not isinstance(value, list) or len(value) != 3:
        raise ConfigError("kernels", value, "three kernels: red, green and blue")
    return np.stack([matrix_field({f"kernels[{c}]": m}, f"kernels[{c}]", sizes=KERNEL_SIZES)
                     for c, m in enumerate(value)])


def results(app, image_id: str, pixels, kernels, bias: float) -> dict:
    """:func:`channel_results`, kept for the last kernels asked about (a click on a new place reuses them)."""
    key = (image_id, kernels.tobytes(), bias)
    last = getattr(app.state, "lab_channels_last", None)
    if last is None or last[0] != key:
        last = (key, channel_results(pixels, kernels, bias))
        app.state.lab_channels_last = last
    return last[1]


def compute(out: dict, pixels, kernels, bias: float, row: int, col: int, pictures: bool) -> dict:
    """The page's numbers: the example at (row, col) and, when asked, the four pictures."""
    example = channel_example(pixels, kernels, bias, row, col)
    example["output"] = float(out["sum"][row, col])
    answer = {"height": int(pixels.shape[0]), "width": int(pixels.shape[1]), "example": example}
    if pictures:
        answer["channels"] = [shown(v) for v in out["channels"]]
        answer["sum"] = shown(out["sum"])
    return answer


async def run(request):
    """POST /api/learn/channels: three kernels over the three colour channels, and their sum."""
    data = await read_json(request)
    pixels = lab_image(request, data.get("image"))
    kernels = kernels_field(data)
    bias = float_field(data, "bias", -1000, 1000, default=0.0)
    row = int_field(data, "row", 0, 10_000, default=0)
    col = int_field(data, "col", 0, 10_000, default=0)
    pictures = data.get("pictures", True) is not False
    image_id = str(data.get("image"))

    def work():
        return compute(results(request.app, image_id, pixels, kernels, bias), pixels, kernels, bias, row, col, pictures)
    return json_response(await run_in_threadpool(work))


routes = [Route("/api/learn/channels", run, methods=["POST"])]
