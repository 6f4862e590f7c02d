"""Routes of the lecture page 1. Images are arrays: pixel values, RGB channels, grayscale, flattening.

    POST /api/learn/arrays/numbers   {"image": "sample-cat", "row": 40, "col": 60, "size": 3, "neurons": 100}
        -> {"height", "width", "channels", "pixel": [R, G, B] (or [gray]), "gray": L,
            "patch": {row, col, size, channels, patch, flat, where} (cnnlab.ref.flatten's order),
            "dense": the dense layer for this picture, "big": the same for a 1024x1024 colour photo}

Hovering, zooming and the channel pictures are drawn in the browser from the picture's PNG (the same pixels);
this answers what the page shows as numbers from the maths module (:mod:`cnnlab.learn.lab.arrays`).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from cnnlab.learn.lab.arrays import dense_size, flatten_patch, grayscale, pixel
from cnnlab.studio.lab.common import int_field, json_response, lab_image, read_json

BIG = (1024, 1024, 3)  # the lecture's question: how many input neurons for a 1024x1024 (colour) image?


async def numbers(request):
    """POST /api/learn/arrays/numbers: one pixel's numbers, a flattened patch, and the dense layer's size."""
    data = await read_json(request)
    row = int_field(data, "row", 0, 4095, default=0)
    col = int_field(data, "col", 0, 4095, default=0)
    size = int_field(data, "size", 1, 8, default=3)
    neurons = int_field(data, "neurons", 1, 100_000, default=100)
    pixels = lab_image(request, data.get("image"))

    def work():
        height, width = pixels.shape[:2]
        channels = 1 if pixels.ndim == 2 else pixels.shape[2]
        value = pixel(pixels, row, col)
        return {"height": height, "width": width, "channels": channels, "pixel": value,
                "gray": int(grayscale(pixels[row:row + 1, col:col + 1])[0, 0]),
                "patch": flatten_patch(pixels, row, col, min(size, height, width)),
                "dense": dense_size(height, width, channels, neurons), "big": dense_size(*BIG, neurons)}

    return json_response(await run_in_threadpool(work))


routes = [Route("/api/learn/arrays/numbers", numbers, methods=["POST"])]
